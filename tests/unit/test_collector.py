"""A run's collector settings last exactly as long as the run, whatever ends it."""

from __future__ import annotations

import gc

import pytest

from membench.running.collector import YOUNG_THRESHOLD, keep_loaded, run_collector


def test_the_settings_hold_for_the_run_and_are_undone_after_it() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with run_collector():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        loaded = [object() for _ in range(10)]
        keep_loaded()
        assert gc.get_freeze_count() >= frozen + len(loaded)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # what the run froze is collectable again


def test_they_are_undone_when_the_run_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), run_collector():
        keep_loaded()
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
