"""Inline SVG plots for the HTML leaderboard: no library, no script, no external request.

Four plots: a metric per system as a dot with its confidence-interval whisker; for each of a task's
curves, its metric against a numeric label (one line per system, whiskers at every point; the x axis
linear or logarithmic, ticked at the values present; the curve's chance level and reference points
beside them); a breakdown as grouped bars (a group per label value, a bar per system, whiskers); and
the main metric against a system's cost or latency (a labelled dot per system, a vertical whisker).
A system keeps its colour (its place in the ranking) in every plot of a board. Line styles that carry
meaning (chance, references) are classes styled in ``base.html.j2``.
Every text comes from runs, so every text is escaped; coordinates are rounded so output is stable.
The SVG is inline in HTML, which needs no ``xmlns`` (so the page holds no URL at all).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from membench.core import numbers as fmt
from membench.core.task import MetricSpec
from membench.reporting.curves import CurveSeries
from membench.stats import MetricEstimate
from membench.stats.policy import CONFIDENCE

if TYPE_CHECKING:
    from membench.reporting.collect import Breakdown, Entry, Tradeoff

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
WIDTH = 720
LABEL_WIDTH = 300
ROW = 26
MARGIN = 30
#: a plot in a grid (curves, every metric, cost and latency) is narrower than the others: a board may
#: have dozens, drawn two or three to a row (``board.html.j2``), and its texts must stay legible when
#: it is scaled to the grid's column.
GRID_WIDTH = 480
#: the label column of a compact per-system plot (one in a grid).
GRID_LABEL_WIDTH = 150
#: the average advance of a 12 px label's character: how many characters a label column can hold.
CHAR_PX = 6.6
#: a latency axis spanning at least this ratio (largest / smallest) is drawn logarithmic.
LOG_SPAN = 20
#: a breakdown's bars: each bar's height, and the gap between two values' groups.
BAR = 10
GROUP_GAP = 12
#: where a breakdown's first group starts (its axis is at the bottom, so little room is needed above).
BARS_TOP = 8
#: where a curve plot's area starts (room for the y tick labels) and ends (above the x tick labels).
CURVE_LEFT = 80
CURVE_BOTTOM = 300


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


#: the least room (px) between two labelled x ticks: a denser grid (1 ... 300) keeps every tick mark
#: and labels only the ticks this far from the last label.
TICK_GAP = 28


@dataclass(frozen=True)
class _Axis:
    """A map from data (on the display scale) to pixels, linear or logarithmic (``log``: every value
    must be above 0), with round tick values for a linear one."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, x: float) -> float:
        low, high, x = (
            (math.log10(v) for v in (self.low, self.high, x)) if self.log else (self.low, self.high, x)
        )
        span = high - low or 1.0
        return round(self.start + (x - low) / span * (self.end - self.start), 1)

    def ticks(self) -> list[float]:
        step = _nice_step((self.high - self.low) / 5 or 1.0)
        first = math.ceil(self.low / step) * step
        return [round(first + i * step, 10) for i in range(int((self.high - first) / step + 1e-9) + 1)]


def _nice_step(raw: float) -> float:
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _domain(spec: MetricSpec, values: Sequence[float]) -> tuple[float, float]:
    """Percentages on 0-100; anything else from 0 (or its minimum, if negative) to its maximum."""
    if spec.unit == "%" and all(0.0 <= v <= 100.0 for v in values):
        return 0.0, 100.0
    low, high = min([0.0, *values]), max([0.0, *values])
    return low, high if high > low else low + 1.0


def _tick_label(spec: MetricSpec, tick: float) -> str:
    return fmt.value(spec, tick / spec.scale) if spec.scale else f"{tick:g}"


def fit(text: str, width: float) -> str:
    """``text`` cut to what ``width`` px of 12 px labels hold, ending in "…" when cut (the whole text is
    in the plot's tooltips and tables)."""
    most = max(int(width / CHAR_PX), 2)
    return text if len(text) <= most else text[: most - 1] + "…"


