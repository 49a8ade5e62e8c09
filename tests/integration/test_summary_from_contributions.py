"""A run's summary from the contributions it took as it went is the summary of what it wrote, in
the cases that path must get right or leave alone: a run stopped mid-way, its resume (read back), a
system that changes memories after returning them, and a task whose contributions fail mid-run.

Real HaluMem tiny runs (2 users, 3 sessions); each checks both which path the summary took and that
its summary is the one ``summarize`` gives from the run directory alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from membench import api
from membench.analysis import summary as summary_module
from membench.analysis.runs import load_run
from membench.analysis.summary import summarize
from membench.core.records import dump_json
from membench.core.task import Contribution, Task
from membench.core.types import IngestRecord, Memory, Record, Session
from membench.running.display import NullDisplay
from membench.systems.baselines import FullContextSystem
from membench.systems.bm25 import BM25System
from membench.testing.configs import tiny_run_config
from membench_tasks.halumem.task import HaluMemTask


@pytest.fixture
def read_back(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The run directories whose summary read the records back (``as_on_disk`` adds one)."""
    dirs: list[Path] = []
    read_contributions = summary_module.read_contributions

    def reading(task: Task, run_dir: Path) -> Any:
        dirs.append(run_dir)
        return read_contributions(task, run_dir)

    monkeypatch.setattr(summary_module, "read_contributions", reading)
    return dirs


def as_on_disk(outcome: api.RunOutcome) -> None:
    """The summary the run wrote is the one its directory gives."""
    task = load_run(outcome.run_dir).task
    assert dump_json(outcome.summary) == dump_json(summarize(task, outcome.run_dir))


def test_a_stopped_run_is_summarised_as_it_went_and_its_resume_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_back: list[Path]
) -> None:
    retrieve = BM25System.retrieve
    calls = {"n": 0}

    async def down_after_five(self: BM25System, query: str, k: int) -> list[Memory]:
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("the index went down")
        return await retrieve(self, query, k)

    monkeypatch.setattr(BM25System, "retrieve", down_after_five)
    config = tiny_run_config(tmp_path, "halumem", "bm25", max_consecutive_errors=3, max_episodes=1)
    stopped = api.run(config, NullDisplay())
    assert stopped.manifest.status == "failed" and stopped.stopped is not None
    assert read_back == []  # a fresh run: its own contributions, an episode cut short among them
    as_on_disk(stopped)
    read_back.clear()  # (as_on_disk read it back)

    monkeypatch.setattr(BM25System, "retrieve", retrieve)
    resumed = api.run(replace(config, retry_errors=True), NullDisplay())
    assert resumed.run_dir == stopped.run_dir and resumed.manifest.status == "complete"
    assert read_back == [resumed.run_dir]  # earlier records are on disk: the summary reads them all
    as_on_disk(resumed)
    qa = next(e for e in resumed.summary["metrics"] if e["metric"] == "qa_correct")
    planned = [p for probes in resumed.plan.probes_by_episode.values() for p in probes if p.kind == "qa"]
    assert qa["n_errors"] == 0 and qa["n"] == len(planned)


def test_memories_a_system_changes_after_returning_them_count_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_back: list[Path]
) -> None:
    ingest = FullContextSystem.ingest

    async def forgetting_provenance(self: FullContextSystem, session: Session) -> None:
        for memory in self._log.all():  # the very objects earlier probes were given
            memory.session_id = None
        await ingest(self, session)

    monkeypatch.setattr(FullContextSystem, "ingest", forgetting_provenance)
    outcome = api.run(tiny_run_config(tmp_path, "halumem", "full-context"), NullDisplay())
    assert read_back == []
    as_on_disk(outcome)
    mrr = next(e for e in outcome.summary["metrics"] if e["metric"] == "evidence_mrr")
    assert mrr["value"] is not None and mrr["value"] > 0


def test_a_task_whose_contributions_fail_mid_run_is_summarised_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_back: list[Path]
) -> None:
    contributions = HaluMemTask.contributions
    calls = {"n": 0}

    def failing_once(
        self: HaluMemTask, records: list[Record], ingests: list[IngestRecord]
    ) -> list[Contribution]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("a bug met on one episode")
        return contributions(self, records, ingests)

    monkeypatch.setattr(HaluMemTask, "contributions", failing_once)
    outcome = api.run(tiny_run_config(tmp_path, "halumem", "bm25", max_episodes=1), NullDisplay())
    assert outcome.manifest.status == "complete"
    assert read_back == [outcome.run_dir]  # given up on: the run's records are read back instead
    as_on_disk(outcome)
