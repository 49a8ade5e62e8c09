"""Minimum detectable effects, design effects and the ANOVA estimate of the intraclass correlation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from membench.stats import design_effect_from_icc, icc_anova, minimum_detectable_effect, paired_items_needed


def test_unclustered_mdes_match_the_closed_forms() -> None:
    mde = minimum_detectable_effect(500, 500, design_effect=1.0, baseline_rate=0.5, discordance=0.2)
    z_alpha, z_power = 1.959964, 0.841621
    assert mde.ci_half_width == pytest.approx(z_alpha * math.sqrt(0.25 / 500), rel=1e-5)  # ±4.4 points
    assert mde.unpaired == pytest.approx((z_alpha + z_power) * math.sqrt(0.5 / 500), rel=1e-5)  # 8.9 points
    # Connor: plugging the paired MDE back into n = [z_a √ψ + z_b √(ψ - δ²)]² / δ² gives the run's size.
    delta = mde.paired
    assert delta is not None
    needed = (z_alpha * math.sqrt(0.2) + z_power * math.sqrt(0.2 - delta**2)) ** 2 / delta**2
    assert needed == pytest.approx(500, rel=1e-4)
    assert delta == pytest.approx(0.056, abs=5e-4)
    assert paired_items_needed(delta, 0.2) == pytest.approx(500, rel=1e-6)


@pytest.mark.parametrize(
    ("n", "discordance", "points"),
    [(133, 0.1, 7.6), (133, 0.3, 13.2), (500, 0.1, 4.0), (1986, 0.2, 2.8), (5000, 0.3, 2.2), (30, 0.3, 26.9)],
)
def test_paired_mde_table(n: int, discordance: float, points: float) -> None:
    mde = minimum_detectable_effect(n, n, design_effect=1.0, discordance=discordance)
    assert mde.paired is not None and round(100 * mde.paired, 1) == points


def test_too_small_a_run_cannot_detect_anything_below_the_discordance() -> None:
    # 30 items at ψ = 0.2: even δ = ψ needs [1.96·√.2 + 0.84·√(.2 - .04)]² / .04 ≈ 36.8 items.
    assert minimum_detectable_effect(30, 30, design_effect=1.0, discordance=0.2).paired == math.inf
    assert minimum_detectable_effect(30, 30, design_effect=1.0).paired is None


def test_clustering_inflates_the_mde_by_the_square_root_of_the_design_effect() -> None:
    # 1,540 items in 10 conversations (m = 154) at ICC 0.05: DEFF = 1 + 153 · 0.05 = 8.65.
    clustered = minimum_detectable_effect(1540, 10, icc=0.05, discordance=0.2)
    independent = minimum_detectable_effect(1540, 10, icc=0.0, discordance=0.2)
    assert clustered.design_effect == pytest.approx(8.65)
    assert clustered.n_effective == pytest.approx(1540 / 8.65)
    assert clustered.unpaired / independent.unpaired == pytest.approx(math.sqrt(8.65))
    assert clustered.paired is not None and independent.paired is not None
    assert clustered.paired > 2.5 * independent.paired


def test_design_effect_formula_and_floor() -> None:
    assert design_effect_from_icc(150, 0.05) == pytest.approx(8.45)
    assert design_effect_from_icc(20, -0.01) == 1.0
    assert minimum_detectable_effect(100, 10, design_effect=0.5).design_effect == 1.0


def test_icc_anova_by_hand_balanced_and_unbalanced() -> None:
    # Balanced: clusters {1,2,3} and {4,5,6}. MSB = 3·(1.5² + 1.5²) = 13.5, MSW = 4/4 = 1, m0 = 3.
    # ICC = (13.5 - 1) / (13.5 + 2·1) = 12.5 / 15.5.
    assert icc_anova([1, 2, 3, 4, 5, 6], ["a"] * 3 + ["b"] * 3) == pytest.approx(12.5 / 15.5)
    # Unbalanced: {1,3} and {2,4,6}. Means 2 and 4, grand mean 3.2: MSB = 2·1.44 + 3·0.64 = 4.8;
    # MSW = (1 + 1 + 4 + 0 + 4) / 3 = 10/3; m0 = 5 - 13/5 = 2.4. ICC = (4.8 - 10/3) / (4.8 + 1.4·10/3).
    expected = (4.8 - 10 / 3) / (4.8 + 1.4 * 10 / 3)
    assert icc_anova([1, 3, 2, 4, 6], [0, 0, 1, 1, 1]) == pytest.approx(expected)


def test_icc_anova_recovers_a_known_icc_and_reports_undefined_cases() -> None:
    rng = np.random.default_rng(0)
    # Cluster rates ~ Beta(6, 4), binary items: ICC = 1 / (6 + 4 + 1) = 1/11.
    rates = rng.beta(6, 4, size=2000)
    clusters = np.repeat(np.arange(2000), 15)
    outcomes = (rng.random(clusters.size) < rates[clusters]).astype(float)
    assert icc_anova(outcomes, clusters) == pytest.approx(1 / 11, abs=0.01)
    assert icc_anova([1.0, 2.0], ["a", "a"]) is None  # one cluster
    assert icc_anova([1.0, 2.0], ["a", "b"]) is None  # no replication within clusters
    assert icc_anova([1.0, 1.0, 1.0, 1.0], ["a", "a", "b", "b"]) is None  # no variation


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        minimum_detectable_effect(100, 10)
    with pytest.raises(ValueError, match="exactly one"):
        minimum_detectable_effect(100, 10, icc=0.1, design_effect=2.0)
    with pytest.raises(ValueError, match="n_clusters"):
        minimum_detectable_effect(10, 20, icc=0.1)
    with pytest.raises(ValueError, match="baseline_rate"):
        minimum_detectable_effect(100, 10, icc=0.1, baseline_rate=1.0)
    with pytest.raises(ValueError, match="same length"):
        icc_anova([1.0, 2.0], ["a"])


def test_paired_mde_is_t_quantiles_times_the_clustered_se() -> None:
    from scipy import stats as scipy_stats

    from membench.stats import paired_mde

    expected = (scipy_stats.t.ppf(0.975, 9) + scipy_stats.t.ppf(0.8, 9)) * 0.02
    assert paired_mde(0.02, 10) == pytest.approx(expected)
    assert paired_mde(0.02, 10) == pytest.approx((2.262157 + 0.883404) * 0.02, rel=1e-5)
    assert paired_mde(0.0, 10) is None and paired_mde(0.02, 1) is None