def ci_plot(spec: MetricSpec, rows: Sequence[tuple[str, MetricEstimate]], *, compact: bool = False) -> Markup:
    """One row per (label, estimate): the value as a dot, its interval as a whisker; ``compact`` draws
    it to sit in a grid of plots (``GRID_WIDTH``, labels fitted to a narrower column)."""
    width, label_width = (GRID_WIDTH, GRID_LABEL_WIDTH) if compact else (WIDTH, LABEL_WIDTH)
    values = [v for _, est in rows for v in _extent(spec, est)]
    axis = _Axis(*_domain(spec, values or [0.0]), label_width, width - MARGIN)
    height = MARGIN * 2 + ROW * len(rows)
    parts = [_open(height, f"{spec.display} per system with {rows[0][1].confidence:.0%} intervals", width)]
    parts += _x_axis(spec, axis, MARGIN, height - MARGIN)
    for i, (label, est) in enumerate(rows):
        y = MARGIN + ROW * i + ROW / 2
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 4}" text-anchor="end" class="label">'
            f"{escape(fit(label, label_width - 12))}<title>{escape(label)}</title></text>"
        )
        if est.value is None:
            parts.append(f'<text x="{label_width + 4}" y="{y + 4}" class="na">N/A</text>')
            continue
        if est.interval is not None:
            low, high = (axis(b * spec.scale) for b in est.interval)
            parts.append(f'<line x1="{low}" x2="{high}" y1="{y}" y2="{y}" class="whisker"/>')
            for x in (low, high):
                parts.append(f'<line x1="{x}" x2="{x}" y1="{y - 5}" y2="{y + 5}" class="whisker"/>')
        tip = f"{label}: {fmt.value(spec, est.value)} {fmt.interval(spec, est.interval)}"
        parts.append(
            f'<circle cx="{axis(est.value * spec.scale)}" cy="{y}" r="5" fill="{colour(i)}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def curve_plot(curve: CurveSeries, names: Mapping[str, str] | None = None) -> Markup:
    """A curve's metric (y) against its axis (x): one coloured line per system with a whisker at every
    point, each reference as a grey dotted line with hollow markers (no whiskers: they are not
    estimates), the chance level as a dashed line, legend below. Sized to sit in a grid of plots.

    The x ticks are the axis values present (a curve's grid is the data's, not a round one); on a
    logarithmic axis every value is above 0, which ``curves`` checks. The ranges hold every point,
    every reference point and the chance level.
    """
    spec, log_x = curve.spec, curve.curve.log_x
    series = [((names or {}).get(label, label), points) for label, points in curve.points.items()]
    references = [(ref.label, sorted(ref.points)) for ref in curve.references]
    chance = None if curve.curve.chance is None else curve.curve.chance * spec.scale
    ys = [v for _, points in series for _, e in points for v in _extent(spec, e)]
    ys += [y * spec.scale for _, points in references for _, y in points]
    ys += [] if chance is None else [chance]
    levels = curve.levels
    left, right, bottom = CURVE_LEFT, GRID_WIDTH - MARGIN, CURVE_BOTTOM
    x_axis = _Axis(min(levels, default=1.0), max(levels, default=1.0), left, right, log=log_x)
    y_axis = _Axis(*_domain(spec, ys or [0.0]), bottom, MARGIN)
    height = bottom + 50 + 18 * (len(series) + len(references))
    parts = [_open(height, f"{curve.title} per system", GRID_WIDTH)]
    parts += _y_axis(spec, y_axis, left, right)
    parts += _level_ticks(x_axis, levels, bottom)
    parts.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 32}" text-anchor="middle" '
        f'class="label">{escape(curve.curve.axis + (" (log scale)" if log_x else ""))}</text>'
    )
    if chance is not None:
        y = y_axis(chance)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y}" y2="{y}" class="chance"/>')
        parts.append(f'<text x="{right - 4}" y="{y - 4}" text-anchor="end" class="chance">chance</text>')
    for label, measured in references:
        parts += _reference_line(curve, label, measured, x_axis, y_axis)
    for i, (label, estimated) in enumerate(series):
        parts += _system_line(curve, label, estimated, colour(i), x_axis, y_axis)
    parts += _legend([label for label, _ in series], [label for label, _ in references], left, bottom + 52)
    parts.append("</svg>")
    return Markup("\n".join(parts))


