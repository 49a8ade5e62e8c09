"""The layer order, enforced from the imports: no module imports a higher layer at runtime.

Each module of membench, membench_tasks (the tasks/ folder) and membench_builders (data_builders/) is
parsed, never imported, and every import it makes at runtime is collected: at module level and inside
functions alike, but not under ``if TYPE_CHECKING:``, whose imports exist only for the type checker.
A module's layer comes from its dotted name; an import may reach its own layer or a lower one.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Lowest first: (level, layer, packages it holds with all their submodules, single modules it holds).
#: Layers on one line of the design share a level and may import one another.
LAYERS: tuple[tuple[int, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (0, "core", ("membench.core",), ()),
    (1, "llm", ("membench.llm",), ()),
    (1, "stats", ("membench.stats",), ()),
    (2, "judges", ("membench.judges",), ()),
    (2, "readers", ("membench.readers",), ()),
    (2, "systems", ("membench.systems",), ()),
    (2, "membench_builders", ("membench_builders",), ()),
    (3, "membench_tasks", ("membench_tasks",), ()),
    (4, "registry", (), ("membench.registry",)),
    (5, "running", ("membench.running",), ()),
    (6, "analysis", ("membench.analysis",), ()),
    (7, "reporting", ("membench.reporting",), ()),
    # membench.testing is the tests' toolkit: it may use anything below the command line.
    (8, "testing", ("membench.testing",), ()),
    (8, "api", (), ("membench", "membench.api")),
    (9, "cli", ("membench.cli",), ("membench.__main__",)),
)
#: the packages checked: installed name -> the folder it is installed from (the editable install's map).
PACKAGES = ("membench", "membench_tasks", "membench_builders")


@dataclass(frozen=True)
class Layer:
    level: int
    name: str


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    source: Layer
    target: Layer
    imported: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.source.name} -> {self.target.name} "
            f"(imports {self.imported}; level {self.source.level} -> {self.target.level})"
        )


def layer_of(module: str) -> Layer | None:
    """The layer of a dotted module name (None: not one of ours, or in no layer)."""
    for level, name, packages, singles in LAYERS:
        if module in singles or any(module == p or module.startswith(p + ".") for p in packages):
            return Layer(level, name)
    return None


def package_folders() -> dict[str, Path]:
    """Where each checked package's files are, as the installed package says (folder names differ)."""
    folders = {}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
        folders[package] = Path(next(iter(spec.submodule_search_locations)))
    return folders


def modules(folders: Mapping[str, Path]) -> Iterator[tuple[str, Path]]:
    """(dotted name, file) of every module under the packages' folders."""
    for package, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name ``from <node.module> import ...`` refers to, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def runtime_imports(
    tree: ast.Module, module: str, is_package: bool, known: set[str]
) -> Iterator[tuple[int, str]]:
    """(line, imported module) of each import run at runtime; ``from a import b`` names ``a.b`` when
    ``a.b`` is a module, else ``a``."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)  # the else branch does run
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in known else base
        pending.extend(ast.iter_child_nodes(node))


def violations(folders: Mapping[str, Path]) -> tuple[list[Violation], list[str]]:
    """Imports that reach a higher layer, and modules that belong to no layer."""
    found = dict(modules(folders))
    known = set(found)
    bad: list[Violation] = []
    unplaced: list[str] = []
    for module, path in found.items():
        source = layer_of(module)
        if source is None:
            unplaced.append(f"{path}: {module} is in no layer; add it to LAYERS")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for line, imported in runtime_imports(tree, module, is_package, known):
            target = layer_of(imported)
            if target is not None and target.level > source.level:
                bad.append(Violation(path, line, source, target, imported))
    return sorted(bad, key=lambda v: (str(v.path), v.line)), unplaced


def test_no_module_imports_a_higher_layer() -> None:
    bad, unplaced = violations(package_folders())
    assert not unplaced, "\n".join(unplaced)
    assert not bad, f"{len(bad)} imports reach a higher layer:\n" + "\n".join(map(str, bad))


def test_the_check_catches_an_upward_import_and_ignores_type_checking_ones(tmp_path: Path) -> None:
    files = {
        "membench/__init__.py": "",
        "membench/core/__init__.py": "",
        "membench/core/fine.py": "import json\nfrom membench.core import other\n",
        "membench/core/other.py": "",
        "membench/core/bad.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from membench.running.runner import Runner\n"  # for the type checker only: allowed
            "else:\n"
            "    from membench import reporting\n"  # runs: an upward import
            "def late():\n"
            "    from ..cli import main\n"  # inside a function, relative: still runs
            "    return main\n"
        ),
        "membench/reporting/__init__.py": "",
        "membench/cli/__init__.py": "",
        "membench/cli/main.py": "from membench.reporting import html\n",  # downward: allowed
        "membench/running/__init__.py": "",
        "membench/running/runner.py": "",
        "membench/mystery.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    bad, unplaced = violations({"membench": tmp_path / "membench"})
    assert [(v.path.name, v.line, v.source.name, v.target.name, v.imported) for v in bad] == [
        ("bad.py", 5, "core", "reporting", "membench.reporting"),
        ("bad.py", 7, "core", "cli", "membench.cli.main"),
    ]
    assert str(bad[0]).startswith(f"{tmp_path / 'membench/core/bad.py'}:5: core -> reporting")
    assert unplaced == [
        f"{tmp_path / 'membench/mystery.py'}: membench.mystery is in no layer; add it to LAYERS"
    ]


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("membench", "api"),
        ("membench.api", "api"),
        ("membench.__main__", "cli"),
        ("membench.cli.main", "cli"),
        ("membench.core.types", "core"),
        ("membench_tasks.halumem.task", "membench_tasks"),
        ("membench_builders.sort", "membench_builders"),
        ("membench.registry", "registry"),
        ("membench.mystery", None),
        ("membench.testing.fake_llm", "testing"),
        ("json", None),
    ],
)
def test_modules_map_to_their_layer_by_name(module: str, layer: str | None) -> None:
    found = layer_of(module)
    assert (found.name if found else None) == layer
