"""Sweeps on the command line: ``membench sweep FILE.toml``, and ``membench run`` given a comma list
in ``--task`` or ``--system``; what they print as the pairs run and at the end.

Both forms become a list of RunConfigs run by ``running.sweep``: a header per pair ("[2/6] halumem ×
mem0"), that run's usual progress display, one line on how it ended; then, per task, the ``membench
compare`` table of its completed runs, and the failed pairs with their causes (on stderr). Exit codes:
0 when every pair completed, 1 when one failed (or the endpoint check did), 2 for a usage error,
found before anything runs.

On the command line ``-T`` and ``-S`` apply to every task and system of the sweep, so each must be an
option of each: one that a task does not know is refused (a silently dropped option would make that
task's run another experiment than the one asked for); a sweep file gives each its own options.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.cli.options import add_common
from membench.cli.terminal import print_paragraphs

if TYPE_CHECKING:
    from rich.console import Console

    from membench.core.config import RunConfig
    from membench.registry import Registry
    from membench.running.sweep import PairResult, SweepOutcome

#: what each pair's redo command is, given its config (``membench run ... --retry-errors``).
Redo = Callable[["RunConfig"], str]
#: where a sweep file's per-task options are explained, for the error refusing a shared option.
PER_TASK_HINT = "options for one task or system only go in a sweep file (membench sweep FILE.toml)"


def add_parser(sub: Any) -> None:
    sweep = sub.add_parser("sweep", help="run every task × system of a sweep file, then compare per task")
    sweep.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="a TOML file naming tasks and systems with their options, and the runs' shared settings "
        "(reader, judge, [llm.ROLE] model and api_base, limit, directories): see examples/sweep.toml",
    )
    sweep.add_argument("--retry-errors", action="store_true", help="redo probes that errored last time")
    sweep.add_argument(
        "--repair",
        action="store_true",
        help="move unreadable lines of each run's records aside (records.damaged-*.jsonl) and redo them",
    )
    sweep.add_argument("--fresh", action="store_true", help="start every run over (old ones are archived)")
    sweep.add_argument(
        "--dry-run", action="store_true", help="print what each run would do, and the LLM calls, then exit"
    )
    sweep.add_argument(
        "--no-check",
        action="store_true",
        help="skip the 1-token request to each remote LLM endpoint made once before the first run",
    )
    sweep.add_argument(
        "--display",
        choices=["auto", "rich", "plain", "none"],
        default="auto",
        help="each run's progress: rich bars, plain lines, or none (default: auto, as membench run)",
    )
    sweep.add_argument("--no-cache", action="store_true", help="do not read or write the LLM response cache")
    add_common(sweep, results_dir=False, data_dir=False)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Every pair of the file's sweep, with the run-time flags of this command."""
    from membench.core.errors import ConfigError
    from membench.running.sweep_file import load_sweep_file

    plugins = tuple(args.plugin)
    sweep = load_sweep_file(args.file, plugins)
    settings = {
        **sweep.settings,
        "retry_errors": args.retry_errors,
        "repair": args.repair,
        "fresh": args.fresh,
        "check_endpoints": not args.no_check,
        "display": args.display,
        "use_cache": not args.no_cache,
    }
    configs = replace(sweep, settings=settings).runs()
    plugin_flags = [word for plugin in plugins for word in ("--plugin", plugin)]
    redo = shlex.join(["membench", "sweep", str(args.file), *plugin_flags, "--retry-errors"])
    try:
        return execute(configs, lambda _config: redo, dry_run=args.dry_run)
    except ConfigError as exc:  # found checking the whole sweep (a reader no task has): the file's
        raise ConfigError(f"{args.file}: {exc}") from None


def is_sweep(args: argparse.Namespace) -> bool:
    """Whether ``membench run`` was given a comma list in ``--task`` or ``--system``."""
    return "," in args.task or "," in args.system


def cmd_run_sweep(args: argparse.Namespace) -> int:
    """``membench run --task a,b --system x,y ...``: each pair is the single run of the same command
    with one task and one system (the same options, the same redo command)."""
    from membench.cli.options import key_values
    from membench.cli.run import run_config
    from membench.cli.run_errors import retry_command
    from membench.core.errors import ConfigError
    from membench.registry import Registry

    tasks, systems = names(args.task, "--task"), names(args.system, "--system")
    if args.run_dir is not None:
        raise ConfigError("--run-dir is one run's directory; a sweep writes one per run under --results-dir")
    registry = Registry(list(args.plugin))
    check_shared(registry, "task", tasks, key_values(args.task_options, "-T"), "-T")
    check_shared(registry, "system", systems, key_values(args.system_options, "-S"), "-S")
    pairs = {
        (task, system): argparse.Namespace(**{**vars(args), "task": task, "system": system})
        for task in tasks
        for system in systems
    }
    configs = [run_config(pair) for pair in pairs.values()]

    def redo(config: RunConfig) -> str:
        return retry_command(args.run_parser, pairs[(config.task, config.system)])

    return execute(configs, redo, dry_run=args.dry_run)


def names(text: str, flag: str) -> list[str]:
    """A comma list of names, each once; an empty or repeated one is a usage error naming ``flag``."""
    from membench.core.errors import ConfigError

    items = [item.strip() for item in text.split(",")]
    if "" in items:
        raise ConfigError(f"{flag} {text}: an empty name in the comma list")
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ConfigError(f"{flag} {text}: {', '.join(repeated)} named twice")
    return items


