"""How two judges of the same predictions agree: what ``membench score`` prints and writes.

A rescored run and its source hold the same predictions judged twice. On the probes both judges scored,
their labels (``Score.label``) are compared per probe kind and over all kinds ("all"): raw agreement,
Cohen's kappa and the confusion table (rows the source's judge, columns the new one). The task's main
metric is estimated under each judge and their paired difference taken with the one significance
policy (``stats.policy``), so a judge swap that moves the headline number is visible with its interval.
``agreement_json`` is the ``agreement.json`` a rescore writes beside its records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from membench.analysis.runs import LoadedRun, role_label

if TYPE_CHECKING:
    import pandas as pd

    from membench.stats import Comparison, MetricEstimate

#: the file, in the rescored run's directory, that holds ``agreement_json``.
AGREEMENT = "agreement.json"


@dataclass(frozen=True)
class KindAgreement:
    """Two judges' labels on the probes of one kind ("all" for every kind) that both scored."""

    kind: str
    n: int
    raw: float | None
    kappa: float | None
    confusion: pd.DataFrame


@dataclass(frozen=True)
class Agreement:
    judge_a: str
    judge_b: str
    kinds: tuple[KindAgreement, ...]
    metric: str
    estimate_a: MetricEstimate
    estimate_b: MetricEstimate
    difference: Comparison


def judge_agreement(a: LoadedRun, b: LoadedRun, *, n_boot: int = 2000, seed: int = 0) -> Agreement:
    """How two runs' judges agree on the probes both scored, and the main metric under each."""
    from membench.stats import cohens_kappa, compare, confusion_table, estimate, raw_agreement

    labels_b = {r.probe_id: r for r in b.records if r.status == "scored"}
    pairs = [
        (r.kind, r.score.label, labels_b[r.probe_id].score.label)  # type: ignore[union-attr]
        for r in a.records
        if r.status == "scored" and r.probe_id in labels_b
    ]
    pairs = [(kind, x, y) for kind, x, y in pairs if x is not None and y is not None]
    kinds = []
    for kind in ["all", *sorted({kind for kind, _, _ in pairs})]:
        chosen = [(x, y) for k, x, y in pairs if kind in ("all", k)]
        xs, ys = [x for x, _ in chosen], [y for _, y in chosen]
        kinds.append(
            KindAgreement(
                kind, len(chosen), raw_agreement(xs, ys), cohens_kappa(xs, ys), confusion_table(xs, ys)
            )
        )
    main = a.task.main_metric()
    frame_a, frame_b = a.contributions(), b.contributions()
    estimate_a = next(
        e for e in estimate(frame_a, a.task.metrics, n_boot=n_boot, seed=seed) if e.metric == main.name
    )
    estimate_b = next(
        e for e in estimate(frame_b, a.task.metrics, n_boot=n_boot, seed=seed) if e.metric == main.name
    )
    difference = compare(
        frame_a,
        frame_b,
        a.task.metrics,
        main.name,
        name_a=_judge_name(a),
        name_b=_judge_name(b),
        n_boot=n_boot,
        seed=seed,
    )
    return Agreement(
        _judge_name(a), _judge_name(b), tuple(kinds), main.name, estimate_a, estimate_b, difference
    )


def _judge_name(run: LoadedRun) -> str:
    """The judge as reports name it, with its model: two LLM judges of different models differ."""
    return role_label(run.manifest.identity, "judge")


def agreement_json(agreement: Agreement) -> dict[str, Any]:
    from membench.stats.policy import interval_method

    c = agreement.difference
    return {
        "judge_a": agreement.judge_a,
        "judge_b": agreement.judge_b,
        "labels": [
            {
                "kind": k.kind,
                "n": k.n,
                "raw_agreement": k.raw,
                "cohens_kappa": k.kappa,
                "confusion": {
                    "rows_judge_a": [str(x) for x in k.confusion.index],
                    "columns_judge_b": [str(x) for x in k.confusion.columns],
                    "counts": k.confusion.to_numpy().astype(int).tolist(),
                },
            }
            for k in agreement.kinds
        ],
        "main_metric": {
            "metric": agreement.metric,
            "judge_a": {
                "value": agreement.estimate_a.value,
                "ci": agreement.estimate_a.interval,
                "n": agreement.estimate_a.n,
            },
            "judge_b": {
                "value": agreement.estimate_b.value,
                "ci": agreement.estimate_b.interval,
                "n": agreement.estimate_b.n,
            },
            "difference": c.difference,
            "difference_ci": c.interval,
            "interval": interval_method(c.n_clusters),
            "test": c.test,
            "p_permutation": c.p_permutation,
            "p_mcnemar": c.p_mcnemar,
            "n_paired": c.n_paired,
        },
    }
