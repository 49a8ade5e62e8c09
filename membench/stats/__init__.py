"""Statistics for memory benchmarks: clustered estimates, paired comparisons, corrections, power, agreement.

Everything reads one long contributions table (``contributions_table``): a row per metric contribution
with its episode (the statistical cluster, or the task's ``cluster_label``) and probe, in episode order.
Quick tour::

    table = contributions_table(task, task.contributions(records, ingests))
    estimate(table, task.metrics)                        # value, clustered SE, bootstrap CI, n, errors
    estimate(table, task.metrics, by="question_type")   # per-category breakdown
    compare(table_a, table_b, task.metrics, "qa_correct")  # B - A, CI, McNemar or permutation p
    compare_family({"rag": t1, "mem0": t2, "none": t0}, task.metrics, "qa_correct", baseline="none")
    minimum_detectable_effect(n_items=500, n_clusters=20, icc=0.05, discordance=0.2)
    cohens_kappa(judge_labels, human_labels); krippendorff_alpha(items_by_raters)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported now, not on first use: the function shares its module's name, which importing the module
# would otherwise bind on this package in its place.
from membench.stats.estimate import MetricEstimate, estimate

if TYPE_CHECKING:
    from membench.stats.agreement import cohens_kappa, confusion_table, krippendorff_alpha, raw_agreement
    from membench.stats.corrections import benjamini_hochberg, holm
    from membench.stats.frame import contributions_frame, contributions_table
    from membench.stats.paired import Comparison, FamilyComparison, FamilyMember, compare, compare_family
    from membench.stats.power import (
        MinimumDetectableEffect,
        design_effect_from_icc,
        icc_anova,
        minimum_detectable_effect,
        paired_items_needed,
        paired_mde,
    )

#: the module of each public name, imported on first use: the paired tests and power need scipy.stats
#: (about a second to import), which a run's summary never uses.
_MODULE_OF = {
    **dict.fromkeys(("cohens_kappa", "confusion_table", "krippendorff_alpha", "raw_agreement"), "agreement"),
    **dict.fromkeys(("benjamini_hochberg", "holm"), "corrections"),
    **dict.fromkeys(("contributions_frame", "contributions_table"), "frame"),
    **dict.fromkeys(
        ("Comparison", "FamilyComparison", "FamilyMember", "compare", "compare_family"), "paired"
    ),
    **dict.fromkeys(
        (
            "MinimumDetectableEffect",
            "design_effect_from_icc",
            "icc_anova",
            "minimum_detectable_effect",
            "paired_items_needed",
            "paired_mde",
        ),
        "power",
    ),
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


__all__ = [
    "Comparison",
    "FamilyComparison",
    "FamilyMember",
    "MetricEstimate",
    "MinimumDetectableEffect",
    "benjamini_hochberg",
    "cohens_kappa",
    "compare",
    "compare_family",
    "confusion_table",
    "contributions_frame",
    "contributions_table",
    "design_effect_from_icc",
    "estimate",
    "holm",
    "icc_anova",
    "krippendorff_alpha",
    "minimum_detectable_effect",
    "paired_items_needed",
    "paired_mde",
    "raw_agreement",
]
