"""What ``membench run`` and ``membench compare`` print, at 80 and at 200 columns, against golden files.

The runs are tiny HaluMem runs built in the test (seeded data, seeded intervals). What is measured, not
computed, is fixed before printing: the wall time and the add and search latencies (their digits would
change every run, and with them the tables' widths). Paths are relative to the runs' folder. Regenerate the
files with ``MEMBENCH_UPDATE_GOLDEN=1`` when a change of the output is meant.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from membench.api import RunOutcome, compare, run
from membench.cli.compare_output import print_table
from membench.cli.run_output import print_outcome
from membench.cli.terminal import make_console
from membench.running.display import NullDisplay
from membench.testing.configs import tiny_run_config

if TYPE_CHECKING:
    from rich.console import Console

GOLDEN = Path(__file__).parents[1] / "fixtures" / "terminal"
SYSTEMS = ("bm25", "no-memory", "full-context")
WIDTHS = (80, 200)
#: the measured latencies, as the golden shows them: 1.23 ms per session added, 4.56 ms per search.
LATENCIES = {"add_time_s": (0.00123, 0.00101, 0.00145), "search_time_s": (0.00456, 0.00400, 0.00512)}


@pytest.fixture(scope="module")
def halumem(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunOutcome]]:
    """The three runs, made and read from their folder as a user would from a project's: every path
    printed is relative (``results/runs/...``), as short as the user's, and the same on every machine."""
    root = tmp_path_factory.mktemp("terminal")
    before = Path.cwd()
    os.chdir(root)
    try:
        yield {system: run(tiny_run_config(Path(), "halumem", system), NullDisplay()) for system in SYSTEMS}
    finally:
        os.chdir(before)


def _fixed(estimate: dict[str, Any]) -> dict[str, Any]:
    """A latency estimate with the fixed value and interval of ``LATENCIES``; any other unchanged."""
    if estimate["metric"] not in LATENCIES:
        return estimate
    value, low, high = LATENCIES[estimate["metric"]]
    return {**estimate, "value": value, "ci_low": low, "ci_high": high}


def _measured_fixed(outcome: RunOutcome) -> RunOutcome:
    summary = outcome.summary
    fixed = {
        "metrics": [_fixed(e) for e in summary["metrics"]],
        "breakdowns": {label: [_fixed(e) for e in rows] for label, rows in summary["breakdowns"].items()},
    }
    return dataclasses.replace(outcome, summary=fixed, elapsed_s=2.5)


def _printed(width: int, draw: Callable[[Console], None]) -> str:
    out = io.StringIO()
    draw(make_console(file=out, width=width))
    return out.getvalue()


def _check(text: str, width: int, name: str) -> None:
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert too_long == [], f"lines wider than {width} columns"
    assert "…" not in text, "no cell or header is cut"
    golden = GOLDEN / name
    if os.environ.get("MEMBENCH_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), "regenerate with MEMBENCH_UPDATE_GOLDEN=1 if the change is meant"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_run_summary_of_a_halumem_run(halumem: dict[str, RunOutcome], width: int) -> None:
    outcome = _measured_fixed(halumem["bm25"])
    text = _printed(width, lambda console: print_outcome(outcome, console))
    _check(text, width, f"run_halumem_bm25_{width}.txt")
    lines = text.splitlines()
    # Each command on lines of its own: pasted together (backslash continuations), it is the command.
    at = lines.index("next: run other systems on the same task (membench systems list), then")
    commands = " ".join(line.strip().removesuffix("\\").strip() for line in lines[at + 1 :])
    assert commands == (
        "membench compare --task halumem --systems bm25,OTHER --results-dir results "
        "or membench report results --out report"
    )
    assert "wall time 2.5s" in text, "the whole command's wall time (RunOutcome.elapsed_s)"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_compare_output_of_three_halumem_runs(halumem: dict[str, RunOutcome], width: int) -> None:
    result = compare(
        [halumem[system].run_dir for system in SYSTEMS],
        metrics=["qa_correct", "update_hallucination"],
        n_boot=200,
    )
    text = _printed(width, lambda console: print_table(result, console))
    _check(text, width, f"compare_halumem_{width}.txt")
    stacked = "A: bm25 (extractive · rule)" in text.splitlines()
    assert stacked == (width == 80), "one block per pair at 80 columns, the wide table at 200"


def _estimate(metric: str, value: float, level: str | None = None) -> dict[str, Any]:
    return {
        "metric": metric,
        "value": value,
        "n": 12,
        "n_errors": 0,
        "n_clusters": 3,
        "ci_low": value / 2,
        "ci_high": value,
        "by": "bin" if level else None,
        "level": level,
    }


def test_a_breakdown_wider_than_80_columns_is_shared_evenly_between_tables_with_whole_headers(
    tmp_path: Path,
) -> None:
    """The episodic task breaks nine metrics down by bin: at 80 columns three tables of three metrics
    (each with the bin column), every header whole; at 200 one boxed table."""
    from membench.cli.run_output import _tables
    from membench_tasks.episodic.task import EpisodicTask

    task = EpisodicTask({}, tmp_path)
    summary = {
        "metrics": [_estimate(m.name, 0.5) for m in task.metrics],
        "breakdowns": {"bin": [_estimate(m.name, 0.25, level) for m in task.metrics for level in ("0", "1")]},
    }
    for width, shapes in ((80, [3, 3, 3]), (200, [len(task.metrics)])):
        console = make_console(file=io.StringIO(), width=width)
        tables, _ = _tables(console, task, "bm25", summary)
        by_bin = tables[1:]
        assert [len(t.columns) - 1 for t in by_bin] == shapes
        assert [str(t.title) for t in by_bin][:2] == ["by bin", "by bin, continued"][: len(shapes)]
        for table in tables:
            console.print(table)
        text = console.file.getvalue()  # type: ignore[attr-defined]
        assert max(len(line) for line in text.splitlines()) <= width
        for spec in task.metrics:
            assert spec.display in text, f"{spec.display} is shown whole"
