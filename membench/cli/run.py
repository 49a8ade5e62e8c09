"""``membench run``: run (or resume) one task against one memory system, or say what it would do."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.cli.options import (
    TASK_OPTION_HELP,
    add_common,
    add_key_values,
    key_values,
    llm_spec,
    non_negative_int,
    positive_int,
)
from membench.cli.terminal import print_paragraphs

if TYPE_CHECKING:
    from membench.core.config import RunConfig


def add_parser(sub: Any) -> None:
    from membench.registry import BUILTIN_SYSTEMS

    run = sub.add_parser("run", help="run (or resume) one task against one memory system")
    run.set_defaults(run_parser=run)  # the error summary's redo command is rebuilt from its options
    run.add_argument(
        "--task",
        required=True,
        help="the benchmark to run, e.g. halumem (membench list tasks: every task, with its -T options); "
        "a comma list (halumem,sort) with --system runs a sweep: every task × every system",
    )
    run.add_argument(
        "--system",
        required=True,
        help=f"the memory system: {', '.join(BUILTIN_SYSTEMS)}, or a plugin's (membench list systems); "
        "a comma list (bm25,mem0) runs each; in a sweep each -T and -S must fit every task and system",
    )
    add_key_values(run, "-T", "task_options", TASK_OPTION_HELP)
    add_key_values(
        run, "-S", "system_options", "system option (repeatable), e.g. -S mode=llm -S llm=openai/gpt-4o-mini"
    )
    run.add_argument(
        "--system-llm", metavar="MODEL", help="the system's own LLM (mem0: LLM extraction, -S mode=llm)"
    )
    run.add_argument("--system-api-base", metavar="URL", help="OpenAI-compatible base URL for --system-llm")
    run.add_argument(
        "--reader",
        help="reader name: extractive, llm, system (the system answers), a task's own or a plugin's "
        "(default: the task's offline reader, or llm with --llm; membench list readers)",
    )
    run.add_argument(
        "--llm",
        metavar="MODEL",
        help="the reader's model: a litellm model, or llamacpp/PATH.gguf (implies --reader llm)",
    )
    run.add_argument("--llm-api-base", metavar="URL", help="OpenAI-compatible base URL for --llm")
    run.add_argument(
        "--judge",
        help="judge name (default: the task's offline judge, or llm with --judge-llm; membench list judges)",
    )
    run.add_argument("--judge-llm", metavar="MODEL", help="litellm model for the LLM judge")
    run.add_argument("--judge-api-base", metavar="URL", help="OpenAI-compatible base URL for --judge-llm")
    run.add_argument(
        "--limit", type=positive_int, metavar="N", help="run the same N episodes for every system (seeded)"
    )
    run.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the --limit selection; part of the run's identity (default: 0)",
    )
    run.add_argument(
        "--max-episodes",
        type=positive_int,
        default=2,
        metavar="N",
        help="episodes in flight at once (default: 2)",
    )
    run.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where episodes run: local (this process) or ray (one Ray actor per episode worker; "
        "needs membench[ray]); records are written here either way (default: local)",
    )
    run.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster to join with --executor ray (default: $RAY_ADDRESS, else a local one)",
    )
    run.add_argument(
        "--max-probes",
        type=positive_int,
        default=8,
        metavar="N",
        help="probes of one episode in flight at once, among those due after the same session "
        "(default: 8; 1: one after another)",
    )
    run.add_argument(
        "--max-connections",
        type=positive_int,
        default=8,
        metavar="N",
        help="concurrent requests per LLM endpoint (default: 8)",
    )
    run.add_argument(
        "--max-consecutive-errors",
        type=non_negative_int,
        default=5,
        metavar="N",
        help="stop the run after N failures in a row of one stage and error type, e.g. an endpoint "
        "that went down (default: 5; 0 never stops)",
    )
    run.add_argument(
        "--no-check",
        action="store_true",
        help="skip the 1-token request to each remote LLM endpoint made before the first episode (and "
        "on --dry-run). None is made when no probe is pending, nor for llamacpp/ models; a re-run "
        "whose pending probes are all in the LLM cache still makes it: add --no-check to run it "
        "offline",
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
    run.add_argument(
        "--display",
        choices=["auto", "rich", "plain", "none"],
        default="auto",
        help="progress: rich bars, plain lines, or none; auto is rich on a terminal, plain when piped "
        "or with CI set (default: auto)",
    )
    run.add_argument("--no-cache", action="store_true", help="do not read or write the LLM response cache")
    add_common(run)


def run_config(args: argparse.Namespace) -> RunConfig:
    """The run ``args`` ask for: one task, one system (each pair of a sweep is one such run)."""
    from membench.core.config import RunConfig

    return RunConfig(
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
        max_probes=args.max_probes,
        executor=args.executor,
        ray_address=args.ray_address,
        max_connections=args.max_connections,
        results_dir=args.results_dir,
        data_dir=args.data_dir,
        run_dir=args.run_dir,
        retry_errors=args.retry_errors,
        repair=args.repair,
        fresh=args.fresh,
        dry_run=args.dry_run,
        check_endpoints=not args.no_check,
        max_consecutive_errors=args.max_consecutive_errors,
        display=args.display,
        use_cache=not args.no_cache,
        plugins=tuple(args.plugin),
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run, print the results and any errors; exit 0 only for a complete run (errored probes in it
    are recorded and redone by --retry-errors). A failed endpoint check and a run stopped or cut
    short exit 1 (2 is for usage errors); why it stopped goes to stderr last, whatever the display.
    A comma list in --task or --system is a sweep, handed to ``cli.sweep``."""
    from membench.cli.sweep import cmd_run_sweep, is_sweep

    if is_sweep(args):
        return cmd_run_sweep(args)
    from membench.api import run
    from membench.cli.run_errors import print_error_summary, retry_command
    from membench.cli.run_output import print_dry_run, print_outcome
    from membench.llm.preflight import EndpointCheckFailed
    from membench.running.components import prepare

    config = run_config(args)
    try:
        if config.dry_run:
            components, plan, identity = prepare(config)
            print_dry_run(config, components, plan, identity, components.system_cls.llm_calls_note)
            return 0
        outcome = run(config)
    except EndpointCheckFailed as exc:
        print_paragraphs((f"membench: error: {failure.line()}" for failure in exc.failures), sys.stderr)
        return 1
    print_outcome(outcome)
    print_error_summary(outcome.run_dir, retry_command(args.run_parser, args))
    if outcome.stopped is not None:
        print_paragraphs(outcome.stopped.paragraphs(), sys.stderr)
    return 0 if outcome.manifest.status == "complete" else 1
