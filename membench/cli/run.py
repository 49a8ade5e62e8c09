"""``membench run``: run (or resume) one task against one memory system, or say what it would do."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from membench.cli.options import (
    add_common,
    add_key_values,
    key_values,
    llm_spec,
    non_negative_int,
    positive_int,
)


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="run (or resume) one task against one memory system")
    run.add_argument("--task", required=True)
    run.add_argument("--system", required=True)
    add_key_values(run, "-T", "task_options", "task option, e.g. -T data=HaluMem-Medium.jsonl, -T users=5")
    add_key_values(run, "-S", "system_options", "system option, e.g. -S mode=llm -S llm=openai/gpt-4o-mini")
    run.add_argument(
        "--system-llm", metavar="MODEL", help="the system's own LLM (mem0: LLM extraction, -S mode=llm)"
    )
    run.add_argument("--system-api-base", metavar="URL", help="OpenAI-compatible base URL for --system-llm")
    run.add_argument("--reader", help="reader name (default: the task's offline reader, or llm with --llm)")
    run.add_argument("--llm", metavar="MODEL", help="litellm model for the reader (implies --reader llm)")
    run.add_argument("--llm-api-base", metavar="URL", help="OpenAI-compatible base URL for --llm")
    run.add_argument(
        "--judge", help="judge name (default: the task's offline judge, or llm with --judge-llm)"
    )
    run.add_argument("--judge-llm", metavar="MODEL", help="litellm model for the LLM judge")
    run.add_argument("--judge-api-base", metavar="URL", help="OpenAI-compatible base URL for --judge-llm")
    run.add_argument("--limit", type=positive_int, help="run the same N episodes for every system (seeded)")
    run.add_argument("--seed", type=non_negative_int, default=0)
    run.add_argument("--max-episodes", type=positive_int, default=2, help="episodes in flight at once")
    run.add_argument(
        "--max-connections", type=positive_int, default=8, help="concurrent requests per LLM endpoint"
    )
    run.add_argument("--run-dir", type=Path, help="use this run directory instead of the derived one")
    run.add_argument("--retry-errors", action="store_true", help="redo probes that errored last time")
    run.add_argument(
        "--repair",
        action="store_true",
        help="move unreadable lines of the run's records aside (records.damaged-*.jsonl) and redo them",
    )
    run.add_argument("--fresh", action="store_true", help="start over (the old run directory is archived)")
    run.add_argument(
        "--dry-run", action="store_true", help="print what would run, and the LLM calls, then exit"
    )
    run.add_argument("--display", choices=["auto", "rich", "plain", "none"], default="auto")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the LLM response cache")
    add_common(run)


def cmd_run(args: argparse.Namespace) -> int:
    from membench.api import run
    from membench.cli.run_output import print_dry_run, print_outcome
    from membench.core.config import RunConfig
    from membench.running.components import prepare

    config = RunConfig(
        task=args.task,
        system=args.system,
        task_options=key_values(args.task_options, "-T"),
        system_options=key_values(args.system_options, "-S"),
        reader=args.reader,
        judge=args.judge,
        reader_llm=llm_spec(args.llm, args.llm_api_base),
        judge_llm=llm_spec(args.judge_llm, args.judge_api_base),
        system_llm=llm_spec(args.system_llm, args.system_api_base),
        limit=args.limit,
        seed=args.seed,
        max_episodes=args.max_episodes,
        max_connections=args.max_connections,
        results_dir=args.results_dir,
        data_dir=args.data_dir,
        run_dir=args.run_dir,
        retry_errors=args.retry_errors,
        repair=args.repair,
        fresh=args.fresh,
        dry_run=args.dry_run,
        display=args.display,
        use_cache=not args.no_cache,
        plugins=tuple(args.plugin),
    )
    if config.dry_run:
        components, plan, identity = prepare(config)
        print_dry_run(config, components, plan, identity, components.system_cls.llm_calls_note)
        return 0
    outcome = run(config)
    print_outcome(outcome)
    return 0 if outcome.manifest.status == "complete" else 1
