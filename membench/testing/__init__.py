"""Test support shipped with membench: a loopback OpenAI-compatible server, a fake LLM that answers
membench's prompts as they ask, and toy run directories."""

from membench.testing.fake_llm import (
    FakeLLM,
    Fields,
    Prompt,
    RawReply,
    UnknownPrompt,
    grade_abstention,
    unscored_verdicts,
)

__all__ = [
    "FakeLLM",
    "Fields",
    "Prompt",
    "RawReply",
    "UnknownPrompt",
    "grade_abstention",
    "unscored_verdicts",
]
