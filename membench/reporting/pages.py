"""One page per run (``runs/<run-dir-name>.html``): every probe with its question, gold, answer,
retrieved memories, judge verdict and error, so a number on the leaderboard can be traced to items.

Probes are filed by verdict (``run_page_verdicts``), worst first, each verdict a section with an
anchor and a count at the top of the page: ``#wrong`` shows the wrong answers alone. Gold and inputs
are readable fields (``run_page_fields``). The page stays small (under 1.5 KB a probe on HaluMem's
default built data): a probe shows its top ``SHOWN_MEMORIES`` memories, each cut to ``MEMORY_CHARS``
characters, and says how many more there are; everything is in records.jsonl.

Questions and gold come from the dataset (records do not hold them); when it is not available the
page still lists every probe, and says why those two are missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from membench.core import numbers as fmt
from membench.core.types import Probe, Record, shown_labels
from membench.reporting.collect import Board, Entry
from membench.reporting.html import environment
from membench.reporting.run_page_fields import (
    Fields,
    SharedValues,
    attach_details,
    scalar_text,
    shared_html,
    text_html,
)
from membench.reporting.run_page_verdicts import group_by_verdict, legend, verdict_of

#: a probe shows its first SHOWN_MEMORIES retrieved (or extracted) memories, MEMORY_CHARS of each.
SHOWN_MEMORIES = 3
MEMORY_CHARS = 160


@dataclass(frozen=True)
class ProbeView:
    """A record, with the probe it answered when the dataset could be loaded."""

    record: Record
    probe: Probe | None

    @property
    def anchor(self) -> str:
        """``p-`` and the probe id, which names its episode in every built-in task (else both)."""
        r = self.record
        return f"p-{r.probe_id}" if r.probe_id.startswith(r.episode_id) else f"p-{r.episode_id}-{r.probe_id}"

    @property
    def verdict(self) -> str:
        return verdict_of(self.record)

    @cached_property
    def _gold_and_details(self) -> tuple[dict[str, Any], list[Mapping[str, Any]]]:
        details = self.record.score.details if self.record.score is not None else []
        return attach_details(self.probe.gold if self.probe is not None else {}, details)

    @property
    def gold(self) -> dict[str, Any]:
        """The probe's gold, with the judge's details beside the gold rows they name."""
        return self._gold_and_details[0]

    @property
    def details(self) -> list[Mapping[str, Any]]:
        """The judge's details that name no gold row (all of them when the gold is not shown)."""
        return self._gold_and_details[1]

    @property
    def tags(self) -> list[str]:
        """The probe's facts under its heading: episode (unless the probe id names it), session, kind,
        labels, and the time of each stage."""
        r = self.record
        tags = [] if r.probe_id.startswith(r.episode_id) else [f"episode {r.episode_id}"]
        tags += [f"after session {r.after_session}", r.kind]
        tags += [f"{key}: {value}" for key, value in sorted(shown_labels(r.labels).items())]
        if r.prediction is not None and r.prediction.latency_s:
            stages = sorted(r.prediction.latency_s.items())
            tags.append(", ".join(f"{stage} {fmt.seconds(seconds)}" for stage, seconds in stages))
        return tags

    @property
    def memories(self) -> ShownMemories:
        """The first memories, each cut, with its score and session (the session said once when
        every shown memory comes from the same one, as an extraction probe's all do)."""
        memories = self.record.prediction.memories if self.record.prediction else []
        shown = memories[:SHOWN_MEMORIES]
        name = Fields(self.record.episode_id).text
        sessions = {m.session_id for m in shown}
        common = (
            name(shown[0].session_id) if len(shown) > 1 and len(sessions) == 1 and shown[0].session_id else ""
        )
        items = []
        for memory in shown:
            parts = [f"{memory.score:.3f}"] if memory.score is not None else []
            if memory.session_id and not common:
                parts.append(name(memory.session_id))
            items.append((_cut(memory.text), " · ".join(parts)))
        return ShownMemories(items, common, len(memories) - len(shown))


@dataclass(frozen=True)
class ShownMemories:
    """What a probe shows of its memories: (text, "score · session") each, the session every one
    comes from when they share it, and how many are not shown."""

    items: list[tuple[str, str]]
    session: str
    more: int


def _cut(text: str) -> str:
    return text if len(text) <= MEMORY_CHARS else text[:MEMORY_CHARS] + "…"


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


def values_text(values: Mapping[str, float]) -> str:
    """A judge's values on one line: "f1 0.5 · n_pred 2"."""
    return " · ".join(f"{key} {scalar_text(value)}" for key, value in values.items())


def render_run_page(board: Board, entry: Entry) -> str:
    views = probe_views(board, entry)
    shared = SharedValues(
        mapping for view in views if view.probe is not None for mapping in (view.gold, view.probe.inputs)
    )
    groups = group_by_verdict(views, lambda v: v.verdict, lambda v: v.record.kind)
    template = environment().get_template("run.html.j2")
    return template.render(
        board=board,
        entry=entry,
        manifest=entry.run.manifest,
        views=views,
        groups=groups,
        legend=legend(groups),
        shared=shared,
        Fields=Fields,
        shared_html=shared_html,
        text_html=text_html,
        shown_memories=SHOWN_MEMORIES,
        memory_chars=MEMORY_CHARS,
        values_text=values_text,
    )
