"""A run's collector setting lasts exactly as long as the run, whatever ends it."""

from __future__ import annotations

import gc

import pytest

from membench.running.collector import YOUNG_THRESHOLD, run_collector


def test_the_threshold_holds_for_the_run_and_is_undone_after_it() -> None:
    before = gc.get_threshold()
    with run_collector():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


def test_it_is_undone_when_the_run_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), run_collector():
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before


def test_a_caller_s_own_threshold_and_frozen_objects_are_left_as_they_were() -> None:
    before = gc.get_threshold()
    gc.set_threshold(1234, 5, 6)
    gc.freeze()
    try:
        with run_collector():
            pass
        # Not thawed: a thaw would empty the permanent generation (a frozen object freed since may
        # have left it, so the count is not compared exactly).
        assert gc.get_threshold() == (1234, 5, 6) and gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_caller_that_collects_less_often_or_never_keeps_its_setting() -> None:
    before = gc.get_threshold()
    try:
        for young in (0, 100_000):
            gc.set_threshold(young, 10, 10)
            with run_collector():
                assert gc.get_threshold() == (young, 10, 10)
            assert gc.get_threshold() == (young, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_overlapping_runs_restore_the_setting_once_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first, second = run_collector(), run_collector()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first run ends while the second goes on
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
