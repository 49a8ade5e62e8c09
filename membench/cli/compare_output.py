"""How ``membench compare`` shows its result: a rich table, Markdown, or JSON with raw numbers.

All three carry the same facts per comparison (values with intervals, the difference with its interval,
the permutation p raw and Holm-adjusted, the significance mark it decides, McNemar's p for reference,
the MDE, the paired count and the probes left out), the sentence saying which correction was applied to
which family, and the few-episodes note where no test could reject. Text formats show values scaled for
reading (``membench.core.numbers``); JSON keeps the raw values with each metric's scale.
"""

from __future__ import annotations

import math
from typing import Any

from membench.analysis.compare import CompareResult, MetricFamily, PairResult
from membench.core import numbers as fmt
from membench.core.task import MetricSpec
from membench.stats.policy import MCNEMAR_LABEL, interval_method, interval_sentence

#: how many left-out probe ids the text formats list per side (JSON lists them all).
SHOWN_IDS = 10
LEGEND = (
    "B − A on the probes both runs scored; favours: the better side by the point estimate; p perm: "
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


def _side(pair: PairResult) -> str:
    """ "A" or "B": the side the point difference favours (direction of the metric respected)."""
    c = pair.member.comparison
    if pair.favours is None:
        return "—"
    return "B" if pair.favours == c.name_b else "A"


def pair_cells(pair: PairResult, spec: MetricSpec) -> list[str]:
    c = pair.member.comparison
    return [
        c.name_a,
        c.name_b,
        f"{fmt.value(spec, pair.estimate_a.value)} {fmt.interval(spec, pair.estimate_a.interval)}",
        f"{fmt.value(spec, pair.estimate_b.value)} {fmt.interval(spec, pair.estimate_b.interval)}",
        f"{fmt.delta(spec, c.difference)} {fmt.delta_interval(spec, c.interval)}",
        _side(pair),
        f"{fmt.p_value(c.p_permutation)} ({fmt.p_value(pair.member.p_adjusted)})",
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
    waived = [f"paired although they differ (--allow-different) in {d}" for d in result.differing]
    return [
        f"task {result.task}, dataset {result.fingerprint}; "
        f"{result.n_boot} bootstrap resamples, seed {result.seed}",
        interval_sentence(),
        *runs,
        *waived,
    ]


def _family_notes(family: MetricFamily) -> list[str]:
    return [family.note] if family.note else []


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
        for line in [*_family_notes(family), *left_out_lines(family)]:
            console.print(line)
    console.print(LEGEND)


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
