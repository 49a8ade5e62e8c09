"""The rule judge: exact verdicts from the offline builder's machine-checkable keys.

Data made by ``data_builders/halumem.py`` carries, beside each gold point and question, the phrases
that state its value (``required``), name its subject (``subject``), or state a superseded or false
value (``stale`` on points, ``reject`` on questions). Phrase matching is deterministic (see
``matching.has_phrase``), so this judge needs no model and gives the same verdict every time: it is
the offline default and the reference the approximate judges are compared against.

Official HaluMem data has no keys; the judge refuses it (``RuleJudge.check_dataset`` up front, or
the first probe without keys) rather than guess.

Verdict rules (HaluMem's rubric, made mechanical):

Integrity g of a gold point (distractors included: FMR reads their g):
    2 if one extracted memory contains every required phrase; 1 if the memories, together, contain
    some of them; 0 otherwise.

Accuracy a of an extracted memory, against the session's gold points:
    - it contains every required phrase of a distractor (the assistant's false claim, which the
      builder never lets a user turn state): the slot is a gold slot (``included``), and the memory
      asserts a falsehood: a = 1 if it also states some true point's value (part supported, part
      not), else a = 0;
    - otherwise, it contains a required phrase of a true point: included, a = 2. A memory that holds
      part of a compound point is incomplete, not wrong; completeness is what recall measures;
    - otherwise it matches no gold key, so it is not a gold slot (``included`` false). The keys cannot
      verify a paraphrase, so: a = 2 if its normalised text occurs verbatim in the session transcript
      (a system that stores raw turns is plainly supported), else a = 1 ("unverifiable": neither
      credited as supported nor condemned as hallucinated). An empty memory states nothing: a = 0.
    Only Target Precision (included memories) is therefore exact; Memory Accuracy depends on the
    rule above for memories outside the gold slots.

Update (retrieved memories against the updated point):
    correct if a memory contains every required phrase; hallucination if none does but a memory
    names the subject together with a stale (superseded) value; omission otherwise. The keys name
    no "other" wrong values, so a related memory lacking the new value counts as omission, as in
    HaluMem's rubric ("a related memory missing key information"). "other" is never given.

QA:
    boundary questions (``unknown``): correct iff the answer abstains (see ``matching.abstains``),
    else hallucination. Otherwise correct if the answer contains every required phrase (even beside a
    rejected one: "Lisbon, not Porto"), hallucination if it contains a rejected phrase, else omission.
"""

from __future__ import annotations

from typing import Any

from membench.errors import ConfigError
from membench.types import Dataset, Episode, Prediction, Probe, Score
from tasks.halumem.judge_base import (
    HaluMemJudge,
    Point,
    gold_points,
    memory_detail,
    point_detail,
    session_of,
    update_details,
)
from tasks.halumem.matching import abstains, has_phrase, normalise, phrases_in

MISSING_KEYS = (
    "the rule judge needs the offline builder's machine-checkable keys; official HaluMem data has none: "
    "use --judge lexical (approximate) or --judge-llm MODEL"
)
_EXPLAIN = "rule judge (exact)"


