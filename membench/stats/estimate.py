"""One run's metrics with honest error bars: clustered standard errors and cluster-bootstrap intervals.

Probes of one episode share a memory state, so they are not independent: the episode is the cluster.
The naive (probe-level) standard error is reported beside the clustered one; their squared ratio is
the design effect, which is what a power calculation for the next run needs.

Resampling design: the clusters are all episodes of the table passed in. Every metric and every
breakdown cell is recomputed on the same resamples, which is what lets derived metrics (F1 from recall
and precision) be recomputed per resample, and keeps all intervals of one report mutually consistent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from membench.core.errors import ConfigError
from membench.core.task import MetricSpec
from membench.stats.frame import COLUMNS, WEIGHT, prepare, probe_keys
from membench.stats.metrics import MetricSet, Sums, sandwich_se
from membench.stats.policy import IntervalMethod, choose_interval, interval_method
from membench.stats.resample import bootstrap_counts, check_confidence, percentile_interval


@dataclass(frozen=True)
class MetricEstimate:
    """One metric of one run (or of one breakdown cell). Values are raw: multiply by ``spec.scale``.

    ``n`` counts the probes that enter the value (denominator > 0; any non-errored row for sums),
    ``n_errors`` the probes with an errored contribution (excluded, or counted as 0 by "_all"
    metrics), ``n_clusters`` the episodes that enter the value. ``ci`` is the cluster-bootstrap
    percentile interval; ``ci_t`` is value ± t(n_clusters - 1)·se, clipped to the metric's ``bounds``
    (or to [0, 1] for a ratio whose every contribution lies in [0, den]). ``interval`` is the one to
    show (``stats.policy``).
    """

    metric: str
    value: float | None
    n: int
    n_errors: int
    n_clusters: int
    se: float | None
    se_naive: float | None
    ci: tuple[float, float] | None
    ci_t: tuple[float, float] | None
    confidence: float
    by: str | None = None
    level: str | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The interval with proper coverage at this many episodes: t below the threshold, else bootstrap."""
        return choose_interval(self.ci, self.ci_t, self.n_clusters)

    @property
    def interval_method(self) -> IntervalMethod:
        return interval_method(self.n_clusters)

    @property
    def design_effect(self) -> float | None:
        """(clustered SE / naive SE)²: how many clustered probes carry one independent probe's information."""
        if self.se is None or not self.se_naive:
            return None
        return (self.se / self.se_naive) ** 2


def estimate(
    contributions: pd.DataFrame,
    specs: Sequence[MetricSpec],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    by: str | None = None,
) -> list[MetricEstimate]:
    """Estimate every metric in ``specs`` from a contributions table (see ``contributions_frame``).

    With ``by`` (a label column such as "question_type") the result holds one estimate per metric
    and label value instead, for the metrics that have rows with that label; rows without the label
    are left out. Metrics with no usable contribution get ``value=None`` (N/A), never 0. ``n_boot=0``
    skips the bootstrap. Results are ordered as ``specs``, then by label value.
    """
    check_confidence(confidence)
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    metrics = MetricSet(specs)
    rows = prepare(contributions, metrics, metrics.aggregated())
    clusters, episodes = pd.factorize(rows["episode_id"], sort=True)
    probes, _ = probe_keys(rows)
    rows = rows.assign(_cluster=clusters, _probe=probes)
    counts = bootstrap_counts(len(episodes), n_boot, seed) if n_boot and len(episodes) else None

    if by is None:
        cells: list[tuple[str | None, pd.DataFrame]] = [(None, rows)]
    elif by not in contributions.columns:
        labels = sorted(set(contributions.columns) - set(COLUMNS))
        raise ConfigError(
            f"no label column '{by}' to break down by; label columns: {', '.join(labels) or 'none'}"
        )
    else:
        labelled = rows[rows[by].notna()]
        cells = [(str(level), cell) for level, cell in labelled.groupby(labelled[by].astype(str), sort=True)]

    cell_results = [
        _estimate_cell(cell, metrics, len(episodes), counts, confidence, by, level) for level, cell in cells
    ]
    return [result for spec in specs for results in cell_results if (result := results.get(spec.name))]


