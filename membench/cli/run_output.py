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
from membench.cli.terminal import INDENT, command, fits, make_console, wrap
from membench.core.records import MEMORIES, RECORDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console
    from rich.table import Table

    from membench.api import RunOutcome
    from membench.core.config import RunConfig
    from membench.core.identity import RunIdentity
    from membench.core.task import Task
    from membench.core.types import Probe
    from membench.running.runner import Components, RunPlan


def print_outcome(outcome: RunOutcome, console: Console | None = None) -> None:
    """The metrics table and its breakdowns, then how to read them, what ran, and what to do next.

    Drawn for the console's width (``cli.terminal``): at 80 columns no interval, header or command is
    split, and every line fits."""
    console = console or make_console()
    task, summary = outcome.components.task, outcome.summary
    tables, abbreviations = _tables(console, task, outcome.components.system_name, summary)
    for table in tables:
        console.print(table)
    notes = [
        legend(task, summary),
        *([abbreviations] if abbreviations else []),
        *interval_lines(task, summary),
        *_what_ran(outcome),
        *_accounting(outcome),
    ]
    lines = [line for note in notes for line in wrap(note, console.width)]
    for line in [*lines, *_where_and_next(outcome, console.width)]:
        console.print(line)


#: the metrics table's short headers where the narrow one is still too wide, and what each means.
SHORT_HEADERS = {
    "episodes": ("ep.", "episodes"),
    "clusters": ("cl.", "clusters"),
    "errors": ("err.", "errored items"),
}


def _tables(
    console: Console, task: Task, system_name: str, summary: dict[str, Any]
) -> tuple[list[Table], str]:
    """The metrics table, then each breakdown label's tables; and the line explaining the abbreviated
    headers, if any ("").

    Every table is boxed when all of them fit the width so, else all are narrow: the metrics table's
    count headers abbreviated if it still does not fit, a breakdown's metrics spread over as many
    tables as needed (each repeating the level column)."""
    columns, rows = metric_columns(task, summary), metric_rows(task, summary)
    title = f"{task.name} × {system_name}"
    main = _table(title, columns, rows, narrow=False)
    breakdowns = breakdown_tables(task, summary)
    boxed = [
        main,
        *(
            _table(f"by {label}", [label, *headers], cells, narrow=False)
            for label, headers, cells in breakdowns
        ),
    ]
    if all(fits(console, table) for table in boxed):
        return boxed, ""
    main, abbreviations = _table(title, columns, rows, narrow=True), ""
    short = [column for column in columns if column in SHORT_HEADERS]
    if short and not fits(console, main):
        headers = [SHORT_HEADERS[c][0] if c in SHORT_HEADERS else c for c in columns]
        main = _table(title, headers, rows, narrow=True)
        abbreviations = "; ".join(f"{SHORT_HEADERS[c][0]}: {SHORT_HEADERS[c][1]}" for c in short)
    parts = [
        part for label, headers, cells in breakdowns for part in _breakdown(console, label, headers, cells)
    ]
    return [main, *parts], abbreviations


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, narrow: bool) -> Table:
    """A table of text cells: the first column left-aligned and free to wrap, the others right-aligned
    and never wrapped (an interval or a count split over two lines is misread). Boxed, or ``narrow``:
    a rule under the header and two spaces between columns."""
    from rich import box
    from rich.table import Table

    table = (
        Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        if narrow
        else Table(title=title)
    )
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i > 0)
    for row in rows:
        table.add_row(*row)
    return table


