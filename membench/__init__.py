"""membench: one harness to compare long-term memory systems for LLM agents, with error bars.

The Python API is ``membench.api`` (``from membench import api; api.run(api.RunConfig(...))``): run,
score, compare, report and a run's records as a DataFrame. Import cost matters (``membench --help`` must
stay fast), so this module imports nothing: ``membench.api`` loads on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from membench.core.version import __version__ as __version__


def __getattr__(name: str) -> ModuleType:
    """``membench.api`` after a bare ``import membench``, imported only when it is first used."""
    if name == "api":
        return importlib.import_module("membench.api")
    raise AttributeError(f"module 'membench' has no attribute {name!r}")
