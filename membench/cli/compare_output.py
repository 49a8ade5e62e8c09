"""How ``membench compare`` shows its result: a rich table, Markdown, or JSON with raw numbers.

All three carry the same facts per comparison (values with intervals, the difference with its interval,
the permutation p raw and Holm-adjusted, the significance mark it decides, McNemar's p for reference,
the MDE, the paired count and the number of probes left out; JSON lists them all, Markdown the first
ten per side, the table with ``--show-left-out``), the sentence saying which correction was applied to
which family, and the few-episodes note where no test could reject. Text formats show values scaled for
reading (``membench.core.numbers``); JSON keeps the raw values with each metric's scale.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from membench.analysis.compare import CompareResult, MetricFamily, PairResult
from membench.cli.terminal import INDENT, fits, make_console, wrap
from membench.core import numbers as fmt
from membench.core.task import MetricSpec
from membench.stats.policy import MCNEMAR_LABEL, interval_method, interval_sentence

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: how many left-out probe ids Markdown lists per side (JSON lists them all; the table, when asked).
SHOWN_IDS = 10
LEGEND = (
    "B − A on the probes both runs scored; favours: the better side by the point estimate (none for a "
    "metric with a target value: the test is of the difference); p perm: "
    "cluster sign-flip permutation test over episodes, (Holm) adjusted over the family; sig: * when the "
    f"adjusted permutation p <= alpha, the only test that decides; McNemar p: {MCNEMAR_LABEL}; MDE: "
    "smallest difference detectable with 80% power at level alpha, before Holm (a Holm-corrected test "
    "needs a larger one)"
)
HEADERS = (
    "A",
    "B",
    "A value [CI]",
    "B value [CI]",
    "B − A [CI]",
    "favours",
    "p perm (Holm)",
    "sig",
    "McNemar p",
    "MDE",
    "paired (episodes)",
    "only in A / B",
    "errored in A / B",
)
LEFT_ALIGNED = ("A", "B")
#: the narrowest a stacked header of the wide table is wrapped to.
STACKED_HEADER = 10


def _side(pair: PairResult) -> str:
    """ "A" or "B": the side the point difference favours (direction of the metric respected)."""
    c = pair.member.comparison
    if pair.favours is None:
        return "—"
    return "B" if pair.favours == c.name_b else "A"


def _with_interval(shown: str, interval: str) -> str:
    """A value and its interval in one cell; an undefined value (N/A, no pairs) has no interval."""
    return shown if interval == "–" else f"{shown} {interval}"


def pair_cells(pair: PairResult, spec: MetricSpec) -> list[str]:
    """One comparison as the cells of ``HEADERS``: the same text in every layout and in Markdown."""
    c = pair.member.comparison
    return [
        c.name_a,
        c.name_b,
        _with_interval(fmt.value(spec, pair.estimate_a.value), fmt.interval(spec, pair.estimate_a.interval)),
        _with_interval(fmt.value(spec, pair.estimate_b.value), fmt.interval(spec, pair.estimate_b.interval)),
        _with_interval(fmt.delta(spec, c.difference), fmt.delta_interval(spec, c.interval)),
        _side(pair),
        "–"
        if c.p_permutation is None
        else f"{fmt.p_value(c.p_permutation)} ({fmt.p_value(pair.member.p_adjusted)})",
        pair.mark,
        fmt.p_value(c.p_mcnemar) if c.binary else "—",
        fmt.magnitude(spec, pair.mde),
        f"{c.n_paired} ({c.n_clusters})",
        f"{len(pair.only_a)} / {len(pair.only_b)}",
        f"{len(pair.errored_a)} / {len(pair.errored_b)}",
    ]


def _title(family: MetricFamily) -> str:
    direction = family.spec.better_text()
    return f"{family.spec.display} ({family.spec.name}; {direction})"


def _left_out(family: MetricFamily) -> list[tuple[str, tuple[str, ...]]]:
    """Per comparison and side that left probes out: what ("bm25 vs no-memory: 3 only in bm25") and
    which probes; every format names them so."""
    found = []
    for pair in family.pairs:
        c = pair.member.comparison
        for what, ids in (
            (f"only in {c.name_a}", pair.only_a),
            (f"only in {c.name_b}", pair.only_b),
            (f"errored in {c.name_a}", pair.errored_a),
            (f"errored in {c.name_b}", pair.errored_b),
        ):
            if ids:
                found.append((f"{c.name_a} vs {c.name_b}: {len(ids)} {what}", ids))
    return found


def left_out_lines(family: MetricFamily) -> list[str]:
    """One line per comparison that left probes out: which, and on which side (ids capped)."""
    lines = []
    for what, ids in _left_out(family):
        shown = ", ".join(ids[:SHOWN_IDS]) + (f", … ({len(ids)} in all)" if len(ids) > SHOWN_IDS else "")
        lines.append(f"{what}, left out: {shown}")
    return lines


def _header_lines(result: CompareResult) -> list[str]:
    runs = [f"{name}: {run.run_dir}" for name, run in zip(result.names, result.runs, strict=True)]
    waived = [f"paired although they differ (--allow-different) in {d}" for d in result.differing]
    aside = [
        f"not compared: {run_dir}, another run of the same system and mode; {kept} is compared "
        "(complete, the most probes, then the newest)"
        for run_dir, kept in result.set_aside
    ]
    return [
        f"task {result.task}, dataset {fmt.short_hash(result.fingerprint)}; "
        f"{result.n_boot} bootstrap resamples, seed {result.seed}",
        interval_sentence(),
        *runs,
        *aside,
        *waived,
    ]


def _family_notes(family: MetricFamily) -> list[str]:
    return [family.note] if family.note else []


# ---------------------------------------------------------------- formats


def print_table(
    result: CompareResult, console: Console | None = None, *, show_left_out: bool = False
) -> None:
    """The comparison for a terminal of the console's width: per metric a table when it fits with only
    the run names and perhaps the headers wrapped (the shorter of the two), from about 160 columns,
    else one block per pair. Probes left out are counted; ``show_left_out`` lists them, one a line."""
    console = console or make_console()
    width = console.width
    lines = [line for text in _header_lines(result) for line in wrap(text, width)]
    for line in lines:
        console.print(line)
    for family in result.families:
        console.print()
        tables = [_wide_table(family, stack_headers=stack) for stack in (False, True)]
        fitting = [t for t in tables if fits(console, t, wrapping=True)]
        if fitting:
            console.print(min(fitting, key=lambda t: len(console.render_lines(t, pad=False))))
        else:
            for line in _stacked(family, width):
                console.print(line)
        for line in [text for note in _family_notes(family) for text in wrap(note, width)]:
            console.print(line)
        for line in _left_out_text(family, width, show_left_out):
            console.print(line)
    console.print()
    for line in wrap(LEGEND, width):
        console.print(line)


def _wide_table(family: MetricFamily, *, stack_headers: bool) -> Table:
    """Every comparison of a family as a row of ``HEADERS``: run names may wrap at their spaces, values
    never; with ``stack_headers`` each header is wrapped to the width of its column's widest value."""
    from rich import box
    from rich.table import Table

    rows = [pair_cells(pair, family.spec) for pair in family.pairs]
    table = Table(
        title=_title(family),
        caption=family.description,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, header in enumerate(HEADERS):
        if header in LEFT_ALIGNED:
            table.add_column(header, justify="left")
        else:
            widest = max(len(row[i]) for row in rows)
            shown = _stacked_header(header, widest) if stack_headers else header
            table.add_column(shown, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _stacked_header(header: str, width: int) -> str:
    """A header over lines no wider than its column's widest value, its own longest word or
    ``STACKED_HEADER`` (below which "only in A / B" would read one word a line)."""
    import textwrap

    widest = max(width, STACKED_HEADER, *map(len, header.split()))
    return "\n".join(textwrap.wrap(header, width=widest)) or header


def _stacked(family: MetricFamily, width: int) -> list[str]:
    """A family for a narrow terminal: its title and correction, then per pair the two runs and one
    line per fact, named as the wide table's headers."""
    lines = [*wrap(_title(family), width), *wrap(family.description, width)]
    keys = HEADERS[len(LEFT_ALIGNED) :]
    key_width = max(len(key) for key in keys)
    for pair in family.pairs:
        cells = pair_cells(pair, family.spec)
        lines.append("")
        lines.extend([*wrap(f"A: {cells[0]}", width), *wrap(f"B: {cells[1]}", width)])
        values = cells[len(LEFT_ALIGNED) :]
        lines.extend(
            line
            for key, value in zip(keys, values, strict=True)
            for line in wrap(f"{INDENT}{key:<{key_width}}  {value}", width, INDENT * 2 + " " * key_width)
        )
    return lines


def _left_out_text(family: MetricFamily, width: int, show: bool) -> list[str]:
    """Probes left out as counts (the table's last two columns), or listed one per line when asked."""
    left_out = _left_out(family)
    if not left_out:
        return []
    if not show:
        total = sum(len(ids) for _, ids in left_out)
        return wrap(
            f"{total} probe(s) left out of comparisons (only in A / B, errored in A / B); "
            "--show-left-out lists them",
            width,
        )
    return [line for what, ids in left_out for line in [*wrap(f"{what}:", width), *(INDENT + i for i in ids)]]


def _md_cell(text: str) -> str:
    """Run labels, paths and probe ids come from runs and data: escaped as the leaderboard escapes them."""
    from membench.reporting.markdown import md

    return md(text)


def render_markdown(result: CompareResult) -> str:
    lines = ["# membench compare", ""]
    lines.extend(f"- {_md_cell(line)}" for line in _header_lines(result))
    for family in result.families:
        lines += ["", f"## {_md_cell(_title(family))}", "", _md_cell(family.description), ""]
        lines.append("| " + " | ".join(HEADERS) + " |")
        lines.append("|" + "|".join("---" if h in LEFT_ALIGNED else "---:" for h in HEADERS) + "|")
        for pair in family.pairs:
            lines.append("| " + " | ".join(_md_cell(cell) for cell in pair_cells(pair, family.spec)) + " |")
        left_out = [*_family_notes(family), *left_out_lines(family)]
        if left_out:
            lines.append("")
            lines.extend(f"- {_md_cell(line)}" for line in left_out)
    lines += ["", _md_cell(LEGEND), ""]
    return "\n".join(lines)


def _number(value: float | None) -> float | None:
    """JSON has no infinity or NaN: an undefined number is null."""
    return value if value is not None and math.isfinite(value) else None


def _pair_json(pair: PairResult) -> dict[str, Any]:
    c = pair.member.comparison
    return {
        "a": c.name_a,
        "b": c.name_b,
        "value_a": _number(pair.estimate_a.value),
        "ci_a": pair.estimate_a.interval,
        "value_b": _number(pair.estimate_b.value),
        "ci_b": pair.estimate_b.interval,
        "interval": interval_method(c.n_clusters),
        "difference": _number(c.difference),
        "difference_ci": c.interval,
        "difference_ci_bootstrap": c.ci,
        "difference_ci_t": c.ci_t,
        "difference_se": _number(c.se),
        "favours": pair.favours,
        "test": c.test,
        "p_permutation": c.p_permutation,
        "p_holm": pair.member.p_adjusted,
        "significant": pair.member.reject,
        "decided_by": c.test,
        "mark": pair.mark,
        "p_mcnemar": c.p_mcnemar,
        "p_mcnemar_note": MCNEMAR_LABEL if c.binary else None,
        "mde": _number(pair.mde),
        "discordant_a": c.discordant_a,
        "discordant_b": c.discordant_b,
        "n_paired": c.n_paired,
        "n_clusters": c.n_clusters,
        "only_a": list(pair.only_a),
        "only_b": list(pair.only_b),
        "errored_a": list(pair.errored_a),
        "errored_b": list(pair.errored_b),
    }


def to_json(result: CompareResult) -> dict[str, Any]:
    return {
        "task": result.task,
        "dataset_fingerprint": result.fingerprint,
        "runs": [
            {"name": name, "run_dir": str(run.run_dir), "run_id": run.manifest.run_id, "system": run.system}
            for name, run in zip(result.names, result.runs, strict=True)
        ],
        "baseline": result.baseline,
        "n_boot": result.n_boot,
        "seed": result.seed,
        "confidence": result.confidence,
        "intervals": interval_sentence(),
        "allowed_differences": list(result.differing),
        "set_aside": [{"run_dir": str(d), "compared_instead": str(k)} for d, k in result.set_aside],
        "families": [
            {
                "metric": family.spec.name,
                "display": family.spec.display,
                "better": family.spec.better,
                "target": family.spec.target,
                "scale": family.spec.scale,
                "unit": family.spec.unit,
                "family": "baseline" if family.family.baseline is not None else "all pairs",
                "baseline": family.family.baseline,
                "correction": family.family.correction,
                "alpha": family.family.alpha,
                "correction_applied_to": family.description,
                "note": family.note,
                "comparisons": [_pair_json(pair) for pair in family.pairs],
            }
            for family in result.families
        ],
    }
