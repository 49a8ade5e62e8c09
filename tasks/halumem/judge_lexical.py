"""The lexical judge: approximate verdicts from token overlap, for official data offline.

Official HaluMem data has no machine-checkable keys and this project reaches no LLM, so the only
offline way to score it is to compare words. Texts become content tokens (``matching.content_tokens``:
normalised, stopwords dropped, plurals folded); the persona's own name is dropped too, because gold
points name the user ("Martin Mark moved ...") where systems write "User moved ...". A memory is
read through ``matching.memory_text`` first, as by the rule judge, so a speaker label ("assistant:
...") adds no unsupported token: equal content, equal verdict, whatever the adapter's format.
Overlap cannot see negation or paraphrase, so every verdict is labelled approximate; use it to rank
systems roughly, and the rule judge (built data) or the LLM judge (official data) for numbers to
report.

Thresholds (module constants, part of the judge's identity):

Integrity g of a gold point: the best single extracted memory covers ≥ ``FULL`` (0.8) of the point's
    tokens → 2; ≥ ``PARTIAL`` (0.4) → 1; else 0.
Accuracy a of an extracted memory: the share of its tokens found in the user's turns or in the
    session's true gold points is ≥ ``SUPPORTED`` (0.8) → 2; ≥ ``PARTLY_SUPPORTED`` (0.4) → 1; else 0.
    Assistant turns do not count as support: HaluMem's distractors are the assistant's unconfirmed
    claims. ``included`` when the memory's overlap coefficient with some true gold point is ≥
    ``SAME_SLOT`` (0.5), i.e. it talks about a gold point's subject.
Update (``judge_base.update_label``, the rubric the rule judge follows): a memory covering ≥ ``FULL``
    of the updated point's tokens states the new value; a memory covering less but ≥ ``PARTIAL``
    (related) that carries a token of the superseded memories absent from the new one keeps a stale
    value. New and none stale → correct; new beside stale → other; no new value (stale or not) →
    omission.
QA: boundary questions (the gold answer abstains: "Unknown; not provided") → correct iff the answer
    abstains, else hallucination. Otherwise an abstaining answer → omission; token F1 with the gold
    answer ≥ ``ANSWER_MATCH`` (0.5) → correct; ≥ ``ANSWER_RELATED`` (0.2) → omission (partly right);
    below that, an answer asserting content words → hallucination.
"""

from __future__ import annotations

from typing import Any

from membench.core.types import Episode, Prediction, Probe, Score
from membench_tasks.halumem.judge_base import (
    HaluMemJudge,
    gold_points,
    memory_detail,
    point_detail,
    session_of,
    true_points,
    update_details,
    update_label,
)
from membench_tasks.halumem.matching import abstains, content_tokens, coverage, memory_text, overlap, token_f1

FULL = 0.8
PARTIAL = 0.4
SUPPORTED = 0.8
PARTLY_SUPPORTED = 0.4
SAME_SLOT = 0.5
ANSWER_MATCH = 0.5
ANSWER_RELATED = 0.2
_EXPLAIN = "lexical judge (approximate)"


class LexicalJudge(HaluMemJudge):
    name = "lexical"
    exact = False
    version = "2"

    def identity(self) -> dict[str, Any]:
        thresholds = {
            "full": FULL,
            "partial": PARTIAL,
            "supported": SUPPORTED,
            "partly_supported": PARTLY_SUPPORTED,
            "same_slot": SAME_SLOT,
            "answer_match": ANSWER_MATCH,
            "answer_related": ANSWER_RELATED,
        }
        return {**super().identity(), "thresholds": thresholds}

    async def score_extraction(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        name = _persona_tokens(episode)
        memories = [content_tokens(memory_text(memory.text), name) for memory in prediction.memories]
        details = []
        for point in gold_points(probe):
            best = max((coverage(content_tokens(point["content"], name), m) for m in memories), default=0.0)
            g = 2 if best >= FULL else 1 if best >= PARTIAL else 0
            details.append(point_detail(point, g, f"best memory covers {best:.2f} of the point's tokens"))
        truths = [content_tokens(point["content"], name) for point in true_points(probe)]
        user_turns = " ".join(t.content for t in session_of(probe, episode).turns if t.role == "user")
        support = set(content_tokens(user_turns, name)).union(*truths)
        for position, tokens in enumerate(memories):
            supported = sum(token in support for token in tokens) / len(tokens) if tokens else 0.0
            a = 2 if supported >= SUPPORTED else 1 if supported >= PARTLY_SUPPORTED else 0
            included = any(overlap(tokens, truth) >= SAME_SLOT for truth in truths)
            details.append(memory_detail(position, a, included, f"{supported:.2f} of its tokens supported"))
        return Score(judge=self.name, details=details, explanation=f"{_EXPLAIN}: token overlap")

    async def score_update(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        point = probe.gold["point"]
        name = _persona_tokens(episode)
        new = content_tokens(point["content"], name)
        stale = {t for old in point["original_memories"] for t in content_tokens(old, name)} - set(new)
        best, keeps_stale = 0.0, False
        for memory in prediction.memories:
            tokens = content_tokens(memory_text(memory.text), name)
            share = coverage(new, tokens)
            best = max(best, share)
            keeps_stale = keeps_stale or (PARTIAL <= share < FULL and bool(stale & set(tokens)))
        label = update_label(best >= FULL, keeps_stale)
        explanation = f"{_EXPLAIN}: best memory covers {best:.2f} of the updated point's tokens"
        return Score(judge=self.name, label=label, details=update_details(probe), explanation=explanation)

    async def score_qa(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        gold = str(probe.gold["answer"])
        answer = prediction.answer or ""
        if abstains(gold):
            label = "correct" if abstains(answer) else "hallucination"
            return Score(judge=self.name, label=label, explanation=f"{_EXPLAIN}: boundary question")
        if abstains(answer):
            return Score(judge=self.name, label="omission", explanation=f"{_EXPLAIN}: the answer abstains")
        name = _persona_tokens(episode)
        tokens = content_tokens(answer, name)
        f1 = token_f1(content_tokens(gold, name), tokens)
        if f1 >= ANSWER_MATCH:
            label = "correct"
        elif f1 >= ANSWER_RELATED or not tokens:
            label = "omission"
        else:
            label = "hallucination"
        return Score(
            judge=self.name, label=label, explanation=f"{_EXPLAIN}: token F1 {f1:.2f} with the gold answer"
        )


def _persona_tokens(episode: Episode) -> frozenset[str]:
    """The persona's name as tokens, ignored in every comparison (gold names the user, systems do not)."""
    return frozenset(content_tokens(str(episode.metadata.get("persona_name", ""))))