def check_shared(
    registry: Registry, kind: str, members: Sequence[str], options: Mapping[str, str], flag: str
) -> None:
    """Refuse, naming the task (or system), an option given on the command line that one member of
    the sweep does not have; an unknown member name is refused as ``membench run`` refuses it."""
    from membench.core.errors import ConfigError
    from membench.core.suggest import unknown_name

    for name in members:
        cls = registry.get("task", name) if kind == "task" else registry.get("system", name)
        for key in options:
            if key not in cls.default_options:
                problem = unknown_name(f"{name} option", key, cls.default_options, f"membench list {kind}s")
                raise ConfigError(f"{flag} {key}: {problem}; {flag} applies to every {kind}: {PER_TASK_HINT}")


def execute(configs: Sequence[RunConfig], redo: Redo, *, dry_run: bool) -> int:
    """Run (or, with ``dry_run``, plan) the sweep's pairs and print as ``membench run`` would, each
    under its header; end with the comparisons and the failures. The exit code: 0 when every pair
    completed and every comparison was made, 1 otherwise (2, a usage error, is raised)."""
    from membench.api import run
    from membench.cli.terminal import make_console
    from membench.llm.preflight import EndpointCheckFailed
    from membench.running.sweep import run_sweep

    console = make_console()
    try:
        if dry_run:
            _dry_run(configs, console)
            return 0
        outcome = run_sweep(
            configs,
            run,
            started=lambda index, total, config: _header(console, index, total, config),
            finished=lambda result: _ended(console, result, redo),
        )
    except EndpointCheckFailed as exc:
        print_paragraphs([f"membench: error: {failure.line()}" for failure in exc.failures], sys.stderr)
        return 1
    compared = _comparisons(console, outcome)
    _failures(console, outcome)
    return 0 if outcome.completed and compared else 1


def _dry_run(configs: Sequence[RunConfig], console: Console) -> None:
    from membench.cli.run_output import print_dry_run
    from membench.running.components import prepare
    from membench.running.sweep import prepare_sweep

    checked = prepare_sweep(configs)
    for index, config in enumerate(checked, 1):
        _header(console, index, len(checked), config)
        components, plan, identity = prepare(config)
        print_dry_run(config, components, plan, identity, components.system_cls.llm_calls_note)


def _header(console: Console, index: int, total: int, config: RunConfig) -> None:
    if index > 1:
        console.print()
    console.print(f"[{index}/{total}] {config.task} × {config.system}")


def _ended(console: Console, result: PairResult, redo: Redo) -> None:
    """How one pair ended: its main metric and counts, or its cause; where its run is; its errors."""
    from membench.cli.run_errors import print_error_summary
    from membench.cli.terminal import wrap

    outcome = result.outcome
    lines = [] if result.completed else [f"failed: {result.cause}"]
    if outcome is not None:
        counts = outcome.manifest.counts
        errored = f", {counts.probes_errored} errored" if counts.probes_errored else ""
        done = f"{counts.probes_scored}/{counts.probes_planned} probes scored{errored}"
        if result.completed:
            lines.append(f"complete: {_main_metric(result)}; {done}, {outcome.elapsed_s:.1f}s")
        lines.append(f"results: {outcome.run_dir}")
    for line in lines:
        for part in wrap(line, console.width - 2):
            console.print(f"  {part}")
    if outcome is not None:
        print_error_summary(outcome.run_dir, redo(result.config))


def _main_metric(result: PairResult) -> str:
    """ "QA correct 35.7% [0.0, 100.0]": the task's main metric in the run's summary."""
    from membench.core import numbers as fmt

    assert result.outcome is not None
    spec = result.outcome.components.task.main_metric()
    estimate = next(e for e in result.outcome.summary["metrics"] if e["metric"] == spec.name)
    low, high = estimate["ci_low"], estimate["ci_high"]
    interval = fmt.interval(spec, None if low is None or high is None else (low, high))
    shown = fmt.value(spec, estimate["value"])
    return f"{spec.display} {shown}" if interval == "–" else f"{spec.display} {shown} {interval}"


def _comparisons(console: Console, outcome: SweepOutcome) -> bool:
    """Per task, ``membench compare``'s table of its completed runs (all pairs); False when one
    could not be made (its error is printed on stderr)."""
    from membench.api import compare
    from membench.cli.compare_output import print_table
    from membench.core.errors import MembenchError

    made = True
    for task, pairs in outcome.completed_by_task().items():
        console.print()
        console.rule(f"{task}: {len(pairs)} complete run(s)")
        if len(pairs) < 2:
            console.print("nothing to compare: a comparison needs two complete runs of the task")
            continue
        try:
            run_dirs = [pair.run_dir for pair in pairs if pair.run_dir is not None]
            result = compare(run_dirs, plugins=pairs[0].config.plugins)
        except MembenchError as exc:
            print_paragraphs([f"membench: error: {task}: the runs could not be compared: {exc}"], sys.stderr)
            made = False
            continue
        print_table(result, console)
    return made


def _failures(console: Console, outcome: SweepOutcome) -> None:
    """How many runs completed (stdout), then each failed pair and its cause (stderr)."""
    total, failed = len(outcome.pairs), outcome.failed()
    console.print()
    console.print(f"sweep: {total - len(failed)} of {total} runs complete")
    if failed:
        lines = [f"membench: {len(failed)} of {total} runs failed:"]
        lines += [f"  {pair.config.task} × {pair.config.system}: {pair.cause}" for pair in failed]
        print_paragraphs(lines, sys.stderr)
