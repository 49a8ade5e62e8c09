"""The LLM judge: HaluMem's four judgments asked of a model, with prompts written for membench.

HaluMem's own prompts are CC-BY-NC-ND, so the templates in ``prompts/`` are ours: same judgments and
scales (integrity 0/1/2 per gold point, accuracy 0/1/2 plus "included" per extracted memory, update
and QA labels), our wording. Results are "HaluMem-style", not the paper's judge. Each template's
file name is its version (``halumem-integrity-v1.j2``); versions and a hash of the template text are
part of ``identity()``, so editing a prompt can never silently reuse an old run's verdicts.

A verdict is one JSON object, bare or in one ```json fence; anything else, a missing key or a value
outside the allowed set is an ``OutputParseError``. The judge re-asks once (same messages, its bad
reply, and a short reminder), then records the element as failed (``g``/``a`` None with an error);
the probe's score is then ``Score(status="error")``, for an extraction probe with any failed element
too, so ``--retry-errors`` redoes it: a failure is never turned into a wrong verdict.
A client's ``LLMError`` (raised after the client's own retries) is recorded the same way.

Official shortcuts kept: an empty extraction scores every gold point g = 0 with no call, and an update
probe that retrieved nothing is not sent (metrics route it to integrity) but labelled omission.
Unlike the official scorer, integrity is asked for every gold point, update points included: which
bucket an update point lands in depends on its update probe, which this judge does not see.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError, OutputParseError
from membench.core.identity import LLM_KEY
from membench.core.types import Episode, Prediction, Probe, Score, Usage, UsageByRole
from membench.judges.base import ask_with_one_reminder, prompt_environment
from membench.llm.types import LLM
from membench_tasks.halumem.judge_base import (
    QA_LABELS,
    UPDATE_LABELS,
    HaluMemJudge,
    gold_points,
    memory_detail,
    point_detail,
    render_transcript,
    session_of,
    true_points,
    update_details,
)

PROMPTS_DIR = Path(__file__).parent / "prompts"
#: judgment -> template version (= file name without ".j2").
TEMPLATES: Mapping[str, str] = {
    "integrity": "halumem-integrity-v1",
    "accuracy": "halumem-accuracy-v1",
    "update": "halumem-update-v2",
    "qa": "halumem-qa-v1",
    "reminder": "halumem-reminder-v1",
}
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_TOKENS = 1024


# ---------------------------------------------------------------- strict verdict parsing

Check = Callable[[object], object]
_FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*)\n[ \t]*```", re.DOTALL)


def _reason(value: object) -> object:
    if not isinstance(value, str):
        raise OutputParseError("'reason' must be a string")
    return value


def _score(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1, 2):
        raise OutputParseError(f"'score' must be 0, 1 or 2, not {value!r}")
    return value


def _flag(value: object) -> object:
    if not isinstance(value, bool):
        raise OutputParseError(f"'included' must be true or false, not {value!r}")
    return value


def _one_of(labels: tuple[str, ...]) -> Check:
    def check(value: object) -> object:
        label = value.strip().lower() if isinstance(value, str) else None
        if label not in labels:
            raise OutputParseError(f"'label' must be one of {', '.join(labels)}, not {value!r}")
        return label

    return check


INTEGRITY: Mapping[str, Check] = {"reason": _reason, "score": _score}
ACCURACY: Mapping[str, Check] = {"reason": _reason, "score": _score, "included": _flag}
UPDATE: Mapping[str, Check] = {"reason": _reason, "label": _one_of(UPDATE_LABELS)}
QA: Mapping[str, Check] = {"reason": _reason, "label": _one_of(QA_LABELS)}


def parse_verdict(text: str, spec: Mapping[str, Check]) -> dict[str, Any]:
    """The verdict in ``text``: one JSON object, bare or fenced, holding every key of ``spec``."""
    body = text.strip()
    if body.startswith("```"):
        fenced = _FENCED.fullmatch(body)
        if fenced is None:
            raise OutputParseError("a ``` fence must hold the whole reply")
        body = fenced.group(1)
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"the reply is not one JSON object ({exc.msg})") from exc
    if not isinstance(value, dict):
        raise OutputParseError("the reply is JSON but not an object")
    missing = [key for key in spec if key not in value]
    if missing:
        raise OutputParseError(f"the reply lacks key(s) {', '.join(missing)}")
    return {key: check(value[key]) for key, check in spec.items()}


# ---------------------------------------------------------------- the judge


@dataclass(frozen=True)
class _Outcome:
    """One judgment: the parsed verdict, or why there is none; usage either way."""

    verdict: dict[str, Any] | None
    error: str | None
    usage: Usage


class LLMJudge(HaluMemJudge):
    name = "llm"
    exact = False
    version = "2"

    def __init__(
        self,
        client: LLM,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"the LLM judge needs a concurrency of at least 1, not {concurrency}")
        self._client = client
        self._concurrency = concurrency
        self._max_tokens = max_tokens
        env = prompt_environment(PROMPTS_DIR)
        self._templates = {
            judgment: env.get_template(f"{version}.j2") for judgment, version in TEMPLATES.items()
        }

    def identity(self) -> dict[str, Any]:
        digests = {
            version: hashlib.sha256((PROMPTS_DIR / f"{version}.j2").read_bytes()).hexdigest()[:16]
            for version in TEMPLATES.values()
        }
        return {
            **super().identity(),
            LLM_KEY: self._client.identity(),
            "templates": dict(TEMPLATES),
            "template_sha256": digests,
            "max_tokens": self._max_tokens,
            "temperature": 0.0,
        }

    async def score_extraction(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        points = gold_points(probe)
        memories = [memory.text for memory in prediction.memories]
        if not memories:
            details = [
                point_detail(point, 0, "nothing extracted: 0 without a judge call") for point in points
            ]
            return Score(
                judge=self.name, details=details, explanation="llm judge: nothing extracted, no call"
            )
        limit = asyncio.Semaphore(self._concurrency)
        transcript = render_transcript(session_of(probe, episode))
        truths = [point["content"] for point in true_points(probe)]
        outcomes = await asyncio.gather(
            *(
                _bounded(limit, self._ask("integrity", INTEGRITY, point=p["content"], memories=memories))
                for p in points
            ),
            *(
                _bounded(
                    limit,
                    self._ask("accuracy", ACCURACY, transcript=transcript, points=truths, memory=memory),
                )
                for memory in memories
            ),
        )
        details = []
        for point, outcome in zip(points, outcomes[: len(points)], strict=True):
            if outcome.verdict is None:
                details.append(point_detail(point, None, error=outcome.error))
            else:
                details.append(point_detail(point, outcome.verdict["score"], outcome.verdict["reason"]))
        for position, outcome in enumerate(outcomes[len(points) :]):
            if outcome.verdict is None:
                details.append(memory_detail(position, None, None, error=outcome.error))
            else:
                verdict = outcome.verdict
                details.append(
                    memory_detail(position, verdict["score"], verdict["included"], verdict["reason"])
                )
        failed = sum(outcome.verdict is None for outcome in outcomes)
        # A probe missing any verdict is an error, not a score: counted as errored, shown, and redone
        # by --retry-errors (the details keep every verdict made and say which failed).
        return Score(
            judge=self.name,
            status="error" if failed else "scored",
            details=details,
            explanation=f"llm judge: {len(outcomes)} judgments, {failed} failed",
            usage=_judge_usage(outcomes),
        )

    async def score_update(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        if not prediction.memories:
            explanation = "llm judge: nothing retrieved, no call (metrics score this point under integrity)"
            return Score(
                judge=self.name, label="omission", details=update_details(probe), explanation=explanation
            )
        point = probe.gold["point"]
        outcome = await self._ask(
            "update",
            UPDATE,
            original_memories=point["original_memories"],
            new_memory=point["content"],
            memories=[memory.text for memory in prediction.memories],
        )
        return self._labelled(outcome, update_details(probe))

    async def score_qa(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        outcome = await self._ask(
            "qa",
            QA,
            question=probe.question,
            reference=probe.gold["answer"],
            evidence=[item["memory_content"] for item in probe.gold.get("evidence", [])],
            answer=prediction.answer or "",
        )
        return self._labelled(outcome, [])

    def _labelled(self, outcome: _Outcome, details: list[dict[str, Any]]) -> Score:
        usage = _judge_usage([outcome])
        if outcome.verdict is None:
            return Score(
                judge=self.name, status="error", details=details, explanation=outcome.error, usage=usage
            )
        verdict = outcome.verdict
        return Score(
            judge=self.name,
            label=verdict["label"],
            details=details,
            explanation=verdict["reason"],
            usage=usage,
        )

    async def _ask(self, judgment: str, spec: Mapping[str, Check], **inputs: Any) -> _Outcome:
        """One judgment: a call, one re-ask if the reply cannot be parsed, never an exception for either."""
        asked = await ask_with_one_reminder(
            self._client,
            self._templates[judgment].render(**inputs),
            lambda text: parse_verdict(text, spec),
            lambda problem: self._templates["reminder"].render(problem=problem),
            max_tokens=self._max_tokens,
        )
        return _Outcome(asked.value, asked.problem, asked.usage)


async def _bounded(limit: asyncio.Semaphore, judgment: Awaitable[_Outcome]) -> _Outcome:
    """Run one judgment of a probe once ``limit`` allows, so a verbose system cannot flood the client."""
    async with limit:
        return await judgment


def _judge_usage(outcomes: list[_Outcome]) -> UsageByRole:
    total = Usage()
    for outcome in outcomes:
        total = total.add(outcome.usage)
    return {"judge": total} if total.calls else {}
