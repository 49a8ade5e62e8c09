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
    compare.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR")
    compare.add_argument("--task", help="compare the latest complete runs of this task in --results-dir")
    compare.add_argument("--systems", help="comma-separated system names (with --task)")
    compare.add_argument("--baseline", help="system name or run label: every run vs it (default: all pairs)")
    compare.add_argument(
        "--metric", action="append", default=[], help="metric name (repeatable; default: the main metric)"
    )
    compare.add_argument("--all-metrics", action="store_true", help="compare every metric the task declares")
    compare.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    compare.add_argument(
        "--allow-different",
        metavar="FIELD,...",
        help="pair runs that differ in these on purpose: reader, judge, task-options (comma-separated)",
    )
    compare.add_argument("--n-boot", type=non_negative_int, default=10000, help="cluster-bootstrap resamples")
    compare.add_argument("--seed", type=non_negative_int, default=0)
    add_common(compare)


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
        print_table(result)
    return 0
