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
    frozen = gc.get_freeze_count()
    try:
        with run_collector():
            pass
        assert gc.get_threshold() == (1234, 5, 6) and gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
