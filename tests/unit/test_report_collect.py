"""Leaderboard decisions: tiers from neighbour tests, Holm over the tested comparisons, the baseline;
which curves are drawn and from which probes, where their ticks, chance line and reference points go,
how their tables read, and the latency percentiles by axis value."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from membench.analysis.runs import load_run
from membench.core.errors import ConfigError
from membench.core.task import Contribution, Curve, MetricSpec, ReferenceCurve
from membench.core.types import IngestRecord, Prediction, Record
from membench.registry import Registry
from membench.reporting import markdown
from membench.reporting.collect import Settings, _baseline, _ranks, collect
from membench.reporting.curves import (
    CurveSeries,
    Selection,
    curve_series,
    estimates_by,
    latency_table,
    selection,
)
from membench.reporting.svg import curve_plot
from membench.stats import MetricEstimate, estimate
from membench.stats.frame import contributions_frame
from membench.testing.toy_runs import write_toy_run

PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py") + ":ToyTask"


def pairs(*separated: bool) -> Any:
    return [SimpleNamespace(separated=s) for s in separated]


def run(system: str, mode: str = "extractive · rule") -> Any:
    return SimpleNamespace(
        system=system, label=f"{system} ({mode})", manifest=SimpleNamespace(run_id=f"id-{system}-{mode}")
    )


def test_unseparated_neighbours_share_the_rank_of_the_first() -> None:
    assert _ranks(pairs()) == [(1, False)]
    assert _ranks(pairs(True, True)) == [(1, False), (2, False), (3, False)]
    assert _ranks(pairs(False, True, False)) == [(1, True), (1, True), (3, True), (3, True)]
    # A chain of ties is one tier, even if its ends might be separable: the rule is stated in the report.
    assert _ranks(pairs(False, False, True)) == [(1, True), (1, True), (1, True), (4, False)]


def test_baseline_by_label_by_system_by_default_and_ambiguous() -> None:
    ordered = [run("bm25"), run("no-memory"), run("bm25", "llm:gpt · rule")]
    assert _baseline(ordered, "bm25 (llm:gpt · rule)")[0] == "bm25 (llm:gpt · rule)"
    assert _baseline(ordered, "no-memory") == ("no-memory (extractive · rule)", "chosen with --baseline")
    label, note = _baseline(ordered, None)
    assert label == "no-memory (extractive · rule)" and "remembers nothing" in note
    label, note = _baseline([run("a"), run("b")], "mem0")
    assert label == "a (extractive · rule)" and note.startswith("--baseline mem0 did not run")
    assert _baseline([run("a")], None)[0] is None
    with pytest.raises(ConfigError, match="matches several runs"):
        _baseline(ordered, "bm25")


def test_a_paired_difference_against_the_order_does_not_separate(tmp_path: Path) -> None:
    """A errors on the hard probes (left out of its own estimate), so it ranks first by point estimate,
    while on the probes both scored B is right far more often: the ranking must not claim A > B."""
    a: dict[str, float | None] = {}
    b: dict[str, float | None] = {}
    for e in range(20):
        for q in range(5):
            probe = f"e{e}:q{q}"
            a[probe], b[probe] = (None, 0.0) if q < 2 else (float(q != 2), 1.0)
    registry = Registry([PLUGIN])
    runs = [
        load_run(write_toy_run(tmp_path, name, outcomes), registry) for name, outcomes in (("A", a), ("B", b))
    ]
    (board,) = collect(runs, Settings(n_boot=100))
    assert [e.run.system for e in board.entries] == ["A", "B"], "2/3 on its own probes beats 3/5"
    (pair,) = board.neighbours
    assert pair.comparison.difference == pytest.approx(1 / 3) and pair.p_holm < 0.001
    assert [(e.rank, e.tied) for e in board.entries] == [(1, True), (1, True)]
    assert not pair.separated and pair.verdict == "no: tied (the paired Δ favours the lower)"


def test_a_system_without_a_value_does_not_tie_with_one_that_has_it(tmp_path: Path) -> None:
    answered = {f"e{e}:q{q}": float(q % 2) for e in range(3) for q in range(4)}
    registry = Registry([PLUGIN])
    runs = [
        load_run(write_toy_run(tmp_path, "some", answered), registry),
        load_run(write_toy_run(tmp_path, "failed", dict.fromkeys(answered)), registry),
        load_run(write_toy_run(tmp_path, "empty", {}), registry),
    ]
    (board,) = collect(runs, Settings(n_boot=50))
    assert [(e.run.system, e.rank, e.tied) for e in board.entries] == [
        ("some", 1, False),
        ("empty", 2, True),
        ("failed", 2, True),
    ]
    assert [p.verdict for p in board.neighbours] == ["yes: the lower has no value", "no: tied"]


def test_runs_judged_differently_go_on_separate_boards(tmp_path: Path) -> None:
    answered = {f"e{e}:q{q}": float(q % 2) for e in range(3) for q in range(4)}
    registry = Registry([PLUGIN])
    runs = [
        load_run(write_toy_run(tmp_path, "a", answered), registry),
        load_run(write_toy_run(tmp_path, "b", answered), registry),
        load_run(write_toy_run(tmp_path, "b", answered, judge="lexical"), registry),
    ]
    boards = collect(runs, Settings(n_boot=50))
    assert sorted((b.roles[1], [e.run.system for e in b.entries]) for b in boards) == [
        ("exact", ["a", "b"]),
        ("lexical", ["b"]),
    ]
    assert len({b.key for b in boards}) == 2
    # 3 episodes: no paired difference could be significant, and the board says so.
    exact = next(b for b in boards if b.roles[1] == "exact")
    assert any("with 3 episode" in note for note in exact.notes)


ACC = MetricSpec("acc", "Accuracy")
TOKENS = MetricSpec("tok", "Tokens", better="lower", scale=1.0, unit="tokens")


def at(metric: str, level: str, value: float | None, ci: tuple[float, float] | None = None) -> MetricEstimate:
    """An estimate of ``metric`` at one value of the axis ``n`` (two episodes: the t interval is shown)."""
    return MetricEstimate(metric, value, 4, 0, 2, None, None, None, ci, 0.95, "n", level)


def test_a_curve_all_zero_or_unlabelled_is_left_out_with_a_note_and_levels_sort_as_numbers() -> None:
    by_selection: dict[Selection, dict[str, list[MetricEstimate]]] = {
        ("n", ()): {
            "a": [at("acc", "10", 0.5), at("acc", "2", 0.25), at("tok", "10", None), at("tok", "2", 0.0)],
            "b": [at("acc", "2", 0.75), at("tok", "2", 0.0)],
        },
        ("m", ()): {},
    }
    curves = (Curve("n", "acc"), Curve("n", "tok", title="Tokens per question"), Curve("m", "acc"))
    (drawn,), notes = curve_series(curves, (ACC, TOKENS), by_selection)
    assert drawn.title == "Accuracy against n" and drawn.levels == (2.0, 10.0)
    assert [(x, e.value) for x, e in drawn.points["a"]] == [(2.0, 0.25), (10.0, 0.5)], "2 before 10"
    assert drawn.cell("b", 10.0) is None and drawn.cell("b", 2.0) == by_selection[("n", ())]["b"][0]
    assert notes == [
        "Tokens per question is not drawn: every value is 0.",
        "Accuracy against m is not drawn: no probe carries the label m.",
    ]
    undefined: dict[Selection, dict[str, list[MetricEstimate]]] = {("n", ()): {"a": [at("acc", "1", None)]}}
    assert curve_series((Curve("n", "acc"),), (ACC,), undefined)[1] == [
        "Accuracy against n is not drawn: no system has a value at any n."
    ]
    # 0 everywhere against a chance level or a reference says something (below chance): drawn.
    zero: dict[Selection, dict[str, list[MetricEstimate]]] = {("n", ()): {"a": [at("acc", "1", 0.0)]}}
    humans = ReferenceCurve("humans", ((1, 0.9),))
    compared = (Curve("n", "acc", chance=0.5), Curve("n", "acc", references=(humans,)), Curve("n", "acc"))
    drawn_at_zero, notes = curve_series(compared, (ACC,), zero)
    assert [c.curve for c in drawn_at_zero] == list(compared[:2])
    assert notes == ["Accuracy against n is not drawn: every value is 0."]


def test_a_curve_axis_that_is_not_a_number_or_not_positive_on_a_log_axis_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="task curve axis 'n' has a non-numeric value in run a: 'big'"):
        curve_series((Curve("n", "acc"),), (ACC,), {("n", ()): {"a": [at("acc", "big", 0.5)]}})
    with pytest.raises(ConfigError, match="'n' is logarithmic, and run a has the value '0'"):
        curve_series((Curve("n", "acc", log_x=True),), (ACC,), {("n", ()): {"a": [at("acc", "0", 0.5)]}})
    with pytest.raises(
        ConfigError, match="names metric 'f1', which the task does not define; its metrics: acc"
    ):
        curve_series((Curve("n", "f1"),), (ACC,), {("n", ()): {}})
    humans = ReferenceCurve("humans", ((0, 0.5), (10, 0.4)))
    with pytest.raises(
        ConfigError,
        match="'Accuracy against n' is logarithmic, and its reference 'humans' has the axis value 0",
    ):
        curve_series((Curve("n", "acc", log_x=True, references=(humans,)),), (ACC,), {("n", ()): {}})


def ticks(plot: str) -> list[tuple[str, str]]:
    """(x, label) of every labelled x tick: the texts on the line below the plot area (y=316)."""
    return re.findall(r'<text x="([\d.]+)" y="316" text-anchor="middle">([^<]+)</text>', plot)


def plotted(
    curve: Curve, points: dict[str, list[tuple[float, MetricEstimate]]], spec: MetricSpec = ACC
) -> str:
    return str(curve_plot(CurveSeries(curve, spec, "t", points)))


def test_a_log_axis_puts_each_level_at_its_logarithm_and_thins_crowded_labels() -> None:
    points = {"a": [(float(x), at("acc", str(x), 0.5)) for x in (1, 10, 100)]}
    # The plot spans x 80 to 450: on a log axis 10 is half way from 1 to 100; on a linear one, 9/99 of it.
    log_plot = plotted(Curve("n", "acc", log_x=True), points)
    assert ticks(log_plot) == [("80.0", "1"), ("265.0", "10"), ("450.0", "100")]
    assert ticks(plotted(Curve("n", "acc"), points)) == [("80.0", "1"), ("113.6", "10"), ("450.0", "100")]
    assert '<polyline points="80.0,165.0 265.0,165.0 450.0,165.0"' in log_plot
    assert ">n (log scale)</text>" in log_plot
    # Levels 10 px apart: every one gets a tick mark, a label only once 28 px from the last label.
    dense = {"a": [(float(x), at("acc", str(x), 0.5)) for x in (0, 10, 20, 30, 370)]}
    plot = plotted(Curve("n", "acc"), dense)
    assert [label for _, label in ticks(plot)] == ["0", "30", "370"]
    assert plot.count('y1="300" y2="304" class="axis"') == 5


def test_the_chance_level_is_a_dashed_line_inside_the_y_range_and_a_line_under_the_table() -> None:
    points = {"a": [(float(x), at("acc", str(x), 0.75, (0.5, 1.0))) for x in (1, 2)]}
    # y runs 0-100% from pixel 300 up to 30: 50% is at 300 - 0.5 * 270 = 165.
    plot = plotted(Curve("n", "acc", chance=0.5), points)
    assert '<line x1="80" x2="450" y1="165.0" y2="165.0" class="chance"/>' in plot
    assert '<text x="446" y="161.0" text-anchor="end" class="chance">chance</text>' in plot
    assert 'class="chance"' not in plotted(Curve("n", "acc"), points)
    # Tokens span 0 to 2, so the range is 0-2 until chance at 4 raises its top: chance is then at the top.
    tokens = {"a": [(1.0, at("tok", "1", 1.0)), (2.0, at("tok", "2", 2.0))]}
    assert 'y1="30.0" y2="30.0" class="chance"' in plotted(Curve("n", "tok", chance=4.0), tokens, TOKENS)

    board: Any = SimpleNamespace(entries=[SimpleNamespace(label="a")])
    (curve,), _ = curve_series(
        (Curve("n", "acc", chance=0.5),), (ACC,), {("n", ()): {"a": [at("acc", "1", 0.75, (0.5, 1.0))]}}
    )
    assert markdown._curve_table(board, curve)[-3:] == ["| a | 75.0% [50.0, 100.0] |", "", "Chance: 50.0%"]


def test_a_reference_is_drawn_grey_and_hollow_without_whiskers_and_tabled_at_its_own_levels() -> None:
    humans = ReferenceCurve("humans <study>", ((3, 0.6), (1, 0.9)))
    curve = Curve("n", "acc", references=(humans,))
    points = {"a": [(float(x), at("acc", str(x), 0.5, (0.25, 0.75))) for x in (1, 2)]}
    plot = plotted(curve, points)
    # x 1..3 (the reference's 3 widens the range) over 80..450 px; 90% at y 57, 60% at y 138.
    assert [label for _, label in ticks(plot)] == ["1", "2", "3"]
    assert '<polyline points="80.0,57.0 450.0,138.0" class="reference"/>' in plot
    assert (
        '<circle cx="80.0" cy="57.0" r="4" class="reference">'
        "<title>humans &lt;study&gt;, n 1: 90.0%</title></circle>"
    ) in plot
    assert '<circle cx="450.0" cy="138.0" r="4" class="reference">' in plot
    whiskers = re.findall(r'<line x1="([\d.]+)" x2="\1" y1="[\d.]+" y2="[\d.]+" stroke=', plot)
    assert whiskers == ["80.0", "265.0"], "the system's two points have whiskers, the reference's none"
    assert '<text x="98" y="371" class="label">humans &lt;study&gt;</text>' in plot, "second legend row"

    board: Any = SimpleNamespace(entries=[SimpleNamespace(label="a")])
    (series,), _ = curve_series((curve,), (ACC,), {("n", ()): {"a": [e for _, e in points["a"]]}})
    assert markdown._curve_table(board, series)[2:] == [
        "| System | 1 | 2 | 3 |",
        "|---|---|---|---|",
        "| a | 50.0% [25.0, 75.0] | 50.0% [25.0, 75.0] | – |",
        "| reference: humans \\<study\\> | 90.0% | – | 60.0% |",
    ]


def contribution(episode: str, probe: str, num: float, **labels: str) -> Contribution:
    return Contribution("acc", episode, probe, num, 1.0, labels)


def test_a_curve_is_estimated_from_the_rows_its_where_selects_and_left_out_where_none_are() -> None:
    a = [
        contribution("e1", "p1", 1.0, variant="x", n="1"),
        contribution("e1", "p2", 1.0, variant="x", n="2"),
        contribution("e2", "p1", 0.0, variant="x", n="1"),
        contribution("e2", "p2", 1.0, variant="x", n="2"),
        contribution("e3", "p1", 0.0, variant="y", n="1"),
        contribution("e3", "p2", 0.0, variant="y", n="2"),
        contribution("e3", "p3", 0.0, n="1"),  # no variant: selected by no where
    ]
    b = [contribution("e1", "p1", 1.0, variant="y", n="1")]
    frames = {"a": contributions_frame(a), "b": contributions_frame(b)}
    curves = (
        Curve("n", "acc", where={"variant": "x"}),
        Curve("n", "acc"),
        Curve("n", "acc", where={"variant": "z"}),
        Curve("n", "acc", where={"task": "t"}),
    )
    by = estimates_by(frames, (ACC,), [selection(c) for c in curves], n_boot=200, seed=0)
    (x, everything), notes = curve_series(curves, (ACC,), by)
    assert x.title == "Accuracy against n (variant=x)"
    assert list(x.points) == ["a"], "b has no variant=x row: no series"
    # variant x: n=1 is 1 of e1 and 0 of e2; n=2 is 1 and 1. Every row at n: (1+0+0+0)/4 and (1+1+0)/3.
    assert [(level, e.value, e.n, e.n_clusters) for level, e in x.points["a"]] == [
        (1.0, 0.5, 2, 2),
        (2.0, 1.0, 2, 2),
    ]
    assert [(level, e.value) for level, e in everything.points["a"]] == [
        (1.0, 0.25),
        (2.0, pytest.approx(2 / 3)),
    ]
    # The selected rows are the curve's population: its intervals are those of a run holding only them.
    alone = estimate(contributions_frame(a[:4]), (ACC,), n_boot=200, seed=0, by="n")
    assert [e for _, e in x.points["a"]] == alone
    assert notes == [
        "Accuracy against n (variant=z) is not drawn: no probe with variant=z carries the label n.",
        "Accuracy against n (task=t) is not drawn: no probe with task=t carries the label n.",
    ]


def record(episode: str, probe: str, level: str | None, latency: dict[str, float] | None) -> Record:
    return Record(
        run_id="r",
        task="t",
        task_version="1",
        system="s",
        episode_id=episode,
        probe_id=probe,
        after_session=0,
        kind="qa",
        labels={} if level is None else {"n": level},
        input_hash="0",
        prediction=None if latency is None else Prediction(answer="x", latency_s=latency),
        completed_at="2026-01-01T00:00:00+00:00",
    )


def ingest(episode: str, index: int, latency_s: float, wait_s: float = 0.0) -> IngestRecord:
    return IngestRecord(
        run_id="r",
        episode_id=episode,
        session_index=index,
        session_id=f"{episode}:s{index}",
        latency_s=latency_s,
        index_wait_s=wait_s,
        ok=True,
        completed_at="2026-01-01T00:00:00+00:00",
    )


def test_latency_percentiles_by_axis_value_and_system_by_linear_interpolation() -> None:
    a_records = [
        record("e1", "q0", "10", {"answer": 0.1, "retrieve": 0.01}),
        record("e1", "q1", "10", {"answer": 0.2, "retrieve": 0.02}),
        record("e2", "q0", "10", {"answer": 0.3, "retrieve": 0.03}),
        record("e2", "q1", "10", {"answer": 0.4, "retrieve": 0.05}),
        record("e3", "q0", "100", None),  # errored: a probe, with no latency
        record("e4", "q0", "10", None),  # e4 carries two values: left out of the ingestion column
        record("e4", "q1", "100", None),
        record("e5", "q0", None, {"answer": 9.0}),  # no value of the axis: not in the table
    ]
    a_ingests = [ingest("e1", 0, 1.0, 0.5), ingest("e1", 1, 2.0), ingest("e2", 0, 1.5), ingest("e4", 0, 7.0)]
    a: Any = SimpleNamespace(label="a", records=a_records, ingests=a_ingests)
    b: Any = SimpleNamespace(label="b", records=[record("e1", "q0", "10", {"answer": 0.001})], ingests=[])
    table = latency_table([a, b], "n")
    assert table is not None
    first = table.rows[0]
    # answers 0.1..0.4: p50 = 0.25; p90 at rank 0.9 * 3 = 2.7, so 0.3 + 0.7 * 0.1; p99 at 2.97.
    assert (first.level, first.system, first.probes) == (10.0, "a", 5)
    assert first.answer is not None and first.answer.values == pytest.approx((0.25, 0.37, 0.397))
    assert first.retrieve is not None and first.retrieve.values == pytest.approx((0.025, 0.044, 0.0494))
    # e1: 1.0 + 0.5 wait + 2.0 = 3.5 s; e2: 1.5 s.
    assert first.ingest is not None and first.ingest.values == pytest.approx((2.5, 3.3, 3.48))
    assert markdown._latency(table)[-5:] == [
        "| 10 | a | 5 | 250 ms / 370 ms / 397 ms | 25 ms / 44 ms / 49.4 ms | 2 | 2.50 s / 3.30 s / 3.48 s |",
        "| 10 | b | 1 | 1 ms / 1 ms / 1 ms | – | 0 | – |",
        "| 100 | a | 2 | – | – | 0 | – |",
        "",
        "Left out of the ingestion column: episodes whose probes carry several n values (a: 1).",
    ]
    assert markdown._latency(table)[:3] == ["### Latency by n", "", markdown.md(markdown.LATENCY_CAPTION)]
    assert latency_table([a], "other") is None


def test_a_curve_table_shows_intervals_only_while_they_fit() -> None:
    few = {"a": [at("acc", str(x), 0.5, (0.25, 0.75)) for x in (1, 2)], "b": [at("acc", "2", None)]}
    board: Any = SimpleNamespace(entries=[SimpleNamespace(label=label) for label in ("a", "b", "c")])
    (curve,), _ = curve_series((Curve("n", "acc"),), (ACC,), {("n", ()): few})
    assert markdown._curve_table(board, curve) == [
        "#### Accuracy against n",
        "",
        "| System | 1 | 2 |",
        "|---|---|---|",
        "| a | 50.0% [25.0, 75.0] | 50.0% [25.0, 75.0] |",
        "| b | – | N/A |",
    ]
    levels = range(1, markdown.MAX_LEVELS_WITH_CI + 2)
    many = {"a": [at("acc", str(x), 0.5, (0.25, 0.75)) for x in levels]}
    (curve,), _ = curve_series((Curve("n", "acc"),), (ACC,), {("n", ()): many})
    assert markdown._curve_table(board, curve)[2:] == [
        "| System | 1 | 2 | 3 | 4 | 5 | 6 |",
        "|---|---|---|---|---|---|---|",
        "| a | 50.0% | 50.0% | 50.0% | 50.0% | 50.0% | 50.0% |",
    ]
