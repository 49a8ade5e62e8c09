"""The plain progress display: no ETA until an episode has finished, then one from the probe rate."""

from __future__ import annotations

import pytest

from membench.running.display import PlainDisplay


def test_eta_appears_only_after_the_first_episode(capsys: pytest.CaptureFixture[str]) -> None:
    display = PlainDisplay(every_s=0.0)
    display.start("halumem × bm25", episodes=2, probes=4)
    display.probe_done(False, {})
    first = capsys.readouterr().out.splitlines()[-1]
    assert "probes 1/4" in first and "ETA" not in first
    display.probe_done(True, {})
    display.episode_done()
    after = capsys.readouterr().out.splitlines()[-1]
    assert "episodes 1/2" in after and "errors 1" in after and "ETA" in after


def test_no_progress_line_before_the_interval(capsys: pytest.CaptureFixture[str]) -> None:
    display = PlainDisplay(every_s=3600.0)
    display.start("t", episodes=1, probes=2)
    display.probe_done(False, {})
    assert capsys.readouterr().out.count("\n") == 1, "only the header line"
