"""The LLM reader: an LLM answers the probe's question from the retrieved memories, with our own prompt.

Every system is read by the same prompt and the same model, so differences in scores come from the
memories, not from the reading. The prompt is a versioned template in ``prompts/`` (``answer-v2.j2``
and the follow-up ``answer-v2.retry.j2``; v2 shows a probe's ``inputs``, such as WorM's test array or
options, which v1 left out); its version is part of the reader's identity, so runs
with different prompts never mix. Output handling is strict: an answer that is empty once the
optional ``Answer:`` label is removed gets one follow-up request, then an ``OutputParseError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2

from membench.core.errors import ConfigError, OutputParseError
from membench.core.identity import LLM_KEY
from membench.core.types import Memory, Probe, Usage
from membench.readers.base import Reader, ReaderAnswer

if TYPE_CHECKING:
    from membench.llm.types import LLM

DEFAULT_TEMPLATE = "answer-v2"
#: Enough for a short answer; a model that rambles past it is cut, not billed for an essay.
DEFAULT_MAX_TOKENS = 128

# "Answer:", "**Answer:**", "## Answer:" at the start of a line; the answer follows the last one.
_LABEL = re.compile(r"(?im)^[\s*_#>]*answer[\s*_]*:[\s*_]*")


@cache
def _templates(version: str) -> tuple[jinja2.Template, str]:
    """The prompt template of ``version`` and its follow-up message for an empty answer."""
    folder = resources.files("membench.readers") / "prompts"
    prompt, retry = folder / f"{version}.j2", folder / f"{version}.retry.j2"
    if not (prompt.is_file() and retry.is_file()):
        known = sorted(p.name.removesuffix(".j2") for p in folder.iterdir() if p.name.endswith(".j2"))
        known = [k for k in known if not k.endswith(".retry")]
        raise ConfigError(f"no reader prompt '{version}'; available: {', '.join(known)}")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(prompt.read_text("utf-8")), retry.read_text("utf-8").strip()


def parse_answer(text: str) -> str:
    """The answer in a reply: the text after the last ``Answer:`` label (if any), stripped of quotes."""
    labels = list(_LABEL.finditer(text))
    answer = text[labels[-1].end() :] if labels else text
    return answer.strip().strip("*_").strip().strip('"').strip()


def has_answer(text: str) -> bool:
    """Whether a reply holds an answer: only such replies are cached (a retry re-asks the others)."""
    return bool(parse_answer(text))


class LLMReader(Reader):
    """Answer from memories (best first) with an LLM client whose usage is reported as ``reader``."""

    name = "llm"

    def __init__(
        self, client: LLM, *, template: str = DEFAULT_TEMPLATE, max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> None:
        self.client = client
        self.template = template
        self.max_tokens = max_tokens
        self._prompt, self._retry_message = _templates(template)

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "template": self.template,
            "max_tokens": self.max_tokens,
            LLM_KEY: self.client.identity(),
        }

    def prompt(self, question: str, memories: list[Memory], inputs: Mapping[str, str] | None = None) -> str:
        """The prompt for ``question`` over ``memories``, with what the probe shows beside it (``inputs``)."""
        return self._prompt.render(question=question, memories=memories, inputs=inputs or {})

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        messages = [{"role": "user", "content": self.prompt(probe.question, memories, probe.inputs)}]
        usage = Usage()
        replies: list[str] = []
        for _ in range(2):
            response = await self.client.complete(
                messages, max_tokens=self.max_tokens, temperature=0.0, usable=has_answer
            )
            usage = usage.add(response.usage)
            answer = parse_answer(response.text)
            if answer:
                return ReaderAnswer(text=answer, usage={"reader": usage})
            replies.append(response.text)
            # A different follow-up request, not the same one again: the same request would be
            # answered from the response cache with the same empty reply.
            messages = [
                *messages,
                {"role": "assistant", "content": response.text},
                {"role": "user", "content": self._retry_message},
            ]
        raise OutputParseError(f"the reader's LLM gave no answer twice; replies: {replies!r}")
