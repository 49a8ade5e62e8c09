"""The rule judge: exact verdicts from the offline builder's machine-checkable keys.

Data made by ``data_builders/halumem.py`` carries, beside each gold point and question, the phrases
that state its value (``required``), name its subject (``subject``), or state a superseded or false
value (``stale`` on points, ``reject`` on questions). Phrase matching is deterministic (see
``matching.has_phrase``), so this judge needs no model and gives the same verdict every time: it is
the offline default and the reference the approximate judges are compared against.

Official HaluMem data has no keys; the judge refuses it (``RuleJudge.check_dataset`` up front, or
the first probe without keys) rather than guess.

Every memory is read through ``matching.memory_text`` before any rule applies: speaker labels at
line starts ("user: ...", "[time] assistant: ...", one per line in bm25's rounds), whitespace, case
and quotes are dropped, so a system storing "user: I moved to Lisbon" and one storing "I moved to
Lisbon" get the same verdicts (turn-storing baselines and mem0 offline store the same turns).

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
      verify a paraphrase, so: a = 2 if its text occurs verbatim in the session's turns, joined
      without speaker labels (a system that stores raw turns is plainly supported), else a = 1
      ("unverifiable": neither credited as supported nor condemned as hallucinated). An empty
      memory states nothing: a = 0.
    Only Target Precision (included memories) is therefore exact; Memory Accuracy depends on the
    rule above for memories outside the gold slots.

Update (retrieved memories against the updated point), ``judge_base.update_label``:
    a memory is *new* if it contains every required phrase; it is *stale* if it is not new and names
    the subject together with a stale (superseded) phrase, i.e. it still states the old value as it
    was. A new memory may name the old value: the builder's update turns do so only to retire it
    ("moved from Porto to Lisbon", "not ramen any more"), which is the "marked as outdated" of the
    rubric. Then: correct iff a memory is new and none is stale (the rubric also wants the original
    memory replaced or marked outdated); other if a memory is new but another is stale (both values
    side by side: neither a hallucinated nor an omitted update, so the rubric's "other"); omission
    when none is new, whether a memory still states only the old value (the system did not update)
    or a related memory lacks the new value ("a related memory missing key information"). A system
    that keeps history without marking what it superseded, such as one storing raw turns, therefore
    scores "other", not "correct".

QA:
    boundary questions (``unknown``): correct iff the answer abstains (see ``matching.abstains``),
    else hallucination. Otherwise correct if the answer contains every required phrase (even beside a
    rejected one: "Lisbon, not Porto"), hallucination if it contains a rejected phrase, else omission.
"""

from __future__ import annotations

from typing import Any

from membench.core.errors import ConfigError
from membench.core.types import Dataset, Episode, Prediction, Probe, Score
from membench_tasks.halumem.judge_base import (
    HaluMemJudge,
    Point,
    gold_points,
    memory_detail,
    point_detail,
    session_of,
    update_details,
    update_label,
)
from membench_tasks.halumem.matching import abstains, has_phrase, memory_text, normalise, phrases_in

MISSING_KEYS = (
    "the rule judge needs the offline builder's machine-checkable keys; official HaluMem data has none: "
    "use --judge lexical (approximate) or --judge-llm MODEL"
)
_EXPLAIN = "rule judge (exact)"


class RuleJudge(HaluMemJudge):
    name = "rule"
    exact = True
    version = "2"

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
        texts = [memory_text(memory.text) for memory in prediction.memories]
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
        texts = [memory_text(memory.text) for memory in prediction.memories]
        new = [i for i, text in enumerate(texts) if _states_all(text, keys["required"])]
        stale = [i for i, text in enumerate(texts) if i not in new and _keeps_stale(text, keys)]
        label = update_label(bool(new), bool(stale))
        return self._update_score(probe, label, _update_reason(new, stale, len(texts)))

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


def _states_all(text: str, phrases: list[str]) -> bool:
    return all(has_phrase(text, phrase) for phrase in phrases)


def _keeps_stale(text: str, keys: dict[str, Any]) -> bool:
    """Whether a memory states a superseded value of the point's subject (the caller excludes new ones)."""
    names_subject = any(has_phrase(text, phrase) for phrase in keys["subject"])
    return names_subject and any(has_phrase(text, phrase) for phrase in keys["stale"])


def _update_reason(new: list[int], stale: list[int], retrieved: int) -> str:
    if new and stale:
        return f"memory {new[0]} states the new value, but memory {stale[0]} still states a superseded one"
    if new:
        return f"memory {new[0]} states the new value and none keeps a superseded one"
    if stale:
        return f"memory {stale[0]} keeps a superseded value and none states the new one"
    return f"none of {retrieved} retrieved memories states the new value"


def _integrity(required: list[str], texts: list[str]) -> tuple[int, str]:
    """g for one gold point: full in one memory, partial across memories, or absent."""
    for position, text in enumerate(texts):
        if _states_all(text, required):
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
    if any(_states_all(text, required) for required in false_keys):
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
