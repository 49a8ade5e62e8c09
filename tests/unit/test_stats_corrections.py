"""Holm and Benjamini-Hochberg adjusted p-values, against a hand computation and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from membench.stats import benjamini_hochberg, holm


def test_holm_matches_a_hand_computation() -> None:
    # Sorted: 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # running maximum 0.02, 0.03, 0.06, 0.06; back in input order:
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_the_order_of_raw_p_values() -> None:
    p = np.array([0.9, 0.5, 0.02, 0.5, 0.001])
    adjusted = holm(p)
    assert adjusted.max() == 1.0
    assert np.all(adjusted >= p)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= 0)
    assert adjusted[4] == pytest.approx(0.005) and adjusted[2] == pytest.approx(0.08)


def test_benjamini_hochberg_matches_a_hand_computation() -> None:
    # Sorted 0.01, 0.02, 0.03, 0.5 times 4/1, 4/2, 4/3, 4/4 = 0.04, 0.04, 0.04, 0.5 (min from the end).
    assert benjamini_hochberg([0.03, 0.5, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.5, 0.04, 0.04])


@pytest.mark.parametrize("seed", range(5))
def test_benjamini_hochberg_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=20), rng.uniform(0, 0.01, size=5), [0.3, 0.3, 1.0]])
    assert benjamini_hochberg(p) == pytest.approx(scipy_stats.false_discovery_control(p, method="bh"))


def test_bad_p_values_are_refused_and_empty_is_empty() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, float("nan")])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([1.5])
    assert holm([]).size == 0 and benjamini_hochberg([]).size == 0
