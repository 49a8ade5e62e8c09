"""``--executor ray`` on a local Ray cluster: the same records and metrics as the local executor, a
killed worker's episode run again on a fresh actor (nothing lost, nothing duplicated), resume, and
one LLM cache for every actor.

One cluster for the module, on loopback, with 2 logical CPUs (one per episode worker). The kill is
made at a known point (``tests/fixtures/ray_plugin.py``: the worker waits on an event after its
episode's first session), not after a delay.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from membench.api import RunOutcome, run
from membench.core.config import LLMSpec
from membench.core.errors import ConfigError
from membench.core.records import read_ingests, read_records
from membench.running.components import prepare
from membench.running.display import NullDisplay
from membench.testing.configs import TINY_TASK_OPTIONS, tiny_run_config
from membench.testing.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.slow

PLUGIN = f"{Path(__file__).parents[1] / 'fixtures' / 'ray_plugin.py'}:PausingBM25"
#: a guard against a hang, not an assertion: how long the paused worker may take to show its pid.
SAFETY_NET_S = 120


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def stable(outcome: RunOutcome) -> list[dict[str, Any]]:
    """Every record by probe id, without timings and time stamps."""
    out = []
    for record in sorted(read_records(outcome.run_dir), key=lambda r: r.probe_id):
        data = record.model_dump(mode="json", exclude={"completed_at"})
        if data["prediction"]:
            data["prediction"].pop("latency_s")
        out.append(data)
    return out


def estimates(outcome: RunOutcome) -> list[dict[str, Any]]:
    """summary.json's estimates of every metric that is not a time."""
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    return [e for e in summary["metrics"] if not e["metric"].endswith("_time_s")]


def test_ray_gives_the_records_and_metrics_of_the_local_executor(tmp_path: Path) -> None:
    local = run(tiny_run_config(tmp_path / "local", "halumem", "bm25"), NullDisplay())
    on_ray = run(tiny_run_config(tmp_path / "ray", "halumem", "bm25", executor="ray"), NullDisplay())
    assert on_ray.manifest.status == local.manifest.status == "complete"
    assert on_ray.run_dir.name == local.run_dir.name, "the executor is not part of the run identity"
    assert len(stable(on_ray)) == on_ray.manifest.counts.probes_planned == 22
    assert stable(on_ray) == stable(local)
    assert estimates(on_ray) == estimates(local)
    assert on_ray.manifest.counts == local.manifest.counts
    # The actors built their systems in the run directory's worker folders, as local workers do.
    assert sorted(p.name for p in (on_ray.run_dir / "state").iterdir()) == ["worker-0", "worker-1"]


def test_a_worker_killed_mid_episode_has_its_episode_run_again(tmp_path: Path) -> None:
    pause = tmp_path / "paused.pid"

    def config(root: Path, executor: str, chosen: str) -> Any:
        return tiny_run_config(
            root,
            "halumem",
            "bm25-pausing",
            task_options={**TINY_TASK_OPTIONS["halumem"], "users": "3"},
            system_options={"pause_file": str(pause), "pause_episode": chosen},
            plugins=(PLUGIN,),
            executor=executor,
        )

    _, plan, _ = prepare(config(tmp_path / "plan", "local", ""), NullDisplay())
    chosen = plan.episodes[0].episode_id
    outcome: list[RunOutcome] = []
    runner = threading.Thread(
        target=lambda: outcome.append(run(config(tmp_path / "ray", "ray", chosen), NullDisplay()))
    )
    runner.start()
    deadline = time.monotonic() + SAFETY_NET_S
    while not pause.exists() and runner.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pause.exists(), "the chosen episode's worker never paused"
    paused_pid = int(pause.read_text())
    assert paused_pid != os.getpid(), "the episode ran in a Ray worker, not in the driver"
    os.kill(paused_pid, signal.SIGKILL)
    runner.join(SAFETY_NET_S)
    assert not runner.is_alive() and outcome, "the run did not finish after the kill"
    killed = outcome[0]

    # The local reference: the same identity (the pause file now exists, so nothing waits).
    reference = run(config(tmp_path / "local", "local", chosen), NullDisplay())
    assert killed.manifest.status == "complete" and killed.run_dir.name == reference.run_dir.name
    probe_ids = [r.probe_id for r in read_records(killed.run_dir)]
    assert len(probe_ids) == len(set(probe_ids)) == killed.manifest.counts.probes_planned
    assert stable(killed) == stable(reference)
    assert estimates(killed) == estimates(reference)
    # The killed worker's first session of the episode was never written: one ingest per session.
    sessions = [(i.episode_id, i.session_index) for i in read_ingests(killed.run_dir)]
    assert len(sessions) == len(set(sessions)) == len(read_ingests(reference.run_dir))


