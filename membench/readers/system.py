"""The ``system`` reader: the memory system answers by itself (``--reader system``).

Some memory systems are more than a store: a hosted memory with its own chat endpoint, or an agent
that reasons over what it kept, is meant to be asked the question and to answer it. Evaluating such a
system only through the shared reader measures its retrieval and ignores its answering, so with this
reader every answer probe is answered by the system's own ``MemorySystem.answer``.

The runner still retrieves first (the task's query and k), so records keep the memories behind each
answer, then binds this reader to the episode worker's system instance (``bound_to``), which holds that
episode's memory. A system must declare ``Capabilities(answers=True)``; any other is refused before the
run starts. This reader's identity differs from every other reader's, so ``compare`` and ``report``
never pair its runs with runs answered by the shared reader (``--allow-different reader`` does it on
purpose, as an ablation of the shared reader against the system's own).
"""

from __future__ import annotations

from typing import Any

from membench.core.errors import ConfigError
from membench.core.types import Memory, Probe
from membench.readers.base import Reader, ReaderAnswer
from membench.systems.base import Capabilities, MemorySystem


class SystemReader(Reader):
    """Answers with ``system.answer(question, k)``; the system's LLM usage is counted as the system's."""

    name = "system"
    version = "v1"

    def __init__(self, system: MemorySystem | None = None) -> None:
        self.system = system

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    def check_system(self, system_name: str, capabilities: Capabilities) -> None:
        """Refuse a system that does not declare it answers: it would fail on every answer probe."""
        if not capabilities.answers:
            raise ConfigError(
                f"system '{system_name}' does not answer questions itself (it declares no "
                "Capabilities(answers=True)); --reader system needs one that does, "
                "or leave --reader out to use the task's shared reader"
            )

    def bound_to(self, system: MemorySystem) -> SystemReader:
        """This reader answering through ``system`` (one per episode worker: each holds its memory)."""
        return SystemReader(system)

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        if self.system is None:
            raise ConfigError("the system reader answers through a system: bind one with bound_to(system)")
        text = await self.system.answer(probe.question, probe.top_k)
        return ReaderAnswer(text=text, usage=self.system.take_usage())
