"""The offline WorM reader: each variant solves its own questions from the retrieved memories.

It reads only the question, its inputs and the memories (never gold), and hands them to the variant's
``solve``, which is exact when the memories hold every frame: so a loss measures the memory, not a
model. Memories are passed in rank order with their place in the write stream when the system kept it
(the session id the loader gave each frame, ``loader.session_id``); a memory's role prefix
("user: ", as the full-context baseline writes turns) is dropped first, once, here.
"""

from __future__ import annotations

import re
from typing import Any

from membench.core.text import ROLE_PREFIX
from membench.core.types import Memory, Probe
from membench.readers.base import Reader, ReaderAnswer
from membench_tasks.worm import variant as api
from membench_tasks.worm.variants import all_variants

_SESSION = re.compile(r"^s(\d{3,})$")


def solver_memory(memory: Memory) -> api.Memory:
    """What a variant reads of one retrieved memory: its text without a role prefix, and its order."""
    match = _SESSION.match(memory.session_id or "")
    return api.Memory(
        text=ROLE_PREFIX.sub("", memory.text, count=1), order=int(match.group(1)) if match else None
    )


class SolveReader(Reader):
    """Answer with the probe's variant's offline solver."""

    name = "worm-solve"
    version = "v1"

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        variant = all_variants()[probe.labels["variant"]]
        text = variant.solve(probe.question, probe.inputs, [solver_memory(m) for m in memories])
        return ReaderAnswer(text=text)