def test_a_resumed_run_on_ray_redoes_only_the_missing_probes(tmp_path: Path) -> None:
    first = run(tiny_run_config(tmp_path, "halumem", "bm25", executor="ray"), NullDisplay())
    complete = stable(first)
    path = first.run_dir / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    cut = json.loads(lines[-1])["episode_id"]
    kept = [line for line in lines if json.loads(line)["episode_id"] != cut or ":s0:" in line]
    path.write_text("".join(kept))
    ingests_before = len(read_ingests(first.run_dir))

    second = run(tiny_run_config(tmp_path, "halumem", "bm25", executor="ray"), NullDisplay())
    assert second.run_dir == first.run_dir and second.manifest.resumes == 1
    assert second.manifest.status == "complete"
    assert stable(second) == complete, "no probe lost or duplicated"
    # Only the cut episode was run again, up to its last session with a pending probe.
    new_ingests = read_ingests(second.run_dir)[ingests_before:]
    assert {i.episode_id for i in new_ingests} == {cut}
    assert [i.session_index for i in new_ingests] == [0, 1, 2]


def test_actors_share_the_llm_cache_so_a_rerun_on_ray_asks_nothing(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:

        def config(**overrides: Any) -> Any:
            reader = LLMSpec("openai/fake-model", server.base_url)
            return tiny_run_config(
                tmp_path, "halumem", "bm25", reader_llm=reader, executor="ray", **overrides
            )

        first = run(config(), NullDisplay())
        asked = server.total_requests
        again = run(config(fresh=True), NullDisplay())
    assert first.manifest.status == again.manifest.status == "complete"
    assert asked > 0 and first.manifest.cache == {"hits": 0, "misses": asked}
    assert server.total_requests == asked, "the second run's actors found every reply in the cache"
    assert again.manifest.cache == {"hits": asked, "misses": 0}
    assert stable(again) == stable(first)


def test_without_ray_installed_the_executor_is_refused_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"^--executor ray needs ray, .*pip install 'membench\[ray\]'$"):
        tiny_run_config(tmp_path, "halumem", "bm25", executor="ray")


def test_a_failure_streak_across_episodes_stops_ray_where_it_stops_locally(tmp_path: Path) -> None:
    toy = Path(__file__).parents[1] / "fixtures" / "toy_plugin.py"
    # Five failures in a row: the three probes of ep0, then the first two of ep1 (whose actor, with
    # a streak of its own, sees only two and runs the episode to its end).
    booms = "ep0:q0,ep0:q1,ep0:q2,ep1:q0,ep1:q1"

    def config(root: Path, executor: str) -> Any:
        return tiny_run_config(
            root,
            "toy",
            "flaky",
            task_options={"boom": booms},
            plugins=(f"{toy}:ToyTask", f"{toy}:FlakySystem"),
            max_episodes=1,
            executor=executor,
        )

    local = run(config(tmp_path / "local", "local"), NullDisplay())
    on_ray = run(config(tmp_path / "ray", "ray"), NullDisplay())
    assert local.manifest.status == on_ray.manifest.status == "failed"
    assert on_ray.stopped is not None and local.stopped is not None
    assert on_ray.stopped.paragraphs() == local.stopped.paragraphs()
    assert [r.probe_id for r in read_records(on_ray.run_dir)] == booms.split(",")
    assert stable(on_ray) == stable(local)
    assert on_ray.manifest.counts == local.manifest.counts
