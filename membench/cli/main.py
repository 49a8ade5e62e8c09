"""``membench`` command line. Only argparse at import time: everything else loads when a command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from membench import __version__


def _key_values(pairs: list[str], flag: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"membench: error: {flag} takes key=value, got '{pair}'")
        options[key.strip()] = value.strip()
    return options


def _positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (a usage error otherwise, exit code 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_common(parser: argparse.ArgumentParser, results_dir: bool = True) -> None:
    if results_dir:
        parser.add_argument(
            "--results-dir", type=Path, default=Path("results"), help="where runs are written"
        )
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where datasets are built/kept")
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE:OBJECT",
        help="load a system, task or judge class (repeatable); also 'path/file.py:Class'",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="membench",
        description="Evaluate long-term memory systems for LLM agents: same episodes, same reader, "
        "same judge, with error bars.",
    )
    parser.add_argument("--version", action="version", version=f"membench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run (or resume) one task against one memory system")
    run.add_argument("--task", required=True)
    run.add_argument("--system", required=True)
    run.add_argument(
        "-T",
        dest="task_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task option, e.g. -T data=HaluMem-Medium.jsonl, -T users=5",
    )
    run.add_argument(
        "-S",
        dest="system_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="system option, e.g. -S mode=llm -S llm=openai/gpt-4o-mini",
    )
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
    run.add_argument("--limit", type=_positive_int, help="run the same N episodes for every system (seeded)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--max-episodes", type=int, default=2, help="episodes in flight at once")
    run.add_argument("--max-connections", type=int, default=8, help="concurrent requests per LLM endpoint")
    run.add_argument("--run-dir", type=Path, help="use this run directory instead of the derived one")
    run.add_argument("--retry-errors", action="store_true", help="redo probes that errored last time")
    run.add_argument("--fresh", action="store_true", help="start over (the old run directory is archived)")
    run.add_argument(
        "--dry-run", action="store_true", help="print what would run, and the LLM calls, then exit"
    )
    run.add_argument("--display", choices=["auto", "rich", "plain", "none"], default="auto")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the LLM response cache")
    _add_common(run)

    lister = sub.add_parser("list", help="list tasks, systems, judges or readers")
    lister.add_argument("kind", choices=["tasks", "systems", "judges", "readers"])
    _add_common(lister)

    data = sub.add_parser("data", help="build the offline dataset of a task, or pull the official one")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    build = data_sub.add_parser("build", help="write a task's data with its seeded offline builder")
    build.add_argument("task")
    build.add_argument("-T", dest="task_options", action="append", default=[], metavar="KEY=VALUE")
    build.add_argument("--llm", metavar="MODEL", help="write the data with an LLM, for builders that can")
    build.add_argument("--llm-api-base", metavar="URL", help="OpenAI-compatible base URL for --llm")
    _add_common(build)
    pull = data_sub.add_parser("pull", help="download the official release (needs access to the hub)")
    pull.add_argument("task")
    pull.add_argument("-T", dest="task_options", action="append", default=[], metavar="KEY=VALUE")
    pull.add_argument("--sha256", help="expected checksum; the download is refused on mismatch")
    _add_common(pull)
    _add_compare_parsers(sub)
    _add_report_parser(sub)
    return parser


def _add_report_parser(sub: Any) -> None:
    report = sub.add_parser("report", help="write leaderboard.md, leaderboard.html and a page per run")
    report.add_argument("results_dir", nargs="?", type=Path, default=Path("results"), metavar="RESULTS_DIR")
    report.add_argument("--out", type=Path, required=True, help="directory to write the report into")
    report.add_argument("--baseline", help="system name or run label deltas are taken against")
    report.add_argument("--data-dir", type=Path, default=Path("data"), help="where datasets are kept")
    report.add_argument("--n-boot", type=int, default=2000, help="cluster-bootstrap resamples")
    report.add_argument("--seed", type=int, default=0)
    report.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE:OBJECT", help="load a task (repeatable)"
    )


def _add_compare_parsers(sub: Any) -> None:
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
    compare.add_argument("--n-boot", type=int, default=10000, help="cluster-bootstrap resamples")
    compare.add_argument("--seed", type=int, default=0)
    _add_common(compare)

    score = sub.add_parser("score", help="re-score a finished run with another judge, and report agreement")
    score.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    score.add_argument("--judge", required=True, help="judge name (a task judge, or llm with --judge-llm)")
    score.add_argument("--judge-llm", metavar="MODEL", help="litellm model for the LLM judge")
    score.add_argument("--judge-api-base", metavar="URL", help="OpenAI-compatible base URL for --judge-llm")
    score.add_argument(
        "-T",
        dest="task_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="where the run's data is now, e.g. -T data=PATH (the fingerprint must match)",
    )
    score.add_argument("--max-connections", type=int, default=8, help="concurrent judge requests")
    score.add_argument("--retry-errors", action="store_true", help="redo probes the judge failed last time")
    score.add_argument(
        "--fresh", action="store_true", help="rescore from scratch (the old rescore is archived)"
    )
    score.add_argument("--no-cache", action="store_true", help="do not read or write the LLM response cache")
    score.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for metric intervals")
    _add_common(score, results_dir=False)  # the rescore is written beside RUN_DIR


def _llm_spec(model: str | None, api_base: str | None) -> Any:
    from membench.core.config import LLMSpec

    return LLMSpec(model, api_base) if model else None


def cmd_run(args: argparse.Namespace) -> int:
    from membench.analysis.summary import print_dry_run, print_outcome
    from membench.api import run
    from membench.core.config import RunConfig
    from membench.run.components import prepare

    config = RunConfig(
        task=args.task,
        system=args.system,
        task_options=_key_values(args.task_options, "-T"),
        system_options=_key_values(args.system_options, "-S"),
        reader=args.reader,
        judge=args.judge,
        reader_llm=_llm_spec(args.llm, args.llm_api_base),
        judge_llm=_llm_spec(args.judge_llm, args.judge_api_base),
        system_llm=_llm_spec(args.system_llm, args.system_api_base),
        limit=args.limit,
        seed=args.seed,
        max_episodes=args.max_episodes,
        max_connections=args.max_connections,
        results_dir=args.results_dir,
        data_dir=args.data_dir,
        run_dir=args.run_dir,
        retry_errors=args.retry_errors,
        fresh=args.fresh,
        dry_run=args.dry_run,
        display=args.display,
        use_cache=not args.no_cache,
        plugins=tuple(args.plugin),
    )
    if config.dry_run:
        components, plan, identity = prepare(config)
        print_dry_run(config, components, plan, identity)
        return 0
    outcome = run(config)
    print_outcome(outcome)
    return 0 if outcome.manifest.status == "complete" else 1


def cmd_list(args: argparse.Namespace) -> int:
    from membench.registry import Registry

    registry = Registry(args.plugin)
    kind = args.kind.rstrip("s")
    if kind == "judge":
        for name, _origin in registry.names("task"):
            task_cls = registry.get("task", name)
            print(f"{name}: {', '.join(task_cls.judge_names)}  (task judges; the first is the default)")
    for name, origin in registry.names(kind):
        print(f"{name}  [{origin}]")
    for warning in registry.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from membench.core.errors import ConfigError
    from membench.registry import Registry

    registry = Registry(args.plugin)
    task_cls = registry.get("task", args.task)
    options = _key_values(args.task_options, "-T")
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


def cmd_compare(args: argparse.Namespace) -> int:
    from membench.analysis.compare import compare_runs, select_runs
    from membench.cli.compare_output import print_table, render_markdown, to_json
    from membench.core.records import dump_json
    from membench.registry import Registry

    systems = [s.strip() for s in (args.systems or "").split(",") if s.strip()]
    allowed = tuple(f.strip() for f in (args.allow_different or "").split(",") if f.strip())
    runs = select_runs(
        args.run_dirs,
        task=args.task,
        systems=systems,
        results_dir=args.results_dir,
        registry=Registry(args.plugin),
        allow_different=allowed,
    )
    result = compare_runs(
        runs,
        metrics=args.metric,
        all_metrics=args.all_metrics,
        baseline=args.baseline,
        n_boot=args.n_boot,
        seed=args.seed,
        allow_different=allowed,
    )
    if args.format == "json":
        print(dump_json(to_json(result)), end="")
    elif args.format == "markdown":
        print(render_markdown(result), end="")
    else:
        print_table(result)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from membench.analysis.rescore import RescoreConfig, print_rescore, rescore

    config = RescoreConfig(
        run_dir=args.run_dir,
        judge=args.judge,
        judge_llm=_llm_spec(args.judge_llm, args.judge_api_base),
        task_options=_key_values(args.task_options, "-T"),
        data_dir=args.data_dir,
        plugins=tuple(args.plugin),
        max_connections=args.max_connections,
        retry_errors=args.retry_errors,
        fresh=args.fresh,
        use_cache=not args.no_cache,
        n_boot=args.n_boot,
    )
    outcome = rescore(config)
    print_rescore(outcome)
    return 0 if outcome.manifest.status == "complete" else 1


def cmd_report(args: argparse.Namespace) -> int:
    from membench.report import Settings, write_report

    settings = Settings(n_boot=args.n_boot, seed=args.seed, baseline=args.baseline, data_dir=args.data_dir)
    written, boards = write_report(args.results_dir, args.out, settings, tuple(args.plugin))
    for board in boards:
        reader, judge = board.roles
        print(f"board {board.key} (reader {reader}, judge {judge}):")
        for entry in board.entries:
            print(f"  {entry.label}: {entry.run.run_dir}")
        for note in board.notes:
            print(f"  {note}")
    print(f"wrote {len(written)} file(s) to {args.out}: leaderboard.md, leaderboard.html, runs/")
    return 0


COMMANDS = {
    "run": cmd_run,
    "list": cmd_list,
    "data": cmd_data,
    "compare": cmd_compare,
    "score": cmd_score,
    "report": cmd_report,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from membench.core.errors import MembenchError

    try:
        return COMMANDS[args.command](args)
    except MembenchError as exc:
        print(f"membench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("membench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