class RuleJudge(HaluMemJudge):
    name = "rule"
    exact = True
    version = "1"

    @classmethod
    def check_dataset(cls, dataset: Dataset) -> None:
        """Refuse, before any system runs, a dataset whose probes lack well-formed keys."""
        for probe in dataset.probes:
            if probe.kind == "extraction":
                for point in gold_points(probe):
                    _point_keys(probe, point)
            elif probe.kind == "update":
                _point_keys(probe, probe.gold["point"])
            elif probe.kind == "qa":
                _question_keys(probe)

    async def score_extraction(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        texts = [normalise(memory.text) for memory in prediction.memories]
        transcript = normalise(" ".join(turn.content for turn in session_of(probe, episode).turns))
        points = gold_points(probe)
        keys = {point["point_id"]: _point_keys(probe, point) for point in points}
        details = [
            point_detail(point, *_integrity(keys[point["point_id"]]["required"], texts)) for point in points
        ]
        true_keys = [keys[p["point_id"]]["required"] for p in points if not p["is_distractor"]]
        false_keys = [keys[p["point_id"]]["required"] for p in points if p["is_distractor"]]
        for position, text in enumerate(texts):
            a, included, reason = _accuracy(text, true_keys, false_keys, transcript)
            details.append(memory_detail(position, a, included, reason))
        explanation = f"{_EXPLAIN}: {len(points)} gold points, {len(texts)} extracted memories"
        return Score(judge=self.name, details=details, explanation=explanation)

    async def score_update(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        keys = _point_keys(probe, probe.gold["point"])
        texts = [normalise(memory.text) for memory in prediction.memories]
        for position, text in enumerate(texts):
            if all(has_phrase(text, phrase) for phrase in keys["required"]):
                return self._update_score(probe, "correct", f"memory {position} states the new value")
        for position, text in enumerate(texts):
            names_subject = any(has_phrase(text, phrase) for phrase in keys["subject"])
            if names_subject and any(has_phrase(text, phrase) for phrase in keys["stale"]):
                return self._update_score(
                    probe, "hallucination", f"memory {position} keeps a superseded value"
                )
        return self._update_score(
            probe, "omission", f"none of {len(texts)} retrieved memories states the new value"
        )

    async def score_qa(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        keys = _question_keys(probe)
        answer = prediction.answer or ""
        if keys["unknown"]:
            label = "correct" if abstains(answer) else "hallucination"
            why = "abstains" if label == "correct" else "states something"
            return self._qa_score(label, f"boundary question; the answer {why}")
        found = phrases_in(answer, keys["required"])
        if len(found) == len(keys["required"]):
            return self._qa_score("correct", "the answer states every required phrase")
        rejected = phrases_in(answer, keys["reject"])
        if rejected:
            return self._qa_score("hallucination", f"the answer states rejected {rejected}")
        return self._qa_score(
            "omission", f"the answer states {len(found)} of {len(keys['required'])} required"
        )

    def _update_score(self, probe: Probe, label: str, why: str) -> Score:
        explanation = f"{_EXPLAIN}: {why}"
        return Score(judge=self.name, label=label, details=update_details(probe), explanation=explanation)

    def _qa_score(self, label: str, why: str) -> Score:
        return Score(judge=self.name, label=label, explanation=f"{_EXPLAIN}: {why}")


def _integrity(required: list[str], texts: list[str]) -> tuple[int, str]:
    """g for one gold point: full in one memory, partial across memories, or absent."""
    for position, text in enumerate(texts):
        if all(has_phrase(text, phrase) for phrase in required):
            return 2, f"memory {position} states every required phrase"
    found = [phrase for phrase in required if any(has_phrase(text, phrase) for text in texts)]
    if found:
        return 1, f"the memories state {found} of {required}"
    return 0, "no memory states a required phrase"


def _accuracy(
    text: str, true_keys: list[list[str]], false_keys: list[list[str]], transcript: str
) -> tuple[int, bool, str]:
    """(a, included, reason) for one normalised memory; the rules are in the module docstring."""
    if not text:
        return 0, False, "empty memory"
    states_truth = any(has_phrase(text, phrase) for required in true_keys for phrase in required)
    if any(all(has_phrase(text, phrase) for phrase in required) for required in false_keys):
        if states_truth:
            return 1, True, "states a distractor's false value beside a true value"
        return 0, True, "states a distractor's false value"
    if states_truth:
        return 2, True, "states a gold point's value"
    if has_phrase(transcript, text):
        return 2, False, "no gold slot; occurs verbatim in the session"
    return 1, False, "no gold slot; not verifiable from the keys"


def _point_keys(probe: Probe, point: Point) -> dict[str, Any]:
    keys = point.get("keys")
    if keys is None:
        raise ConfigError(MISSING_KEYS)
    if not _phrase_list(keys.get("required")) or not keys["required"]:
        raise ConfigError(
            f"probe {probe.probe_id}: point {point['point_id']} has no required phrases in its keys"
        )
    for field in ("subject", "stale"):
        if not _phrase_list(keys.get(field)):
            raise ConfigError(
                f"probe {probe.probe_id}: keys field '{field}' of {point['point_id']} is not a list"
            )
    return dict(keys)


def _question_keys(probe: Probe) -> dict[str, Any]:
    keys = probe.gold.get("keys")
    if keys is None:
        raise ConfigError(MISSING_KEYS)
    if not isinstance(keys.get("unknown"), bool):
        raise ConfigError(f"probe {probe.probe_id}: question keys field 'unknown' must be true or false")
    for field in ("required", "reject"):
        if not _phrase_list(keys.get(field)):
            raise ConfigError(f"probe {probe.probe_id}: question keys field '{field}' is not a list")
    if not keys["unknown"] and not keys["required"]:
        raise ConfigError(
            f"probe {probe.probe_id}: a question that is not a boundary one needs required phrases"
        )
    return dict(keys)


def _phrase_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
