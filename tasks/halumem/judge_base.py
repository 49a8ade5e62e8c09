"""What every HaluMem judge shares: dispatch by probe kind, and the score shapes metrics.py reads.

HaluMem asks three different questions (what did the system extract from a session, did an update
reach memory, is an answer right), so each judge implements three methods and this base class routes
a probe to the right one. The detail dictionaries built here are the contract with ``metrics.py``:
one per gold point (``g``), one per extracted memory (``a``, ``included``); a failed element verdict
keeps its slot with ``None`` and an ``error`` message, and makes the whole score
``status="error"``: the probe is counted as errored (every element of it failed, in metrics' "(all)"
and "(valid)" alike) and ``--retry-errors`` redoes it, rather than a partly judged probe passing as
scored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from membench.core.errors import ConfigError
from membench.core.types import Episode, Prediction, Probe, Score, Session
from membench.judges.base import Judge

UPDATE_LABELS = ("correct", "hallucination", "omission", "other")
QA_LABELS = ("correct", "hallucination", "omission")

Point = dict[str, Any]
Detail = dict[str, Any]


class HaluMemJudge(Judge, ABC):
    """Base class of the rule, lexical and LLM judges: one instance scores all three probe kinds."""

    #: bumped whenever a verdict rule changes, so runs judged differently never share an identity.
    version: ClassVar[str]

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "exact": self.exact}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        if probe.kind == "extraction":
            return await self.score_extraction(probe, prediction, episode)
        if probe.kind == "update":
            return await self.score_update(probe, prediction, episode)
        if probe.kind == "qa":
            return await self.score_qa(probe, prediction, episode)
        raise ConfigError(f"HaluMem judges score extraction, update and qa probes, not '{probe.kind}'")

    @abstractmethod
    async def score_extraction(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        """One detail per gold point (integrity g) and one per extracted memory (accuracy a)."""

    @abstractmethod
    async def score_update(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        """A label in ``UPDATE_LABELS`` for the retrieved memories against the updated point."""

    @abstractmethod
    async def score_qa(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        """A label in ``QA_LABELS`` for the answer against the gold answer."""


def gold_points(probe: Probe) -> list[Point]:
    """The session's gold memory points of an extraction probe."""
    points: list[Point] = probe.gold["memory_points"]
    return points


def true_points(probe: Probe) -> list[Point]:
    """The gold points that are facts about the user (distractors are the assistant's false claims)."""
    return [point for point in gold_points(probe) if not point["is_distractor"]]


def session_of(probe: Probe, episode: Episode) -> Session:
    """The session a probe is asked after; a mismatch means the probe belongs to another dataset."""
    if not 0 <= probe.after_session < len(episode.sessions):
        raise ConfigError(
            f"probe {probe.probe_id} is asked after session {probe.after_session}, "
            f"but episode {episode.episode_id} has {len(episode.sessions)} sessions"
        )
    return episode.sessions[probe.after_session]


def render_transcript(session: Session) -> str:
    """One "[timestamp] role: content" line per turn (no bracket when a turn has no time)."""
    lines = []
    for turn in session.turns:
        stamp = f"[{turn.timestamp}] " if turn.timestamp else ""
        lines.append(f"{stamp}{turn.role}: {turn.content}")
    return "\n".join(lines)


def point_detail(point: Point, g: int | None, reason: str | None = None, error: str | None = None) -> Detail:
    """The integrity verdict on one gold point, with what metrics need to route and weight it."""
    detail: Detail = {
        "element": "point",
        "point_id": point["point_id"],
        "memory_type": point["memory_type"],
        "is_distractor": point["is_distractor"],
        "is_update": point["is_update"],
        "importance": point["importance"],
        "g": g,
    }
    if reason is not None:
        detail["reason"] = reason
    if error is not None:
        detail["error"] = error
    return detail


def memory_detail(
    position: int, a: int | None, included: bool | None, reason: str | None = None, error: str | None = None
) -> Detail:
    """The accuracy verdict on the extracted memory at ``position`` in the prediction."""
    detail: Detail = {"element": "memory", "position": position, "a": a, "included": included}
    if reason is not None:
        detail["reason"] = reason
    if error is not None:
        detail["error"] = error
    return detail


def update_details(probe: Probe) -> list[Detail]:
    """The update score's single detail: which point it judged, and its memory type."""
    point: Point = probe.gold["point"]
    return [{"point_id": point["point_id"], "memory_type": point["memory_type"]}]


def update_label(states_new: bool, keeps_stale: bool) -> str:
    """HaluMem's update rubric as the offline judges apply it, from two findings on the retrieved memories.

    ``states_new``: a memory states the updated value in full. ``keeps_stale``: another memory states
    a superseded value as it was (not within a memory that also states the new one, which is the
    update itself: "moved from Porto to Lisbon"). The rubric's "correct" needs every new information
    point *and* the original memory replaced or marked outdated, so the new value beside an unmarked
    old one is a failure that is neither a hallucination (the new memory has no error) nor an
    omission (nothing is missing): "other". Without the new value the update is missing whatever else
    was retrieved (the rubric's omission: no related new memory, or one lacking key information); the
    old value alone is the system not having updated, which is what HaluMem's omission rate counts.
    Hallucination (a new memory with a wrong detail) needs a judgement the offline judges cannot make
    from key phrases; the LLM judge makes it.
    """
    if not states_new:
        return "omission"
    return "other" if keeps_stale else "correct"
