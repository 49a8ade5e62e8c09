"""A board's curves and its latency by their axes, as data both leaderboards render.

A curve (``core.task.Curve``) is one metric estimated at each value of a numeric probe label, from
the contribution rows its ``where`` selects (one WorM variant, one list length), with the clustered
intervals of every breakdown: ``stats.estimate`` on the selected rows, by the axis label. The
selected rows are the curve's whole population, so its clusters are the episodes that have such rows
and its intervals do not depend on what else the run held. A breakdown is the same computation with
no selection, which is why ``estimates_by`` serves both and computes each (label, selection) once.

Everything here is descriptive: no tests, so no correction. A curve's ``chance`` level and its
``references`` (points measured elsewhere, such as the paper's human curves) are drawn and tabled
beside the systems' estimates; they are not estimates and carry no interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from membench.analysis.runs import LoadedRun
from membench.core import numbers as fmt
from membench.core.errors import ConfigError
from membench.core.task import Curve, MetricSpec, ReferenceCurve
from membench.core.types import IngestRecord, Record
from membench.stats import MetricEstimate, estimate

#: a table cell without data (no probe there, no reference point there, or no latency of that stage).
NO_DATA = "–"
#: under every latency table, in both leaderboards.
LATENCY_CAPTION = (
    "Descriptive, no tests: p50 / p90 / p99 by linear interpolation, over probes for the answer call and "
    "retrieval, over episodes for ingestion (each episode's add and index wait, summed over its sessions); "
    f"{NO_DATA} where there is no data."
)

#: a label key and the (label, value) pairs rows must have: (key, ()) for a breakdown, a curve's
#: (axis, where) for a curve. Sorted pairs, so two curves selecting the same rows share one estimate.
Selection = tuple[str, tuple[tuple[str, str], ...]]


def selection(curve: Curve) -> Selection:
    """The rows a curve is estimated from, as ``estimates_by`` keys them."""
    return curve.axis, tuple(sorted(curve.where.items()))


def estimates_by(
    frames: Mapping[str, pd.DataFrame],
    specs: Sequence[MetricSpec],
    selections: Iterable[Selection],
    *,
    n_boot: int,
    seed: int,
) -> dict[Selection, dict[str, list[MetricEstimate]]]:
    """Per selection, each system's estimates per value of its key over the rows it selects; a system
    without such rows (or whose selected rows lack the key) is left out of that selection."""
    out: dict[Selection, dict[str, list[MetricEstimate]]] = {}
    for chosen in dict.fromkeys(selections):
        key, where = chosen
        out[chosen] = {}
        for label, frame in frames.items():
            rows = _selected(frame, where)
            if key in rows.columns and rows[key].notna().any():
                out[chosen][label] = estimate(rows, specs, n_boot=n_boot, seed=seed, by=key)
    return out


def _selected(frame: pd.DataFrame, where: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """The rows of ``frame`` whose label columns hold every value of ``where`` (none without a column)."""
    keep = np.ones(len(frame), dtype=bool)
    for key, value in where:
        if key not in frame.columns:
            return frame.iloc[:0]
        keep &= (frame[key] == value).to_numpy()
    return frame[keep]


@dataclass(frozen=True)
class CurveSeries:
    """One of the task's ``Curve``s: its metric per system (rank order) at each value of its axis."""

    curve: Curve
    spec: MetricSpec
    title: str
    points: dict[str, list[tuple[float, MetricEstimate]]]  # entry label -> (axis value, estimate), by value

    @property
    def references(self) -> tuple[ReferenceCurve, ...]:
        return self.curve.references

    @property
    def levels(self) -> tuple[float, ...]:
        """Every axis value some system or reference has, in numeric order: the columns of the table."""
        systems = {x for series in self.points.values() for x, _ in series}
        return tuple(sorted(systems | {float(x) for ref in self.references for x, _ in ref.points}))

    def cell(self, label: str, level: float) -> MetricEstimate | None:
        """The estimate of system ``label`` at ``level``; None when it has no probe there."""
        return next((e for x, e in self.points.get(label, []) if x == level), None)


