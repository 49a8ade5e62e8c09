"""What a board shows besides its numbers: the winner, the best cell per metric row, the short
"Better" cell, the cost cell, the labels plots use, and the cost and latency plots' dots and notes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from membench.analysis.runs import load_run
from membench.core.task import MetricSpec
from membench.core.types import Usage
from membench.registry import Registry
from membench.reporting.collect import Board, Breakdown, Settings, Tradeoff, better_cell, collect
from membench.reporting.svg import grouped_bars, tradeoff_plot
from membench.stats import MetricEstimate
from membench.testing.toy_runs import write_toy_run

PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py") + ":ToyTask"


def board_of(tmp_path: Path, outcomes: dict[str, dict[str, float | None]]) -> Board:
    """The one board of toy runs, one per system: probe id -> 1.0 right, 0.0 wrong, None errored."""
    registry = Registry([PLUGIN])
    runs = [load_run(write_toy_run(tmp_path, name, probes), registry) for name, probes in outcomes.items()]
    (board,) = collect(runs, Settings(n_boot=50, n_perm=2000))
    return board


def probes(right: float, episodes: int = 20) -> dict[str, float | None]:
    """Four probes per episode, the first ``right`` share of them right."""
    return {f"e{e}:q{q}": float(q < 4 * right) for e in range(episodes) for q in range(4)}


def test_the_winner_is_the_system_the_paired_test_puts_first_else_the_tied_top(tmp_path: Path) -> None:
    separated = board_of(tmp_path / "a", {"good": probes(1.0), "bad": probes(0.0)})
    assert separated.winner_line == "Winner: good (separated from the next: the paired test)."

    tied = board_of(tmp_path / "b", {"x": probes(0.5), "y": probes(0.5), "z": probes(0.0)})
    assert tied.winner_line == "Tied for first: x and y (the data cannot separate them)."

    all_tied = board_of(tmp_path / "c", {"x": probes(0.5), "y": probes(0.5)})
    assert all_tied.winner_line == "No winner: x and y are tied at rank 1 (the data cannot separate them)."

    no_value = board_of(tmp_path / "e", {"x": probes(0.5), "broken": dict.fromkeys(probes(0.5))})
    assert no_value.winner_line == "Winner: x (separated from the next: the next has no value)."

    alone = board_of(tmp_path / "d", {"x": probes(0.5)})
    assert alone.winner_line == "One system: no winner."


def test_the_best_cell_follows_the_metric_direction_marks_ties_and_never_a_descriptive_one(
    tmp_path: Path,
) -> None:
    board = board_of(
        tmp_path, {"hi": probes(0.75), "mid": probes(0.5), "lo": probes(0.25), "hi2": probes(0.75)}
    )
    accuracy = board.main
    assert board.best(accuracy) == {"hi (extractive · exact)", "hi2 (extractive · exact)"}, "ties all marked"
    lower = dataclasses.replace(accuracy, better="lower", main=False)
    assert board.best(lower) == {"lo (extractive · exact)"}
    half = MetricSpec("accuracy", "Accuracy", better="target", target=0.5)
    assert board.best(half) == {"mid (extractive · exact)"}, "closest to the target"
    count = MetricSpec("accuracy", "Accuracy", better="descriptive")
    assert board.best(count) == frozenset(), "a descriptive metric has no best value"

    same = board_of(tmp_path / "same", {"x": probes(0.5), "y": probes(0.5)})
    assert same.best(same.main) == frozenset(), "when every value ties, marking them all says nothing"


def test_the_better_cell_is_short() -> None:
    assert better_cell(MetricSpec("a", "A")) == "higher"
    assert better_cell(MetricSpec("a", "A", better="lower")) == "lower"
    assert better_cell(MetricSpec("a", "A", better="target", target=0.5)) == "50%"
    assert better_cell(MetricSpec("a", "A", better="descriptive")) == "—"


def test_only_a_run_without_any_llm_reads_no_llm(tmp_path: Path) -> None:
    board = board_of(tmp_path, {"x": probes(0.5), "y": probes(0.0)})
    entry = board.entries[0]
    assert entry.llm_roles == () and entry.cost_text == "no LLM"
    # A reader LLM whose every call failed counts no call (usage is counted from answers).
    failed = dataclasses.replace(entry, llm_roles=("reader",))
    assert failed.cost_text == "no call answered (reader LLM)"
    local = dataclasses.replace(failed, usage={"reader": Usage(calls=7, cached_calls=2)})
    assert local.cost_text == "$0.0000 (7 calls)"


def test_plots_use_labels_without_the_shared_reader_and_judge(tmp_path: Path) -> None:
    board = board_of(tmp_path, {"x": probes(0.5), "y": probes(0.0)})
    assert [e.label for e in board.entries] == ["x (extractive · exact)", "y (extractive · exact)"]
    assert [label for label, _ in board.series("accuracy")] == ["x", "y"]


def test_cost_and_latency_plots_are_left_out_with_a_sentence_when_no_system_has_the_value(
    tmp_path: Path,
) -> None:
    board = board_of(tmp_path, {"x": probes(0.5), "y": probes(0.0)})
    cost, latency = board.tradeoffs
    assert cost.note == (
        "Accuracy against cost per probe is not drawn: every system's LLM cost is $0 (no LLM, or a "
        "local one)."
    )
    # Toy records time no retrieval, so no system has a query latency.
    assert latency.points == () and latency.left_out == ("x", "y")
    assert latency.note == (
        "Accuracy against query latency is not drawn: no system has both a mean retrieval latency per "
        "probe and a value of Accuracy."
    )


def estimate(value: float | None, ci: tuple[float, float] | None, level: str = "") -> MetricEstimate:
    return MetricEstimate("acc", value, 10, 0, 5, None, None, None, ci, 0.95, "t", level or None)


def test_a_tradeoff_plot_draws_a_labelled_dot_and_vertical_whisker_per_system() -> None:
    spec = MetricSpec("acc", "Accuracy", main=True)
    tradeoff = Tradeoff(
        "Accuracy against query latency",
        "mean retrieval latency per probe",
        "s",
        ((0, "bm25", 0.001, estimate(0.5, (0.4, 0.6))), (2, "mem0", 0.1, estimate(0.8, None))),
        ("no-memory",),
    )
    svg = str(tradeoff_plot(spec, tradeoff))
    # 1 ms to 100 ms spans 100 times: a log axis from 1/1.5 ms to 150 ms over 80..450 px, so 1 ms is
    # at 80 + 370 * log(1.5) / log(225) and 100 ms at 80 + 370 * log(150) / log(225).
    assert "mean retrieval latency per probe (log scale)" in svg
    assert re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="5" fill="(#\w+)"', svg) == [
        ("107.7", "165.0", "#0072B2"),
        ("422.3", "84.0", "#009E73"),
    ], "x at log positions, y 50% and 80% on 300..30 px, each system in its ranking colour"
    assert '<line x1="107.7" x2="107.7" y1="192.0" y2="138.0" stroke="#0072B2"/>' in svg, "CI 40-60%"
    assert ">bm25</text>" in svg and ">mem0</text>" in svg
    assert 'stroke="#009E73"' not in svg, "no interval, no whisker"


def test_a_breakdown_is_grouped_bars_one_group_per_value_one_bar_per_system(tmp_path: Path) -> None:
    board = board_of(tmp_path, {"x": probes(0.5, 3), "y": probes(0.0, 3)})
    spec = MetricSpec("acc", "Accuracy")
    cells = {
        ("acc", "even", "x (extractive · exact)"): estimate(0.5, (0.25, 0.75), "even"),
        ("acc", "even", "y (extractive · exact)"): estimate(None, None, "even"),
        ("acc", "odd", "x (extractive · exact)"): estimate(1.0, (1.0, 1.0), "odd"),
    }
    breakdown = Breakdown("parity", (spec,), ("even", "odd"), cells)
    svg = str(grouped_bars(spec, breakdown, board.entries))
    bars = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="9" fill="(#\w+)"', svg)
    # 0-100% over 300..690 px; groups of two 10 px bars with a 12 px gap, from y 8 + 6.
    assert bars == [("300.0", "14.0", "195.0", "#0072B2"), ("300.0", "46.0", "390.0", "#0072B2")]
    assert '<text x="304.0" y="33.0" class="na">N/A</text>' in svg, "y's undefined value at even"
    assert '<text x="304.0" y="65.0" class="na">–</text>' in svg, "y has no odd probe"
    assert '<line x1="397.5" x2="592.5" y1="18.5" y2="18.5" class="whisker"/>' in svg
    assert ">even<title>even</title></text>" in svg and ">y</text>" in svg, "group names and the legend"


def test_labels_of_dots_that_sit_close_together_do_not_overlap() -> None:
    spec = MetricSpec("acc", "Accuracy", main=True)
    points = (
        (0, "no-memory", 0.00001, estimate(0.6, None)),
        (1, "full-context", 0.000012, estimate(0.6, None)),
        (2, "bm25", 0.001, estimate(0.6, None)),
    )
    svg = str(tradeoff_plot(spec, Tradeoff("Accuracy against query latency", "latency", "s", points, ())))
    # On the log axis the first two dots are 12 px apart at y 138: their labels (left-aligned, 60 and
    # 79 px long) would cross, so the second goes below its dot; bm25's, far right, stays above.
    labels = re.findall(r'<text x="[\d.]+" y="([\d.]+)" text-anchor="(\w+)" class="label">(.*?)</text>', svg)
    assert [(y, text) for y, anchor, text in labels if text != "latency (log scale)"] == [
        ("132.0", "no-memory"),
        ("154.0", "full-context"),
        ("132.0", "bm25"),
    ]
