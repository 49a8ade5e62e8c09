"""``membench score``: re-judge a finished run with another judge, and print how the two judges agree.

The work is ``analysis.rescore`` (a new run beside the source) and ``analysis.agreement`` (the numbers);
this module only parses the command and prints the outcome.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.cli.options import (
    add_common,
    add_key_values,
    key_values,
    llm_spec,
    non_negative_int,
    positive_int,
)

if TYPE_CHECKING:
    from membench.analysis.rescore import RescoreOutcome


def add_parser(sub: Any) -> None:
    score = sub.add_parser("score", help="re-score a finished run with another judge, and report agreement")
    score.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the finished run to re-score")
    score.add_argument("--judge", required=True, help="judge name (a task judge, or llm with --judge-llm)")
    score.add_argument("--judge-llm", metavar="MODEL", help="litellm model for the LLM judge")
    score.add_argument("--judge-api-base", metavar="URL", help="OpenAI-compatible base URL for --judge-llm")
    add_key_values(
        score,
        "-T",
        "task_options",
        "where the run's data is now, e.g. -T data=PATH (the fingerprint must match)",
    )
    score.add_argument(
        "--max-connections",
        type=positive_int,
        default=8,
        metavar="N",
        help="concurrent judge requests (default: 8)",
    )
    score.add_argument("--retry-errors", action="store_true", help="redo probes the judge failed last time")
    score.add_argument(
        "--fresh", action="store_true", help="rescore from scratch (the old rescore is archived)"
    )
    score.add_argument("--no-cache", action="store_true", help="do not read or write the LLM response cache")
    score.add_argument(
        "--n-boot",
        type=non_negative_int,
        default=2000,
        metavar="N",
        help="bootstrap resamples for metric intervals (default: 2000; 0: no interval)",
    )
    add_common(score, results_dir=False)  # the rescore is written beside RUN_DIR


def cmd_score(args: argparse.Namespace) -> int:
    from membench.api import RescoreConfig, score

    config = RescoreConfig(
        run_dir=args.run_dir,
        judge=args.judge,
        judge_llm=llm_spec(args.judge_llm, args.judge_api_base),
        task_options=key_values(args.task_options, "-T"),
        data_dir=args.data_dir,
        plugins=tuple(args.plugin),
        max_connections=args.max_connections,
        retry_errors=args.retry_errors,
        fresh=args.fresh,
        use_cache=not args.no_cache,
        n_boot=args.n_boot,
    )
    outcome = score(config)
    print_rescore(outcome)
    return 0 if outcome.manifest.status == "complete" else 1


def print_rescore(outcome: RescoreOutcome) -> None:
    """Where the rescore went, the label agreement and confusion per kind, and the main metric under
    both judges with their paired difference (the numbers are ``outcome.agreement``'s)."""
    from rich.console import Console
    from rich.table import Table

    from membench.analysis.agreement import AGREEMENT
    from membench.core import numbers as fmt
    from membench.stats.policy import few_episodes_note, interval_sentence

    console = Console(markup=False, highlight=False)
    agreement = outcome.agreement
    counts = outcome.manifest.counts
    console.print(f"rescored {outcome.source.run_dir}")
    console.print(f"     into {outcome.run_dir}  (records.jsonl, manifest.json, {AGREEMENT})")
    console.print(
        f"judge {agreement.judge_a} -> {agreement.judge_b}: {counts.probes_scored} scored, "
        f"{counts.probes_errored} errored, of {counts.probes_planned}; status {outcome.manifest.status}"
    )
    table = Table(title=f"label agreement, {agreement.judge_a} (rows) vs {agreement.judge_b} (columns)")
    for column in ("probes", "labelled by both", "raw agreement", "Cohen's kappa"):
        table.add_column(column, justify="left" if column == "probes" else "right")
    for k in agreement.kinds:
        table.add_row(k.kind, str(k.n), _ratio(k.raw), "—" if k.kappa is None else f"{k.kappa:.3f}")
    console.print(table)
    for k in agreement.kinds:
        if k.n == 0 or (k.kind == "all" and len(agreement.kinds) == 2):
            continue
        confusion = Table(
            title=f"confusion ({k.kind}): {agreement.judge_a} rows, {agreement.judge_b} columns"
        )
        confusion.add_column(f"{agreement.judge_a} \\ {agreement.judge_b}")
        for column in k.confusion.columns:
            confusion.add_column(str(column), justify="right")
        for label, row in k.confusion.iterrows():
            confusion.add_row(str(label), *(str(int(v)) for v in row))
        console.print(confusion)
    spec = outcome.source.task.main_metric()
    c = agreement.difference
    for name, est in ((agreement.judge_a, agreement.estimate_a), (agreement.judge_b, agreement.estimate_b)):
        console.print(
            f"{spec.display} under {name}: {fmt.value(spec, est.value)} "
            f"{fmt.interval(spec, est.interval)} (n={est.n})"
        )
    if c.difference is not None:
        console.print(
            f"difference ({agreement.judge_b} - {agreement.judge_a}) on {c.n_paired} paired probes: "
            f"{fmt.delta(spec, c.difference)} {fmt.delta_interval(spec, c.interval)}; "
            f"{c.test} p = {fmt.p_value(c.p_permutation)}"
        )
        task = outcome.source.task
        note = few_episodes_note(
            c.n_clusters, clusters=None if task.cluster_label is None else task.cluster_noun()
        )
        if note:
            console.print(note)
    console.print(interval_sentence())
    if outcome.llm_used:
        cache = outcome.manifest.cache
        console.print(f"LLM cache: {cache.get('hits', 0)} hits, {cache.get('misses', 0)} misses")


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"