def grouped_bars(spec: MetricSpec, breakdown: Breakdown, entries: Sequence[Entry]) -> Markup:
    """A breakdown of ``spec`` as grouped horizontal bars: a group per value of the label (its name on
    the left), a bar per system in its colour from 0 to its value, the interval as a whisker; "N/A"
    where the metric is undefined, "–" where the system has no probe with that value. Legend below."""
    cells = [[breakdown.cells.get((spec.name, lv, e.label)) for e in entries] for lv in breakdown.levels]
    values = [v for row in cells for est in row if est is not None for v in _extent(spec, est)]
    axis = _Axis(*_domain(spec, values or [0.0]), LABEL_WIDTH, WIDTH - MARGIN)
    group = BAR * len(entries) + GROUP_GAP
    bottom = BARS_TOP + group * len(breakdown.levels)
    height = bottom + 34 + 18 * len(entries)
    title = f"{spec.display} by {breakdown.key} per system with {CONFIDENCE:.0%} intervals"
    parts = [_open(height, title)]
    parts += _x_axis(spec, axis, BARS_TOP, bottom)
    zero = axis(min(max(0.0, axis.low), axis.high))
    for g, (level, row) in enumerate(zip(breakdown.levels, cells, strict=True)):
        top = BARS_TOP + group * g + GROUP_GAP / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{top + BAR * len(entries) / 2 + 4}" text-anchor="end" '
            f'class="label">{escape(fit(level, LABEL_WIDTH - 12))}<title>{escape(level)}</title></text>'
        )
        for i, (entry, est) in enumerate(zip(entries, row, strict=True)):
            y = top + BAR * i
            if est is None or est.value is None:
                mark = "–" if est is None else "N/A"
                parts.append(f'<text x="{zero + 4}" y="{y + BAR - 1}" class="na">{mark}</text>')
                continue
            end = axis(est.value * spec.scale)
            shown = f"{fmt.value(spec, est.value)} {fmt.interval(spec, est.interval)}"
            tip = f"{entry.short_label}, {breakdown.key} {level}: {shown}"
            parts.append(
                f'<rect x="{min(zero, end)}" y="{y}" width="{round(abs(end - zero), 1)}" '
                f'height="{BAR - 1}" fill="{colour(i)}"><title>{escape(tip)}</title></rect>'
            )
            if est.interval is not None:
                low, high = (axis(b * spec.scale) for b in est.interval)
                mid = y + (BAR - 1) / 2
                parts.append(f'<line x1="{low}" x2="{high}" y1="{mid}" y2="{mid}" class="whisker"/>')
                for x in (low, high):
                    parts.append(f'<line x1="{x}" x2="{x}" y1="{mid - 3}" y2="{mid + 3}" class="whisker"/>')
    parts += _legend([e.short_label for e in entries], [], LABEL_WIDTH, bottom + 40)
    parts.append("</svg>")
    return Markup("\n".join(parts))


