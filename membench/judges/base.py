"""The Judge seam: one verdict per prediction. Judges are task-specific in what they read from ``Probe.gold``.

One way to build a judge, whoever ships it (``membench.running.components.build_judge`` is the only caller):

- a task's own judges are named in ``Task.judge_names`` and built by ``Task.make_judge(name, llm)``;
- any other judge (``--plugin file.py:MyJudge``, or an entry point in the ``membench.judges`` group) is
  a ``Judge`` subclass with a ``name``, built as ``MyJudge(llm)``.

In both, ``llm`` is the judge's LLM client (``--judge-llm MODEL``; any ``membench.llm.types.LLM``) or
None when no judge model was given; a judge that needs one raises ConfigError without it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from membench.core.errors import LLMError, OutputParseError
from membench.core.types import Episode, Prediction, Probe, Score, Usage

if TYPE_CHECKING:
    from jinja2 import Environment

    from membench.llm.types import LLM


class Judge(ABC):
    #: short name used in records and reports: "rule", "lexical", "llm:<model>".
    name: str
    #: True when the verdicts are exact (rule judge on machine-checkable keys); False when approximate.
    exact: bool = False

    def __init__(self, llm: LLM | None = None) -> None:  # noqa: B027 (a constructor, not a hook)
        """How every judge can be built (see the module docstring). An offline judge ignores ``llm``;
        one that calls a model overrides this and keeps its client."""

    def identity(self) -> dict[str, Any]:
        return {"name": self.name}

    @abstractmethod
    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        """Judge one prediction. Return ``Score(status="error")`` (or raise) when no verdict is possible."""


T = TypeVar("T")

#: how ``ask_with_one_reminder`` words a judgment it could not make (a ``Score``'s explanation, or a
#: detail's ``"error"`` for a judge of several judgments per probe), by the failure kind each is:
#: a call that failed for good is an ``LLMError`` as the reader's would be; a model that ignores the
#: format twice is a kind of its own. ``running.failures`` reads the kind back (``problem_kind``).
CALL_FAILED = "judge call failed: "
UNUSABLE_REPLY = "unusable judge reply after one re-ask: "
PROBLEM_KINDS = {CALL_FAILED: "LLMError", UNUSABLE_REPLY: "unusable reply"}


def prompt_environment(folder: Path) -> Environment:
    """The templates of a judge's prompts in ``folder``: an undefined variable is an error (a prompt
    never goes out with a hole in it), and block tags leave no blank lines behind."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )


def templates_sha256(folder: Path, names: Sequence[str]) -> str:
    """A short digest of the prompt templates ``names`` (in that order) in ``folder``: part of an LLM
    judge's identity, so an edited prompt is a different judge and its runs are never paired."""
    text = "".join((folder / f"{name}.j2").read_text("utf-8") for name in names)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Asked(Generic[T]):
    """One judgment asked of an LLM: the parsed ``value``, or the ``problem`` why there is none; the
    ``usage`` of every call it took (one, or two with the re-ask)."""

    value: T | None
    problem: str | None
    usage: Usage


async def ask_with_one_reminder(
    client: LLM,
    prompt: str,
    parse: Callable[[str], T],
    reminder: Callable[[str], str],
    *,
    max_tokens: int,
) -> Asked[T]:
    """Ask ``prompt``; when ``parse`` cannot use the reply (``OutputParseError``), ask once more with
    the reply and ``reminder(problem)``. A failed call or a second unusable reply is a ``problem``,
    never an exception and never a verdict: the caller records it as a judge error, with the problem
    as its explanation (or a detail's ``"error"``), which names its failure kind (``problem_kind``):
    the runner counts it toward the streak that stops a run, and the error summary shows it.

    Replies ``parse`` cannot use are never cached (``usable``), so a re-run asks again. Usage counts one
    call per request here, whatever the client reports, so a cached reply still counts as a call.
    """
    from membench.llm.cache import parsed_by

    usage = Usage()

    async def call(messages: list[dict[str, str]]) -> str:
        nonlocal usage
        reply = await client.complete(
            messages, max_tokens=max_tokens, temperature=0.0, usable=parsed_by(parse)
        )
        counted = reply.usage.model_copy(update={"calls": 1, "cached_calls": int(reply.cached)})
        usage = usage.add(counted)
        return reply.text

    first = [{"role": "user", "content": prompt}]
    try:
        text = await call(first)
        try:
            return Asked(parse(text), None, usage)
        except OutputParseError as problem:
            retry = [
                *first,
                {"role": "assistant", "content": text},
                {"role": "user", "content": reminder(str(problem))},
            ]
            text = await call(retry)
        try:
            return Asked(parse(text), None, usage)
        except OutputParseError as again:
            return Asked(None, f"{UNUSABLE_REPLY}{again}", usage)
    except LLMError as exc:
        return Asked(None, f"{CALL_FAILED}{exc}", usage)


def problem_kind(text: str) -> str | None:
    """The failure kind of a problem ``ask_with_one_reminder`` worded (``PROBLEM_KINDS``), or None
    for any other text (a judge's own explanation)."""
    for prefix, kind in PROBLEM_KINDS.items():
        if text.startswith(prefix):
            return kind
    return None
