"""The one significance policy: which interval is shown, what decides, and when nothing can."""

from __future__ import annotations

import pytest

from membench.stats.policy import (
    MIN_BOOTSTRAP_EPISODES,
    can_reject,
    choose_interval,
    decide,
    few_episodes_note,
    interval_method,
    smallest_p,
)


def test_holm_over_permutation_p_values_skips_untested_comparisons() -> None:
    decisions = decide([0.01, None, 0.04])
    assert [d.p_adjusted for d in decisions] == pytest.approx([0.02, None, 0.04])
    assert [d.reject for d in decisions] == [True, False, True]
    assert decide([None, None]) == [decide([None])[0]] * 2
    assert [d.reject for d in decide([0.03, 0.04], alpha=0.05)] == [False, False]  # 0.06, 0.06 after Holm


def test_the_smallest_exact_permutation_p_is_two_over_two_to_the_episodes() -> None:
    # Exhaustive enumeration: the observed swap pattern and its mirror are always as extreme.
    assert smallest_p(5) == 2 / 32 and smallest_p(6) == 2 / 64 and smallest_p(16) == 2 / 2**16
    assert smallest_p(40, n_perm=999) == 1 / 1000 and smallest_p(0) == 1.0


@pytest.mark.parametrize(
    ("episodes", "family", "possible"),
    [(5, 1, False), (6, 1, True), (6, 2, False), (7, 3, True), (7, 4, False), (10, 10, True), (2, 1, False)],
)
def test_whether_any_comparison_can_reject(episodes: int, family: int, possible: bool) -> None:
    # Hand-computed: family · 2/2^G <= 0.05, e.g. 2 · 2/64 = 0.0625 > 0.05, 3 · 2/128 = 0.047.
    assert can_reject(episodes, family, 0.05) is possible
    note = few_episodes_note(episodes, family, 0.05)
    assert (note is None) is possible
    if note is not None:
        assert f"with {episodes} episode(s)" in note and "no difference can be significant" in note


def test_the_t_interval_is_shown_below_the_bootstrap_threshold() -> None:
    boot, t = (0.4, 0.6), (0.35, 0.65)
    assert interval_method(MIN_BOOTSTRAP_EPISODES - 1) == "t"
    assert choose_interval(boot, t, MIN_BOOTSTRAP_EPISODES - 1) == t
    assert interval_method(MIN_BOOTSTRAP_EPISODES) == "bootstrap"
    assert choose_interval(boot, t, MIN_BOOTSTRAP_EPISODES) == boot
