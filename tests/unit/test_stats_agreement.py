"""Judge agreement: Cohen's kappa, Krippendorff's alpha, raw agreement and the confusion table."""

from __future__ import annotations

import numpy as np
import pytest

from membench.stats import cohens_kappa, confusion_table, krippendorff_alpha, raw_agreement

# A classic 2x2: 50 items, both "yes" 20, A yes / B no 5, A no / B yes 10, both "no" 15.
JUDGE = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
HUMAN = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15


def test_kappa_raw_agreement_and_table_on_a_hand_computed_two_by_two() -> None:
    # p_o = 35/50 = 0.7; A says yes 25/50, B 30/50: p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4.
    assert cohens_kappa(JUDGE, HUMAN) == pytest.approx(0.4)
    assert raw_agreement(JUDGE, HUMAN) == pytest.approx(0.7)
    table = confusion_table(JUDGE, HUMAN)
    assert table.loc["yes", "yes"] == 20 and table.loc["yes", "no"] == 5
    assert table.loc["no", "yes"] == 10 and table.loc["no", "no"] == 15
    assert list(table.index) == ["no", "yes"] and list(table.columns) == ["no", "yes"]


def test_unlabelled_items_are_dropped_pairwise() -> None:
    judge = [*JUDGE, "yes", None]
    human = [*HUMAN, float("nan"), "no"]
    assert cohens_kappa(judge, human) == pytest.approx(0.4)
    assert int(confusion_table(judge, human).to_numpy().sum()) == 50


def test_undefined_and_perfect_agreement() -> None:
    assert cohens_kappa(["yes"] * 4, ["yes"] * 4) is None  # chance agreement is already 1
    assert cohens_kappa([None], ["yes"]) is None and raw_agreement([None], ["yes"]) is None
    assert cohens_kappa(["a", "b", "c"], ["a", "b", "c"]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal length"):
        cohens_kappa(["a"], ["a", "b"])


def test_alpha_on_a_hand_computed_nominal_example() -> None:
    # Units (a,a), (a,b), (b,b), plus a unit with one label that cannot be paired.
    # Coincidences: o_aa = 2, o_ab = o_ba = 1, o_bb = 2; margins n_a = n_b = 3, n = 6.
    # alpha = 1 - (n - 1) * (o_ab + o_ba) / (n_a n_b + n_b n_a) = 1 - 5 * 2 / 18 = 4/9.
    ratings = [["a", "a"], ["a", "b"], ["b", "b"], ["a", None]]
    assert krippendorff_alpha(ratings) == pytest.approx(4 / 9)
    # Kappa on the same pairs differs (0.4): it uses each rater's own margins, alpha the pooled ones.
    assert cohens_kappa(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(0.4)


def test_alpha_reproduces_krippendorffs_published_example() -> None:
    """Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units, gaps."""
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = np.array(coders, dtype=object).T  # items x raters
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(units, "ratio") == pytest.approx(0.797, abs=5e-4)


def test_alpha_edge_cases() -> None:
    assert krippendorff_alpha([["x", "x"], ["y", "y"], ["x", "x"]]) == pytest.approx(1.0)
    assert krippendorff_alpha([["x", "x"], ["x", "x"]]) is None  # a single value: no expected disagreement
    assert krippendorff_alpha([["x", None], [None, "y"]]) is None  # nothing pairable