def _breakdown(console: Console, label: str, headers: list[str], rows: list[list[str]]) -> list[Table]:
    """One breakdown as narrow tables of as many of its metrics each as fit the width, the metrics
    shared evenly between the tables (9 as 3 + 3 + 3, not 4 + 4 + 1)."""
    bounds = _greedy(console, label, headers, rows)
    size = -(-len(headers) // len(bounds))
    even = [(i, min(i + size, len(headers))) for i in range(0, len(headers), size)]
    if len(even) == len(bounds) and all(fits(console, _part(label, headers, rows, a, b)) for a, b in even):
        bounds = even
    return [_part(label, headers, rows, a, b, more=i > 0) for i, (a, b) in enumerate(bounds)]


def _greedy(console: Console, label: str, headers: list[str], rows: list[list[str]]) -> list[tuple[int, int]]:
    """The metric ranges of a breakdown's tables, each as long as fits."""
    bounds, start = [], 0
    while start < len(headers):
        end = start + 1
        while end < len(headers) and fits(console, _part(label, headers, rows, start, end + 1)):
            end += 1
        bounds.append((start, end))
        start = end
    return bounds


def _part(
    label: str, headers: list[str], rows: list[list[str]], start: int, end: int, *, more: bool = False
) -> Table:
    """The narrow table of a breakdown's metrics ``start`` to ``end`` (``more``: not the first part),
    without the levels none of these metrics has."""
    title = f"by {label}" + (", continued" if more else "")
    cells = [[row[0], *row[1 + start : 1 + end]] for row in rows]
    return _table(title, [label, *headers[start:end]], [c for c in cells if any(c[1:])], narrow=True)


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
        f"of {counts.probes_planned}; episodes {counts.episodes_done}/{counts.episodes_planned}",
        f"status {manifest.status}; wall time {outcome.elapsed_s:.1f}s",
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


def _where_and_next(outcome: RunOutcome, width: int) -> list[str]:
    """Where the run's files are, and the commands that compare it with other systems' runs, each on
    lines of its own, indented, so that it can be copied whole."""
    results_dir = _results_dir(outcome.run_dir)
    task, system = outcome.components.task.name, outcome.components.system_name
    files = [RECORDS, MEMORIES, "manifest.json", "summary.json"]
    held = [name for name in files if (outcome.run_dir / name).exists()] or files
    return [
        *wrap(f"results: {outcome.run_dir}", width),
        f"{INDENT}({', '.join(held)})",
        "next: run other systems on the same task (membench systems list), then",
        *command(
            f"membench compare --task {task} --systems {system},OTHER --results-dir {results_dir}", width
        ),
        "or",
        *command(f"membench report {results_dir} --out report", width),
    ]


def _results_dir(run_dir: Path) -> Path:
    """What compare and report take: the results directory holding runs/, or the directory of runs."""
    runs_root = run_dir.parent
    return runs_root.parent if runs_root.name == "runs" else runs_root


def print_dry_run(
    config: RunConfig, components: Components, plan: RunPlan, identity: RunIdentity, system_note: str
) -> None:
    """The run id, the episodes and probes the run would take, and the LLM calls they would make,
    each wrapped at the console's width.

    ``system_note`` is the system's own word on its LLM calls (``MemorySystem.llm_calls_note``).
    """
    from membench.core.identity import run_id_for

    probes = [p for ps in plan.probes_by_episode.values() for p in ps]
    sessions = sum(len(e.sessions) for e in plan.episodes)
    by_kind = Counter(p.kind for p in probes)
    reader_calls, judge_calls = _expected_calls(config, components, probes)
    said = [
        f"run id {run_id_for(identity)}",
        f"episodes: {len(plan.episodes)} (of {len(plan.dataset.episodes)}), sessions to ingest: {sessions}",
        f"probes: {len(probes)} ({', '.join(f'{n} {k}' for k, n in sorted(by_kind.items()))})",
    ]
    if plan.skipped_probes:
        said.append(f"not applicable to {config.system}: {json.dumps(plan.skipped_probes)}")
    said.append(f"expected LLM calls: reader {reader_calls}, judge at least {judge_calls}")
    if system_note:
        said.append(f"system-side LLM calls: {system_note}")
    width = make_console().width
    for paragraph in said:
        for line in wrap(paragraph, width):
            print(line)


def _expected_calls(config: RunConfig, components: Components, probes: list[Probe]) -> tuple[int, int]:
    """Reader calls (one per answer probe, with an LLM reader) and the judge's least number of calls."""
    reader_calls = sum(1 for p in probes if p.mode == "answer") if config.reader_llm else 0
    judge_calls = (
        sum(components.task.expected_judge_calls(p) for p in probes)
        if components.judge.name.startswith("llm")
        else 0
    )
    return reader_calls, judge_calls
