"""WorM end to end on tiny built trials: the floor, the ceiling, a lossy memory, and the report's curves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from membench.analysis.summary import summarize
from membench.api import run
from membench.core.config import LLMSpec
from membench.core.records import read_records
from membench.core.types import Record
from membench.running.display import NullDisplay
from membench.testing import FakeLLM
from membench.testing.configs import tiny_run_config
from membench.testing.openai_server import message_text


def _run(root: Path, system: str) -> tuple[list[Record], dict[str, Any]]:
    outcome = run(tiny_run_config(root, "worm", system), NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete"
    assert records and all(r.status == "scored" for r in records)
    summary = summarize(outcome.components.task, outcome.run_dir, n_boot=50)
    return records, {m["metric"]: m["value"] for m in summary["metrics"]}


def test_no_memory_answers_nothing_it_could_know(tmp_path: Path) -> None:
    records, metrics = _run(tmp_path, "no-memory")
    assert {r.labels["variant"] for r in records} == {"sfr", "cd-color", "vsr", "vsrec", "smu"}
    assert metrics["score"] == 0.0 and metrics["invalid"] == 1.0
    assert all(r.prediction.answer == "Unknown." for r in records)


def test_full_context_is_exact_on_every_cell(tmp_path: Path) -> None:
    records, metrics = _run(tmp_path, "full-context")
    assert metrics["score"] == metrics["position_accuracy"] == 1.0 and metrics["invalid"] == 0.0
    assert metrics["set_recall"] == metrics["set_precision"] == 1.0
    # one trial per cell: 12 SFR list lengths, 24 CD cells, 8 VSR lengths, 40 VSRec cells, 8 SMU set sizes
    trials = {r.episode_id for r in records}
    assert len(trials) == 12 + 24 + 8 + 40 + 8


@pytest.mark.parametrize(
    "system", ["bm25", pytest.param("mem0", marks=[pytest.mark.needs_mem0, pytest.mark.slow])]
)
def test_a_top_k_memory_loses_frames_on_long_lists(system: str, tmp_path: Path) -> None:
    records, metrics = _run(tmp_path, system)
    assert metrics["score"] is not None and 0.0 < metrics["score"] < 1.0
    # Ten memories hold a change-detection trial's one memory array, but not an 18-cell SFR list.
    longest = [r for r in records if r.labels["variant"] == "sfr" and r.labels["list_length"] == "18"]
    assert longest and all(r.score.values["recall"] <= 10 / 18 for r in longest)
    shortest = [r for r in records if r.labels["variant"] == "smu" and r.labels["set_size"] == "1"]
    assert shortest and all(r.score.values["score"] == 1.0 for r in shortest)


def test_an_llm_reader_is_shown_the_probes_inputs_and_judged_by_the_rules(tmp_path: Path) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    reader_llm = FakeLLM(answer="yes")
    with reader_llm.serve() as reader:
        config = tiny_run_config(
            tmp_path,
            "worm",
            "full-context",
            task_options={"variants": "cd-color", "per_cell": "2"},
            reader_llm=LLMSpec("openai/fake-reader", reader.base_url),
        )
        outcome = run(config, NullDisplay())
        prompts = [message_text(r.body["messages"][0]["content"]) for r in reader.requests]
    records = read_records(outcome.run_dir)
    assert len(records) == 48 and all(r.status == "scored" for r in records)
    # the test array is only in the probe's inputs: the prompt must show it under the question
    assert all("Shown with the question:" in p and "- test_array: Test array of" in p for p in prompts)
    # "yes" to every trial is right exactly on the half that changed
    assert sum(r.score.values["score"] for r in records) == 24
