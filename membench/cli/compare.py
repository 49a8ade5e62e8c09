"""``membench compare``: paired differences between runs, Holm-corrected, with the MDE.

How the result is shown (table, Markdown, JSON) is ``cli.compare_output``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from membench.cli.options import add_common, non_negative_int


def add_parser(sub: Any) -> None:
    compare = sub.add_parser("compare", help="paired differences between runs, Holm-corrected, with MDE")
    compare.add_argument(
        "run_dirs",
        nargs="*",
        type=Path,
        metavar="RUN_DIR",
        help="run directories to compare (a glob such as results/runs/halumem__bm25__* is fine: of "
        "several runs of one system and mode, the one --task would pick is compared and the others "
        "are named)",
    )
    compare.add_argument(
        "--task",
        help="compare the latest complete runs of this task in --results-dir, with --systems "
        "(the tasks: membench list tasks)",
    )
    compare.add_argument(
        "--systems",
        metavar="NAME,...",
        help="comma-separated system names, e.g. no-memory,bm25 (with --task)",
    )
    compare.add_argument(
        "--baseline",
        metavar="RUN",
        help="a system name, run label or run id: every run vs it (default: all pairs of runs)",
    )
    compare.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help="a metric name the task declares, e.g. qa_correct (repeatable; default: the main metric; "
        "an unknown name is refused, listing the known ones)",
    )
    compare.add_argument("--all-metrics", action="store_true", help="compare every metric the task declares")
    compare.add_argument(
        "--format",
        choices=["table", "json", "markdown"],
        default="table",
        help="table: for the terminal's width (default); json: raw values and every left-out probe id; "
        "markdown: a document",
    )
    compare.add_argument(
        "--show-left-out",
        action="store_true",
        help="list the probes left out of each comparison (only in one run, or errored), one per line; "
        "by default the table counts them",
    )
    compare.add_argument(
        "--allow-different",
        metavar="FIELD,...",
        help="pair runs that differ in these on purpose: reader, judge, task-options (comma-separated)",
    )
    compare.add_argument(
        "--n-boot",
        type=non_negative_int,
        default=10000,
        metavar="N",
        help="cluster-bootstrap resamples for the intervals (default: 10000)",
    )
    compare.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="seed of the bootstrap and permutations (default: 0)",
    )
    compare.add_argument(
        "--results-dir",
        type=Path,
        default=Path("results"),
        help="where --task looks for runs (default: results)",
    )
    add_common(compare, results_dir=False, data_dir=False)


def _comma_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def cmd_compare(args: argparse.Namespace) -> int:
    from membench.api import compare
    from membench.cli.compare_output import print_table, render_markdown, to_json
    from membench.core.records import dump_json

    result = compare(
        args.run_dirs,
        task=args.task,
        systems=_comma_list(args.systems),
        results_dir=args.results_dir,
        metrics=args.metric,
        all_metrics=args.all_metrics,
        baseline=args.baseline,
        allow_different=_comma_list(args.allow_different),
        n_boot=args.n_boot,
        seed=args.seed,
        plugins=args.plugin,
    )
    if args.format == "json":
        print(dump_json(to_json(result)), end="")
    elif args.format == "markdown":
        print(render_markdown(result), end="")
    else:
        print_table(result, show_left_out=args.show_left_out)
    return 0
