"""membench.stats.estimate: values, clustered and naive errors, intervals and breakdowns, checked by hand."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from membench.core.errors import ConfigError, DataError
from membench.core.task import Contribution, MetricSpec
from membench.stats import contributions_frame, estimate
from membench.stats.estimate import t_interval


def _f1(values: Mapping[str, float]) -> float:
    total = values["acc"] + values["prec"]
    return 2 * values["acc"] * values["prec"] / total if total else 0.0


SPECS = (
    MetricSpec("acc", "Accuracy", main=True),
    MetricSpec("prec", "Precision"),
    MetricSpec("f1", "F1", inputs=("acc", "prec"), derive=_f1),
    MetricSpec("count", "Memories", aggregate="sum", scale=1, unit=""),
)


def table(rows: Sequence[tuple[str, str, str, float, float]], **labels: Sequence[object]) -> pd.DataFrame:
    """Rows of (metric, episode, probe, num, den); errored rows are added by the tests themselves."""
    frame = pd.DataFrame(rows, columns=["metric", "episode_id", "probe_id", "num", "den"])
    frame["error"] = False
    for name, values in labels.items():
        frame[name] = values
    return frame


# Accuracy of 8 probes in 3 episodes: e1 = 1,1,0 ; e2 = 1,0 ; e3 = 1,1,1 (6 right of 8).
ACC_ROWS = [
    ("acc", "e1", "p1", 1, 1),
    ("acc", "e1", "p2", 1, 1),
    ("acc", "e1", "p3", 0, 1),
    ("acc", "e2", "p4", 1, 1),
    ("acc", "e2", "p5", 0, 1),
    ("acc", "e3", "p6", 1, 1),
    ("acc", "e3", "p7", 1, 1),
    ("acc", "e3", "p8", 1, 1),
]


def by_name(estimates: list) -> dict:
    return {e.metric: e for e in estimates}


def test_ratio_value_and_clustered_se_match_a_hand_computation() -> None:
    result = by_name(estimate(table(ACC_ROWS), SPECS, n_boot=0))["acc"]
    # Cluster sums (y, x) = (2, 3), (1, 2), (3, 3); R = 6/8 = 0.75.
    # Influences (y - R x)/X = -0.25/8, -0.5/8, 0.75/8 ; sum of squares = 0.875/64 = 0.013671875.
    # Clustered variance = G/(G-1) * 0.013671875 = 1.5 * 0.013671875.
    assert result.value == pytest.approx(0.75)
    assert result.se == pytest.approx(math.sqrt(1.5 * 0.013671875))
    # Naive: 8 independent items, sample variance 1.5/7, SE = sqrt(1.5/7/8).
    assert result.se_naive == pytest.approx(math.sqrt(1.5 / 7 / 8))
    assert result.design_effect == pytest.approx((1.5 * 0.013671875) / (1.5 / 7 / 8))
    assert (result.n, result.n_errors, result.n_clusters) == (8, 0, 3)
    # value ± t(2 df) · se, clipped at 1: an accuracy (every num within [0, den]) cannot exceed it.
    half = scipy_stats.t.ppf(0.975, 2) * result.se
    assert 0.75 + half > 1
    assert result.ci_t == pytest.approx((0.75 - half, 1.0))
    # With 3 episodes the t interval is the one shown.
    assert result.interval == result.ci_t and result.interval_method == "t"
    assert result.ci is None  # n_boot=0 skips the bootstrap


def test_weighted_ratio_is_sum_over_sum_not_mean_of_ratios() -> None:
    rows = [("prec", "e1", "p1", 1, 4), ("prec", "e1", "p2", 3, 4), ("prec", "e2", "p3", 1, 1)]
    result = by_name(estimate(table(rows), SPECS, n_boot=0))["prec"]
    assert result.value == pytest.approx(5 / 9)  # the mean of ratios would be (0.25 + 0.75 + 1)/3
    # Influences: e1 (4 - 5/9*8)/9, e2 (1 - 5/9)/9; G/(G-1) = 2.
    u = np.array([(4 - 40 / 9) / 9, (1 - 5 / 9) / 9])
    assert result.se == pytest.approx(math.sqrt(2 * np.sum(u**2)))


def test_errored_items_are_counted_but_do_not_move_a_valid_metric() -> None:
    frame = table(ACC_ROWS)
    errored = pd.DataFrame(
        [{"metric": "acc", "episode_id": "e2", "probe_id": "p9", "num": 0.0, "den": 0.0, "error": True}]
    )
    result = by_name(estimate(pd.concat([frame, errored]), SPECS, n_boot=0))["acc"]
    assert result.value == pytest.approx(0.75)
    assert (result.n, result.n_errors) == (8, 1)


def test_metrics_without_contributions_are_none_never_zero() -> None:
    rows = [*ACC_ROWS, ("prec", "e1", "p1", 0, 0)]  # precision has a row, but no denominator
    results = by_name(estimate(table(rows), SPECS, n_boot=200))
    for name in ("prec", "f1", "count"):
        assert results[name].value is None
        assert results[name].se is None and results[name].ci is None and results[name].ci_t is None
    assert results["count"].n == 0 and results["prec"].n == 0
    assert [e.metric for e in estimate(table(rows), SPECS, n_boot=0)] == ["acc", "prec", "f1", "count"]


def test_sum_metric_totals_non_errored_rows_and_is_none_when_all_errored() -> None:
    rows = [("count", "e1", "p1", 3, 1), ("count", "e2", "p2", 4, 1), ("count", "e3", "p3", 0, 1)]
    result = by_name(estimate(table(rows), SPECS, n_boot=0))["count"]
    assert result.value == pytest.approx(7.0)
    # Cluster totals 3, 4, 0 around their mean 7/3; G/(G-1) = 1.5.
    deviations = np.array([3, 4, 0]) - 7 / 3
    assert result.se == pytest.approx(math.sqrt(1.5 * np.sum(deviations**2)))

    all_errored = table([("count", "e1", "p1", 0, 1)])
    all_errored["error"] = True
    assert by_name(estimate(all_errored, SPECS, n_boot=0))["count"].value is None


def test_derived_metric_value_and_linearised_se() -> None:
    rows = [*ACC_ROWS, ("prec", "e1", "p1", 1, 1), ("prec", "e2", "p4", 0, 1), ("prec", "e3", "p6", 1, 1)]
    result = by_name(estimate(table(rows), SPECS, n_boot=0))["f1"]
    acc, prec = 0.75, 2 / 3
    assert result.value == pytest.approx(2 * acc * prec / (acc + prec))
    # Chain rule: dF1/dacc = 2 prec² / (acc + prec)², dF1/dprec = 2 acc² / (acc + prec)².
    u_acc = np.array([2 - 0.75 * 3, 1 - 0.75 * 2, 3 - 0.75 * 3]) / 8
    u_prec = np.array([1 - prec, 0 - prec, 1 - prec]) / 3
    slope_acc, slope_prec = 2 * prec**2 / (acc + prec) ** 2, 2 * acc**2 / (acc + prec) ** 2
    u = slope_acc * u_acc + slope_prec * u_prec
    assert result.se == pytest.approx(math.sqrt(1.5 * np.sum(u**2)), rel=1e-6)
    assert result.n == 8  # probes feeding either input


def test_derived_metric_is_recomputed_on_the_same_resamples_as_its_inputs() -> None:
    """acc - acc2 with identical rows is 0 on every joint resample: its interval must be exactly (0, 0)."""
    specs = (
        MetricSpec("acc", "A"),
        MetricSpec("acc2", "B"),
        MetricSpec("gap", "A - B", inputs=("acc", "acc2"), derive=lambda v: v["acc"] - v["acc2"]),
    )
    rows = [*ACC_ROWS, *[("acc2", *row[1:]) for row in ACC_ROWS]]
    results = by_name(estimate(table(rows), specs, n_boot=500))
    assert results["acc"].ci is not None and results["acc"].ci[1] - results["acc"].ci[0] > 0.1
    assert results["gap"].ci == (0.0, 0.0)
    assert results["gap"].se == pytest.approx(0.0, abs=1e-9)


def test_bootstrap_is_seeded_and_independent_of_row_order() -> None:
    rng = np.random.default_rng(3)
    episodes = np.repeat(np.arange(30), 8)
    frame = pd.DataFrame(
        {
            "metric": "acc",
            "episode_id": [f"e{e}" for e in episodes],
            "probe_id": [f"p{i}" for i in range(len(episodes))],
            "num": (rng.random(len(episodes)) < 0.6).astype(float),
            "den": 1.0,
            "error": False,
        }
    )
    first = by_name(estimate(frame, SPECS, n_boot=1000, seed=5))["acc"]
    shuffled = frame.sample(frac=1.0, random_state=1)
    assert by_name(estimate(shuffled, SPECS, n_boot=1000, seed=5))["acc"].ci == first.ci
    assert by_name(estimate(frame, SPECS, n_boot=1000, seed=6))["acc"].ci != first.ci
    # The percentile interval's width agrees with the clustered SE (normal approximation, 30 clusters).
    assert first.ci is not None and first.se is not None
    assert (first.ci[1] - first.ci[0]) / (2 * 1.96 * first.se) == pytest.approx(1.0, abs=0.12)


def test_breakdown_by_label_gives_one_estimate_per_metric_and_label_value() -> None:
    labels = ["a", "b", "a", "b", "a", "b", "a", "b"]
    frame = table([*ACC_ROWS, ("count", "e1", "p1", 2, 1)], question_type=[*labels, None])
    results = estimate(frame, SPECS, n_boot=0, by="question_type")
    keyed = {(e.metric, e.level): e for e in results}
    # Precision has no rows: it is absent from the breakdown; F1 rests on accuracy, so it is shown as N/A.
    # The count row has no label and is left out.
    assert set(keyed) == {("acc", "a"), ("acc", "b"), ("f1", "a"), ("f1", "b")}
    # a: p1=1, p3=0, p5=0, p7=1 -> 2/4 ; b: p2=1, p4=1, p6=1, p8=1 -> 4/4.
    assert keyed["acc", "a"].value == pytest.approx(0.5)
    assert keyed["acc", "b"].value == pytest.approx(1.0)
    assert keyed["acc", "a"].n == 4 and keyed["acc", "a"].by == "question_type"
    assert keyed["f1", "a"].value is None
    assert [(e.metric, e.level) for e in results] == [("acc", "a"), ("acc", "b"), ("f1", "a"), ("f1", "b")]
    with pytest.raises(ConfigError, match="question_type"):
        estimate(table(ACC_ROWS, question_type=labels), SPECS, by="memory_type")


def test_contributions_frame_spreads_labels_into_columns() -> None:
    contributions = [
        Contribution("acc", "e1", "p1", 1, 1, labels={"question_type": "x"}),
        Contribution("acc", "e1", "p2", 0, 0, error=True),
    ]
    frame = contributions_frame(contributions)
    assert list(frame["question_type"].fillna("-")) == ["x", "-"]
    assert list(frame["error"]) == [False, True]
    result = by_name(estimate(frame, SPECS, n_boot=0))["acc"]
    assert (result.value, result.n, result.n_errors) == (1.0, 1, 1)
    assert contributions_frame([]).empty


@pytest.mark.parametrize(
    ("column", "value", "field", "problem"),
    [
        ("num", float("nan"), "num", "not a finite number"),
        ("den", -1.0, "den", "negative"),
        ("error", "maybe", "error", "not a boolean"),
    ],
)
def test_malformed_tables_name_the_field_and_row(
    column: str, value: object, field: str, problem: str
) -> None:
    frame = table(ACC_ROWS)
    frame[column] = frame[column].astype(object)
    frame.loc[2, column] = value
    with pytest.raises(DataError, match=problem) as raised:
        estimate(frame, SPECS)
    assert raised.value.field == field and raised.value.line == 3


def test_missing_column_and_bad_specs_are_reported() -> None:
    with pytest.raises(DataError, match="missing column"):
        estimate(table(ACC_ROWS).drop(columns="den"), SPECS)
    with pytest.raises(ConfigError, match="unknown metric 'nope'"):
        estimate(table(ACC_ROWS), (MetricSpec("f", "F", inputs=("nope",), derive=lambda v: 0.0),))
    with pytest.raises(ConfigError, match="declared twice"):
        estimate(table(ACC_ROWS), (SPECS[0], SPECS[0]))


@pytest.mark.parametrize(
    ("df", "confidence", "quantile"),
    [(5, 0.95, 2.570581836), (1, 0.95, 12.706204736), (2, 0.95, 4.302652730), (29, 0.99, 2.756385904)],
)
def test_t_interval_half_width_is_the_t_quantile_times_se(
    df: int, confidence: float, quantile: float
) -> None:
    # Quantiles from printed t tables (two-sided 95% and 99%), to the nine decimals they give.
    low, high = t_interval(10.0, 0.5, df, confidence)  # type: ignore[misc]
    assert (high - 10.0) / 0.5 == pytest.approx(quantile, abs=1e-9)
    assert (10.0 - low) / 0.5 == pytest.approx(quantile, abs=1e-9)
    clipped = t_interval(0.9, 0.05, df, confidence, bounds=(0.0, 1.0))
    assert clipped == pytest.approx((0.9 - 0.05 * quantile, 1.0))


def test_t_interval_needs_a_degree_of_freedom_and_a_standard_error() -> None:
    assert t_interval(0.5, 0.1, 0, 0.95) is None
    assert t_interval(0.5, None, 4, 0.95) is None
    assert t_interval(None, 0.1, 4, 0.95) is None
