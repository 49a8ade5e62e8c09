"""Typed requests and responses of the LLM layer (kept apart so importing them stays cheap)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from membench.core.types import Usage

#: A chat message as the OpenAI chat API spells it: ``role`` and ``content`` (a string, a list of content
#: parts, or None beside ``tool_calls``), plus ``tool_calls`` (assistant) or ``tool_call_id`` (tool).
Message = dict[str, Any]
#: One tool call of a reply, in OpenAI's shape:
#: ``{"id": ..., "type": "function", "function": {"name": ..., "arguments": "<JSON text>"}}``.
ToolCall = dict[str, Any]


@dataclass(frozen=True)
class LLMResponse:
    """A reply: its text, the tool calls it makes (a reply may make only calls, with empty text)."""

    text: str
    usage: Usage
    cached: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[ToolCall] = field(default_factory=list)


class LLM(Protocol):
    """What every LLM user (reader, judges, a system's own extraction) needs of a client: the one
    protocol of the LLM layer. ``membench.llm.client.LLMClient`` implements it; tests may pass a fake."""

    async def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
        usable: Callable[[str], bool] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> LLMResponse:
        """The reply; one that ``usable`` (the caller's parse) rejects is never cached or served from it.

        ``tools`` and ``tool_choice`` are OpenAI's (function definitions, and "auto", "none",
        "required" or one named function); the reply's ``tool_calls`` are the calls the model made.
        """
        ...

    def identity(self) -> dict[str, Any]:
        """What decides this client's outputs (model, generation parameters), for run identities."""
        ...
