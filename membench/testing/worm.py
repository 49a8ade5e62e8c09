"""A WorM trial's sessions as the memories a solver reads, for the solvers' exactness tests.

Each WorM variant's test asserts that its solver answers every question exactly when it is handed
every session of the trial, in whatever rank order retrieval returns them, and both when the memory
system keeps the write order and when it does not. One builder serves all those tests, so none of them
can drift from the stream the loader writes (each frame, then its retention blanks).
"""

from __future__ import annotations

import random

from membench_tasks.worm.loader import session_texts
from membench_tasks.worm.variant import Encoded, Memory


def trial_memories(encoded: Encoded, rng: random.Random, *, order: bool = True) -> list[Memory]:
    """Every session the loader writes for ``encoded`` as a memory, shuffled by ``rng``: each carries its
    session index as its order when ``order`` is set (a system that kept the write order), else None."""
    texts = session_texts(encoded)
    memories = [Memory(text, index if order else None) for index, text in enumerate(texts)]
    rng.shuffle(memories)
    return memories
