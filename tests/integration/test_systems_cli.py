"""``membench systems list | install``, the oracle on HaluMem, and a worker that breaks the protocol."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from membench.api import run
from membench.cli.main import main
from membench.core.errors import ConfigError
from membench.core.records import latest_records, read_records
from membench.running.components import prepare
from membench.systems import envs
from membench.testing.configs import tiny_run_config


@pytest.fixture
def no_environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(envs.ENVS_VAR, str(tmp_path / "envs"))
    for key in ("ZEP_API_KEY", "SUPERMEMORY_API_KEY", "MEMOBASE_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path / "envs"


def test_systems_list_names_every_system_how_it_runs_and_what_it_lacks(
    no_environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["systems", "list"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line[:1].strip()}
    assert {"bm25", "mem0", "oracle", "memos", "langmem", "zep", "supermemory", "memobase", "letta"} <= set(
        rows
    )
    assert "worker: memos" in rows["memos"] and "missing" in rows["memos"]
    assert "membench systems install memos" in out
    assert "not configured" in rows["zep"] and "set ZEP_API_KEY" in out
    assert "in process" in rows["bm25"] and "installed" in rows["bm25"]


def test_a_run_of_a_system_whose_environment_is_missing_is_refused_with_the_fix(
    no_environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--task", "halumem", "--system", "memos", "--results-dir", str(tmp_path / "r")])
    assert code == 2
    assert "membench systems install memos" in capsys.readouterr().err
    assert not (tmp_path / "r" / "runs").exists()


def test_installing_a_system_of_membench_s_own_environment_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["systems", "install", "bm25"]) == 0
    assert "runs in membench's own environment" in capsys.readouterr().out


def test_the_oracle_stores_each_sessions_evidence_and_nothing_else(tmp_path: Path) -> None:
    config = tiny_run_config(tmp_path, "halumem", "oracle")
    components, plan, _ = prepare(config)
    evidence = components.task.evidence(components.task.load())
    outcome = run(config)
    records = latest_records(read_records(outcome.run_dir))
    extraction = [r for r in records if r.kind == "extraction"]
    assert extraction and all(r.status == "scored" for r in records)
    sessions = {e.episode_id: e.sessions for e in plan.episodes}
    for record in extraction:
        session = sessions[record.episode_id][record.after_session]
        assert record.prediction is not None
        stored = [m.text for m in record.prediction.memories]
        assert stored == [f"user: {fact}" for fact in evidence[session.session_id]]
    metrics = {m["metric"]: m["value"] for m in outcome.summary["metrics"]}
    # it stores every true point and no distractor: full recall, every distractor resisted, all accurate
    assert metrics["recall"] == metrics["fmr"] == metrics["memory_accuracy"] == pytest.approx(1.0)


def test_refusing_the_oracle_on_a_task_without_evidence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no per-session evidence"):
        run(tiny_run_config(tmp_path, "sort", "oracle"))


GARBLING = """
import sys
for line in sys.stdin:
    if '"start"' in line:
        print('{"id": 1, "result": {"protocol": 1, "name": "garbling",'
              ' "capabilities": {"session_memories": false, "answers": false}}}', flush=True)
    else:
        print("this is not JSON", flush=True)
"""


def test_a_worker_that_writes_garbage_costs_its_episode_with_the_line_quoted(tmp_path: Path) -> None:
    script = tmp_path / "garbling.py"
    script.write_text(GARBLING)
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "from membench.systems.worker.client import WorkerSystem\n"
        "class Garbling(WorkerSystem):\n"
        "    name = 'garbling'\n"
        f"    command = ({sys.executable!r}, {str(script)!r})\n"
    )
    outcome = run(tiny_run_config(tmp_path, "halumem", "garbling", plugins=(f"{plugin}:Garbling",)))
    records = latest_records(read_records(outcome.run_dir))
    assert records and all(r.status == "error" for r in records)
    assert all(r.error and "not JSON" in r.error.message for r in records)
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["probes_errored"] == len(records)
