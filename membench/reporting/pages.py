"""One page per run (``runs/<run-dir-name>.html``): every probe with its question, gold, answer,
retrieved memories, judge verdict and error, so a number on the leaderboard can be traced to items.

Questions and gold come from the dataset (records do not hold them); when it is not available the
page still lists every probe, and says why those two are missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from membench.core.types import Probe, Record
from membench.reporting.collect import Board, Entry
from membench.reporting.html import environment


@dataclass(frozen=True)
class ProbeView:
    """A record, with the probe it answered when the dataset could be loaded."""

    record: Record
    probe: Probe | None

    @property
    def anchor(self) -> str:
        return f"p-{self.record.episode_id}-{self.record.probe_id}"


def probe_views(board: Board, entry: Entry) -> list[ProbeView]:
    """The run's records in dataset order (records are written as episodes finish, so not in order)."""
    probes = board.data.probes()
    position = {key: i for i, key in enumerate(probes)}
    records = sorted(
        entry.run.records,
        key=lambda r: (
            position.get((r.episode_id, r.probe_id), len(position)),
            r.episode_id,
            r.after_session,
            r.probe_id,
        ),
    )
    return [ProbeView(r, probes.get((r.episode_id, r.probe_id))) for r in records]


def render_run_page(board: Board, entry: Entry) -> str:
    views = probe_views(board, entry)
    template = environment().get_template("run.html.j2")
    return template.render(
        board=board,
        entry=entry,
        manifest=entry.run.manifest,
        views=views,
        errored=[v for v in views if v.record.status == "error"],
    )