def tradeoff_plot(spec: MetricSpec, tradeoff: Tradeoff) -> Markup:
    """The main metric (y) against cost or latency (x): a dot per system in its colour, labelled, its
    interval as a vertical whisker. The x axis is logarithmic for latencies that span more than
    ``LOG_SPAN`` times (an in-memory baseline and a served system differ by orders of magnitude), else
    linear from 0."""
    xs = [x for _, _, x, _ in tradeoff.points]
    ys = [v for *_, est in tradeoff.points for v in _extent(spec, est)]
    left, right, bottom = CURVE_LEFT, GRID_WIDTH - MARGIN, CURVE_BOTTOM
    log_x = tradeoff.x_unit == "s" and min(xs) > 0 and max(xs) / min(xs) >= LOG_SPAN
    if log_x:
        x_axis = _Axis(min(xs) / 1.5, max(xs) * 1.5, left, right, log=True)
    else:
        x_axis = _Axis(0.0, max(xs) * 1.1 or 1.0, left, right)
    y_axis = _Axis(*_domain(spec, ys or [0.0]), bottom, MARGIN)
    parts = [_open(bottom + 44, tradeoff.title, GRID_WIDTH)]
    parts += _y_axis(spec, y_axis, left, right)
    parts.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" class="axis"/>')
    for tick in _log_ticks(x_axis) if log_x else x_axis.ticks():
        x = x_axis(tick)
        shown = _x_text(tradeoff, tick)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}" class="axis"/>')
        parts.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{escape(shown)}</text>')
    axis_label = tradeoff.x_label + (" (log scale)" if log_x else "")
    parts.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 34}" text-anchor="middle" class="label">'
        f"{escape(axis_label)}</text>"
    )
    placed: list[tuple[float, float, float]] = []  # (left, right, baseline) of the labels drawn
    for index, label, x, est in tradeoff.points:
        assert est.value is not None
        px, py = x_axis(x), y_axis(est.value * spec.scale)
        if est.interval is not None:
            low, high = (y_axis(b * spec.scale) for b in est.interval)
            parts.append(f'<line x1="{px}" x2="{px}" y1="{low}" y2="{high}" stroke="{colour(index)}"/>')
        shown = f"{fmt.value(spec, est.value)} {fmt.interval(spec, est.interval)}"
        tip = f"{label}: {shown} at {_x_text(tradeoff, x)}"
        parts.append(
            f'<circle cx="{px}" cy="{py}" r="5" fill="{colour(index)}"><title>{escape(tip)}</title></circle>'
        )
        text = fit(label, (right - left) / 2)
        anchor, dx = ("end", -8) if px > (left + right) / 2 else ("start", 8)
        start = px + dx - (len(text) * CHAR_PX if anchor == "end" else 0)
        span = (start, start + len(text) * CHAR_PX)
        y = _free_line(span, py, placed)
        placed.append((*span, y))
        parts.append(
            f'<text x="{px + dx}" y="{y}" text-anchor="{anchor}" class="label">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _free_line(span: tuple[float, float], py: float, placed: Sequence[tuple[float, float, float]]) -> float:
    """The baseline of a dot's label: just above the dot, else the first of below, further above and
    further below that no label already drawn overlaps (systems with close values and latencies)."""
    for y in (py - 6, py + 16, py - 20, py + 30, py - 34):
        if not any(a < span[1] and span[0] < b and abs(y - other) < 13 for a, b, other in placed):
            return round(y, 1)
    return round(py - 6, 1)


def _x_text(tradeoff: Tradeoff, x: float) -> str:
    """A cost as dollars (4 significant digits: costs per probe are small), a latency as ``fmt.seconds``."""
    return f"${x:.4g}" if tradeoff.x_unit == "usd" else fmt.seconds(x)


def _log_ticks(axis: _Axis) -> list[float]:
    """Powers of ten inside a logarithmic axis; its two ends when fewer than two powers fall inside."""
    powers = [10.0**k for k in range(math.ceil(math.log10(axis.low)), math.floor(math.log10(axis.high)) + 1)]
    return powers if len(powers) >= 2 else [axis.low, axis.high]


def _legend(systems: Sequence[str], references: Sequence[str], left: float, top: float) -> list[str]:
    """One row per system (its colour) then per reference (a stretch of dotted line through a hollow
    marker), each with its label."""
    parts = []
    for i, label in enumerate([*systems, *references]):
        y = top + 18 * i
        if i < len(systems):
            parts.append(f'<rect x="{left}" y="{y - 9}" width="12" height="12" fill="{colour(i)}"/>')
        else:
            parts.append(
                f'<line x1="{left - 4}" x2="{left + 16}" y1="{y - 3}" y2="{y - 3}" class="reference"/>'
            )
            parts.append(f'<circle cx="{left + 6}" cy="{y - 3}" r="4" class="reference"/>')
        parts.append(f'<text x="{left + 18}" y="{y + 1}" class="label">{escape(label)}</text>')
    return parts


def _system_line(
    curve: CurveSeries,
    label: str,
    points: Sequence[tuple[float, MetricEstimate]],
    stroke: str,
    x_axis: _Axis,
    y_axis: _Axis,
) -> list[str]:
    """One system's line through its defined points, each with its interval as a whisker."""
    spec = curve.spec
    defined = [(x, e.value, e) for x, e in points if e.value is not None]
    parts = []
    if defined:
        path = " ".join(f"{x_axis(x)},{y_axis(v * spec.scale)}" for x, v, _ in defined)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="2"/>')
    for x, v, e in defined:
        px = x_axis(x)
        if e.interval is not None:
            low, high = (y_axis(b * spec.scale) for b in e.interval)
            parts.append(f'<line x1="{px}" x2="{px}" y1="{low}" y2="{high}" stroke="{stroke}"/>')
        tip = f"{label}, {curve.curve.axis} {x:g}: {fmt.value(spec, v)} {fmt.interval(spec, e.interval)}"
        parts.append(
            f'<circle cx="{px}" cy="{y_axis(v * spec.scale)}" r="4" fill="{stroke}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    return parts


def _reference_line(
    curve: CurveSeries, label: str, points: Sequence[tuple[float, float]], x_axis: _Axis, y_axis: _Axis
) -> list[str]:
    """A reference's dotted line and hollow markers, in grey under the systems' lines."""
    spec = curve.spec
    drawn = [(x_axis(x), y_axis(y * spec.scale), x, y) for x, y in points]
    parts = [f'<polyline points="{" ".join(f"{px},{py}" for px, py, _, _ in drawn)}" class="reference"/>']
    for px, py, x, y in drawn:
        tip = f"{label}, {curve.curve.axis} {x:g}: {fmt.value(spec, y)}"
        parts.append(
            f'<circle cx="{px}" cy="{py}" r="4" class="reference"><title>{escape(tip)}</title></circle>'
        )
    return parts


def _level_ticks(axis: _Axis, levels: Sequence[float], bottom: float) -> list[str]:
    """A tick mark at every level; a label at those at least ``TICK_GAP`` px right of the last label."""
    parts = []
    labelled: float | None = None
    for level in levels:
        x = axis(level)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}" class="axis"/>')
        if labelled is None or x - labelled >= TICK_GAP:
            parts.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{level:g}</text>')
            labelled = x
    return parts


def _extent(spec: MetricSpec, est: MetricEstimate) -> list[float]:
    """The value and interval bounds of an estimate on the display scale (none when it is N/A)."""
    if est.value is None:
        return []
    return [b * spec.scale for b in (est.value, *(est.interval or ()))]


def _open(height: float, title: str, width: float = WIDTH) -> str:
    return (
        f'<svg class="plot" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    )


def _x_axis(spec: MetricSpec, axis: _Axis, top: float, bottom: float) -> list[str]:
    parts = [f'<line x1="{axis.start}" x2="{axis.end}" y1="{bottom}" y2="{bottom}" class="axis"/>']
    for tick in axis.ticks():
        x = axis(tick)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{top}" y2="{bottom}" class="grid"/>')
        parts.append(
            f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{escape(_tick_label(spec, tick))}</text>'
        )
    return parts


def _y_axis(spec: MetricSpec, axis: _Axis, left: float, right: float) -> list[str]:
    parts = [f'<line x1="{left}" x2="{left}" y1="{axis.start}" y2="{axis.end}" class="axis"/>']
    for tick in axis.ticks():
        y = axis(tick)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y}" y2="{y}" class="grid"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{escape(_tick_label(spec, tick))}</text>'
        )
    return parts
