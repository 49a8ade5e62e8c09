"""Memory systems in worker processes: the same results as in process, a killed worker costs only its
episode, a resume redoes it, and a system in another language (Node.js) runs through the protocol."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from membench.api import run
from membench.core.errors import ConfigError
from membench.core.records import latest_records, read_records
from membench.core.types import Record
from membench.running.components import prepare
from membench.testing.configs import tiny_run_config

FIXTURE = Path(__file__).parents[1] / "fixtures" / "worker_plugin.py"
NODE_PLUGIN = Path(__file__).parents[2] / "examples" / "node-worker" / "plugin.py"


def _by_probe(run_dir: Path) -> dict[str, Record]:
    return {r.probe_id: r for r in latest_records(read_records(run_dir))}


def _outcome(record: Record) -> tuple[dict[str, float], list[str]]:
    """What a probe's record says the system did: its scores and the memories it gave."""
    assert record.score is not None and record.prediction is not None
    return record.score.values, [m.text for m in record.prediction.memories]


def test_a_system_in_a_worker_gives_what_it_gives_in_process(tmp_path: Path) -> None:
    in_process = run(tiny_run_config(tmp_path / "a", "halumem", "bm25"))
    in_worker = run(
        tiny_run_config(tmp_path / "b", "halumem", "worker-bm25", plugins=(f"{FIXTURE}:WorkerBM25InWorker",))
    )
    assert in_worker.manifest.counts.probes_scored == in_process.manifest.counts.probes_planned > 0
    ours, theirs = _by_probe(in_worker.run_dir), _by_probe(in_process.run_dir)
    assert ours.keys() == theirs.keys()
    for probe_id, record in ours.items():
        assert _outcome(record) == _outcome(theirs[probe_id]), probe_id
    assert "[worker: " in in_worker.components.system_description


def test_a_killed_worker_errors_its_episode_and_the_next_gets_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_run_config(
        tmp_path, "halumem", "killable-bm25", plugins=(f"{FIXTURE}:KillableBM25InWorker",), max_episodes=1
    )
    _, plan, _ = prepare(config)
    first, second = plan.episodes
    killed_at = first.sessions[1]
    monkeypatch.setenv("MEMBENCH_TEST_KILL_SESSIONS", killed_at.session_id)

    crashed = run(config)

    records = _by_probe(crashed.run_dir)
    lost = {p.probe_id for p in plan.probes_by_episode[first.episode_id] if p.after_session >= 1}
    assert lost and {pid for pid, r in records.items() if r.status == "error"} == lost
    for probe_id in lost:
        error = records[probe_id].error
        assert error is not None and error.stage == "ingest"
        assert "died during ingest (signal 9)" in error.message
    # one worker served both episodes in turn: the second got a fresh one and was scored in full
    assert all(records[p.probe_id].status == "scored" for p in plan.probes_by_episode[second.episode_id])
    assert crashed.manifest.status == "complete"

    monkeypatch.delenv("MEMBENCH_TEST_KILL_SESSIONS")
    resumed = run(replace(config, retry_errors=True))
    assert resumed.manifest.counts.probes_errored == 0
    clean = run(tiny_run_config(tmp_path / "clean", "halumem", "bm25"))
    clean_records = _by_probe(clean.run_dir)
    for probe_id, record in _by_probe(resumed.run_dir).items():
        assert _outcome(record) == _outcome(clean_records[probe_id]), probe_id


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (node on PATH)")
def test_a_memory_written_in_javascript_is_benchmarked_through_the_protocol(tmp_path: Path) -> None:
    """examples/node-worker stores every turn verbatim, as bm25 does: the same extraction verdicts."""
    node = run(
        tiny_run_config(tmp_path / "n", "halumem", "node-keywords", plugins=(f"{NODE_PLUGIN}:NodeKeywords",))
    )
    bm25 = run(tiny_run_config(tmp_path / "b", "halumem", "bm25"))
    assert node.manifest.counts.probes_errored == 0
    assert node.manifest.counts.probes_scored == bm25.manifest.counts.probes_scored
    ours, theirs = _by_probe(node.run_dir), _by_probe(bm25.run_dir)
    extraction = [pid for pid, r in ours.items() if r.kind == "extraction"]
    assert extraction
    for probe_id in extraction:
        assert _outcome(ours[probe_id]) == _outcome(theirs[probe_id]), probe_id
    asked = [r for r in ours.values() if r.kind == "qa"]
    assert asked and all(r.prediction and r.prediction.memories for r in asked)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (node on PATH)")
