"""``--system-llm`` becomes the options of systems that call an LLM of their own, and only of those."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pytest

from membench.core.config import LLMSpec, RunConfig
from membench.core.errors import ConfigError
from membench.running.components import system_options
from membench.systems.base import MemorySystem
from membench.systems.baselines import NoMemorySystem
from membench.systems.mem0 import Mem0System


class WithLLM(NoMemorySystem):
    """A system for which an LLM also means a mode, as for mem0: it says so in ``llm_options``."""

    name = "with-llm"
    default_options: ClassVar[Mapping[str, str]] = {"mode": "offline", "llm": "", "api_base": ""}

    @classmethod
    def llm_options(cls, model: str, api_base: str | None) -> dict[str, str]:
        return {**super().llm_options(model, api_base), "mode": "llm"}


class PlainLLM(NoMemorySystem):
    """A system whose only LLM setting is the model: the default ``llm_options``."""

    name = "plain-llm"
    default_options: ClassVar[Mapping[str, str]] = {"mode": "fast", "llm": "", "api_base": ""}


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


def test_only_the_options_a_system_names_are_set() -> None:
    """A ``mode`` option is the system's business: the default spelling sets the model and base only."""
    assert options(PlainLLM, LLMSpec("openai/m")) == {"llm": "openai/m", "api_base": ""}


def test_mem0_reads_the_flag_as_llm_extraction() -> None:
    got = options(Mem0System, LLMSpec("openai/m", "http://127.0.0.1:8000/v1"))
    assert got == {"llm": "openai/m", "api_base": "http://127.0.0.1:8000/v1", "mode": "llm"}


def test_a_contradicting_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="-S mode=offline disagree"):
        options(Mem0System, LLMSpec("openai/m"), mode="offline")
