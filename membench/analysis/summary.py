"""What a finished run prints and writes: metric estimates with clustered intervals, and honest labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.core import numbers as fmt
from membench.core.records import (
    dump_json,
    latest_ingests,
    latest_records,
    read_ingests,
    read_records,
    write_atomic,
)
from membench.core.task import Task
from membench.core.text import level_order
from membench.stats.policy import CONFIDENCE, few_episodes_note, interval_note

if TYPE_CHECKING:
    import pandas as pd

    from membench.api import RunOutcome
    from membench.core.config import RunConfig
    from membench.run.runner import Components, RunPlan
    from membench.stats import MetricEstimate

SUMMARY = "summary.json"


def contributions_frame(task: Task, run_dir: Path) -> pd.DataFrame:
    """Every metric contribution of a run's latest records, one row each (the statistics' input)."""
    from membench.stats.frame import contributions_frame as frame_of

    records = latest_records(read_records(run_dir))
    ingests = latest_ingests(read_ingests(run_dir))
    return frame_of(task.contributions(records, ingests))


def estimate_dict(est: MetricEstimate) -> dict[str, Any]:
    """A MetricEstimate as plain JSON-able values (summary.json, the printed table).

    ``ci_low``/``ci_high`` are the interval ``stats.policy`` picks for the number of episodes, named by
    ``interval``; both candidate intervals are kept beside it.
    """
    shown = est.interval
    return {
        "metric": est.metric,
        "value": est.value,
        "n": est.n,
        "n_errors": est.n_errors,
        "n_clusters": est.n_clusters,
        "se": est.se,
        "ci_low": shown[0] if shown else None,
        "ci_high": shown[1] if shown else None,
        "interval": est.interval_method,
        "ci_bootstrap": list(est.ci) if est.ci else None,
        "ci_t": list(est.ci_t) if est.ci_t else None,
        "confidence": est.confidence,
        "by": est.by,
        "level": est.level,
    }


def summarize(task: Task, run_dir: Path, *, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Estimates for every metric the task declares (N/A when it has no contributions), and breakdowns."""
    from membench.stats import estimate

    frame = contributions_frame(task, run_dir)
    overall = estimate(frame, task.metrics, n_boot=n_boot, seed=seed)
    breakdowns = {
        label: [estimate_dict(e) for e in estimate(frame, task.metrics, n_boot=n_boot, seed=seed, by=label)]
        for label in task.breakdowns
        if label in frame.columns
    }
    summary = {"metrics": [estimate_dict(e) for e in overall], "breakdowns": breakdowns}
    write_atomic(run_dir / SUMMARY, dump_json(summary))
    return summary


def _shown_interval(est: dict[str, Any]) -> tuple[float, float] | None:
    if est.get("ci_low") is None or est.get("ci_high") is None:
        return None
    return est["ci_low"], est["ci_high"]


ALL_SUFFIX = "_all"


def interval_lines(task: Task, summary: dict[str, Any]) -> list[str]:
    """Which interval the table shows, and the few-episodes note when no comparison could reject."""
    main = next(e for e in summary["metrics"] if e["metric"] == task.main_metric().name)
    episodes = int(main["n_clusters"])
    note = few_episodes_note(episodes)
    return [f"CI: {interval_note(episodes)}", *([note] if note else [])]


