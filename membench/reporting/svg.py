"""Inline SVG plots for the HTML leaderboard: no library, no script, no external request.

Two plots: a metric per system as a dot with its confidence-interval whisker, and, for tasks with a
``scale_axis``, the main metric against that axis (one line per system, whiskers at every point).
Every text comes from runs, so every text is escaped; coordinates are rounded so output is stable.
The SVG is inline in HTML, which needs no ``xmlns`` (so the page holds no URL at all).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from membench.core import numbers as fmt
from membench.core.task import MetricSpec
from membench.stats import MetricEstimate

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
WIDTH = 720
LABEL_WIDTH = 300
ROW = 26
MARGIN = 30


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class _Axis:
    """A linear map from data (on the display scale) to pixels, with round tick values."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, x: float) -> float:
        span = self.high - self.low or 1.0
        return round(self.start + (x - self.low) / span * (self.end - self.start), 1)

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


def ci_plot(spec: MetricSpec, rows: Sequence[tuple[str, MetricEstimate]]) -> Markup:
    """One row per (label, estimate): the value as a dot, its interval as a whisker."""
    values = [v for _, est in rows for v in _extent(spec, est)]
    axis = _Axis(*_domain(spec, values or [0.0]), LABEL_WIDTH, WIDTH - MARGIN)
    height = MARGIN * 2 + ROW * len(rows)
    parts = [_open(height, f"{spec.display} per system with {rows[0][1].confidence:.0%} intervals")]
    parts += _x_axis(spec, axis, MARGIN, height - MARGIN)
    for i, (label, est) in enumerate(rows):
        y = MARGIN + ROW * i + ROW / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 4}" text-anchor="end" class="label">{escape(label)}</text>'
        )
        if est.value is None:
            parts.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + 4}" class="na">N/A</text>')
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


def scale_plot(
    spec: MetricSpec, axis_name: str, series: Sequence[tuple[str, Sequence[tuple[float, MetricEstimate]]]]
) -> Markup:
    """The metric (y) against a numeric label (x), one coloured line per system, legend below."""
    xs = [x for _, points in series for x, _ in points]
    ys = [v for _, points in series for _, e in points for v in _extent(spec, e)]
    plot_top, plot_bottom = MARGIN, 300
    x_axis = _Axis(min(xs, default=0.0), max(xs, default=1.0), 80, WIDTH - MARGIN)
    y_axis = _Axis(*_domain(spec, ys or [0.0]), plot_bottom, plot_top)
    height = plot_bottom + 50 + 18 * len(series)
    parts = [_open(height, f"{spec.display} against {axis_name} per system")]
    parts += _y_axis(spec, y_axis, 80, WIDTH - MARGIN)
    for tick in sorted(set(xs)):
        x = x_axis(tick)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{plot_bottom}" y2="{plot_bottom + 4}" class="axis"/>')
        parts.append(f'<text x="{x}" y="{plot_bottom + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(
        f'<text x="{(80 + WIDTH - MARGIN) / 2}" y="{plot_bottom + 32}" text-anchor="middle" '
        f'class="label">{escape(axis_name)}</text>'
    )
    for i, (label, points) in enumerate(series):
        defined = [(x, e.value, e) for x, e in points if e.value is not None]
        path = " ".join(f"{x_axis(x)},{y_axis(v * spec.scale)}" for x, v, _ in defined)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour(i)}" stroke-width="2"/>')
        for x, v, e in defined:
            px = x_axis(x)
            if e.interval is not None:
                low, high = (y_axis(b * spec.scale) for b in e.interval)
                parts.append(f'<line x1="{px}" x2="{px}" y1="{low}" y2="{high}" stroke="{colour(i)}"/>')
            tip = f"{label}, {axis_name} {x:g}: {fmt.value(spec, e.value)} {fmt.interval(spec, e.interval)}"
            parts.append(
                f'<circle cx="{px}" cy="{y_axis(v * spec.scale)}" r="4" fill="{colour(i)}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        legend_y = plot_bottom + 52 + 18 * i
        parts.append(f'<rect x="80" y="{legend_y - 9}" width="12" height="12" fill="{colour(i)}"/>')
        parts.append(f'<text x="98" y="{legend_y + 1}" class="label">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _extent(spec: MetricSpec, est: MetricEstimate) -> list[float]:
    """The value and interval bounds of an estimate on the display scale (none when it is N/A)."""
    if est.value is None:
        return []
    return [b * spec.scale for b in (est.value, *(est.interval or ()))]


def _open(height: float, title: str) -> str:
    return (
        f'<svg class="plot" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}"><title>{escape(title)}</title>'
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
