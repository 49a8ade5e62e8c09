"""``--system-llm`` becomes the options of systems that call an LLM of their own, and only of those."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pytest

from membench.core.config import LLMSpec, RunConfig
from membench.core.errors import ConfigError
from membench.run.components import system_options
from membench.systems.base import MemorySystem
from membench.systems.baselines import NoMemorySystem


class WithLLM(NoMemorySystem):
    name = "with-llm"
    default_options: ClassVar[Mapping[str, str]] = {"mode": "offline", "llm": "", "api_base": ""}


def options(system: type[MemorySystem], spec: LLMSpec | None, **given: str) -> dict[str, str]:
    return system_options(
        RunConfig(task="t", system=system.name, system_options=given, system_llm=spec), system
    )


def test_the_model_base_and_mode_are_set() -> None:
    got = options(WithLLM, LLMSpec("openai/m", "http://127.0.0.1:8000/v1"))
    assert got == {"llm": "openai/m", "api_base": "http://127.0.0.1:8000/v1", "mode": "llm"}


def test_without_the_flag_options_are_untouched() -> None:
    assert options(WithLLM, None, mode="offline") == {"mode": "offline"}


def test_a_system_without_an_llm_refuses_the_flag() -> None:
    with pytest.raises(ConfigError, match="calls no LLM of its own"):
        options(NoMemorySystem, LLMSpec("openai/m"))


def test_a_contradicting_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="disagree"):
        options(WithLLM, LLMSpec("openai/m"), llm="openai/other")
