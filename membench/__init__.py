"""membench: one harness to compare long-term memory systems for LLM agents, with error bars.

The Python API: ``membench.run(membench.RunConfig(...))``, ``membench.sweep(membench.SweepConfig(...))``
(every task × system), ``membench.score``, ``membench.compare``, ``membench.report``,
``membench.load_records`` (a run's records as a pandas DataFrame) and
``membench.load_runs`` (runs' probes and summaries as DataFrames), defined in ``membench.api``.
Import cost matters (``membench --help`` must stay fast), so this module imports nothing heavy: each
name loads ``membench.api`` on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from membench.core.version import __version__ as __version__

#: the names ``membench`` exports from ``membench.api``, loaded on first use.
PUBLIC = (
    "run",
    "score",
    "compare",
    "sweep",
    "report",
    "load_records",
    "load_runs",
    "Runs",
    "RunConfig",
    "SweepConfig",
    "RescoreConfig",
    "LLMSpec",
)
__all__ = ["__version__", *PUBLIC]


def __getattr__(name: str) -> Any:
    """``membench.run`` and the other entry points, imported from ``membench.api`` when first used."""
    if name in PUBLIC or name == "api":
        api = importlib.import_module("membench.api")
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module 'membench' has no attribute {name!r}")