def _estimate_cell(
    cell: pd.DataFrame,
    metrics: MetricSet,
    n_clusters: int,
    counts: np.ndarray | None,
    confidence: float,
    by: str | None,
    level: str | None,
) -> dict[str, MetricEstimate]:
    """Every metric of one cell (the whole run, or one label value), keyed by name."""
    groups = dict(tuple(cell.groupby("metric", sort=False)))
    leaves = metrics.aggregated()
    per_cluster = {leaf: _unit_sums(groups.get(leaf), "_cluster", n_clusters) for leaf in leaves}
    point = metrics.point(list(metrics.specs), per_cluster)
    replicates: dict[str, np.ndarray] = {}
    if counts is not None:
        drawn = counts @ np.column_stack([column for leaf in leaves for column in per_cluster[leaf]])
        resampled = {leaf: Sums(drawn[:, 2 * i], drawn[:, 2 * i + 1]) for i, leaf in enumerate(leaves)}
        for name in metrics.specs:
            metrics.values(name, resampled, replicates)

    results = {}
    for name in metrics.specs:
        own = [groups[leaf] for leaf in metrics.leaves(name) if leaf in groups]
        if level is not None and not own:
            continue
        rows = pd.concat(own) if own else cell.iloc[:0]
        used = rows[rows[WEIGHT] > 0]
        value = point[name]
        se = sandwich_se(metrics.influence(name, per_cluster, point))
        n_used_clusters = int(used["_cluster"].nunique())
        results[name] = MetricEstimate(
            metric=name,
            value=value,
            n=int(used["_probe"].nunique()),
            n_errors=int(rows.loc[rows["error"], "_probe"].nunique()),
            n_clusters=n_used_clusters,
            se=se,
            se_naive=_naive_se(metrics, name, used, point),
            ci=percentile_interval(replicates[name], confidence) if replicates else None,
            ci_t=t_interval(value, se, n_used_clusters - 1, confidence, _bounds(metrics, name, used)),
            confidence=confidence,
            by=by,
            level=level,
        )
    return results


def _unit_sums(rows: pd.DataFrame | None, unit: str, n_units: int) -> Sums:
    """Σnum and Σweight of ``rows`` per unit code (episode or probe), zeros for absent units."""
    if rows is None:
        return Sums(np.zeros(n_units), np.zeros(n_units))
    codes = rows[unit].to_numpy()
    return Sums(
        np.bincount(codes, weights=rows["num"].to_numpy(), minlength=n_units),
        np.bincount(codes, weights=rows[WEIGHT].to_numpy(), minlength=n_units),
    )


def _naive_se(
    metrics: MetricSet, name: str, used: pd.DataFrame, point: dict[str, float | None]
) -> float | None:
    """The standard error if every probe were independent: the same sandwich with probes as units."""
    if point[name] is None:
        return None
    probe_codes, _ = pd.factorize(used["_probe"])
    units = used.assign(_unit=probe_codes)
    n_units = int(probe_codes.max()) + 1 if len(probe_codes) else 0
    groups = dict(tuple(units.groupby("metric", sort=False)))
    per_probe = {leaf: _unit_sums(groups.get(leaf), "_unit", n_units) for leaf in metrics.leaves(name)}
    return sandwich_se(metrics.influence(name, per_probe, point))


def _bounds(metrics: MetricSet, name: str, used: pd.DataFrame) -> tuple[float, float] | None:
    """The range the metric's value cannot leave: declared, or [0, 1] for a percentage that is a ratio of
    contributions each within [0, den] (a share). Only a share's unit says so: seconds or a Kendall tau
    that happen to lie in [0, 1] in one sample could lie outside it in another."""
    spec = metrics.spec(name)
    if spec.bounds is not None or spec.derive is not None or spec.aggregate != "ratio" or spec.unit != "%":
        return spec.bounds
    num, den = used["num"].to_numpy(), used["den"].to_numpy()
    return (0.0, 1.0) if bool(np.all(num >= 0) and np.all(num <= den)) else None


def t_interval(
    value: float | None,
    se: float | None,
    df: int,
    confidence: float,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float] | None:
    """value ± t_df·se, clipped to ``bounds`` where the quantity cannot leave them.

    The t quantile is ``scipy.special.stdtrit``, the function ``scipy.stats.t.ppf`` evaluates: this
    module needs no ``scipy.stats``, whose import costs 0.7-0.85 s.
    """
    if value is None or se is None or df < 1:
        return None
    half = float(stdtrit(df, (1.0 + confidence) / 2.0)) * se
    low, high = value - half, value + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return low, high
