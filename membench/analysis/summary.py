"""A finished run's summary: metric estimates with clustered intervals, as summary.json holds them and as
the run summary's tables read them (rows of text: the printing is the command line's)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.analysis.runs import read_contributions
from membench.core import numbers as fmt
from membench.core.records import (
    dump_json,
    write_atomic,
)
from membench.core.task import MetricSpec, Task
from membench.core.text import level_order
from membench.stats.policy import CONFIDENCE, few_episodes_note, interval_note

if TYPE_CHECKING:
    import pandas as pd

    from membench.stats import MetricEstimate

SUMMARY = "summary.json"


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


def summarize(
    task: Task,
    run_dir: Path,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    contributions: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Estimates for every metric the task declares (N/A when it has no contributions), and breakdowns.

    ``contributions`` is the run's table when the runner took it as the run went
    (``RunContributions``); None reads the run back from ``run_dir``."""
    from membench.stats import estimate

    frame = read_contributions(task, run_dir) if contributions is None else contributions
    overall = estimate(frame, task.metrics, n_boot=n_boot, seed=seed)
    breakdowns = {
        label: [estimate_dict(e) for e in estimate(frame, task.metrics, n_boot=n_boot, seed=seed, by=label)]
        for label in task.breakdowns
        if label in frame.columns
    }
    return {"metrics": [estimate_dict(e) for e in overall], "breakdowns": breakdowns}


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    """Write ``summary`` as the run's summary.json; returns its path."""
    path = run_dir / SUMMARY
    write_atomic(path, dump_json(summary))
    return path


def _shown_interval(est: dict[str, Any]) -> tuple[float, float] | None:
    if est.get("ci_low") is None or est.get("ci_high") is None:
        return None
    return est["ci_low"], est["ci_high"]


def interval_lines(task: Task, summary: dict[str, Any]) -> list[str]:
    """Which interval the table shows, and the few-episodes note when no comparison could reject."""
    main = next(e for e in summary["metrics"] if e["metric"] == task.main_metric().name)
    clusters = int(main["n_clusters"])
    noun = task.cluster_noun()
    note = few_episodes_note(clusters, clusters=None if task.cluster_label is None else noun)
    return [f"CI: {interval_note(clusters, noun)}", *([note] if note else [])]


def _variants(task: Task) -> list[MetricSpec]:
    """The metrics the task declares as variants of others, in declaration order."""
    return [m for m in task.metrics if m.variant_of]


def variant_labels(task: Task, summary: dict[str, Any]) -> list[str]:
    """The variant columns of the metrics table: one per label the task's variants carry, unless every
    variant under it reads the same as its metric's value in this run (a HaluMem run without errors,
    where "(all)" only repeats "value")."""
    shown = {est["metric"]: fmt.value(spec, est["value"]) for spec, est in _estimates(task, summary)}
    labels: dict[str, None] = {}
    for variant in _variants(task):
        if variant.name in shown and shown[variant.name] != shown.get(variant.variant_of):
            labels[variant.variant_label] = None
    return [label for label in dict.fromkeys(m.variant_label for m in _variants(task)) if label in labels]


def _estimates(task: Task, summary: dict[str, Any]) -> list[tuple[MetricSpec, dict[str, Any]]]:
    """Each overall estimate of ``summary`` with the spec of its metric."""
    specs = {m.name: m for m in task.metrics}
    return [(specs[est["metric"]], est) for est in summary["metrics"]]


def metric_columns(task: Task, summary: dict[str, Any]) -> tuple[str, ...]:
    """The metrics table's header: a column per shown variant label between the interval and counts."""
    clusters = "episodes" if task.cluster_label is None else "clusters"
    return (
        "metric",
        "value",
        f"{CONFIDENCE:.0%} CI",
        *variant_labels(task, summary),
        "n",
        clusters,
        "errors",
    )


def legend(task: Task, summary: dict[str, Any]) -> str:
    """What the value column counts, and what each variant column does differently (or, for a column
    left out, that it reads the same as value in this run)."""
    meanings = {m.variant_label: m.variant_legend for m in _variants(task)}
    shown = variant_labels(task, summary)
    parts = ["value: errored items excluded"]
    for label, meaning in meanings.items():
        if label in shown:
            parts.append(f"{label}: {meaning}" if meaning else label)
        else:
            parts.append(
                f"no {label} column" + (f" ({meaning})" if meaning else "") + ": the same as value here"
            )
    return "; ".join(parts)


def metric_rows(task: Task, summary: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per metric (``metric_columns``); a variant is a cell in its metric's row, not a row."""
    by_name = {est["metric"]: est for est in summary["metrics"]}
    variant_estimates = {(m.variant_of, m.variant_label): by_name.get(m.name) for m in _variants(task)}
    labels = variant_labels(task, summary)
    rows: list[tuple[str, ...]] = []
    for spec, est in _estimates(task, summary):
        if spec.variant_of in by_name:
            continue
        variants = [variant_estimates.get((spec.name, label)) for label in labels]
        rows.append(
            (
                spec.display + (" ★" if spec.main else ""),
                fmt.value(spec, est["value"]),
                fmt.interval(spec, _shown_interval(est)),
                *(fmt.value(spec, v["value"]) if v else "" for v in variants),
                str(est["n"]),
                str(est["n_clusters"]),
                str(est["n_errors"]),
            )
        )
    return rows


def breakdown_tables(task: Task, summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per label (question type, memory type): rows of levels, columns of the metrics broken down.

    Variants are left out: the breakdowns show each metric once.
    """
    specs = {m.name: m for m in task.metrics}
    tables = []
    for label, estimates in summary["breakdowns"].items():
        metrics = [m for m in dict.fromkeys(e["metric"] for e in estimates) if not specs[m].variant_of]
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
