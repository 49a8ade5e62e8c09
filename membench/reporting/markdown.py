"""``leaderboard.md``: the boards as plain Markdown tables, readable in a terminal and on a code forge.

The text is built line by line (not from a template) so that its bytes are exactly predictable: the
golden test compares them. Every text from a run (system names, labels, messages) goes through ``md``,
so a name holding ``|`` or HTML cannot break a table or inject markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from membench.core import numbers as fmt
from membench.core.task import MetricSpec
from membench.reporting.collect import (
    BETTER_LEGEND,
    CONFIDENCE,
    SIGNIFICANT,
    Board,
    Delta,
    Entry,
    Settings,
    better_cell,
    protocol,
)
from membench.reporting.curves import (
    LATENCY_CAPTION,
    NO_DATA,
    CurveSeries,
    LatencyTable,
    Spread,
    reference_value,
    spread_cells,
)

#: a curve's table shows each value's interval only up to this many axis values: beyond, the cells
#: would not fit a screen's width (the intervals are in leaderboard.html's plot, on each point).
MAX_LEVELS_WITH_CI = 5
#: heads a curve table's row of reference points (measured elsewhere, not by a system on this board).
REFERENCE_MARK = "reference: "

_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|"})


def md(text: str) -> str:
    """Text safe inside a Markdown table cell: special characters escaped, newlines flattened."""
    return " ".join(str(text).split()).translate(_SPECIAL)


def run_page_link(run_name: str) -> str:
    """The link target of a run's page, percent-encoded: a link target is not a table cell, so ``md``
    does not make it safe (``<``, ``>``, spaces and ``)`` would end the link and let the rest of the
    name through as raw HTML); a browser decodes it back to the file ``runs/<run name>.html``."""
    return f"runs/{quote(run_name, safe='')}.html"


def render_markdown(boards: Sequence[Board], settings: Settings, n_runs: int) -> str:
    lines = [
        "# membench leaderboard",
        "",
        f"The complete run covering the most probes (then the latest) per system and mode: {n_runs} "
        f"run(s) on {len(boards)} board(s). A board holds the runs of one task with the same options, "
        "dataset (fingerprint), reader and judge: only those are paired.",
        "",
        *_protocol(settings),
    ]
    for board in boards:
        lines += ["", *_board(board)]
    return "\n".join(lines) + "\n"


def _protocol(settings: Settings) -> list[str]:
    return ["How to read it:", "", *(f"- {md(line)}" for line in protocol(settings))]


def _board(board: Board) -> list[str]:
    reader, judge = board.roles
    lines = [
        f"## {md(board.task)} v{md(board.version)} · dataset {fmt.short_hash(board.data.fingerprint)}",
        "",
        f"**{md(board.winner_line)}**",
        "",
    ]
    if board.description:
        lines += [md(board.description), ""]
    lines += [
        f"- Data: {md(board.data.origin)}",
        f"- Reader: {md(reader)} · Judge: {md(judge)} · Task options: {md(board.task_options)}",
        f"- {'Episodes (clusters)' if board.clusters == 'episodes' else board.clusters.capitalize()} "
        f"behind the main metric: {board.episodes}",
        *(f"- {md(note)}" for note in board.notes),
        f"- Baseline: {md(board.baseline or 'none')} ({md(board.baseline_note)})",
        "",
        *_ranking(board),
        "",
        *_neighbours(board),
    ]
    if board.baseline:
        lines += ["", *_main_deltas(board)]
    lines += ["", *_all_metrics(board)]
    if board.baseline:
        lines += ["", *_all_deltas(board)]
    if board.curves or board.curve_notes:
        lines += ["", *_curves(board)]
    for table in board.latency:
        lines += ["", *_latency(table)]
    lines += ["", *_notes(board.metrics)]
    return lines


def _ranking(board: Board) -> list[str]:
    main = board.main
    direction = main.better_text()
    lines = [
        f"### Ranking by {md(main.display)} ({direction})",
        "",
        f"| Rank | System | {md(main.display)} | {CONFIDENCE:.0%} CI | n | Errors | Cost | "
        "Ingest / session | Query / probe | Run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in board.entries:
        est = entry.estimates[main.name]
        lines.append(
            f"| {_rank(entry)} | {md(entry.label)} | {fmt.value(main, est.value)} | "
            f"{fmt.interval(main, est.interval)} | {est.n} | {entry.n_errored}/{entry.n_probes} | "
            f"{md(entry.cost_text)} | {fmt.seconds(entry.ingest_s)} | "
            f"{fmt.seconds(entry.query_s)} | [{md(entry.run_name)}]({run_page_link(entry.run_name)}) |"
        )
    return lines


def _rank(entry: Entry) -> str:
    return f"{entry.rank}=" if entry.tied else str(entry.rank)


def _neighbours(board: Board) -> list[str]:
    if not board.neighbours:
        return ["One system: no ranking test."]
    main = board.main
    lines = [
        f"Neighbours in the ranking ({md(main.display)}, lower minus upper; Holm across "
        f"{len(board.neighbours)} pair(s)):",
        "",
        "| Upper | Lower | Δ | CI | p (perm) | p (Holm) | Separated |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair in board.neighbours:
        c = pair.comparison
        lines.append(
            f"| {md(pair.upper)} | {md(pair.lower)} | {fmt.delta(main, c.difference)} | "
            f"{fmt.delta_interval(main, c.interval)} | {fmt.p_value(c.p_permutation)} | "
            f"{fmt.p_value(pair.p_holm)} | {pair.verdict} |"
        )
    return lines


def _main_deltas(board: Board) -> list[str]:
    main = board.main
    lines = [
        f"### Paired deltas against {md(board.baseline or '')}: {md(main.display)}",
        "",
        "| System | Δ | CI | p (perm) | p (Holm) | McNemar p | MDE | Paired probes | Left out |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, delta in board.deltas[main.name].items():
        c = delta.comparison
        left_out = f"{c.n_only_a} baseline only, {c.n_only_b} system only, {c.n_errored_either} errored"
        mcnemar = fmt.p_value(c.p_mcnemar) if c.binary else "–"
        lines.append(
            f"| {md(label)} | {_delta_cell(main, delta)} | {fmt.delta_interval(main, c.interval)} | "
            f"{fmt.p_value(c.p_permutation)} | {fmt.p_value(delta.p_holm)} | {mcnemar} | "
            f"{fmt.magnitude(main, delta.mde)} | {c.n_paired} | {left_out} |"
        )
    return lines


def _delta_cell(spec: MetricSpec, delta: Delta) -> str:
    return fmt.delta(spec, delta.comparison.difference) + (f" {md(SIGNIFICANT)}" if delta.significant else "")


def _all_metrics(board: Board) -> list[str]:
    header = " | ".join(md(e.short_label) for e in board.entries)
    lines = [
        f"### Every metric ({CONFIDENCE:.0%} CI; n probes)",
        "",
        f"{md(BETTER_LEGEND)} Best values are in bold.",
        "",
        f"| Metric | Group | Better | {header} |",
        "|---|---|---|" + "---|" * len(board.entries),
    ]
    for spec in board.metrics:
        cells = []
        best = board.best(spec)
        for entry in board.entries:
            est = entry.estimates[spec.name]
            shown = fmt.value(spec, est.value)
            if entry.label in best:
                shown = f"**{shown}**"
            if est.value is not None:
                shown += f" {fmt.interval(spec, est.interval)}; n={est.n}"
            if est.n_errors:
                shown += f"; {est.n_errors} errored"
            cells.append(shown)
        better = better_cell(spec)
        lines.append(f"| {md(spec.display)} | {md(spec.group) or '–'} | {better} | {' | '.join(cells)} |")
    return lines


def _all_deltas(board: Board) -> list[str]:
    others = board.others
    header = " | ".join(md(e.short_label) for e in others)
    lines = [
        f"### Every metric: paired Δ against {md(board.baseline or '')} "
        f"(p Holm; {md(SIGNIFICANT)} significant)",
        "",
        f"| Metric | {header} |",
        "|---|" + "---|" * len(others),
    ]
    for spec in board.metrics:
        cells = []
        for entry in others:
            delta = board.deltas[spec.name][entry.label]
            if delta.comparison.difference is None:
                cells.append(fmt.NA)
            else:
                cells.append(f"{_delta_cell(spec, delta)} (p={fmt.p_value(delta.p_holm)})")
        lines.append(f"| {md(spec.display)} | {' | '.join(cells)} |")
    return lines


def _curves(board: Board) -> list[str]:
    """Each curve as a table, systems as rows and axis values as columns; the curves left out, and why."""
    lines = [
        "### Curves (plotted in leaderboard.html)",
        "",
        f"One row per system, one column per value of the axis; a cell is the value, then its "
        f"{CONFIDENCE:.0%} CI in brackets when the table has at most {MAX_LEVELS_WITH_CI} columns; "
        f"{NO_DATA}: no probe at that value.",
    ]
    if any(curve.references for curve in board.curves):
        lines[-1] += (
            f' Rows headed "{REFERENCE_MARK.strip()}" hold points measured elsewhere (no interval; '
            f"{NO_DATA}: no point at that value)."
        )
    if board.curve_notes:
        lines += ["", *(f"- {md(note)}" for note in board.curve_notes)]
    for curve in board.curves:
        lines += ["", *_curve_table(board, curve)]
    return lines


def _curve_table(board: Board, curve: CurveSeries) -> list[str]:
    """The table of one curve: a row per system with points, then a row per reference; its chance
    level, when it has one, on a line of its own below."""
    levels, spec = curve.levels, curve.spec
    with_ci = len(levels) <= MAX_LEVELS_WITH_CI
    lines = [
        f"#### {md(curve.title)}",
        "",
        f"| System | {' | '.join(f'{x:g}' for x in levels)} |",
        "|---|" + "---|" * len(levels),
    ]
    for entry in board.entries:
        if entry.label not in curve.points:
            continue
        cells = []
        for x in levels:
            est = curve.cell(entry.label, x)
            shown = NO_DATA if est is None else fmt.value(spec, est.value)
            if with_ci and est is not None and est.value is not None:
                shown += f" {fmt.interval(spec, est.interval)}"
            cells.append(shown)
        lines.append(f"| {md(entry.label)} | {' | '.join(cells)} |")
    for ref in curve.references:
        values = (reference_value(ref, x) for x in levels)
        cells = [NO_DATA if v is None else fmt.value(spec, v) for v in values]
        lines.append(f"| {md(REFERENCE_MARK + ref.label)} | {' | '.join(cells)} |")
    if curve.curve.chance is not None:
        lines += ["", f"Chance: {fmt.value(spec, curve.curve.chance)}"]
    return lines


def _latency(table: LatencyTable) -> list[str]:
    axis = md(table.axis)
    lines = [
        f"### Latency by {axis}",
        "",
        md(LATENCY_CAPTION),
        "",
        f"| {axis} | System | Probes | Answer call p50 / p90 / p99 | Retrieval p50 / p90 / p99 | Episodes | "
        "Ingestion / episode p50 / p90 / p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.rows:
        answer, retrieve, ingest = (_spread(s) for s in (row.answer, row.retrieve, row.ingest))
        lines.append(
            f"| {row.level:g} | {md(row.system)} | {row.probes} | {answer} | {retrieve} | {row.episodes} | "
            f"{ingest} |"
        )
    if table.note:
        lines += ["", md(table.note)]
    return lines


def _spread(spread: Spread | None) -> str:
    return NO_DATA if spread is None else " / ".join(spread_cells(spread))


def _notes(specs: Sequence[MetricSpec]) -> list[str]:
    noted = [s for s in specs if s.note]
    if not noted:
        return []
    return ["Metric notes:", "", *(f"- {md(s.display)}: {md(s.note)}" for s in noted)]
