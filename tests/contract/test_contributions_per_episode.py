"""Every task's claim about its contributions, checked on a real run of its tiny built data.

A task with ``contributions_per_episode`` has its run's contributions taken episode by episode as the
run writes them (``running.contributions``), and its summary never reads the run back. So for each
such task: the contributions of each episode's records alone, put together, are the table of the
whole run's records; and the summary the run wrote is the one its records on disk give. A task
without the claim is summarised from disk, which the same run shows.

Each run mixes errors in (a retrieval that fails one call in three), so the error rows of every metric
are checked as well as the scored ones.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from membench import api
from membench.analysis import summary as summary_module
from membench.analysis.runs import load_run, task_contributions
from membench.analysis.summary import summarize
from membench.core.records import dump_json, latest_ingests, read_ingests, read_latest_records
from membench.core.task import Contribution, Task
from membench.core.types import IngestRecord, Memory, Record
from membench.registry import Registry
from membench.running.display import NullDisplay
from membench.stats.frame import contributions_table
from membench.systems.bm25 import BM25System
from membench.testing.configs import TINY_TASK_OPTIONS, tiny_run_config

TASK_NAMES = [name for name, _ in Registry().names("task")]


def per_episode(run_dir: Path) -> tuple[list[Contribution], pd.DataFrame]:
    """The contributions of each episode's records and ingests taken alone, and the whole run's table."""
    loaded = load_run(run_dir)
    records = read_latest_records(run_dir)
    ingests = latest_ingests(read_ingests(run_dir))
    by_episode: dict[str, tuple[list[Record], list[IngestRecord]]] = defaultdict(lambda: ([], []))
    for record in records:
        by_episode[record.episode_id][0].append(record)
    for ingest in ingests:
        by_episode[ingest.episode_id][1].append(ingest)
    task = loaded.task
    taken = [c for own, own_ingests in by_episode.values() for c in task.contributions(own, own_ingests)]
    return taken, task_contributions(loaded.task, records, ingests)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_a_run_summary_is_the_one_its_records_give(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if name not in TINY_TASK_OPTIONS:
        pytest.skip(f"{name} has no tiny options")
    retrieve = BM25System.retrieve
    calls = {"n": 0}

    async def failing_now_and_then(self: BM25System, query: str, k: int) -> list[Memory]:
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise RuntimeError("the index is down for this probe")
        return await retrieve(self, query, k)

    monkeypatch.setattr(BM25System, "retrieve", failing_now_and_then)
    read_back: list[Path] = []
    read_contributions = summary_module.read_contributions

    def reading(task: Task, run_dir: Path) -> pd.DataFrame:
        read_back.append(run_dir)
        return read_contributions(task, run_dir)

    monkeypatch.setattr(summary_module, "read_contributions", reading)
    config = tiny_run_config(tmp_path, name, "bm25", max_consecutive_errors=0, max_episodes=4)
    outcome = api.run(config, NullDisplay())
    counts = outcome.manifest.counts
    assert counts.probes_scored > 0 and counts.probes_errored > 0  # both kinds of row are checked

    task = load_run(outcome.run_dir).task
    assert read_back == ([] if task.contributions_per_episode else [outcome.run_dir])
    from_disk = summarize(task, outcome.run_dir)
    assert dump_json(outcome.summary) == dump_json(from_disk)
    if task.contributions_per_episode:
        taken, whole = per_episode(outcome.run_dir)
        pd.testing.assert_frame_equal(contributions_table(task, taken), whole)
