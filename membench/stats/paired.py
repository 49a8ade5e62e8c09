"""Paired comparisons of runs on the same probes: B - A with a cluster-paired interval and a p-value.

Two systems answering the same probes are compared probe by probe, which removes the variance of probe
difficulty. Probes are aligned by (episode_id, probe_id); probes present in only one run, or errored in
either, are left out of the test and *counted* in the result, never dropped in silence.

The test that decides (``stats.policy``) is a cluster-level sign-flip permutation test: under "no
difference" the two systems' labels are exchangeable within an episode, so the episode's A and B
contributions are swapped in every pattern (all 2^G when G <= 16, else ``n_perm`` random ones) and the
metric difference is recomputed. Swapping the sums, rather than flipping a mean difference, keeps the
test exact for ratios whose denominators differ between systems (precision over each system's own
memories) and for derived metrics.

Right/wrong outcomes (every paired probe has den 1 and num 0 or 1) also get the exact McNemar test, a
binomial test on the discordant pairs, with the discordant odds ratio. It is kept for reference only:
McNemar assumes independent pairs, and when one system's advantage varies from episode to episode it
rejects too often (about 15% at a nominal 5% in tests/unit/test_stats_simulation.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from membench.core.errors import ConfigError
from membench.core.task import MetricSpec
from membench.stats.estimate import t_interval
from membench.stats.frame import WEIGHT, prepare, probe_keys, uncounted_errors
from membench.stats.metrics import MetricSet, Sums, sandwich_se
from membench.stats.policy import Correction, choose_interval, decide
from membench.stats.resample import (
    EXACT_MAX_CLUSTERS,
    bootstrap_counts,
    check_confidence,
    percentile_interval,
    swap_patterns,
)


@dataclass(frozen=True)
class Comparison:
    """Run B against run A on one metric. ``difference`` is value_b - value_a on the paired probes.

    ``p_permutation`` is the cluster sign-flip permutation p (``test`` names it): the one decisions
    use. ``ci`` is the paired cluster-bootstrap interval, ``ci_t`` the t interval on episodes;
    ``interval`` is the one to show (``stats.policy``). When ``binary`` (right/wrong outcomes),
    ``p_mcnemar`` is exact McNemar's p, shown for reference only; ``discordant_a`` counts probes A got
    right and B wrong, ``discordant_b`` the reverse; ``odds_ratio`` is discordant_b / discordant_a with
    an exact interval.
    """

    metric: str
    name_a: str
    name_b: str
    n_paired: int
    n_only_a: int
    n_only_b: int
    n_errored_either: int
    n_clusters: int
    value_a: float | None
    value_b: float | None
    difference: float | None
    se: float | None
    ci: tuple[float, float] | None
    ci_t: tuple[float, float] | None
    confidence: float
    test: str | None
    p_permutation: float | None
    binary: bool
    p_mcnemar: float | None = None
    discordant_a: int | None = None
    discordant_b: int | None = None
    odds_ratio: float | None = None
    odds_ratio_ci: tuple[float, float] | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The interval of the difference with proper coverage at this many episodes."""
        return choose_interval(self.ci, self.ci_t, self.n_clusters)


@dataclass(frozen=True)
class FamilyMember:
    """One comparison of a family, with its corrected permutation p; ``reject``: p_adjusted <= alpha."""

    comparison: Comparison
    p_adjusted: float | None
    reject: bool


@dataclass(frozen=True)
class FamilyComparison:
    """Several runs compared on one metric (each against ``baseline``, or all pairs when it is None).

    ``correction`` names the adjustment applied across the comparisons that have a permutation p.
    """

    metric: str
    baseline: str | None
    correction: Correction
    alpha: float
    members: tuple[FamilyMember, ...]


@dataclass(frozen=True)
class _ProbeTable:
    """One run's contributions to a metric's leaves, summed per probe: the unit comparisons pair on."""

    keys: pd.MultiIndex
    num: np.ndarray
    weight: np.ndarray
    error: np.ndarray


