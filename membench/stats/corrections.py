"""Multiple-comparison corrections: Holm for confirmatory families, Benjamini-Hochberg for exploration.

Ranking k systems against a baseline runs k-1 tests; without a correction, one of them "wins" by chance
far more often than alpha. Holm controls the family-wise error rate under any dependence between the
tests (comparisons against one baseline share its items, so they are dependent); Benjamini-Hochberg
controls the false discovery rate and suits per-category breakdowns, where some false leads are fine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order.

    Sorted ascending, p_(i) becomes max over j <= i of min(1, (m - j + 1)·p_(j)): a hypothesis is
    rejected at level alpha exactly when its adjusted p-value is <= alpha.
    """
    p, order = _sorted(pvalues)
    m = len(p)
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p))
    return _unsort(adjusted, order)


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (q-values), in the input order.

    Sorted ascending, p_(i) becomes min over j >= i of min(1, m·p_(j)/j): the same numbers as
    ``scipy.stats.false_discovery_control(p, method="bh")``.
    """
    p, order = _sorted(pvalues)
    m = len(p)
    scaled = np.minimum(1.0, m * p / np.arange(1, m + 1))
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    return _unsort(adjusted, order)


def _sorted(pvalues: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError("p-values must be a flat sequence")
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError(f"p-values must lie in [0, 1] (no NaN): {p.tolist()}")
    order = np.argsort(p, kind="stable")
    return p[order], order


def _unsort(adjusted: np.ndarray, order: np.ndarray) -> np.ndarray:
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out