@pytest.mark.parametrize(
    ("name", "capabilities", "refusal"),
    [
        ("node-keywords", "Capabilities(session_memories=False)", "reports capabilities"),
        ("another-name", "Capabilities(session_memories=True)", "says it is 'node-keywords'"),
    ],
)
def test_a_worker_that_is_not_the_system_declared_stops_the_run(
    tmp_path: Path, name: str, capabilities: str, refusal: str
) -> None:
    """A worker is checked against its class before any episode: the run stops at once, naming why."""
    plugin = tmp_path / "mismatch.py"
    plugin.write_text(
        "from membench.systems.base import Capabilities\n"
        "from membench.systems.worker.client import WorkerSystem\n"
        "class Mismatch(WorkerSystem):\n"
        f"    name = {name!r}\n"
        f"    capabilities = {capabilities}\n"
        f"    command = ('node', {str(NODE_PLUGIN.with_name('memory.js'))!r})\n"
    )
    config = tiny_run_config(tmp_path, "halumem", name, plugins=(f"{plugin}:Mismatch",))
    with pytest.raises(ConfigError, match=refusal):
        run(config)
    manifest = json.loads(next((tmp_path / "results" / "runs").glob("*/manifest.json")).read_text())
    assert manifest["status"] == "failed" and manifest["counts"]["probes_scored"] == 0


REFUSING = '''
import asyncio
from membench.core.errors import ConfigError
from membench.systems.bm25 import BM25System

class Refusing(BM25System):
    """Worker 0's episode ingests a session, then waits until some system is closed, and goes on,
    failing if its own was; worker 1's reset refuses its setup once worker 0 has ingested."""

    name = "refusing"
    ingested: asyncio.Event | None = None
    closed: asyncio.Event | None = None

    async def reset(self, episode):
        if Refusing.ingested is None:
            Refusing.ingested, Refusing.closed = asyncio.Event(), asyncio.Event()
        self.is_closed = False
        if self.workdir.name == "worker-1":
            await Refusing.ingested.wait()
            raise ConfigError("refused: a setting this system cannot run with")
        await super().reset(episode)

    async def ingest(self, session):
        await super().ingest(session)
        if Refusing.ingested.is_set():
            await Refusing.closed.wait()
        Refusing.ingested.set()

    async def retrieve(self, query, k):
        if self.is_closed:
            raise RuntimeError("retrieve on a closed system")
        return await super().retrieve(query, k)

    async def close(self):
        self.is_closed = True
        Refusing.closed.set()
        for _ in range(50):  # a real close waits on I/O: the loop runs whatever is still running
            await asyncio.sleep(0)
'''


def test_a_config_error_stops_every_worker_before_any_system_is_closed(tmp_path: Path) -> None:
    """The other episode in flight is cancelled, not run on against a closed system: its records are
    those it finished, and none is an error the shutdown caused."""
    plugin = tmp_path / "refusing.py"
    plugin.write_text(REFUSING)
    config = tiny_run_config(tmp_path, "halumem", "refusing", plugins=(f"{plugin}:Refusing",), max_episodes=2)
    with pytest.raises(ConfigError, match="refused"):
        run(config)
    run_dir = next((tmp_path / "results" / "runs").glob("halumem__refusing__*"))
    records = latest_records(read_records(run_dir))
    assert records and all(r.status == "scored" and r.after_session == 0 for r in records)
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
