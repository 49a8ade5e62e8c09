"""``membench data build|pull``: write a task's offline dataset, or download its official release."""

from __future__ import annotations

import argparse
from typing import Any

from membench.cli.options import TASK_OPTION_HELP, add_common, add_key_values, key_values


def add_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="build the offline dataset of a task, or pull the official one")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    build = data_sub.add_parser("build", help="write a task's data with its seeded offline builder")
    build.add_argument("task", help="the task (membench list tasks)")
    add_key_values(build, "-T", "task_options", TASK_OPTION_HELP)
    build.add_argument("--llm", metavar="MODEL", help="write the data with an LLM, for builders that can")
    build.add_argument("--llm-api-base", metavar="URL", help="OpenAI-compatible base URL for --llm")
    add_common(build, results_dir=False)
    pull = data_sub.add_parser("pull", help="download the official release (needs access to the hub)")
    pull.add_argument("task", help="the task (membench list tasks)")
    add_key_values(pull, "-T", "task_options", TASK_OPTION_HELP)
    pull.add_argument("--sha256", help="expected checksum; the download is refused on mismatch")
    add_common(pull, results_dir=False)


def cmd_data(args: argparse.Namespace) -> int:
    from membench.core.errors import ConfigError
    from membench.registry import Registry

    registry = Registry(args.plugin)
    task_cls = registry.get("task", args.task)
    options = key_values(args.task_options, "-T")
    if getattr(args, "llm", None):
        if "llm" not in task_cls.default_options:
            raise ConfigError(f"the {args.task} builder writes no text with an LLM; --llm does not apply")
        options["llm"] = args.llm
        if args.llm_api_base:
            options["llm_api_base"] = args.llm_api_base
    task = task_cls(options, args.data_dir / args.task)
    if args.data_command == "build":
        path = task.build()
        print(f"wrote {path}")
    else:
        path = task.pull(args.data_dir / args.task, sha256=args.sha256)
        print(f"downloaded {path}")
    return 0
