"""Seeded simulations of clustered benchmark outcomes: do the shown intervals cover, do decisions hold alpha?

Data like a memory benchmark's: G episodes of ``size`` right/wrong probes, each episode with its own
success rate drawn from Beta(6, 4) (mean 0.6, ICC 1/11). The null comparisons give every system the
same average skill but let its advantage swing from episode to episode, the case where tests that treat
probes as independent reject too often. ``tests/unit/test_stats_simulation.py`` asserts on these;
``benchmarks/sim_policy.py`` prints them for the closing figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from membench.core.task import MetricSpec
from membench.stats import compare_family, estimate
from membench.stats.policy import ALPHA, decide

SPECS = (MetricSpec("acc", "Accuracy"),)
TRUTH = 0.6


def outcomes_table(outcomes: np.ndarray, size: int) -> pd.DataFrame:
    """A contributions table of right/wrong outcomes, ``size`` consecutive probes per episode."""
    n = len(outcomes)
    return pd.DataFrame(
        {
            "metric": "acc",
            "episode_id": np.arange(n) // size,
            "probe_id": np.arange(n),
            "num": outcomes,
            "den": 1.0,
            "error": False,
        }
    )


@dataclass(frozen=True)
class Coverage:
    """How often each interval held the true mean over ``replications`` simulated runs of G episodes."""

    n_clusters: int
    replications: int
    bootstrap: float
    t: float
    shown: float


def interval_coverage(
    n_clusters: int, *, replications: int, size: int = 20, n_boot: int = 1000, seed: int = 0
) -> Coverage:
    """Coverage of the bootstrap, the t and the shown (policy-chosen) interval of an accuracy."""
    rng = np.random.default_rng((seed, n_clusters))
    episodes = np.repeat(np.arange(n_clusters), size)
    hits = {"bootstrap": 0, "t": 0, "shown": 0}
    for _ in range(replications):
        rates = rng.beta(6, 4, size=n_clusters)
        outcomes = (rng.random(episodes.size) < rates[episodes]).astype(float)
        result = estimate(outcomes_table(outcomes, size), SPECS, n_boot=n_boot, seed=1)[0]
        for name, interval in (("bootstrap", result.ci), ("t", result.ci_t), ("shown", result.interval)):
            hits[name] += interval is not None and interval[0] <= TRUTH <= interval[1]
    return Coverage(n_clusters, replications, *(hits[k] / replications for k in ("bootstrap", "t", "shown")))


@dataclass(frozen=True)
class FamilyError:
    """How often at least one of ``comparisons`` null comparisons was declared significant."""

    n_clusters: int
    comparisons: int
    replications: int
    decisions: float
    mcnemar_holm: float


def family_wise_error(
    n_clusters: int,
    *,
    comparisons: int = 10,
    replications: int,
    size: int = 20,
    swing: float = 0.3,
    n_perm: int = 999,
    seed: int = 0,
) -> FamilyError:
    """FWER of the policy's decisions (permutation + Holm) against McNemar + Holm, under the null.

    Each system's success rate in an episode is the episode's base rate plus its own swing, uniform on
    ±``swing``: on average no system is better, but each is better in some episodes and worse in others.
    """
    rng = np.random.default_rng((seed, n_clusters, comparisons))
    episodes = np.repeat(np.arange(n_clusters), size)
    any_decision = any_mcnemar = 0
    for _ in range(replications):
        base = 0.3 + 0.4 * rng.beta(6, 4, size=n_clusters)
        runs = {}
        for k in range(comparisons + 1):
            shift = np.zeros(n_clusters) if k == 0 else rng.uniform(-swing, swing, size=n_clusters)
            chance = np.clip(base + shift, 0, 1)[episodes]
            runs[f"s{k}"] = outcomes_table((rng.random(episodes.size) < chance).astype(float), size)
        family = compare_family(runs, SPECS, "acc", baseline="s0", alpha=ALPHA, n_boot=0, n_perm=n_perm)
        any_decision += any(member.reject for member in family.members)
        mcnemar = decide([m.comparison.p_mcnemar for m in family.members], ALPHA)
        any_mcnemar += any(d.reject for d in mcnemar)
    return FamilyError(
        n_clusters, comparisons, replications, any_decision / replications, any_mcnemar / replications
    )