def metric_rows(task: Task, summary: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per metric; a metric's paper-style "(all)" twin is shown in its own column, not a row."""
    specs = {m.name: m for m in task.metrics}
    by_name = {est["metric"]: est for est in summary["metrics"]}
    rows: list[tuple[str, ...]] = []
    for est in summary["metrics"]:
        name = est["metric"]
        if name.endswith(ALL_SUFFIX) and name[: -len(ALL_SUFFIX)] in by_name:
            continue
        spec = specs[name]
        twin = by_name.get(name + ALL_SUFFIX)
        rows.append(
            (
                spec.display + (" ★" if spec.main else ""),
                fmt.value(spec, est["value"]),
                fmt.interval(spec, _shown_interval(est)),
                fmt.value(spec, twin["value"]) if twin else "",
                str(est["n"]),
                str(est["n_clusters"]),
                str(est["n_errors"]),
            )
        )
    return rows


def breakdown_tables(task: Task, summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per label (question type, memory type): rows of levels, columns of the metrics broken down."""
    specs = {m.name: m for m in task.metrics}
    tables = []
    for label, estimates in summary["breakdowns"].items():
        metrics = [m for m in dict.fromkeys(e["metric"] for e in estimates) if not m.endswith(ALL_SUFFIX)]
        if not metrics:
            continue
        cells = {(e["level"], e["metric"]): e for e in estimates}
        levels = sorted({e["level"] for e in estimates}, key=level_order)
        rows = []
        for level in levels:
            row = [level]
            for metric in metrics:
                est = cells.get((level, metric))
                spec = specs[metric]
                row.append("" if est is None else f"{fmt.value(spec, est['value'])} (n={est['n']})")
            rows.append(row)
        tables.append((label, [specs[m].display for m in metrics], rows))
    return tables


def print_outcome(outcome: RunOutcome) -> None:
    from rich.console import Console
    from rich.table import Table

    task = outcome.components.task
    summary = summarize(task, outcome.run_dir)
    manifest = outcome.manifest
    console = Console(markup=False, highlight=False)
    table = Table(title=f"{task.name} × {outcome.components.system_name}")
    columns = ("metric", "value", f"{CONFIDENCE:.0%} CI", "(all)", "n", "episodes", "errors")
    for column in columns:
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in metric_rows(task, summary):
        table.add_row(*row)
    console.print(table)
    for label, headers, rows in breakdown_tables(task, summary):
        sub = Table(title=f"by {label}")
        sub.add_column(label)
        for header in headers:
            sub.add_column(header, justify="right")
        for cells in rows:
            sub.add_row(*cells)
        console.print(sub)
    console.print("value: errored items excluded; (all): the paper's denominators, errors counted as 0")
    for line in interval_lines(task, summary):
        console.print(line)
    dataset = outcome.plan.dataset
    console.print(f"data: {dataset.source} [{dataset.metadata.get('origin', 'loaded')}]")
    console.print(f"system: {outcome.components.system_description or outcome.components.system_name}")
    judge = outcome.components.judge
    reader = outcome.components.reader.identity()
    console.print(
        f"reader: {reader.get('name')}  judge: {judge.name} ({'exact' if judge.exact else 'approximate'})"
    )
    skipped = outcome.plan.skipped_probes
    if skipped:
        what = ", ".join(f"{n} {kind}" for kind, n in skipped.items())
        console.print(f"not applicable to this system (capability not declared): {what} probes; shown as N/A")
    counts = manifest.counts
    console.print(
        f"probes: {counts.probes_scored} scored, {counts.probes_errored} errored, "
        f"of {counts.probes_planned}; "
        f"episodes {counts.episodes_done}/{counts.episodes_planned}; status {manifest.status}; "
        f"wall time {manifest.wall_time_s:.1f}s"
    )
    if outcome.components.llm_clients:
        console.print(
            f"LLM cache: {manifest.cache.get('hits', 0)} hits, {manifest.cache.get('misses', 0)} misses"
        )
    else:
        console.print("LLMs: none in this run (offline reader and judge); add --llm / --judge-llm to use one")
    for role, usage in sorted(manifest.usage.items()):
        console.print(
            f"usage [{role}]: {usage.calls} calls ({usage.cached_calls} cached), "
            f"{usage.prompt_tokens}+{usage.completion_tokens} tokens, ${usage.cost_usd:.4f}"
        )
    console.print(f"results: {outcome.run_dir}  (records.jsonl, manifest.json, summary.json)")
    # compare and report read a results directory (holding runs/) or a directory of runs.
    runs_root = outcome.run_dir.parent
    results_dir = runs_root.parent if runs_root.name == "runs" else runs_root
    console.print(
        f"next: run other systems on the same task (membench list systems), then "
        f"membench compare --task {task.name} --systems {outcome.components.system_name},OTHER "
        f"--results-dir {results_dir}, or membench report {results_dir} --out report"
    )


def print_dry_run(config: RunConfig, components: Components, plan: RunPlan, identity: dict[str, Any]) -> None:
    from membench.core.identity import run_id_for

    probes = [p for ps in plan.probes_by_episode.values() for p in ps]
    sessions = sum(len(e.sessions) for e in plan.episodes)
    reader_calls = sum(1 for p in probes if p.mode == "answer") if config.reader_llm else 0
    judge_calls = (
        sum(components.task.expected_judge_calls(p) for p in probes)
        if components.judge.name.startswith("llm")
        else 0
    )
    by_kind: dict[str, int] = {}
    for probe in probes:
        by_kind[probe.kind] = by_kind.get(probe.kind, 0) + 1
    print(f"run id {run_id_for(identity)}")
    print(f"episodes: {len(plan.episodes)} (of {len(plan.dataset.episodes)}), sessions to ingest: {sessions}")
    print(f"probes: {len(probes)} ({', '.join(f'{n} {k}' for k, n in sorted(by_kind.items()))})")
    if plan.skipped_probes:
        print(f"not applicable to {config.system}: {json.dumps(plan.skipped_probes)}")
    print(f"expected LLM calls: reader {reader_calls}, judge at least {judge_calls}")
    print("system-side LLM calls depend on the system (one per ingested session for mem0 in llm mode)")
