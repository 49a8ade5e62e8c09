"""ConvoMem's two judges: the exact rule judge on built data and an LLM judge with the paper's rules.

Both return ``values = {"correct": 1.0 | 0.0}`` and the label ``right`` or ``wrong``, so the metrics
never care which judged.

- ``rule`` checks the answer against the item's machine-checkable keys (``keys.py``). Only built data
  carries keys, so the task refuses it on official data before any work (``ConvoMemTask.check_judge``).
- ``llm`` asks a model for RIGHT or WRONG with a prompt per category, in templates of our own
  (``prompts/``) that follow the paper's rules: fact categories are shown the evidence messages and
  need the core facts (most of them when several messages combine); changing facts need the current
  state, with equivalent time expressions right and off-by-one day counts wrong; abstention is right
  for any "I don't know" or request for clarification; rubric categories (preferences, implicit
  connections) need every criterion. The reply must be the single word RIGHT or WRONG (case and a
  final full stop aside). Anything else is re-asked once with a reminder, then the probe is a judge
  error: never dropped (the original runner drops such items) and never scored wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from membench.core.errors import OutputParseError
from membench.core.identity import LLM_KEY
from membench.core.text import tokens
from membench.core.types import Episode, Prediction, Probe, Score
from membench.judges.base import Judge, ask_with_one_reminder, prompt_environment, templates_sha256
from membench.llm.types import LLM
from membench_tasks.convomem.keys import Keys, is_right, missing_and_forbidden

PROMPTS_DIR = Path(__file__).parent / "prompts"
#: the judge prompt of each category label.
TEMPLATES = {
    "user_facts": "convomem-judge-fact-v1",
    "assistant_facts": "convomem-judge-fact-v1",
    "changing_facts": "convomem-judge-changing-v1",
    "abstention": "convomem-judge-abstention-v1",
    "preferences": "convomem-judge-rubric-v1",
    "implicit_connections": "convomem-judge-rubric-v1",
}
REMINDER = "convomem-judge-reminder-v1"


def verdict(judge: str, right: bool, details: list[dict[str, Any]] | None = None) -> Score:
    return Score(
        judge=judge,
        label="right" if right else "wrong",
        values={"correct": float(right)},
        details=details or [],
    )


class RuleJudge(Judge):
    """Exact on built data: the answer against the item's ``require``/``forbid``/``abstain`` keys."""

    name = "rule"
    version = "v1"
    exact = True

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        keys = Keys.from_json(probe.gold["keys"])
        answer = prediction.answer or ""
        missing, stated = missing_and_forbidden(answer, keys)
        details = [{"missing": missing, "forbidden_stated": stated, "abstain_item": keys.abstain}]
        return verdict(self.name, is_right(answer, keys), details)


class LLMJudge(Judge):
    """The paper's per-category rules asked of an LLM; RIGHT/WRONG parsed strictly."""

    def __init__(self, client: LLM, max_tokens: int = 16) -> None:
        self.client = client
        self.max_tokens = max_tokens
        self.name = f"llm:{client.identity()['model']}"
        env = prompt_environment(PROMPTS_DIR)
        self._templates = {name: env.get_template(f"{name}.j2") for name in {*TEMPLATES.values(), REMINDER}}

    def identity(self) -> dict[str, Any]:
        names = sorted({*TEMPLATES.values(), REMINDER})
        return {
            "name": "llm",
            "templates": names,
            "templates_sha256": templates_sha256(PROMPTS_DIR, names),
            "max_tokens": self.max_tokens,
            LLM_KEY: self.client.identity(),
        }

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        template = self._templates[TEMPLATES[probe.gold["category"]]]
        prompt = template.render(
            question=probe.question,
            gold=probe.gold["answer"],
            evidence=probe.gold.get("message_evidences", []),
            answer=prediction.answer or "",
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
        return verdict(self.name, asked.value).model_copy(update={"usage": {"judge": asked.usage}})


def parse_verdict(text: str) -> bool:
    """True for RIGHT, False for WRONG; OutputParseError for anything else (a reply holding both
    words, or an explanation around the word, is not a verdict we can trust)."""
    words = tokens(text)
    if words == ["right"]:
        return True
    if words == ["wrong"]:
        return False
    shown = text.strip()[:60]
    raise OutputParseError(f'the reply must be the one word RIGHT or WRONG, got "{shown}"')
