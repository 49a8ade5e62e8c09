"""``membench report``: leaderboard.md, leaderboard.html and a page per run, from a results directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from membench.cli.options import non_negative_int


def add_parser(sub: Any) -> None:
    report = sub.add_parser("report", help="write leaderboard.md, leaderboard.html and a page per run")
    report.add_argument(
        "results_dir",
        nargs="?",
        type=Path,
        default=Path("results"),
        metavar="RESULTS_DIR",
        help="the results directory whose runs are reported (default: results)",
    )
    report.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="directory to write the report into"
    )
    report.add_argument("--baseline", help="system name or run label deltas are taken against")
    report.add_argument("--data-dir", type=Path, default=Path("data"), help="where datasets are kept")
    report.add_argument(
        "--n-boot",
        type=non_negative_int,
        metavar="N",
        default=2000,
        help="cluster-bootstrap resamples (default: 2000; 0: no interval)",
    )
    report.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="N", help="seed of the bootstrap (default: 0)"
    )
    report.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE:OBJECT", help="load a task (repeatable)"
    )


def cmd_report(args: argparse.Namespace) -> int:
    from membench.api import report

    written = report(
        args.results_dir,
        args.out,
        baseline=args.baseline,
        data_dir=args.data_dir,
        n_boot=args.n_boot,
        seed=args.seed,
        plugins=args.plugin,
    )
    for board in written.boards:
        reader, judge = board.roles
        print(f"board {board.key} (reader {reader}, judge {judge}):")
        for entry in board.entries:
            print(f"  {entry.label}: {entry.run.run_dir}")
        for note in board.notes:
            print(f"  {note}")
    print(f"wrote {len(written.files)} file(s) to {args.out}: leaderboard.md, leaderboard.html, runs/")
    return 0
