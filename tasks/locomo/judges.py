"""LoCoMo's judges. Every one records the official score (``official.official_score``) as
``values["f1"]``, so the official F1 is reported whatever judged; the rule and LLM judges add a verdict,
``values["correct"]`` (1 or 0) with the label ``right`` or ``wrong``.

- ``f1`` (the default): the official scorer and nothing else. It is a formula, so its scores are
  exact reproductions of the original's, though F1 itself only approximates "is the answer right".
- ``rule``: the answer against the machine-checkable keys of built data (``keys.py``). Official data
  has none, so the task refuses it there before any work (``LoCoMoTask.check_judge``).
- ``llm``: a model answers RIGHT or WRONG with our own versioned prompts (``prompts/``). The ``strict``
  style (the default) wants the reference's facts, all of them, and counts vague or partial answers
  wrong. The ``generous`` style (``-T judge_style=generous``) is the lenient rubric most published
  LoCoMo numbers use (same topic, same date in any form); its judge is named ``llm-generous:<model>``
  and its identity holds the style, so runs judged by the two are never paired or compared as one.
  Adversarial questions (category 5) get their own prompt in both styles: right when the answer says
  the conversations do not tell. The reply must be the one word RIGHT or WRONG (ConvoMem's parser);
  anything else is re-asked once, then recorded as a judge error, never as a wrong answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from membench.core.identity import LLM_KEY
from membench.core.types import Episode, Prediction, Probe, Score
from membench.judges.base import Judge, ask_with_one_reminder, prompt_environment, templates_sha256
from membench.llm.types import LLM
from membench_tasks.convomem.judges import parse_verdict
from membench_tasks.locomo.keys import Keys, is_right, missing
from membench_tasks.locomo.official import ADVERSARIAL, OPEN_DOMAIN, official_score

PROMPTS_DIR = Path(__file__).parent / "prompts"
Style = Literal["strict", "generous"]
STYLES: tuple[Style, ...] = ("strict", "generous")
#: the prompt of each style for categories 1-4; adversarial questions use ADVERSARIAL_TEMPLATE in both.
TEMPLATES: dict[Style, str] = {"strict": "locomo-judge-strict-v1", "generous": "locomo-judge-generous-v1"}
ADVERSARIAL_TEMPLATE = "locomo-judge-adversarial-v1"
REMINDER = "locomo-judge-reminder-v1"
F1_JUDGE = "f1"


def official_f1(probe: Probe, prediction: Prediction) -> float:
    """The official score of a prediction (an empty answer scores as an empty string does)."""
    return official_score(prediction.answer or "", probe.gold["answer"], probe.gold["category"])


def verdict(judge: str, probe: Probe, prediction: Prediction, right: bool) -> Score:
    return Score(
        judge=judge,
        label="right" if right else "wrong",
        values={"f1": official_f1(probe, prediction), "correct": float(right)},
    )


class F1Judge(Judge):
    """The official LoCoMo scorer: token F1 by category, the not-available rule for adversarial items."""

    name = F1_JUDGE
    version = "v1"
    exact = True

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        return Score(judge=self.name, values={"f1": official_f1(probe, prediction)})


class RuleJudge(Judge):
    """Exact on built data: the answer against the item's ``require``/``abstain`` keys."""

    name = "rule"
    version = "v1"
    exact = True

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        keys = Keys.from_json(probe.gold["keys"])
        answer = prediction.answer or ""
        scored = verdict(self.name, probe, prediction, is_right(answer, keys))
        return scored.model_copy(
            update={"details": [{"missing": missing(answer, keys), "abstain_item": keys.abstain}]}
        )


class LLMJudge(Judge):
    """RIGHT or WRONG from a model, with the strict or the generous rubric (module docstring)."""

    def __init__(self, client: LLM, style: Style = "strict", max_tokens: int = 16) -> None:
        self.client = client
        self.style = style
        self.max_tokens = max_tokens
        prefix = "llm" if style == "strict" else f"llm-{style}"
        self.name = f"{prefix}:{client.identity()['model']}"
        env = prompt_environment(PROMPTS_DIR)
        self._names = (TEMPLATES[style], ADVERSARIAL_TEMPLATE, REMINDER)
        self._templates = {name: env.get_template(f"{name}.j2") for name in self._names}

    def identity(self) -> dict[str, Any]:
        return {
            "name": "llm",
            "style": self.style,
            "templates": list(self._names),
            "templates_sha256": templates_sha256(PROMPTS_DIR, self._names),
            "max_tokens": self.max_tokens,
            LLM_KEY: self.client.identity(),
        }

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        category = probe.gold["category"]
        name = ADVERSARIAL_TEMPLATE if category == ADVERSARIAL else TEMPLATES[self.style]
        prompt = self._templates[name].render(
            question=probe.question,
            gold=probe.gold["answer"],
            answer=prediction.answer or "",
            open_domain=category == OPEN_DOMAIN,
        )
        asked = await ask_with_one_reminder(
            self.client,
            prompt,
            parse_verdict,
            lambda problem: self._templates[REMINDER].render(problem=problem),
            max_tokens=self.max_tokens,
        )
        if asked.value is None:
            return Score(
                judge=self.name, status="error", explanation=asked.problem, usage={"judge": asked.usage}
            )
        scored = verdict(self.name, probe, prediction, asked.value)
        return scored.model_copy(update={"usage": {"judge": asked.usage}})
