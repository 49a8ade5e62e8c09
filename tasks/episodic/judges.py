"""The two episodic judges: the closed-vocabulary matcher (offline default) and an LLM judge.

Both fill the same ``Score.values`` so metrics never care which judged: ``f1`` (lenient), ``f1_harsh``,
``n_pred``, ``n_gt``, and for chronological questions with two or more items ``exact_set`` (0/1) and,
when exact, ``tau``. The LLM judge asks upstream's rubric (identify the items the answer states, score
each ground-truth item 1 / 0.5 / 0, give their order) in our own versioned prompt
(``prompts/episodic-judge-v1.j2``); its reply must be one JSON object whose ``matches`` name every
ground-truth item in order with an allowed score. Anything else is re-asked once, then the probe is a
judge error (``Score(status="error")``), never a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from membench.core.errors import OutputParseError
from membench.core.identity import LLM_KEY
from membench.core.types import Episode, Prediction, Probe, Score
from membench.judges.base import Judge, ask_with_one_reminder, prompt_environment
from membench.llm.types import LLM
from membench_tasks.episodic.scoring import chronology, f1_scores, match_answer

PROMPTS_DIR = Path(__file__).parent / "prompts"
TEMPLATE = "episodic-judge-v1"
REMINDER = "episodic-reminder-v1"
KIND_WORDS = {
    "date": "dates",
    "location": "locations",
    "entity": "people (main characters)",
    "content": "events (kinds of event)",
    "post_entities": "people (secondary characters)",
}
_FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*)\n[ \t]*```", re.DOTALL)


def _gold(probe: Probe) -> tuple[list[str], str, str]:
    return list(dict.fromkeys(probe.gold["items"])), str(probe.gold["trait"]), str(probe.gold["get"])


def verdict(
    probe: Probe,
    judge: str,
    gold: Sequence[str],
    scores: dict[str, float],
    n_pred: int,
    order: Sequence[str],
    stated_in_full: bool,
) -> Score:
    """The Score both judges return, from item scores, the number of stated items and their order.

    ``stated_in_full``: no ground-truth item earned a half score, which an exact set also needs.
    """
    total = sum(scores.values())
    f1, harsh = f1_scores(total, n_pred, len(gold))
    values = {"f1": f1, "f1_harsh": harsh, "n_pred": float(n_pred), "n_gt": float(len(gold))}
    if probe.gold["get"] == "chronological" and len(gold) >= 2:
        exact, tau = chronology(order, gold) if stated_in_full else (False, None)
        values["exact_set"] = float(exact)
        if tau is not None:
            values["tau"] = tau
    if not gold:
        label = "correct" if n_pred == 0 else "hallucination"
    else:
        label = "correct" if f1 == 1.0 else ("partial" if f1 > 0 else "wrong")
    details = [{"item": item, "score": scores[item]} for item in gold]
    return Score(judge=judge, label=label, values=values, details=details)  # fmt: skip


class MatchJudge(Judge):
    """Deterministic: which closed-vocabulary items the answer names (see ``scoring``)."""

    name = "match"
    version = "v1"

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        gold, trait, _ = _gold(probe)
        match = match_answer(prediction.answer or "", gold, probe.gold["vocabulary"], trait)
        return verdict(
            probe, self.name, gold, match.scores, match.n_pred, match.stated, stated_in_full=not match.partial
        )


class LLMJudge(Judge):
    """Upstream's rubric asked of an LLM, strictly parsed; named by the model its client's identity gives."""

    def __init__(self, client: LLM, max_tokens: int = 1024) -> None:
        self.client = client
        self.max_tokens = max_tokens
        self.name = f"llm:{client.identity()['model']}"
        env = prompt_environment(PROMPTS_DIR)
        self._prompt = env.get_template(f"{TEMPLATE}.j2")
        self._reminder = env.get_template(f"{REMINDER}.j2")

    def identity(self) -> dict[str, Any]:
        text = "".join((PROMPTS_DIR / f"{t}.j2").read_text("utf-8") for t in (TEMPLATE, REMINDER))
        return {
            "name": "llm",
            "template": TEMPLATE,
            "template_sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
            "max_tokens": self.max_tokens,
            LLM_KEY: self.client.identity(),
        }

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        gold, trait, get = _gold(probe)
        prompt = self._prompt.render(
            kind=KIND_WORDS[trait], question=probe.question, gold=gold, ordered=get != "all",
            answer=prediction.answer or "",
        )  # fmt: skip
        asked = await ask_with_one_reminder(
            self.client,
            prompt,
            lambda text: parse_reply(text, gold),
            lambda problem: self._reminder.render(problem=problem),
            max_tokens=self.max_tokens,
        )
        usage = {"judge": asked.usage}
        if asked.value is None:
            return Score(judge=self.name, status="error", explanation=asked.problem, usage=usage)
        identified, scores, order = asked.value
        # Extra identified items do not break an exact set (upstream drops them); half scores do.
        in_full = all(scores[item] in (0.0, 1.0) for item in gold)
        score = verdict(probe, self.name, gold, scores, len(identified), order, stated_in_full=in_full)
        return score.model_copy(update={"usage": usage})


def parse_reply(text: str, gold: Sequence[str]) -> tuple[list[str], dict[str, float], list[str]]:
    """(identified items, score per ground-truth item, stated order) or OutputParseError."""
    fenced = _FENCED.fullmatch(text.strip())
    body = fenced.group(1) if fenced else text.strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"not one JSON object ({exc.msg})") from None
    if not isinstance(value, dict) or set(value) != {"identified", "matches", "order"}:
        raise OutputParseError('the object must have exactly the keys "identified", "matches", "order"')
    identified, matches, order = value["identified"], value["matches"], value["order"]
    if not isinstance(identified, list) or not all(isinstance(i, str) for i in identified):
        raise OutputParseError('"identified" must be a list of strings')
    if not isinstance(matches, list) or len(matches) != len(gold):
        raise OutputParseError(f'"matches" must list the {len(gold)} ground-truth items, one entry each')
    scores: dict[str, float] = {}
    for entry, item in zip(matches, gold, strict=True):
        if not isinstance(entry, dict) or entry.get("item") != item:
            raise OutputParseError(f'"matches" must give the ground-truth items in order; expected "{item}"')
        score = entry.get("score")
        if isinstance(score, bool) or score not in (0, 0.5, 1):
            raise OutputParseError(f'the score of "{item}" must be 0, 0.5 or 1, got {score!r}')
        scores[item] = float(score)
    if not isinstance(order, list) or not all(isinstance(o, str) and o in scores for o in order):
        raise OutputParseError('"order" must list ground-truth items, written exactly as given')
    if len(set(order)) != len(order):
        raise OutputParseError('"order" names an item twice')
    return list(dict.fromkeys(identified)), scores, order