def compare(
    contrib_a: pd.DataFrame,
    contrib_b: pd.DataFrame,
    specs: Sequence[MetricSpec],
    metric: str,
    *,
    name_a: str = "A",
    name_b: str = "B",
    n_boot: int = 2000,
    n_perm: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Comparison:
    """Compare run B with run A on ``metric`` over the probes both scored without error.

    ``n_boot=0`` skips the bootstrap interval; with more than 16 episodes ``n_perm=0`` skips the
    permutation test (with 16 or fewer, every pattern is enumerated whatever ``n_perm``).
    """
    check_confidence(confidence)
    metrics = MetricSet(specs)
    leaves = metrics.leaves(metric)
    tables = (_probe_table(contrib_a, metrics, leaves), _probe_table(contrib_b, metrics, leaves))
    return _compare_tables(*tables, metrics, metric, (name_a, name_b), n_boot, n_perm, seed, confidence)


def compare_family(
    runs: Mapping[str, pd.DataFrame],
    specs: Sequence[MetricSpec],
    metric: str,
    *,
    baseline: str | None = None,
    correction: Correction = "holm",
    alpha: float = 0.05,
    n_boot: int = 2000,
    n_perm: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> FamilyComparison:
    """Compare every run with ``baseline`` (B = the other run), or every pair in ``runs`` order.

    All comparisons use the same seed, so those over the same episodes share one bootstrap matrix.
    """
    check_confidence(confidence)
    if len(runs) < 2:
        raise ConfigError("a family of comparisons needs at least two runs")
    if baseline is not None and baseline not in runs:
        raise ConfigError(f"baseline '{baseline}' is not among the runs: {', '.join(runs)}")
    metrics = MetricSet(specs)
    leaves = metrics.leaves(metric)
    tables = {name: _probe_table(frame, metrics, leaves) for name, frame in runs.items()}
    if baseline is None:
        pairs = list(combinations(runs, 2))
    else:
        pairs = [(baseline, name) for name in runs if name != baseline]
    comparisons = [
        _compare_tables(tables[a], tables[b], metrics, metric, (a, b), n_boot, n_perm, seed, confidence)
        for a, b in pairs
    ]
    decisions = decide([c.p_permutation for c in comparisons], alpha, correction)
    members = tuple(
        FamilyMember(c, d.p_adjusted, d.reject) for c, d in zip(comparisons, decisions, strict=True)
    )
    return FamilyComparison(metric, baseline, correction, alpha, members)


def _probe_table(contributions: pd.DataFrame, metrics: MetricSet, leaves: tuple[str, ...]) -> _ProbeTable:
    rows = prepare(contributions, metrics, leaves)
    codes, keys = probe_keys(rows)
    leaf_codes = pd.Index(leaves).get_indexer(rows["metric"])
    cells = codes * len(leaves) + leaf_codes
    size = len(keys) * len(leaves)
    num = np.bincount(cells, weights=rows["num"].to_numpy(), minlength=size).reshape(len(keys), len(leaves))
    weight = np.bincount(cells, weights=rows[WEIGHT].to_numpy(), minlength=size).reshape(
        len(keys), len(leaves)
    )
    uncounted = uncounted_errors(rows)
    error = np.bincount(codes, weights=uncounted.astype(float), minlength=len(keys)) > 0
    return _ProbeTable(keys, num, weight, error)


def _compare_tables(
    a: _ProbeTable,
    b: _ProbeTable,
    metrics: MetricSet,
    metric: str,
    names: tuple[str, str],
    n_boot: int,
    n_perm: int,
    seed: int,
    confidence: float,
) -> Comparison:
    leaves = metrics.leaves(metric)
    position_b = b.keys.get_indexer(a.keys)
    common_a = np.flatnonzero(position_b >= 0)
    common_b = position_b[common_a]
    errored = a.error[common_a] | b.error[common_b]
    ia, ib = common_a[~errored], common_b[~errored]
    clusters, episodes = pd.factorize(a.keys.get_level_values(0)[ia], sort=True)
    n_clusters = len(episodes)
    sums_a = _cluster_sums(a, ia, clusters, n_clusters, leaves)
    sums_b = _cluster_sums(b, ib, clusters, n_clusters, leaves)
    point_a, point_b = metrics.point([metric], sums_a), metrics.point([metric], sums_b)
    value_a, value_b = point_a[metric], point_b[metric]
    difference = None if value_a is None or value_b is None else value_b - value_a

    influence_a = metrics.influence(metric, sums_a, point_a)
    influence_b = metrics.influence(metric, sums_b, point_b)
    se = None if influence_a is None or influence_b is None else sandwich_se(influence_b - influence_a)
    ci_t = t_interval(difference, se, n_clusters - 1, confidence, _difference_bounds(metrics, metric, a, b))
    ci = None
    if difference is not None and n_boot > 0:
        ci = percentile_interval(
            _bootstrap_differences(metrics, metric, sums_a, sums_b, n_boot, seed), confidence
        )
    p_permutation, permutation_test = None, None
    if difference is not None and (n_perm > 0 or n_clusters <= EXACT_MAX_CLUSTERS):
        p_permutation, permutation_test = _sign_flip_p(
            metrics, metric, sums_a, sums_b, difference, n_perm, seed
        )

    comparison = Comparison(
        metric=metric,
        name_a=names[0],
        name_b=names[1],
        n_paired=len(ia),
        n_only_a=len(a.keys) - len(common_a),
        n_only_b=len(b.keys) - len(common_a),
        n_errored_either=int(errored.sum()),
        n_clusters=n_clusters,
        value_a=value_a,
        value_b=value_b,
        difference=difference,
        se=se,
        ci=ci,
        ci_t=ci_t,
        confidence=confidence,
        test=permutation_test,
        p_permutation=p_permutation,
        binary=False,
    )
    spec = metrics.spec(metric)
    if spec.derive is not None or spec.aggregate != "ratio" or not len(ia):
        return comparison
    # An aggregated metric has one leaf, itself: column 0.
    weights = np.concatenate([a.weight[ia, 0], b.weight[ib, 0]])
    outcome_a, outcome_b = a.num[ia, 0], b.num[ib, 0]
    if np.all(weights == 1) and np.isin(np.concatenate([outcome_a, outcome_b]), (0.0, 1.0)).all():
        return _with_mcnemar(comparison, outcome_a, outcome_b)
    return comparison


def _difference_bounds(
    metrics: MetricSet, metric: str, a: _ProbeTable, b: _ProbeTable
) -> tuple[float, float] | None:
    """The range B - A cannot leave: from the metric's declared bounds, or ±1 for a share (a percentage
    ratio whose every probe's num lies within [0, den] in both runs)."""
    spec = metrics.spec(metric)
    if spec.bounds is not None:
        low, high = spec.bounds
        return low - high, high - low
    if spec.derive is not None or spec.aggregate != "ratio" or spec.unit != "%":
        return None
    shares = all(bool(np.all(t.num >= 0) and np.all(t.num <= t.weight)) for t in (a, b))
    return (-1.0, 1.0) if shares else None


def _cluster_sums(
    table: _ProbeTable, rows: np.ndarray, clusters: np.ndarray, n_clusters: int, leaves: tuple[str, ...]
) -> dict[str, Sums]:
    return {
        leaf: Sums(
            np.bincount(clusters, weights=table.num[rows, j], minlength=n_clusters),
            np.bincount(clusters, weights=table.weight[rows, j], minlength=n_clusters),
        )
        for j, leaf in enumerate(leaves)
    }


def _bootstrap_differences(
    metrics: MetricSet, metric: str, sums_a: dict[str, Sums], sums_b: dict[str, Sums], n_boot: int, seed: int
) -> np.ndarray:
    """B - A on each cluster resample; both runs see the same episodes, so pairs stay together."""
    counts = bootstrap_counts(len(next(iter(sums_a.values())).num), n_boot, seed)
    leaves = list(sums_a)
    drawn = counts @ np.column_stack([column for leaf in leaves for column in (*sums_a[leaf], *sums_b[leaf])])
    resampled_a = {leaf: Sums(drawn[:, 4 * i], drawn[:, 4 * i + 1]) for i, leaf in enumerate(leaves)}
    resampled_b = {leaf: Sums(drawn[:, 4 * i + 2], drawn[:, 4 * i + 3]) for i, leaf in enumerate(leaves)}
    return metrics.values(metric, resampled_b, {}) - metrics.values(metric, resampled_a, {})


def _sign_flip_p(
    metrics: MetricSet,
    metric: str,
    sums_a: dict[str, Sums],
    sums_b: dict[str, Sums],
    observed: float,
    n_perm: int,
    seed: int,
) -> tuple[float, str]:
    """Two-sided p-value of the observed difference among the cluster-swap patterns, and the test's name."""
    leaves = list(sums_a)
    patterns, exhaustive = swap_patterns(len(sums_a[leaves[0]].num), n_perm, seed)
    gained = patterns @ np.column_stack(
        [
            column
            for leaf in leaves
            for column in (sums_b[leaf].num - sums_a[leaf].num, sums_b[leaf].weight - sums_a[leaf].weight)
        ]
    )
    swapped_a, swapped_b = {}, {}
    for i, leaf in enumerate(leaves):
        total_a, total_b = sums_a[leaf].total(), sums_b[leaf].total()
        moved = Sums(gained[:, 2 * i], gained[:, 2 * i + 1])
        swapped_a[leaf] = Sums(total_a.num + moved.num, total_a.weight + moved.weight)
        swapped_b[leaf] = Sums(total_b.num - moved.num, total_b.weight - moved.weight)
    differences = metrics.values(metric, swapped_b, {}) - metrics.values(metric, swapped_a, {})
    # Rounding in the matrix product must not push the identity pattern below the observed value, and a
    # pattern under which the metric is undefined (a swap leaving a denominator at 0) counts as extreme.
    threshold = abs(observed) - 1e-9 * max(1.0, abs(observed))
    extreme = int(np.sum(~(np.abs(differences) < threshold)))
    if exhaustive:
        return extreme / len(patterns), "cluster sign-flip permutation (exact)"
    return (1 + extreme) / (1 + len(patterns)), f"cluster sign-flip permutation ({len(patterns)} random)"


def _with_mcnemar(comparison: Comparison, outcome_a: np.ndarray, outcome_b: np.ndarray) -> Comparison:
    """The comparison of right/wrong outcomes with exact McNemar's p and the discordant odds ratio."""
    only_a = int(np.sum((outcome_a == 1) & (outcome_b == 0)))
    only_b = int(np.sum((outcome_a == 0) & (outcome_b == 1)))
    discordant = only_a + only_b
    binary = replace(comparison, binary=True, discordant_a=only_a, discordant_b=only_b)
    if discordant == 0:
        return replace(binary, p_mcnemar=1.0)
    # The share of discordant pairs B wins, π, has an exact (Clopper-Pearson) interval; OR = π / (1 - π).
    # Beta quantiles give it in closed form (binomtest's proportion_ci finds the same by root search).
    tail = (1.0 - comparison.confidence) / 2.0
    low = float(scipy_stats.beta.ppf(tail, only_b, only_a + 1)) if only_b else 0.0
    high = float(scipy_stats.beta.ppf(1.0 - tail, only_b + 1, only_a)) if only_a else 1.0
    return replace(
        binary,
        p_mcnemar=float(scipy_stats.binomtest(only_b, discordant, 0.5).pvalue),
        odds_ratio=_odds(only_b / discordant),
        odds_ratio_ci=(_odds(low), _odds(high)),
    )


def _odds(share: float) -> float:
    return float("inf") if share >= 1.0 else share / (1.0 - share)
