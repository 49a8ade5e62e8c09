"""Importing a plugin object named as ``package.module:attribute`` or ``path/to/file.py:attribute``.

The registry loads plugins this way, and so does a worker process, which builds the adapter it serves
from the same kind of name: one rule for both, kept low so that either may use it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError


def import_object(spec: str) -> Any:
    """Import ``package.module:attribute`` (or a file path ``path/to/file.py:attribute``)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not attribute:
        raise ConfigError(f"plugin '{spec}' must look like 'module:object' or 'path/file.py:object'")
    try:
        if module_name.endswith(".py"):
            module = _import_file(Path(module_name))
        else:
            module = importlib.import_module(module_name)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"cannot import '{module_name}' for '{spec}': {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"module '{module_name}' has no attribute '{attribute}'") from exc


def _import_file(path: Path) -> Any:
    if not path.exists():
        raise ConfigError(f"plugin file not found: {path}")
    name = f"membench_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
