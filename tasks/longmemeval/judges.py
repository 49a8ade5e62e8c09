"""LongMemEval's two judges: the exact rule judge on built data and an LLM judge with the paper's rules.

Both return ``values = {"correct": 1.0 | 0.0}`` and the label ``right`` or ``wrong``, so the metrics
never care which judged. Which rule applies is decided in one place, ``rule_for``: an abstention
question (``question_id`` ending in ``_abs``) is judged by the abstention rule *whatever its
question_type*. Harnesses that pick the prompt by type alone judge those questions as answerable
(supermemory memorybench#82); upstream's ``evaluate_qa.py`` keys on the id, and so does membench.

- ``rule`` checks the answer against the question's ``membench_keys`` with ConvoMem's key rules
  (``convomem.keys``: every required phrase stated, as whole tokens; an abstention question right
  only when the answer declines). Only built data has keys, so the task refuses the rule judge on
  official data before any work (``LongMemEvalTask.check_judge``).
- ``llm`` asks a model yes or no with the paper's rule for each kind of question, in prompt templates
  of our own (``prompts/``): ``standard`` (single-session-user, single-session-assistant,
  multi-session: the answer, or the steps to it; part of it is not enough), ``temporal`` (the same,
  with a count of days, weeks or months off by one tolerated), ``update`` (the latest state; the old
  one mentioned beside it is fine), ``preference`` (the rubric: the user's information remembered and
  used, not every point needed), ``abstention`` (the question recognised as unanswerable).
  The reply must be the one word yes or no (case and a final full stop aside). Upstream counts any
  reply containing "yes" as yes, so "no, not yes" would pass; here anything else is re-asked once with
  a reminder, then the probe is a judge error: counted and shown, never scored wrong.
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
#: the rule (and prompt template) of each question type; abstention questions take ABSTENTION.
RULES: dict[str, str] = {
    "single-session-user": "standard",
    "single-session-assistant": "standard",
    "multi-session": "standard",
    "temporal-reasoning": "temporal",
    "knowledge-update": "update",
    "single-session-preference": "preference",
}
ABSTENTION = "abstention"
TEMPLATES: dict[str, str] = {
    rule: f"lme-judge-{rule}-v1" for rule in ("standard", "temporal", "update", "preference", ABSTENTION)
}
REMINDER = "lme-judge-reminder-v1"


def rule_for(probe: Probe) -> str:
    """The rule a question is judged by: abstention for an ``_abs`` question, else its type's."""
    if probe.gold["abstention"]:
        return ABSTENTION
    return RULES[probe.gold["question_type"]]


def verdict(judge: str, right: bool, details: list[dict[str, Any]] | None = None) -> Score:
    return Score(
        judge=judge,
        label="right" if right else "wrong",
        values={"correct": float(right)},
        details=details or [],
    )


class RuleJudge(Judge):
    """Exact on built data: the answer against the question's keys; abstention read from the id."""

    name = "rule"
    version = "v1"
    exact = True

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        stated = probe.gold["keys"]
        keys = Keys(tuple(stated["require"]), tuple(stated["forbid"]), abstain=probe.gold["abstention"])
        answer = prediction.answer or ""
        missing, forbidden = missing_and_forbidden(answer, keys)
        details = [{"rule": rule_for(probe), "missing": missing, "forbidden_stated": forbidden}]
        return verdict(self.name, is_right(answer, keys), details)


class LLMJudge(Judge):
    """The paper's per-type rules asked of an LLM; yes/no parsed strictly."""

    def __init__(self, client: LLM, max_tokens: int = 10) -> None:
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

    def prompt(self, probe: Probe, answer: str) -> str:
        """The judge prompt for ``answer`` to ``probe``, by the question's rule (``rule_for``)."""
        template = self._templates[TEMPLATES[rule_for(probe)]]
        return template.render(question=probe.question, gold=probe.gold["answer"], answer=answer)

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        asked = await ask_with_one_reminder(
            self.client,
            self.prompt(probe, prediction.answer or ""),
            parse_verdict,
            lambda problem: self._templates[REMINDER].render(problem=problem),
            max_tokens=self.max_tokens,
        )
        if asked.value is None:
            return Score(
                judge=self.name, status="error", explanation=asked.problem, usage={"judge": asked.usage}
            )
        details = [{"rule": rule_for(probe)}]
        return verdict(self.name, asked.value, details).model_copy(update={"usage": {"judge": asked.usage}})


def parse_verdict(text: str) -> bool:
    """True for yes, False for no; OutputParseError for anything else (a reply with both words, or an
    explanation around the word, is not a verdict to trust)."""
    words = tokens(text)
    if words == ["yes"]:
        return True
    if words == ["no"]:
        return False
    shown = text.strip()[:60]
    raise OutputParseError(f'the reply must be the one word yes or no, got "{shown}"')
