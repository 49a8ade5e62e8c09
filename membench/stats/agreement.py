"""Agreement between judges (an LLM judge and a human, or two LLM judges): is the judge trustworthy?

Raw agreement alone flatters a judge when one label dominates (at 90% accuracy, a judge that always says
"correct" agrees 90% of the time), so chance-corrected coefficients go beside it: Cohen's kappa for two
raters, Krippendorff's alpha for any number of raters with missing labels. The confusion table shows
which way the disagreements go (false accepts versus false rejects), which the coefficients hide.

Missing labels are None or NaN. Pairwise functions drop items either rater left unlabelled.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

Level = Literal["nominal", "ordinal", "interval", "ratio"]


def confusion_table(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> pd.DataFrame:
    """Counts of (label by A, label by B); rows are A's labels, columns B's, both over every label seen."""
    a, b = _paired(labels_a, labels_b)
    categories = _ordered(set(a.tolist()) | set(b.tolist()))
    table = pd.crosstab(pd.Categorical(a, categories), pd.Categorical(b, categories), dropna=False)
    table.index.name, table.columns.name = "a", "b"
    return table


def raw_agreement(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> float | None:
    """Share of items both raters labelled identically; None when no item has both labels."""
    a, b = _paired(labels_a, labels_b)
    return float(np.mean(a == b)) if len(a) else None


def cohens_kappa(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa: (p_o - p_e) / (1 - p_e), p_e from each rater's own label frequencies.

    None when undefined: no labelled pair, or both raters always giving the same single label.
    """
    table = confusion_table(labels_a, labels_b).to_numpy(dtype=float)
    n = table.sum()
    if n == 0:
        return None
    observed = np.trace(table) / n
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    return None if expected == 1.0 else float((observed - expected) / (1.0 - expected))


def krippendorff_alpha(ratings: Any, level: Level = "nominal") -> float | None:
    """Krippendorff's alpha for an items × raters table of labels (lists, array or DataFrame).

    alpha = 1 - D_o / D_e, from the coincidence matrix o (each item with m >= 2 labels adds every
    ordered pair of its labels from different raters, weighted 1/(m - 1)): D_o = Σ o_ck·δ²_ck / n and
    D_e = Σ n_c·n_k·δ²_ck / (n(n - 1)), where n_c are o's margins and n the number of pairable labels.
    δ² is 0/1 for nominal labels, (c - k)² for interval, ((c - k)/(c + k))² for ratio, and for
    ordinal (Σ_{g from c to k} n_g - (n_c + n_k)/2)². Items with fewer than two labels are ignored.
    None when undefined (fewer than two pairable labels, or a single value throughout).
    """
    table = pd.DataFrame(ratings).to_numpy(dtype=object)
    present = ~pd.isna(table)
    items, _ = np.nonzero(present)
    labels = table[present]
    if level in ("interval", "ratio"):
        labels = labels.astype(float)
    categories = (
        list(dict.fromkeys(labels.tolist())) if level == "nominal" else _ordered(set(labels.tolist()))
    )
    index = {category: i for i, category in enumerate(categories)}
    codes = np.array([index[label] for label in labels.tolist()], dtype=int)
    counts = np.zeros((table.shape[0], len(categories)))
    np.add.at(counts, (items, codes), 1.0)
    per_item = counts.sum(axis=1)
    counts, per_item = counts[per_item >= 2], per_item[per_item >= 2]
    if per_item.sum() < 2:
        return None
    weighted = counts / (per_item - 1.0)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    margins = coincidence.sum(axis=0)
    delta = _distance(level, np.asarray(categories, dtype=object), margins)
    expected = float(margins @ delta @ margins)
    if expected == 0.0:
        return None
    return 1.0 - (margins.sum() - 1.0) * float(np.sum(coincidence * delta)) / expected


def _distance(level: Level, categories: np.ndarray, margins: np.ndarray) -> np.ndarray:
    """δ²_ck between every pair of categories, for the measurement ``level``."""
    if level == "nominal":
        return 1.0 - np.eye(len(categories))
    if level == "ordinal":
        cumulative = np.cumsum(margins)
        low = np.minimum.outer(np.arange(len(margins)), np.arange(len(margins)))
        high = np.maximum.outer(np.arange(len(margins)), np.arange(len(margins)))
        between = cumulative[high] - cumulative[low] + margins[low]
        return (between - (margins[:, None] + margins[None, :]) / 2.0) ** 2
    values = categories.astype(float)
    difference = np.subtract.outer(values, values)
    if level == "interval":
        return difference**2
    total = np.add.outer(values, values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total == 0, 0.0, (difference / total) ** 2)


def _paired(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(labels_a, dtype=object), np.asarray(labels_b, dtype=object)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"two raters need flat label lists of equal length, got {a.shape} and {b.shape}")
    both = ~(pd.isna(a) | pd.isna(b))
    return a[both], b[both]


def _ordered(labels: set[Any]) -> list[Any]:
    """Labels in their natural order when they have one (numbers, strings), else by their text."""
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)
