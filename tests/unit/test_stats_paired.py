"""membench.stats.compare / compare_family: alignment, McNemar, sign-flip permutation, Holm."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from membench.core.errors import ConfigError
from membench.core.task import MetricSpec
from membench.stats import compare, compare_family, holm

SPECS = (
    MetricSpec("acc", "Accuracy"),
    MetricSpec("score", "Score"),
    MetricSpec("prec", "Precision"),
    MetricSpec(
        "diff", "Score - Precision", inputs=("score", "prec"), derive=lambda v: v["score"] - v["prec"]
    ),
)


def run(metric: str, episodes: list[str], num: list[float], den: list[float] | None = None) -> pd.DataFrame:
    """A run's table: probe i is "q{i}" in episodes[i]."""
    return pd.DataFrame(
        {
            "metric": metric,
            "episode_id": episodes,
            "probe_id": [f"q{i}" for i in range(len(episodes))],
            "num": num,
            "den": den if den is not None else [1.0] * len(episodes),
            "error": False,
        }
    )


def binary_pair(seed: int, n_clusters: int = 12, size: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    episodes = [f"e{g}" for g in range(n_clusters) for _ in range(size)]
    a = (rng.random(len(episodes)) < 0.55).astype(float).tolist()
    b = (rng.random(len(episodes)) < 0.7).astype(float).tolist()
    return run("acc", episodes, a), run("acc", episodes, b)


def test_binary_outcomes_get_exact_mcnemar_for_reference_while_the_permutation_test_decides() -> None:
    a, b = binary_pair(seed=1)
    result = compare(a, b, SPECS, "acc", n_boot=500)
    outcome_a, outcome_b = a["num"].to_numpy(), b["num"].to_numpy()
    only_a = int(np.sum((outcome_a == 1) & (outcome_b == 0)))
    only_b = int(np.sum((outcome_a == 0) & (outcome_b == 1)))
    assert result.binary and result.test == "cluster sign-flip permutation (exact)"
    assert (result.discordant_a, result.discordant_b) == (only_a, only_b)
    assert result.p_mcnemar == pytest.approx(scipy_stats.binomtest(only_b, only_a + only_b, 0.5).pvalue)
    assert result.value_a is not None and result.value_b is not None and result.difference is not None
    assert result.difference == pytest.approx((only_b - only_a) / len(a))
    assert result.value_b - result.value_a == pytest.approx(result.difference)
    # Odds ratio of discordant pairs and its exact interval, via binomtest's own Clopper-Pearson search.
    assert result.odds_ratio == pytest.approx(only_b / only_a)
    share = scipy_stats.binomtest(only_b, only_a + only_b).proportion_ci(0.95, method="exact")
    assert result.odds_ratio_ci == pytest.approx((share.low / (1 - share.low), share.high / (1 - share.high)))
    # The cluster permutation p-value is reported beside it; the bootstrap interval holds the estimate.
    assert result.p_permutation is not None and 0 < result.p_permutation <= 1
    assert result.ci is not None and result.ci[0] <= result.difference <= result.ci[1]


def test_identical_runs_have_no_discordant_pairs() -> None:
    a, _ = binary_pair(seed=2)
    result = compare(a, a, SPECS, "acc", n_boot=100)
    assert (result.discordant_a, result.discordant_b, result.p_mcnemar) == (0, 0, 1.0)
    assert result.odds_ratio is None and result.difference == 0.0
    assert result.p_permutation == 1.0


def test_sign_flip_permutation_is_exact_and_matches_scipy_for_scores() -> None:
    rng = np.random.default_rng(4)
    n_clusters, size = 8, 5
    episodes = [f"e{g}" for g in range(n_clusters) for _ in range(size)]
    a = rng.random(len(episodes))
    b = np.clip(a + rng.normal(0.08, 0.15, len(episodes)), 0, 1)
    result = compare(run("score", episodes, a.tolist()), run("score", episodes, b.tolist()), SPECS, "score")
    assert not result.binary
    assert result.test == "cluster sign-flip permutation (exact)"
    # With den 1 everywhere the difference is Σ_g (b_g - a_g) / n: flipping clusters = swapping their sums.
    sums_a = np.bincount(np.repeat(np.arange(n_clusters), size), weights=a)
    sums_b = np.bincount(np.repeat(np.arange(n_clusters), size), weights=b)
    reference = scipy_stats.permutation_test(
        (sums_a, sums_b),
        lambda x, y: np.sum(y - x),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    )
    assert result.p_permutation == pytest.approx(reference.pvalue)
    assert result.p_mcnemar is None
    assert result.difference == pytest.approx((b.sum() - a.sum()) / len(a))


def test_permutation_swaps_whole_ratios_when_denominators_differ() -> None:
    """Precision over each system's own memories: checked against a brute-force enumeration."""
    rng = np.random.default_rng(5)
    episodes = [f"e{g}" for g in range(6) for _ in range(4)]
    den_a, den_b = rng.integers(1, 6, len(episodes)), rng.integers(1, 6, len(episodes))
    num_a, num_b = rng.binomial(den_a, 0.4), rng.binomial(den_b, 0.6)
    result = compare(
        run("prec", episodes, num_a.tolist(), den_a.tolist()),
        run("prec", episodes, num_b.tolist(), den_b.tolist()),
        SPECS,
        "prec",
    )
    cluster = np.repeat(np.arange(6), 4)
    ya, xa = np.bincount(cluster, num_a), np.bincount(cluster, den_a)
    yb, xb = np.bincount(cluster, num_b), np.bincount(cluster, den_b)
    observed = yb.sum() / xb.sum() - ya.sum() / xa.sum()
    extreme = 0
    for swap in itertools.product([False, True], repeat=6):
        s = np.array(swap)
        new_a = np.where(s, yb, ya).sum() / np.where(s, xb, xa).sum()
        new_b = np.where(s, ya, yb).sum() / np.where(s, xa, xb).sum()
        extreme += abs(new_b - new_a) >= abs(observed) - 1e-12
    assert result.difference == pytest.approx(observed)
    assert result.p_permutation == pytest.approx(extreme / 64)
    assert not result.binary  # den is not 1


def test_swaps_that_leave_a_metric_undefined_count_as_extreme() -> None:
    """A extracted memories only in e1, B only in e2: swapping one episode leaves a side with none."""
    a = run("prec", ["e1", "e2"], [1, 0], [2, 0])
    b = run("prec", ["e1", "e2"], [0, 2], [0, 2])
    result = compare(a, b, SPECS, "prec")
    assert result.difference == pytest.approx(0.5)
    # Patterns: none (0.5), both (-0.5), e1 only (A undefined), e2 only (B undefined): all as extreme.
    assert result.p_permutation == 1.0


def test_random_sign_flips_beyond_sixteen_clusters() -> None:
    episodes = [f"e{g}" for g in range(40) for _ in range(3)]
    a = [0.2] * len(episodes)
    b = [0.9] * len(episodes)
    result = compare(run("score", episodes, a), run("score", episodes, b), SPECS, "score", n_perm=999)
    assert result.test == "cluster sign-flip permutation (999 random)"
    assert result.p_permutation == pytest.approx(1 / 1000)  # only the observed arrangement is that extreme
    skipped = compare(run("score", episodes, a), run("score", episodes, b), SPECS, "score", n_perm=0)
    assert skipped.p_permutation is None and skipped.test is None


def test_paired_se_is_the_clustered_se_of_the_differences() -> None:
    rng = np.random.default_rng(6)
    sizes = [3, 5, 4, 6, 2]
    cluster = np.repeat(np.arange(5), sizes)
    episodes = [f"e{g}" for g in cluster]
    a, b = rng.random(len(cluster)), rng.random(len(cluster))
    result = compare(run("score", episodes, a.tolist()), run("score", episodes, b.tolist()), SPECS, "score")
    d = b - a
    u = (np.bincount(cluster, d) - d.mean() * np.bincount(cluster)) / len(d)
    assert result.se == pytest.approx(math.sqrt(5 / 4 * np.sum(u**2)))


def test_missing_and_errored_probes_are_counted_not_dropped_silently() -> None:
    episodes = ["e1"] * 5 + ["e2"] * 5
    a = run("acc", episodes, [1, 0, 1, 1, 0, 1, 1, 0, 1, 1])
    b = run("acc", episodes, [1, 1, 1, 0, 1, 1, 0, 1, 1, 1])
    a = a[a["probe_id"] != "q9"]  # q9 only in B
    b = b[~b["probe_id"].isin(["q7", "q8"])]  # q7, q8 only in A
    a.loc[a["probe_id"] == "q2", ["num", "den", "error"]] = [0.0, 0.0, True]  # errored in A
    b.loc[b["probe_id"] == "q3", ["num", "den", "error"]] = [0.0, 0.0, True]  # errored in B
    result = compare(a, b, SPECS, "acc", n_boot=100)
    assert (result.n_only_a, result.n_only_b, result.n_errored_either, result.n_paired) == (2, 1, 2, 5)
    # Paired probes q0, q1, q4, q5, q6: A = 1,0,0,1,1 ; B = 1,1,1,1,0.
    assert result.value_a == pytest.approx(3 / 5) and result.value_b == pytest.approx(4 / 5)
    assert (result.discordant_a, result.discordant_b) == (1, 2)


def test_no_common_probes_gives_an_empty_comparison() -> None:
    a = run("acc", ["e1", "e1"], [1, 0])
    b = run("acc", ["e1", "e1"], [1, 1]).assign(probe_id=["x", "y"])
    result = compare(a, b, SPECS, "acc")
    assert (result.n_paired, result.n_only_a, result.n_only_b) == (0, 2, 2)
    assert result.difference is None and result.p_permutation is None and result.ci is None
    assert not result.binary


def test_derived_metric_comparison_recomputes_from_both_inputs() -> None:
    episodes = [f"e{g}" for g in range(4) for _ in range(3)]
    a = pd.concat([run("score", episodes, [0.5] * 12), run("prec", episodes, [0.25] * 12)])
    b = pd.concat([run("score", episodes, [0.75] * 12), run("prec", episodes, [0.25] * 12)])
    result = compare(a, b, SPECS, "diff", n_boot=200)
    assert result.value_a == pytest.approx(0.25) and result.value_b == pytest.approx(0.5)
    assert result.difference == pytest.approx(0.25)
    assert result.ci == pytest.approx((0.25, 0.25))  # no variation at all: every resample agrees
    assert result.test == "cluster sign-flip permutation (exact)"


def test_family_against_a_baseline_applies_holm() -> None:
    runs = dict(zip(["base", "x", "y"], [*binary_pair(seed=7), binary_pair(seed=8)[1]], strict=True))
    family = compare_family(runs, SPECS, "acc", baseline="base", n_boot=200)
    assert family.correction == "holm" and family.baseline == "base"
    assert [(m.comparison.name_a, m.comparison.name_b) for m in family.members] == [
        ("base", "x"),
        ("base", "y"),
    ]
    raw = [m.comparison.p_permutation or 0.0 for m in family.members]
    assert all(m.comparison.p_permutation is not None for m in family.members)
    assert [m.p_adjusted for m in family.members] == pytest.approx(holm(raw).tolist())
    assert [m.reject for m in family.members] == [p <= 0.05 for p in holm(raw)]
    single = compare(runs["base"], runs["x"], SPECS, "acc", name_a="base", name_b="x", n_boot=200)
    assert family.members[0].comparison == single


def test_family_of_all_pairs_with_benjamini_hochberg() -> None:
    a, b = binary_pair(seed=9)
    runs = {"a": a, "b": b, "c": binary_pair(seed=10)[1]}
    family = compare_family(runs, SPECS, "acc", correction="benjamini-hochberg", n_boot=0)
    assert family.correction == "benjamini-hochberg" and family.baseline is None
    assert [(m.comparison.name_a, m.comparison.name_b) for m in family.members] == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    raw = np.array([m.comparison.p_permutation for m in family.members])
    assert [m.p_adjusted for m in family.members] == pytest.approx(
        scipy_stats.false_discovery_control(raw, method="bh").tolist()
    )


def test_untestable_comparisons_stay_out_of_the_correction() -> None:
    a, b = binary_pair(seed=11)
    stranger = b.assign(probe_id="other_" + b["probe_id"])
    family = compare_family({"a": a, "b": b, "s": stranger}, SPECS, "acc", baseline="a", n_boot=0)
    tested, untested = family.members
    assert untested.p_adjusted is None and not untested.reject
    assert tested.p_adjusted == pytest.approx(tested.comparison.p_permutation)  # a family of one


def test_family_arguments_are_checked() -> None:
    a, b = binary_pair(seed=12)
    with pytest.raises(ConfigError, match="baseline 'z'"):
        compare_family({"a": a, "b": b}, SPECS, "acc", baseline="z")
    with pytest.raises(ConfigError, match="at least two"):
        compare_family({"a": a}, SPECS, "acc")
    with pytest.raises(ConfigError, match="unknown metric"):
        compare(a, b, SPECS, "f1")


def test_an_all_metric_keeps_errored_probes_as_zero() -> None:
    """A paper-style "(all)" metric counts an errored probe as 0 over its denominator: it stays paired."""
    specs = (MetricSpec("acc_all", "Accuracy (all)"),)
    episodes = ["e1"] * 5 + ["e2"] * 5
    a = run("acc_all", episodes, [1, 1, 1, 1, 0, 1, 1, 1, 1, 0])
    b = run("acc_all", episodes, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    a.loc[a["probe_id"].isin(["q0", "q1"]), ["num", "error"]] = [0.0, True]  # errored, den stays 1
    result = compare(a, b, specs, "acc_all", n_boot=100)
    assert (result.n_paired, result.n_errored_either) == (10, 0)
    assert result.value_a == pytest.approx(6 / 10) and result.difference == pytest.approx(4 / 10)