def reference_value(reference: ReferenceCurve, level: float) -> float | None:
    """A reference's metric value (on the metric's own scale) at ``level``; None when it has no point."""
    return next((float(y) for x, y in reference.points if float(x) == level), None)


def curve_series(
    curves: Sequence[Curve],
    specs: Sequence[MetricSpec],
    by_selection: Mapping[Selection, dict[str, list[MetricEstimate]]],
) -> tuple[list[CurveSeries], list[str]]:
    """The curves worth drawing, and a note for each one left out: a curve no probe is selected for, or
    whose metric is undefined at every value for every system, would be an empty plot, and one that is
    0 everywhere (token and cost curves of runs that called no LLM) a flat line on the axis that says
    nothing, so the board says so in one sentence instead. A curve with a chance level or a reference
    is drawn even at 0 everywhere: below chance, or far below the humans, is a finding."""
    named = {spec.name: spec for spec in specs}
    drawn, notes = [], []
    for curve in curves:
        spec = named.get(curve.metric)
        if spec is None:
            raise ConfigError(
                f"task curve against '{curve.axis}' names metric '{curve.metric}', which the task does "
                f"not define; its metrics: {', '.join(named)}"
            )
        scope = ", ".join(f"{key}={value}" for key, value in curve.where.items())
        default_title = f"{spec.display} against {curve.axis}" + (f" ({scope})" if scope else "")
        title = curve.title or default_title
        _check_references(curve, title)
        points = {
            label: _curve_points(curve, label, estimates)
            for label, estimates in by_selection[selection(curve)].items()
        }
        values = [e.value for series in points.values() for _, e in series if e.value is not None]
        if not any(points.values()):
            selected = f" with {scope}" if scope else ""
            notes.append(f"{title} is not drawn: no probe{selected} carries the label {curve.axis}.")
        elif not values:
            notes.append(f"{title} is not drawn: no system has a value at any {curve.axis}.")
        elif all(v == 0 for v in values) and curve.chance is None and not curve.references:
            notes.append(f"{title} is not drawn: every value is 0.")
        else:
            drawn.append(CurveSeries(curve, spec, title, points))
    return drawn, notes


def _check_references(curve: Curve, title: str) -> None:
    """A logarithmic axis cannot draw a reference point at or below 0: a ConfigError, not a broken plot."""
    if not curve.log_x:
        return
    for ref in curve.references:
        for x, _ in ref.points:
            if x <= 0:
                raise ConfigError(
                    f"task curve '{title}' is logarithmic, and its reference '{ref.label}' has the axis "
                    f"value {x:g}: only values above 0 can be drawn"
                )


def _axis_value(axis: str, level: str, where: str) -> float:
    """A value of a curve's axis label as a number, or a ConfigError naming the axis and the run."""
    try:
        x = float(level)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise ConfigError(f"task curve axis '{axis}' has a non-numeric value in run {where}: '{level}'")
    return x


def _curve_points(
    curve: Curve, label: str, estimates: list[MetricEstimate]
) -> list[tuple[float, MetricEstimate]]:
    """One system's (axis value, estimate) pairs of the curve's metric, by value; a logarithmic axis
    cannot draw a value at or below 0, so such a value is a ConfigError, not a broken plot."""
    points = []
    for e in estimates:
        if e.metric != curve.metric:
            continue
        x = _axis_value(curve.axis, str(e.level), label)
        if curve.log_x and x <= 0:
            raise ConfigError(
                f"task curve axis '{curve.axis}' is logarithmic, and run {label} has the value '{e.level}' "
                "on it: only values above 0 can be drawn"
            )
        points.append((x, e))
    return sorted(points, key=lambda point: point[0])


@dataclass(frozen=True)
class Spread:
    """Percentiles of some latencies in seconds, by linear interpolation (numpy's default), and how many."""

    n: int
    p50: float
    p90: float
    p99: float

    @property
    def values(self) -> tuple[float, float, float]:
        return self.p50, self.p90, self.p99


