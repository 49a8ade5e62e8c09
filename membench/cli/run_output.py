"""What ``membench run`` prints: the results tables and where the run is, or what a dry run would do.

Printing only: the summary it shows is the one the run wrote to summary.json; nothing here writes a file.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.analysis.runs import role_label
from membench.analysis.summary import breakdown_tables, interval_lines, legend, metric_columns, metric_rows

if TYPE_CHECKING:
    from rich.table import Table

    from membench.api import RunOutcome
    from membench.core.config import RunConfig
    from membench.core.identity import RunIdentity
    from membench.core.task import Task
    from membench.core.types import Probe
    from membench.running.runner import Components, RunPlan


def print_outcome(outcome: RunOutcome) -> None:
    """The metrics table and its breakdowns, then how to read them, what ran, and what to do next."""
    from rich.console import Console

    task, summary = outcome.components.task, outcome.summary
    console = Console(markup=False, highlight=False)
    for table in _tables(task, outcome.components.system_name, summary):
        console.print(table)
    lines = [
        legend(task),
        *interval_lines(task, summary),
        *_what_ran(outcome),
        *_accounting(outcome),
        *_where_and_next(outcome),
    ]
    for line in lines:
        console.print(line)


def _tables(task: Task, system_name: str, summary: dict[str, Any]) -> list[Table]:
    """The metrics table, then one table per breakdown label."""
    from rich.table import Table

    main = Table(title=f"{task.name} × {system_name}")
    for column in metric_columns(task):
        main.add_column(column, justify="left" if column == "metric" else "right")
    for row in metric_rows(task, summary):
        main.add_row(*row)
    tables = [main]
    for label, headers, rows in breakdown_tables(task, summary):
        sub = Table(title=f"by {label}")
        sub.add_column(label)
        for header in headers:
            sub.add_column(header, justify="right")
        for cells in rows:
            sub.add_row(*cells)
        tables.append(sub)
    return tables


def _what_ran(outcome: RunOutcome) -> list[str]:
    """The data, the system, the reader and judge, and the probes this system could not take."""
    components = outcome.components
    dataset = outcome.plan.dataset
    judge = components.judge
    lines = [
        f"data: {dataset.source} [{dataset.metadata.get('origin', 'loaded')}]",
        f"system: {components.system_description or components.system_name}",
        f"reader: {role_label({'reader': components.reader.identity()}, 'reader')}  "
        f"judge: {judge.name} ({'exact' if judge.exact else 'approximate'})",
    ]
    skipped = outcome.plan.skipped_probes
    if skipped:
        what = ", ".join(f"{n} {kind}" for kind, n in skipped.items())
        lines.append(f"not applicable to this system (capability not declared): {what} probes; shown as N/A")
    return lines


def _accounting(outcome: RunOutcome) -> list[str]:
    """Probe and episode counts, status and wall time, then the LLM cache and usage per role."""
    manifest = outcome.manifest
    counts = manifest.counts
    lines = [
        f"probes: {counts.probes_scored} scored, {counts.probes_errored} errored, "
        f"of {counts.probes_planned}; "
        f"episodes {counts.episodes_done}/{counts.episodes_planned}; status {manifest.status}; "
        f"wall time {manifest.wall_time_s:.1f}s"
    ]
    if outcome.components.llm_clients:
        lines.append(
            f"LLM cache: {manifest.cache.get('hits', 0)} hits, {manifest.cache.get('misses', 0)} misses"
        )
    else:
        lines.append("LLMs: none in this run (offline reader and judge); add --llm / --judge-llm to use one")
    lines.extend(
        f"usage [{role}]: {usage.calls} calls ({usage.cached_calls} cached), "
        f"{usage.prompt_tokens}+{usage.completion_tokens} tokens, ${usage.cost_usd:.4f}"
        for role, usage in sorted(manifest.usage.items())
    )
    return lines


def _where_and_next(outcome: RunOutcome) -> list[str]:
    """Where the run's files are, and the commands that compare it with other systems' runs."""
    results_dir = _results_dir(outcome.run_dir)
    task, system = outcome.components.task.name, outcome.components.system_name
    return [
        f"results: {outcome.run_dir}  (records.jsonl, manifest.json, summary.json)",
        f"next: run other systems on the same task (membench systems list), then "
        f"membench compare --task {task} --systems {system},OTHER "
        f"--results-dir {results_dir}, or membench report {results_dir} --out report",
    ]


def _results_dir(run_dir: Path) -> Path:
    """What compare and report take: the results directory holding runs/, or the directory of runs."""
    runs_root = run_dir.parent
    return runs_root.parent if runs_root.name == "runs" else runs_root


def print_dry_run(
    config: RunConfig, components: Components, plan: RunPlan, identity: RunIdentity, system_note: str
) -> None:
    """The run id, the episodes and probes the run would take, and the LLM calls they would make.

    ``system_note`` is the system's own word on its LLM calls (``MemorySystem.llm_calls_note``).
    """
    from membench.core.identity import run_id_for

    probes = [p for ps in plan.probes_by_episode.values() for p in ps]
    sessions = sum(len(e.sessions) for e in plan.episodes)
    by_kind = Counter(p.kind for p in probes)
    reader_calls, judge_calls = _expected_calls(config, components, probes)
    print(f"run id {run_id_for(identity)}")
    print(f"episodes: {len(plan.episodes)} (of {len(plan.dataset.episodes)}), sessions to ingest: {sessions}")
    print(f"probes: {len(probes)} ({', '.join(f'{n} {k}' for k, n in sorted(by_kind.items()))})")
    if plan.skipped_probes:
        print(f"not applicable to {config.system}: {json.dumps(plan.skipped_probes)}")
    print(f"expected LLM calls: reader {reader_calls}, judge at least {judge_calls}")
    if system_note:
        print(f"system-side LLM calls: {system_note}")


def _expected_calls(config: RunConfig, components: Components, probes: list[Probe]) -> tuple[int, int]:
    """Reader calls (one per answer probe, with an LLM reader) and the judge's least number of calls."""
    reader_calls = sum(1 for p in probes if p.mode == "answer") if config.reader_llm else 0
    judge_calls = (
        sum(components.task.expected_judge_calls(p) for p in probes)
        if components.judge.name.startswith("llm")
        else 0
    )
    return reader_calls, judge_calls
