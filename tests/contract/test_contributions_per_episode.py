"""Every task's claim about its contributions, checked on real runs of its tiny built data.

A task with ``contributions_per_episode`` has its run's contributions taken episode by episode as the
run writes them (``running.contributions``), and its summary never reads the run back. So for each
such task, with each of its offline judges: the contributions of each episode's records alone, put
together, are the table of the whole run's records; the table the run handed its summary is that
table; and the summary the run wrote is the one its records on disk give. A task without the claim
is summarised from disk, which the same runs show.

Each run mixes errors in: its first episode fails whole (every retrieval raises), and one retrieval
in three fails in the others, so a run-wide decision that one episode alone would take otherwise
(LoCoMo's "does this judge give verdicts") shows, as do the error rows of every metric.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from membench import api
from membench.analysis import summary as summary_module
from membench.analysis.runs import load_run, task_contributions
from membench.analysis.summary import summarize
from membench.core.records import dump_json, latest_ingests, read_ingests, read_latest_records
from membench.core.task import Contribution, Task
from membench.core.types import Episode, IngestRecord, Memory, Record
from membench.registry import Registry
from membench.running.display import NullDisplay
from membench.stats.frame import contributions_table
from membench.systems.bm25 import BM25System
from membench.testing.configs import TINY_TASK_OPTIONS, tiny_run_config

#: (task, offline judge): every judge of every task that needs no LLM.
CASES = [
    (name, judge)
    for name, task in Registry().names("task")
    if name in TINY_TASK_OPTIONS
    for judge in Registry().get("task", name).judge_names
    if judge != "llm"
]


def per_episode(run_dir: Path) -> tuple[list[Contribution], pd.DataFrame]:
    """The contributions of each episode's records and ingests taken alone, and the whole run's table."""
    task = load_run(run_dir).task
    records = read_latest_records(run_dir)
    ingests = latest_ingests(read_ingests(run_dir))
    by_episode: dict[str, tuple[list[Record], list[IngestRecord]]] = defaultdict(lambda: ([], []))
    for record in records:
        by_episode[record.episode_id][0].append(record)
    for ingest in ingests:
        by_episode[ingest.episode_id][1].append(ingest)
    taken = [c for own, own_ingests in by_episode.values() for c in task.contributions(own, own_ingests)]
    return taken, task_contributions(task, records, ingests)


def failing_retrieval(monkeypatch: pytest.MonkeyPatch) -> None:
    """bm25 whose retrieval always fails in the first episode and every third call after it."""
    reset, retrieve = BM25System.reset, BM25System.retrieve
    state = {"episodes": 0, "calls": 0}

    async def counting_reset(self: BM25System, episode: Episode) -> None:
        state["episodes"] += 1
        await reset(self, episode)

    async def failing(self: BM25System, query: str, k: int) -> list[Memory]:
        state["calls"] += 1
        if state["episodes"] == 1 or state["calls"] % 3 == 0:
            raise RuntimeError("the index is down for this probe")
        return await retrieve(self, query, k)

    monkeypatch.setattr(BM25System, "reset", counting_reset)
    monkeypatch.setattr(BM25System, "retrieve", failing)


@pytest.mark.parametrize(("name", "judge"), CASES)
def test_a_run_summary_is_the_one_its_records_give(
    name: str, judge: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_retrieval(monkeypatch)
    read_back: list[Path] = []
    handed: list[pd.DataFrame | None] = []
    read_contributions, summarize_run = summary_module.read_contributions, summary_module.summarize

    def reading(task: Task, run_dir: Path) -> pd.DataFrame:
        read_back.append(run_dir)
        return read_contributions(task, run_dir)

    def summarizing(task: Task, run_dir: Path, **options: Any) -> dict[str, Any]:
        handed.append(options.get("contributions"))
        return summarize_run(task, run_dir, **options)

    monkeypatch.setattr(summary_module, "read_contributions", reading)
    monkeypatch.setattr(summary_module, "summarize", summarizing)
    config = tiny_run_config(tmp_path, name, "bm25", judge=judge, max_consecutive_errors=0, max_episodes=1)
    outcome = api.run(config, NullDisplay())
    counts = outcome.manifest.counts
    assert counts.probes_scored > 0 and counts.probes_errored > 0  # both kinds of row are checked
    monkeypatch.undo()

    task = load_run(outcome.run_dir).task
    assert read_back == ([] if task.contributions_per_episode else [outcome.run_dir])
    assert dump_json(outcome.summary) == dump_json(summarize(task, outcome.run_dir))
    if task.contributions_per_episode:
        taken, whole = per_episode(outcome.run_dir)
        pd.testing.assert_frame_equal(contributions_table(task, taken), whole)
        (table,) = handed
        assert table is not None
        pd.testing.assert_frame_equal(table, whole, check_like=True)  # label columns in any order