def spread_cells(spread: Spread | None) -> tuple[str, str, str]:
    """p50, p90 and p99 as both leaderboards show them (ms below a second, else s), "–" without data."""
    if spread is None:
        return NO_DATA, NO_DATA, NO_DATA
    p50, p90, p99 = (fmt.seconds(v) for v in spread.values)
    return p50, p90, p99


def spread(latencies: Sequence[float]) -> Spread | None:
    """p50, p90 and p99 of ``latencies``; None when there are none (the report shows "–")."""
    if not latencies:
        return None
    p50, p90, p99 = (float(p) for p in np.percentile(latencies, [50, 90, 99]))
    return Spread(len(latencies), p50, p90, p99)


@dataclass(frozen=True)
class LatencyRow:
    """One system at one axis value: its probes' answer-call and retrieval latencies, and the ingestion
    time of its episodes there (each episode's add and index wait, summed over its sessions)."""

    level: float
    system: str
    probes: int
    answer: Spread | None
    retrieve: Spread | None
    ingest: Spread | None

    @property
    def episodes(self) -> int:
        """Episodes behind the ingestion percentiles."""
        return self.ingest.n if self.ingest else 0


@dataclass(frozen=True)
class LatencyTable:
    """Latency by the values of one curve axis, over every probe carrying it: descriptive, no tests.

    An episode's value is the one its probes carry; an episode whose probes carry several is left out
    of the ingestion column (its time cannot be put at one value) and counted in ``mixed``.
    """

    axis: str
    rows: tuple[LatencyRow, ...]  # by axis value, then in rank order
    mixed: dict[str, int]  # entry label -> episodes left out of the ingestion column

    @property
    def note(self) -> str:
        """The sentence both leaderboards print under the table when episodes were left out."""
        if not self.mixed:
            return ""
        counts = ", ".join(f"{label}: {n}" for label, n in self.mixed.items())
        return (
            f"Left out of the ingestion column: episodes whose probes carry several {self.axis} values "
            f"({counts})."
        )


def latency_table(ordered: Sequence[LoadedRun], axis: str) -> LatencyTable | None:
    """Latency percentiles per value of ``axis`` and system (rank order); None when no probe has it."""
    rows: list[LatencyRow] = []
    mixed: dict[str, int] = {}
    for run in ordered:
        probes: dict[float, list[Record]] = {}
        episode_levels: dict[str, set[float]] = {}
        for record in run.records:
            if axis in record.labels:
                level = _axis_value(axis, record.labels[axis], f"{run.label} (probe {record.probe_id})")
                probes.setdefault(level, []).append(record)
                episode_levels.setdefault(record.episode_id, set()).add(level)
        episode_s = _episode_ingest_s(run.ingests)
        ingest: dict[float, list[float]] = {}
        for episode, levels in episode_levels.items():
            if len(levels) > 1:
                mixed[run.label] = mixed.get(run.label, 0) + 1
            elif episode in episode_s:
                ingest.setdefault(min(levels), []).append(episode_s[episode])
        rows += [
            LatencyRow(
                level,
                run.label,
                len(records),
                _stage(records, "answer"),
                _stage(records, "retrieve"),
                spread(ingest.get(level, [])),
            )
            for level, records in probes.items()
        ]
    if not rows:
        return None
    return LatencyTable(axis, tuple(sorted(rows, key=lambda row: row.level)), mixed)


def _stage(records: list[Record], stage: str) -> Spread | None:
    """Percentiles of one stage's latency over the records that timed it."""
    return spread(
        [r.prediction.latency_s[stage] for r in records if r.prediction and stage in r.prediction.latency_s]
    )


def _episode_ingest_s(ingests: Sequence[IngestRecord]) -> dict[str, float]:
    """Each episode's ingestion time: the add and the index wait of every session, summed."""
    total: dict[str, float] = {}
    for ingest in ingests:
        total[ingest.episode_id] = total.get(ingest.episode_id, 0.0) + ingest.latency_s + ingest.index_wait_s
    return total
