"""Summaries, reports and exports read records with their memories left on disk, and say the same as
reading every record whole: real runs (HaluMem × bm25 and full-context, episodic × full-context), each
with a superseded record (an errored probe redone, as ``--retry-errors`` leaves it)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from membench.analysis import runs as runs_module
from membench.analysis.frames import find_runs, probes_frame
from membench.analysis.runs import find_run_dirs, load_run
from membench.analysis.summary import summarize
from membench.core import records as records_module
from membench.core.records import (
    RECORDS,
    StoredMemories,
    dump_json,
    latest_records,
    read_records,
)
from membench.core.types import Record
from membench.registry import import_object
from membench.reporting import Settings, write_report
from membench.testing.configs import TINY_TASK_OPTIONS

RUNS = Path(__file__).parents[1] / "fixtures" / "report" / "report_runs.py"
make_runs = import_object(f"{RUNS}:make_runs")
HALUMEM_TINY = import_object(f"{RUNS}:HALUMEM_TINY")
N_BOOT = 200


def _supersede(run_dir: Path) -> str:
    """Turn the first probe's record into an error redone at the end of the file; returns its id."""
    path = run_dir / RECORDS
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    failed = {**first, "score": None, "error": {"stage": "reader", "type": "Timeout", "message": "slow"}}
    path.write_text("".join(f"{line}\n" for line in [json.dumps(failed), *lines[1:], lines[0]]))
    return str(first["probe_id"])


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("streaming")
    made = {
        "halumem": make_runs(root / "halumem", "halumem", ["bm25", "full-context"], HALUMEM_TINY),
        "episodic": make_runs(
            root / "episodic", "episodic", ["full-context"], dict(TINY_TASK_OPTIONS["episodic"])
        ),
    }
    for results_dir in made.values():
        for run_dir in find_run_dirs(results_dir):
            _supersede(run_dir)
    return made


def _read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the analysis read records as before streaming: every record whole, then the latest."""

    def whole(run_dir: Path) -> list[Record]:
        return latest_records(read_records(run_dir))

    monkeypatch.setattr(runs_module, "read_latest_records", whole)
    monkeypatch.setattr("membench.analysis.frames.read_latest_records", whole)


def _summaries(results_dir: Path) -> dict[str, str]:
    out = {}
    for run_dir in find_run_dirs(results_dir):
        run = load_run(run_dir)
        out[run_dir.name] = dump_json(summarize(run.task, run_dir, n_boot=N_BOOT))
    return out


def _report(results_dir: Path, out: Path) -> dict[str, bytes]:
    files, _ = write_report(
        results_dir, out, Settings(n_boot=N_BOOT, n_perm=200, data_dir=results_dir.parent / "data")
    )
    return {str(path.relative_to(out)): path.read_bytes() for path in files}


@pytest.mark.parametrize("task", ["halumem", "episodic"])
def test_summary_report_and_export_equal_reading_records_whole(
    task: str, results: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_dir = results[task]
    streamed = (_summaries(results_dir), _report(results_dir, tmp_path / "streamed"))
    streamed_probes = probes_frame(find_runs(find_run_dirs(results_dir)))
    _read_whole(monkeypatch)
    whole = (_summaries(results_dir), _report(results_dir, tmp_path / "whole"))
    assert streamed == whole
    assert "leaderboard.md" in streamed[1] and len(streamed[0]) == len(find_run_dirs(results_dir))
    whole_probes = probes_frame(find_runs(find_run_dirs(results_dir)))
    assert streamed_probes.equals(whole_probes)
    assert streamed_probes["n_memories"].sum() > 0


def test_the_superseded_record_is_left_out(results: dict[str, Path]) -> None:
    for run_dir in find_run_dirs(results["halumem"]):
        run = load_run(run_dir)
        lines = (run_dir / RECORDS).read_text().splitlines()
        assert len(run.records) == len(lines) - 1
        redone = json.loads(lines[-1])["probe_id"]
        (kept,) = [r for r in run.records if r.probe_id == redone]
        assert kept.error is None and kept.status == "scored"


@pytest.mark.parametrize(("task", "most_parses"), [("episodic", 1), ("halumem", 2)])
def test_summarize_parses_each_line_once_and_never_holds_every_memory(
    task: str, most_parses: int, results: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Episodic metrics never read memories: one parse per line. HaluMem's retrieval metrics read a
    question's memories back from its line (once, however often the metric goes through them)."""
    parses: Counter[str] = Counter()
    parse = records_module.from_json

    def counting(raw: bytes) -> Any:
        data = parse(raw)
        parses[data["probe_id"]] += 1
        return data

    monkeypatch.setattr(records_module, "from_json", counting)
    records_module._stored_line.cache_clear()
    for run_dir in find_run_dirs(results[task]):
        run = load_run(run_dir)
        seen: list[list[Record]] = []

        def spy(records: list[Record], ingests: Any, task: Any = run.task, seen: Any = seen) -> Any:
            seen.append(records)
            return type(task).contributions(task, records, ingests)

        monkeypatch.setattr(run.task, "contributions", spy)
        parses.clear()
        summarize(run.task, run_dir, n_boot=0)
        lines = Counter(json.loads(line)["probe_id"] for line in (run_dir / RECORDS).read_text().splitlines())
        assert set(parses) == set(lines)
        assert all(lines[probe] <= parses[probe] <= lines[probe] * most_parses for probe in lines)
        if task == "episodic":
            assert parses == lines
        (given,) = seen
        held = [r.prediction.memories for r in given if r.prediction is not None and r.prediction.memories]
        assert held and all(isinstance(memories, StoredMemories) for memories in held)
