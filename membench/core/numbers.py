"""How numbers read in every output: one set of rules, so the run summary, ``compare``, ``score`` and
the report (Markdown and HTML) never show the same number two ways.

Values, intervals and deltas are shown on the metric's display scale (``MetricSpec.scale`` and
``unit``); a difference of percentages is in points ("pt"), never in percent, which would be ambiguous.
"""

from __future__ import annotations

from membench.core.task import MetricSpec

NA = "N/A"


def value(spec: MetricSpec, raw: float | None) -> str:
    """``63.2%``, ``12``, ``4.1 ms``: a metric value with its unit, or N/A when undefined."""
    if raw is None:
        return NA
    if spec.unit == "s":
        return seconds(raw * spec.scale)
    return _number(spec, raw * spec.scale) + _unit(spec)


def interval(spec: MetricSpec, ci: tuple[float, float] | None) -> str:
    """``[55.1, 70.0]`` on the display scale; seconds carry their unit (ms or s) since it varies."""
    if ci is None:
        return "–"
    if spec.unit == "s":
        return f"[{seconds(ci[0] * spec.scale)}, {seconds(ci[1] * spec.scale)}]"
    low, high = (_number(spec, bound * spec.scale) for bound in ci)
    return f"[{low}, {high}]"


def delta(spec: MetricSpec, raw: float | None) -> str:
    """A signed difference on the display scale: ``+12.3 pt`` for percentages (points, not percent)."""
    if raw is None:
        return NA
    shown = raw * spec.scale
    sign = "+" if shown >= 0 else "-"
    if spec.unit == "s":
        return sign + seconds(abs(shown))
    unit = " pt" if spec.unit == "%" else _unit(spec)
    return sign + _number(spec, abs(shown)) + unit


def delta_interval(spec: MetricSpec, ci: tuple[float, float] | None) -> str:
    """An interval of a difference, each bound signed: ``[+1.2 pt, +8.0 pt]``."""
    if ci is None:
        return "–"
    return f"[{delta(spec, ci[0])}, {delta(spec, ci[1])}]"


def magnitude(spec: MetricSpec, raw: float | None) -> str:
    """An unsigned size of difference on the display scale (an MDE): ``5.6 pt``."""
    shown = delta(spec, raw)
    return shown if raw is None else shown[1:]


def p_value(p: float | None) -> str:
    if p is None:
        return "–"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def seconds(raw: float | None) -> str:
    """Latency: three significant digits in ms below one second (offline systems answer in µs), else s."""
    if raw is None:
        return NA
    if abs(raw) < 1:
        return f"{raw * 1000:.3g} ms"
    return f"{raw:.2f} s"


def usd(raw: float, calls: int) -> str:
    """Cost, or a plain statement that no LLM was called (offline runs cost nothing, and say so)."""
    if calls == 0:
        return "no LLM"
    return f"${raw:.4f} ({calls} calls)"


def short_hash(text: str) -> str:
    return text[:12]


def _number(spec: MetricSpec, shown: float) -> str:
    if spec.unit == "%":
        return f"{shown:.1f}"
    if spec.aggregate == "sum" and float(shown).is_integer():
        return f"{shown:.0f}"
    return f"{shown:.3g}"


def _unit(spec: MetricSpec) -> str:
    """``%`` sticks to the number; a word unit ("tokens") is spaced from it."""
    return spec.unit if spec.unit in ("%", "") else f" {spec.unit}"
