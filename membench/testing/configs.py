"""Small ``RunConfig``s for tests: one task on tiny built data, everything under a test's own folder.

The built-in tasks' tiny options live here, once, so every end-to-end test of a task runs the same
small data set and a change to a task's options is made in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from membench.core.config import RunConfig

#: per built-in task, options that build data small enough for a test yet with every probe kind.
TINY_TASK_OPTIONS: Mapping[str, Mapping[str, str]] = {
    "halumem": {"users": "2", "sessions": "3", "turns": "6"},
    # 250-word excerpts, both segment lengths, 4 excerpts each: 8 episodes, 32 pairs.
    "sort": {"excerpt_lengths": "250", "n": "4"},
    "episodic": {"books": "8x2,12x1"},
    # one trial per cell of five variants (a set, yes/no, A/B, steps and boxes): 92 trials.
    "worm": {"variants": "sfr,cd-color,vsr,vsrec,smu", "per_cell": "1"},
    # 2 personas with 30 filler conversations; 11 items (one per category and evidence count 1-2) at
    # four sizes: 1 and 3 standard, 10 and 30 batched.
    "convomem": {"personas": "2", "filler": "30", "sizes": "1,3,10,30", "per_cell": "1", "batch_from": "10"},
    # 2 conversations of 3 sessions x 8 turns, one decoy turn per item, k = 5.
    "locomo": {"conversations": "2", "sessions": "3", "turns": "8", "decoys": "1", "top_k": "5"},
    # one question per type plus two _abs (single-session-user, multi-session), 4 sessions each: 8 episodes.
    "longmemeval": {"per_type": "1", "abstention": "2", "sessions": "4", "pool": "8"},
}


def tiny_run_config(root: Path, task: str, system: str, **overrides: Any) -> RunConfig:
    """``task`` × ``system`` on the task's tiny options (a plugin task keeps its defaults), with results,
    data and the LLM cache under ``root`` and no display; ``overrides`` set any other field."""
    settings: dict[str, Any] = {
        "task": task,
        "system": system,
        "task_options": dict(TINY_TASK_OPTIONS.get(task, {})),
        "results_dir": root / "results",
        "data_dir": root / "data",
        "cache_path": root / "cache.sqlite",
        "display": "none",
    }
    settings.update(overrides)
    return RunConfig(**settings)
