"""The seeded builder of WorM trials in the official schema (``<root>/<folder>/data_rand_trials.json``).

The original generator is unseeded, so its trial sets cannot be reproduced; this one is: every
trial's generator is seeded by (seed, variant, cell, replicate), so the same options give the same
bytes, and adding a variant or a cell changes no other trial. Each condition cell of each variant's
grid gets ``per_cell`` trials; a binary variant's trials alternate positive and negative, so with an
even ``per_cell`` every cell is half positive, and an odd one's last trial per cell is a seeded coin
flip (alternating across cells instead would tie the answer to a factor: with one trial per cell,
every change-detection trial at retention 0 would be a change).
Trials go in the ``test`` split, the one membench evaluates; ``train`` and ``gen_test`` stay empty.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the variants are the task's: the task hands them to this driver
    from membench_tasks.worm.variant import Variant

BUILDER_VERSION = "1"
TRIALS_FILE = "data_rand_trials.json"


def build_worm(root: Path, variants: Sequence[Variant], *, per_cell: int, seed: int) -> Path:
    """Write every variant's trials under ``root`` (replaced whole, atomically); returns ``root``."""
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}."))
    try:
        for variant in variants:
            trials = []
            for cell_index, cell in enumerate(variant.cells()):
                for replicate in range(per_cell):
                    rng = random.Random(f"{seed}:{variant.name}:{cell_index}:{replicate}")
                    trials.append(variant.generate(cell, _positive(replicate, per_cell, rng), rng))
            folder = staging / variant.folder
            folder.mkdir(parents=True, exist_ok=True)
            document = {"train": [], "test": trials, "gen_test": []}
            (folder / TRIALS_FILE).write_text(json.dumps(document, ensure_ascii=False) + "\n", "utf-8")
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _positive(replicate: int, per_cell: int, rng: random.Random) -> bool:
    """Whether a binary trial is positive: alternating within the cell, the odd one out a coin flip."""
    if replicate < per_cell - per_cell % 2:
        return replicate % 2 == 0
    return rng.random() < 0.5
