"""The openai SDK path's pure rules: which models take it, the name sent, and the price of a reply."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from membench.llm.openai_sdk import FREE, Price, serves, wire_name


def reply(prompt: int, completion: int, cached: int | None = None) -> SimpleNamespace:
    details = None if cached is None else SimpleNamespace(cached_tokens=cached)
    usage = SimpleNamespace(prompt_tokens=prompt, completion_tokens=completion, prompt_tokens_details=details)
    return SimpleNamespace(usage=usage)


def test_openai_models_take_the_sdk_under_their_own_name() -> None:
    assert serves("openai/gpt-4o-mini") and wire_name("openai/gpt-4o-mini") == "gpt-4o-mini"
    assert wire_name("openai/org/model-7b") == "org/model-7b"  # a vLLM model named by its repo
    assert not serves("anthropic/claude-3-5-sonnet-20241022") and not serves("gpt-4o-mini")


def test_a_reply_costs_its_prompt_cached_prompt_and_completion_tokens() -> None:
    price = Price(input=2e-6, output=8e-6, cached_input=0.5e-6)
    assert price.cost(reply(1000, 100)) == pytest.approx(1000 * 2e-6 + 100 * 8e-6)  # type: ignore[arg-type]
    cached = price.cost(reply(1000, 100, cached=800))  # type: ignore[arg-type]
    assert cached == pytest.approx(200 * 2e-6 + 800 * 0.5e-6 + 100 * 8e-6)
    assert FREE.cost(reply(1000, 100)) == 0.0  # type: ignore[arg-type]
    assert price.cost(SimpleNamespace(usage=None)) == 0.0  # type: ignore[arg-type]
