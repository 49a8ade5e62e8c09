"""Report number formatting: units, points for percentage deltas, N/A, and Markdown/SVG escaping."""

from __future__ import annotations

from membench.core import numbers as fmt
from membench.core.task import MetricSpec
from membench.reporting.markdown import md
from membench.reporting.svg import _Axis, ci_plot
from membench.stats import MetricEstimate

PCT = MetricSpec("acc", "Accuracy")
SECONDS = MetricSpec("lat", "Latency", better="lower", scale=1.0, unit="s")
COUNT = MetricSpec("n", "Memories", aggregate="sum", scale=1.0, unit="")
TOKENS = MetricSpec("tok", "Tokens", scale=1.0, unit="tokens")


def est(value: float | None, ci: tuple[float, float] | None = None) -> MetricEstimate:
    """An estimate over 2 episodes: the t interval is the one shown (``stats.policy``)."""
    return MetricEstimate("acc", value, 10, 0, 2, None, None, None, ci, 0.95)


def test_values_carry_their_unit_and_undefined_is_na() -> None:
    assert fmt.value(PCT, 0.6321) == "63.2%"
    assert fmt.value(PCT, None) == "N/A"
    assert fmt.value(SECONDS, 0.000123) == "0.123 ms"
    assert fmt.value(SECONDS, 2.5) == "2.50 s"
    assert fmt.value(COUNT, 144.0) == "144"
    assert fmt.value(TOKENS, 1234.5) == "1.23e+03 tokens"


def test_intervals_and_deltas_use_the_display_scale() -> None:
    assert fmt.interval(PCT, (0.551, 0.7)) == "[55.1, 70.0]"
    assert fmt.interval(PCT, None) == "–"
    assert fmt.interval(SECONDS, (0.0005, 1.5)) == "[0.5 ms, 1.50 s]"
    assert fmt.delta(PCT, 0.123) == "+12.3 pt"
    assert fmt.delta(PCT, -0.05) == "-5.0 pt"
    assert fmt.delta(SECONDS, -0.002) == "-2 ms"
    assert fmt.delta(PCT, None) == "N/A"


def test_p_values_cost_and_latency() -> None:
    assert fmt.p_value(0.0004) == "<0.001"
    assert fmt.p_value(0.04567) == "0.046"
    assert fmt.p_value(None) == "–"
    assert fmt.usd(0.0, 0) == "no LLM"
    assert fmt.usd(0.01234, 7) == "$0.0123 (7 calls)"
    assert fmt.seconds(None) == "N/A"


def test_markdown_cells_cannot_break_tables_or_inject_markup() -> None:
    assert md("a|b <i>x</i> *y* [z](u)\nnext") == "a\\|b \\<i\\>x\\</i\\> \\*y\\* \\[z\\](u) next"
    assert md("back\\slash `code` snake_case") == "back\\\\slash \\`code\\` snake\\_case"


def test_plot_axes_use_round_ticks() -> None:
    assert _Axis(0.0, 100.0, 0.0, 500.0).ticks() == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert _Axis(0.0, 7.0, 0.0, 70.0).ticks() == [0.0, 2.0, 4.0, 6.0]
    axis = _Axis(0.0, 100.0, 300.0, 700.0)
    assert (axis(0.0), axis(50.0), axis(100.0)) == (300.0, 500.0, 700.0)


def test_ci_plot_draws_whiskers_escapes_labels_and_marks_na() -> None:
    plot = str(ci_plot(PCT, [("<b>sys</b>", est(0.5, (0.4, 0.6))), ("none", est(None)), ("dot", est(0.2))]))
    assert "<b>" not in plot and "&lt;b&gt;sys&lt;/b&gt;" in plot
    assert plot.count("<circle") == 2, "the N/A system has no dot"
    assert plot.count('class="whisker"') == 3, "one whisker and two caps, only where there is a CI"
    assert ">N/A</text>" in plot
    assert "http" not in plot


def test_long_answers_are_clipped_and_say_so() -> None:
    from membench.reporting.html import MAX_CHARS, clip_text

    shown = clip_text("w" * 5000)
    assert shown.startswith("w" * MAX_CHARS) and not shown.startswith("w" * (MAX_CHARS + 1))
    assert shown.endswith(f"[{5000 - MAX_CHARS} more characters in records.jsonl]")
    assert clip_text("short") == "short"
