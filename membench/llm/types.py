"""Typed requests and responses of the LLM layer (kept apart so importing them stays cheap)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from membench.core.types import Usage


@dataclass(frozen=True)
class LLMResponse:
    text: str
    usage: Usage
    cached: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


class LLM(Protocol):
    """What every LLM user (reader, judges, a system's own extraction) needs of a client: the one
    protocol of the LLM layer. ``membench.llm.client.LLMClient`` implements it; tests may pass a fake."""

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
        usable: Callable[[str], bool] | None = None,
    ) -> LLMResponse:
        """The reply; one that ``usable`` (the caller's parse) rejects is never cached or served from it."""
        ...

    def identity(self) -> dict[str, Any]:
        """What decides this client's outputs (model, generation parameters), for run identities."""
        ...
