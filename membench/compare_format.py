"""How ``membench compare`` shows its result: a rich table, Markdown, or JSON with raw numbers.

All three carry the same facts per comparison (values with intervals, the difference with its interval,
the test and both p-values raw and Holm-adjusted, the significance mark, the MDE, the paired count and
the probes left out) and the sentence saying which correction was applied to which family. Text formats
show values scaled for reading (percent, ms); JSON keeps the raw values with each metric's scale.
"""

from __future__ import annotations

import math
from typing import Any

from membench.compare import CompareResult, MetricFamily, PairResult
from membench.summary import _format_value
from membench.task import MetricSpec

#: how many left-out probe ids the text formats list per side (JSON lists them all).
SHOWN_IDS = 10
LEGEND = (
    "B − A on the probes both runs scored; favours: the better side by the point estimate; CI: episodes "
    "resampled (paired); p: the test's p-value; p perm: cluster sign-flip permutation; (Holm): adjusted over "
    "the family; sig: ** significant by both adjusted p-values, * by one only; MDE: smallest difference "
    "detectable with 80% power at level alpha, before Holm (a Holm-corrected test needs a larger one)"
)
HEADERS = (
    "A",
    "B",
    "A value [CI]",
    "B value [CI]",
    "B − A [CI]",
    "favours",
    "test",
    "p (Holm)",
    "p perm (Holm)",
    "sig",
    "MDE",
    "paired (episodes)",
    "only in A / B",
    "errored in A / B",
)
LEFT_ALIGNED = ("A", "B", "test")


def format_difference(value: float | None, spec: MetricSpec) -> str:
    if value is None or not math.isfinite(value):
        return "N/A"
    if spec.unit == "%":
        return f"{value * spec.scale:+.1f} pt"
    shown = _format_value(abs(value), spec.scale, spec.unit)
    return ("-" if value < 0 else "+") + shown


def format_interval(ci: tuple[float, float] | None, spec: MetricSpec, signed: bool = False) -> str:
    if ci is None:
        return "—"
    show = (
        (lambda v: format_difference(v, spec))
        if signed
        else (lambda v: _format_value(v, spec.scale, spec.unit))
    )
    return f"[{show(ci[0])}, {show(ci[1])}]"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _mde(value: float | None, spec: MetricSpec) -> str:
    if value is None:
        return "—"
    return format_difference(value, spec).lstrip("+")


def _side(pair: PairResult) -> str:
    """ "A" or "B": the side the point difference favours (direction of the metric respected)."""
    c = pair.member.comparison
    if pair.favours is None:
        return "—"
    return "B" if pair.favours == c.name_b else "A"


def pair_cells(pair: PairResult, spec: MetricSpec) -> list[str]:
    c = pair.member.comparison
    fmt = _format_value
    return [
        c.name_a,
        c.name_b,
        f"{fmt(pair.estimate_a.value, spec.scale, spec.unit)} {format_interval(pair.estimate_a.ci, spec)}",
        f"{fmt(pair.estimate_b.value, spec.scale, spec.unit)} {format_interval(pair.estimate_b.ci, spec)}",
        f"{format_difference(c.difference, spec)} {format_interval(c.ci, spec, signed=True)}",
        _side(pair),
        c.test or "—",
        f"{_p(c.p_value)} ({_p(pair.member.p_adjusted)})",
        f"{_p(c.p_permutation)} ({_p(pair.p_permutation_adjusted)})",
        pair.mark,
        _mde(pair.mde, spec),
        f"{c.n_paired} ({c.n_clusters})",
        f"{len(pair.only_a)} / {len(pair.only_b)}",
        f"{len(pair.errored_a)} / {len(pair.errored_b)}",
    ]


def _title(family: MetricFamily) -> str:
    direction = "higher is better" if family.spec.higher_is_better else "lower is better"
    return f"{family.spec.display} ({family.spec.name}; {direction})"


def left_out_lines(family: MetricFamily) -> list[str]:
    """One line per comparison that left probes out: which, and on which side (ids capped)."""
    lines = []
    for pair in family.pairs:
        c = pair.member.comparison
        for what, ids in (
            (f"only in {c.name_a}", pair.only_a),
            (f"only in {c.name_b}", pair.only_b),
            (f"errored in {c.name_a}", pair.errored_a),
            (f"errored in {c.name_b}", pair.errored_b),
        ):
            if ids:
                shown = ", ".join(ids[:SHOWN_IDS]) + (
                    f", … ({len(ids)} in all)" if len(ids) > SHOWN_IDS else ""
                )
                lines.append(f"{c.name_a} vs {c.name_b}: {len(ids)} {what}, left out: {shown}")
    return lines


def _header_lines(result: CompareResult) -> list[str]:
    runs = [f"{name}: {run.run_dir}" for name, run in zip(result.names, result.runs, strict=True)]
    return [
        f"task {result.task}, dataset {result.fingerprint}; "
        f"{result.n_boot} bootstrap resamples, seed {result.seed}",
        *runs,
    ]


# ---------------------------------------------------------------- formats


def print_table(result: CompareResult) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    console = Console(markup=False, highlight=False, width=None if sys.stdout.isatty() else 220)
    for line in _header_lines(result):
        console.print(line)
    for family in result.families:
        table = Table(title=_title(family), caption=family.description)
        for header in HEADERS:
            table.add_column(header, justify="left" if header in LEFT_ALIGNED else "right")
        for pair in family.pairs:
            table.add_row(*pair_cells(pair, family.spec))
        console.print(table)
        for line in left_out_lines(family):
            console.print(line)
    console.print(LEGEND)


def _md_cell(text: str) -> str:
    """Run labels, paths and probe ids come from runs and data: escaped as the leaderboard escapes them."""
    from membench.report.markdown import md

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
        left_out = left_out_lines(family)
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
        "ci_a": pair.estimate_a.ci,
        "value_b": _number(pair.estimate_b.value),
        "ci_b": pair.estimate_b.ci,
        "difference": _number(c.difference),
        "difference_ci": c.ci,
        "difference_se": _number(c.se),
        "favours": pair.favours,
        "test": c.test,
        "p_value": c.p_value,
        "p_permutation": c.p_permutation,
        "p_holm": pair.member.p_adjusted,
        "p_permutation_holm": pair.p_permutation_adjusted,
        "significant": pair.member.reject,
        "significant_permutation": pair.reject_permutation,
        "mark": pair.mark,
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
        "families": [
            {
                "metric": family.spec.name,
                "display": family.spec.display,
                "higher_is_better": family.spec.higher_is_better,
                "scale": family.spec.scale,
                "unit": family.spec.unit,
                "family": "baseline" if family.family.baseline is not None else "all pairs",
                "baseline": family.family.baseline,
                "correction": family.family.correction,
                "alpha": family.family.alpha,
                "correction_applied_to": family.description,
                "comparisons": [_pair_json(pair) for pair in family.pairs],
            }
            for family in result.families
        ],
    }
