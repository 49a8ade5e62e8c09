"""Seeded simulations: do the intervals cover the truth, and does Holm hold the family-wise error rate?

Checked on clustered right/wrong data like a memory benchmark's: 60 episodes of 20 probes, each episode
with its own success rate drawn from Beta(6, 4) (mean 0.6, ICC 1/11, so a design effect near 2.7).
Thousands of replications take about 35 s, so they run with the slow tests (``make test-slow``), and
``make bench`` measures the same properties (BENCHMARKS.md).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from membench.core.task import MetricSpec
from membench.stats import compare, compare_family, estimate
from membench.stats.policy import ALPHA, MIN_BOOTSTRAP_EPISODES
from membench.testing.simulation import family_wise_error, interval_coverage

pytestmark = pytest.mark.slow

SPECS = (MetricSpec("acc", "Accuracy"),)
N_CLUSTERS, SIZE, TRUTH = 60, 20, 0.6
EPISODES = np.repeat(np.arange(N_CLUSTERS), SIZE)
PROBES = np.arange(N_CLUSTERS * SIZE)


def table(outcomes: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": "acc",
            "episode_id": EPISODES,
            "probe_id": PROBES,
            "num": outcomes,
            "den": 1.0,
            "error": False,
        }
    )


def tolerance(rate: float, replications: int) -> float:
    """Two Monte-Carlo standard errors of a proportion estimated from ``replications`` runs."""
    return 2 * math.sqrt(rate * (1 - rate) / replications)


def test_clustered_intervals_cover_the_truth_and_naive_ones_do_not() -> None:
    # More than the 400 replications a coverage check needs at minimum, so that a method whose true
    # coverage is 94% is not failed by Monte-Carlo noise (its standard error here is 0.7 points).
    replications = 1000
    rng = np.random.default_rng(20240601)
    covered = {"bootstrap": 0, "t": 0, "naive": 0}
    for _ in range(replications):
        rates = rng.beta(6, 4, size=N_CLUSTERS)
        outcomes = (rng.random(EPISODES.size) < rates[EPISODES]).astype(float)
        result = estimate(table(outcomes), SPECS, n_boot=1000, seed=1)[0]
        assert result.ci is not None and result.ci_t is not None and result.se_naive is not None
        assert result.value is not None
        covered["bootstrap"] += result.ci[0] <= TRUTH <= result.ci[1]
        covered["t"] += result.ci_t[0] <= TRUTH <= result.ci_t[1]
        covered["naive"] += abs(result.value - TRUTH) <= 1.96 * result.se_naive
    coverage = {name: hits / replications for name, hits in covered.items()}
    assert 0.93 <= coverage["bootstrap"] <= 0.97, coverage
    assert 0.93 <= coverage["t"] <= 0.97, coverage
    # Ignoring the episodes: with a design effect near 2.7 a nominal 95% interval covers about 77%.
    assert coverage["naive"] < 0.85, coverage


def test_holm_keeps_the_family_wise_error_rate_under_the_null() -> None:
    """Five systems against a baseline, all equally good: Holm should rarely declare any winner."""
    replications, alpha = 200, 0.05
    rng = np.random.default_rng(7)
    any_rejected = any_raw_below_alpha = 0
    for _ in range(replications):
        # Probe difficulty varies by episode and by probe; every system has the same chance on a probe.
        chance = np.clip(rng.beta(6, 4, size=N_CLUSTERS)[EPISODES] + rng.normal(0, 0.15, EPISODES.size), 0, 1)
        runs = {f"s{k}": table((rng.random(EPISODES.size) < chance).astype(float)) for k in range(6)}
        family = compare_family(runs, SPECS, "acc", baseline="s0", alpha=alpha, n_boot=0, n_perm=499)
        any_rejected += any(member.reject for member in family.members)
        any_raw_below_alpha += any((m.comparison.p_permutation or 1.0) <= alpha for m in family.members)
    assert family.members[0].comparison.test == "cluster sign-flip permutation (499 random)"
    fwer = any_rejected / replications
    assert fwer <= alpha + tolerance(alpha, replications), fwer
    # Without the correction, five tests at 5% find a "winner" far more often: the check has teeth.
    assert any_raw_below_alpha / replications > 0.10


def test_cluster_permutation_holds_its_level_when_the_gap_varies_by_episode() -> None:
    """No difference on average, but B is better in some episodes and worse in others.

    McNemar treats the discordant pairs as independent, so it sees the episode-level swings as evidence;
    the cluster sign-flip test, the one that decides, does not.
    """
    replications, alpha = 300, 0.05
    rng = np.random.default_rng(11)
    mcnemar = permutation = 0
    for _ in range(replications):
        base = 0.3 + 0.4 * rng.beta(6, 4, size=N_CLUSTERS)[EPISODES]
        swing = rng.uniform(-0.3, 0.3, size=N_CLUSTERS)[EPISODES]
        a = (rng.random(EPISODES.size) < base).astype(float)
        b = (rng.random(EPISODES.size) < base + swing).astype(float)
        result = compare(table(a), table(b), SPECS, "acc", n_boot=0, n_perm=999)
        assert result.p_mcnemar is not None and result.p_permutation is not None
        mcnemar += result.p_mcnemar <= alpha
        permutation += result.p_permutation <= alpha
    assert permutation / replications <= alpha + tolerance(alpha, replications), permutation
    assert mcnemar / replications > 0.1, mcnemar


def test_the_shown_interval_covers_with_few_episodes() -> None:
    """At G = 10 and 20 the shown interval (the t interval, below the bootstrap threshold) covers at
    least 93%; the percentile bootstrap it replaces does not reliably (about 91% and 92-94%)."""
    for n_clusters in (10, 20):
        assert n_clusters < MIN_BOOTSTRAP_EPISODES
        coverage = interval_coverage(n_clusters, replications=1000, n_boot=0)
        assert coverage.shown == coverage.t >= 0.93, coverage


def test_decisions_hold_the_family_wise_error_over_ten_null_comparisons() -> None:
    """Ten systems as good as the baseline on average, each better in some episodes and worse in others:
    the policy's decisions (permutation + Holm) keep the family-wise error near alpha; McNemar with
    the same Holm correction, which treats probes as independent, finds a winner far more often."""
    replications = 150
    result = family_wise_error(10, comparisons=10, replications=replications)
    assert result.decisions <= ALPHA + tolerance(ALPHA, replications), result
    assert result.mcnemar_holm > 0.15, result
