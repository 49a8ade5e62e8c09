"""``membench report``: leaderboard.md, leaderboard.html and one page per run, from finished runs.

``collect`` decides every number once (a typed ``Board`` per task and dataset); ``markdown`` and
``html`` only render it, and ``pages`` renders each run's probes. Nothing is written until everything
has rendered, and then the site is written into a fresh folder beside the output folder and swapped in
whole, so a report that fails or is killed at any point leaves the output folder as it was (or, killed
between the two renames of the swap, absent with nothing half-written). One report writes an output
folder at a time: a lock file beside it (``.<name>.lock``) refuses a second, naming its PID.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from membench.analysis.runs import find_run_dirs, latest_complete, load_run
from membench.core.errors import ConfigError
from membench.core.lock import exclusive
from membench.core.records import write_atomic
from membench.registry import Registry
from membench.reporting.collect import Board, Settings, collect

__all__ = ["Board", "Settings", "collect", "write_report"]


#: what a report folder holds; any other entry is the user's, and the swap would delete it.
SITE_ENTRIES = frozenset({"leaderboard.md", "leaderboard.html", "runs"})


def write_report(
    results_dir: Path, out_dir: Path, settings: Settings, plugins: tuple[str, ...] = ()
) -> tuple[list[Path], list[Board]]:
    """Render the report of the chosen complete runs under ``results_dir`` into ``out_dir``; returns
    the files written and the boards (which say which run each system came from)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file: the report needs a directory to write into")
    with exclusive(_beside(out_dir, "lock"), out_dir):
        _refuse_foreign_files(out_dir)
        boards, files = _render(results_dir, settings, plugins)
        _swap_in(out_dir, files)
    return [out_dir / name for name in files], boards


def _render(
    results_dir: Path, settings: Settings, plugins: tuple[str, ...]
) -> tuple[list[Board], dict[str, str]]:
    """The boards and every file of the site, by its path inside the output folder."""
    from membench.reporting.html import render_html
    from membench.reporting.markdown import render_markdown
    from membench.reporting.pages import render_run_page

    registry = Registry(list(plugins))
    runs = latest_complete([load_run(path, registry) for path in find_run_dirs(results_dir)])
    if not runs:
        raise ConfigError(f"{results_dir} holds no complete run: finish one with membench run first")
    boards = collect(runs, settings)
    files = {
        "leaderboard.md": render_markdown(boards, settings, len(runs)),
        "leaderboard.html": render_html(boards, settings, len(runs)),
    }
    for board in boards:
        for entry in board.entries:
            files[f"runs/{entry.run_name}.html"] = render_run_page(board, entry)
    return boards, files


def _beside(out_dir: Path, kind: str, tag: str = "") -> Path:
    """A hidden sibling of the output folder: its lock, or a swap's new or old folder."""
    out = out_dir.resolve()
    return out.with_name(f".{out.name}.{kind}{tag}")


def _refuse_foreign_files(out_dir: Path) -> None:
    """The swap replaces the whole folder: refuse one that holds anything a report did not write
    (``write_atomic``'s hidden ``.tmp`` files, from an older membench killed mid-write, are a report's)."""
    if not out_dir.is_dir():
        return
    for path in sorted(out_dir.rglob("*")):
        name = path.relative_to(out_dir)
        ours = (
            (len(name.parts) == 1 and name.name in SITE_ENTRIES)
            or (name.parts[0] == "runs" and path.suffix == ".html" and len(name.parts) == 2)
            or (name.name.startswith(".") and name.suffix == ".tmp")
        )
        if not ours:
            raise ConfigError(
                f"--out {out_dir} holds {name}, which is not part of a report; the report replaces "
                "the whole folder, so choose an empty folder or a previous report's"
            )


def _swap_in(out_dir: Path, files: dict[str, str]) -> None:
    """Write the site into a fresh sibling folder, then rename the old folder aside, the new one in,
    and delete the old; leftovers of a swap killed earlier are removed first (the lock is held)."""
    out = out_dir.resolve()
    for leftover in [*out.parent.glob(f".{out.name}.new-*"), *out.parent.glob(f".{out.name}.old-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    new, old = _beside(out, "new-", str(os.getpid())), _beside(out, "old-", str(os.getpid()))
    try:
        for name, text in files.items():
            write_atomic(new / name, text)
        if out.exists():
            out.rename(old)
        new.rename(out)
    finally:
        shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
