"""``membench report``: leaderboard.md, leaderboard.html and one page per run, from finished runs.

``collect`` decides every number once (a typed ``Board`` per task and dataset); ``markdown`` and
``html`` only render it, and ``pages`` renders each run's probes. Nothing is written until everything
has rendered, so a failing report leaves the output directory as it was.
"""

from __future__ import annotations

from pathlib import Path

from membench.analysis.runs import find_run_dirs, latest_complete, load_run
from membench.core.errors import ConfigError
from membench.core.records import write_atomic
from membench.registry import Registry
from membench.reporting.collect import Board, Settings, collect

__all__ = ["Board", "Settings", "collect", "write_report"]


def write_report(
    results_dir: Path, out_dir: Path, settings: Settings, plugins: tuple[str, ...] = ()
) -> tuple[list[Path], list[Board]]:
    """Render the report of the chosen complete runs under ``results_dir`` into ``out_dir``; returns
    the files written and the boards (which say which run each system came from)."""
    from membench.reporting.html import render_html
    from membench.reporting.markdown import render_markdown
    from membench.reporting.pages import render_run_page

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file: the report needs a directory to write into")
    registry = Registry(list(plugins))
    runs = latest_complete([load_run(path, registry) for path in find_run_dirs(results_dir)])
    if not runs:
        raise ConfigError(f"{results_dir} holds no complete run: finish one with membench run first")
    boards = collect(runs, settings)
    files = {
        out_dir / "leaderboard.md": render_markdown(boards, settings, len(runs)),
        out_dir / "leaderboard.html": render_html(boards, settings, len(runs)),
    }
    for board in boards:
        for entry in board.entries:
            files[out_dir / "runs" / f"{entry.run_name}.html"] = render_run_page(board, entry)
    for path, text in files.items():
        write_atomic(path, text)
    return list(files), boards
