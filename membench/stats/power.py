"""How large a difference a run of a given size can detect, and what clustering costs in items.

Reporting the minimum detectable effect (MDE) beside a comparison says whether "no significant
difference" means "the systems are alike" or only "the run was too small to tell". The formulas, with
two-sided level alpha, power 1 - beta and z_q the standard normal quantile:

- design effect: DEFF = 1 + (m - 1)·ICC, with m = n_items / n_clusters the mean cluster size; the
  effective number of independent items is n_eff = n_items / DEFF;
- half-width of one run's confidence interval on a rate p: z_{1-α/2}·√(p(1 - p) / n_eff);
- unpaired MDE (two independent samples of n_eff items around rate p):
  δ = (z_{1-α/2} + z_{1-β})·√(2p(1 - p) / n_eff);
- paired MDE for right/wrong outcomes (Connor 1987): the δ that solves
  n_eff = [z_{1-α/2}·√ψ + z_{1-β}·√(ψ - δ²)]² / δ², where ψ = (b + c) / n is the discordance rate
  (the share of items on which the two systems disagree). A paired difference can never exceed ψ,
  so when even δ = ψ needs more items than the run has, the MDE is infinite.

For the paired MDE the ICC (or design effect) is that of the per-item differences; for the others,
that of the per-item outcomes. ``icc_anova`` estimates it from a pilot run, and
``MetricEstimate.design_effect`` gives the design effect a finished run actually had. Design effects
below 1 are raised to 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class MinimumDetectableEffect:
    """The MDEs of a run, as absolute differences in rate (0.05 = 5 points); see the module docstring."""

    n_items: int
    n_clusters: int
    design_effect: float
    n_effective: float
    alpha: float
    power: float
    baseline_rate: float
    ci_half_width: float
    unpaired: float
    discordance: float | None
    paired: float | None


def design_effect_from_icc(mean_cluster_size: float, icc: float) -> float:
    """1 + (m - 1)·ICC, floored at 1: a negative sample ICC is noise around zero, and clustering is
    never allowed to make a design look better than independent items."""
    return max(1.0, 1.0 + (mean_cluster_size - 1.0) * icc)


def icc_anova(values: Sequence[float] | np.ndarray, clusters: Sequence[object] | np.ndarray) -> float | None:
    """The one-way ANOVA estimate of the intraclass correlation of ``values`` grouped by ``clusters``.

    ICC = (MSB - MSW) / (MSB + (m0 - 1)·MSW), where MSB and MSW are the between- and within-cluster
    mean squares and m0 = (N - Σ n_g² / N) / (G - 1) is the size of a typical cluster when sizes differ.
    It can come out negative (less alike within clusters than across); None when it is undefined
    (fewer than two clusters, no within-cluster replication, or no variation at all).
    """
    y = np.asarray(values, dtype=float)
    codes, uniques = pd.factorize(pd.Series(np.asarray(clusters, dtype=object)))
    n, g = len(y), len(uniques)
    if len(codes) != n:
        raise ValueError("values and clusters must have the same length")
    if g < 2 or n - g < 1:
        return None
    sizes = np.bincount(codes, minlength=g)
    means = np.bincount(codes, weights=y, minlength=g) / sizes
    between = float(np.sum(sizes * (means - y.mean()) ** 2)) / (g - 1)
    within = float(np.sum((y - means[codes]) ** 2)) / (n - g)
    typical_size = (n - float(np.sum(sizes**2)) / n) / (g - 1)
    denominator = between + (typical_size - 1.0) * within
    return None if denominator == 0 else (between - within) / denominator


def minimum_detectable_effect(
    n_items: int,
    n_clusters: int,
    *,
    icc: float | None = None,
    design_effect: float | None = None,
    baseline_rate: float = 0.5,
    discordance: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> MinimumDetectableEffect:
    """MDEs of a run of ``n_items`` items in ``n_clusters`` episodes; give ``icc`` or ``design_effect``.

    ``discordance`` (ψ, e.g. from a pilot comparison: (discordant_a + discordant_b) / n_paired)
    enables the paired MDE.
    """
    if n_items < 1 or not 1 <= n_clusters <= n_items:
        raise ValueError(f"need 1 <= n_clusters <= n_items, got {n_clusters} clusters, {n_items} items")
    if (icc is None) == (design_effect is None):
        raise ValueError("give exactly one of icc and design_effect")
    for name, value in (("baseline_rate", baseline_rate), ("alpha", alpha), ("power", power)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    if discordance is not None and not 0.0 < discordance <= 1.0:
        raise ValueError(f"discordance must lie in (0, 1], got {discordance}")

    if icc is not None:
        deff = design_effect_from_icc(n_items / n_clusters, icc)
    else:
        deff = max(1.0, float(design_effect or 1.0))
    n_eff = n_items / deff
    z_alpha = float(scipy_stats.norm.ppf(1.0 - alpha / 2.0))
    z_power = float(scipy_stats.norm.ppf(power))
    spread = baseline_rate * (1.0 - baseline_rate)
    return MinimumDetectableEffect(
        n_items=n_items,
        n_clusters=n_clusters,
        design_effect=deff,
        n_effective=n_eff,
        alpha=alpha,
        power=power,
        baseline_rate=baseline_rate,
        ci_half_width=z_alpha * math.sqrt(spread / n_eff),
        unpaired=(z_alpha + z_power) * math.sqrt(2.0 * spread / n_eff),
        discordance=discordance,
        paired=None if discordance is None else _paired_mde(n_eff, discordance, z_alpha, z_power),
    )


def paired_items_needed(effect: float, discordance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Connor's (1987) number of independent paired items to detect ``effect`` at discordance ψ."""
    if not 0.0 < effect <= discordance <= 1.0:
        raise ValueError(f"need 0 < effect <= discordance <= 1, got {effect} and {discordance}")
    z_alpha = float(scipy_stats.norm.ppf(1.0 - alpha / 2.0))
    z_power = float(scipy_stats.norm.ppf(power))
    return _connor_n(effect, discordance, z_alpha, z_power)


def _connor_n(effect: float, discordance: float, z_alpha: float, z_power: float) -> float:
    root = z_alpha * math.sqrt(discordance) + z_power * math.sqrt(max(0.0, discordance - effect**2))
    return root**2 / effect**2


def _paired_mde(n_eff: float, discordance: float, z_alpha: float, z_power: float) -> float:
    """The δ in (0, ψ] at which Connor's n equals n_eff (n falls as δ grows), or inf if none."""
    if _connor_n(discordance, discordance, z_alpha, z_power) > n_eff:
        return math.inf
    smallest = 1e-9 * discordance
    return float(
        optimize.brentq(lambda d: _connor_n(d, discordance, z_alpha, z_power) - n_eff, smallest, discordance)
    )


def paired_mde(se: float | None, n_clusters: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest true paired difference a two-sided test at ``alpha`` detects with ``power``.

    (t_{1-alpha/2} + t_power) * SE, with SE the episode-clustered standard error of the difference and
    t on G - 1 degrees of freedom for G episodes: what a comparison of this size and clustering can
    see. None with a single episode or a difference that does not vary (no spread to size it from).
    """
    from scipy import stats as scipy_stats

    if not se or n_clusters < 2:
        return None
    df = n_clusters - 1
    return float(scipy_stats.t.ppf(1.0 - alpha / 2.0, df) + scipy_stats.t.ppf(power, df)) * se
