"""Typed requests and responses of the LLM layer (kept apart so importing them stays cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from membench.core.types import Usage


@dataclass(frozen=True)
class LLMResponse:
    text: str
    usage: Usage
    cached: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
