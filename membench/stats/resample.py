"""Random (and exhaustive) resampling plans over clusters, built once and shared.

A cluster bootstrap draws episodes with replacement; what a resample does to any metric is fully
described by how many times each episode was drawn. Holding those counts as one (resamples × clusters)
matrix turns every resample of every metric of every system into a single matrix product with the
per-cluster sums. The matrices depend only on (clusters, resamples, seed), so they are cached: a family
of comparisons on the same episodes reuses one matrix, and the systems share the same resamples.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: sign-flip tests enumerate all 2^G patterns up to this many clusters (65,536 patterns).
EXACT_MAX_CLUSTERS = 16
# Separate streams so that changing n_perm never changes the bootstrap draws, and vice versa.
_BOOTSTRAP_STREAM = 0
_PERMUTATION_STREAM = 1


@lru_cache(maxsize=4)
def bootstrap_counts(n_clusters: int, n_boot: int, seed: int) -> np.ndarray:
    """How many times each cluster is drawn in each of ``n_boot`` resamples, as a float matrix.

    Float, because matrix products of floats go through BLAS; read-only, because it is shared.
    """
    rng = np.random.default_rng((seed, _BOOTSTRAP_STREAM))
    counts = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot)
    matrix = counts.astype(np.float64)
    matrix.flags.writeable = False
    return matrix


@lru_cache(maxsize=4)
def swap_patterns(n_clusters: int, n_perm: int, seed: int) -> tuple[np.ndarray, bool]:
    """Which clusters swap their two systems, one row per pattern, and whether the set is exhaustive.

    Swapping A and B within a cluster is what "flip the sign of the cluster's difference" means for a
    metric that is not a plain sum. With at most ``EXACT_MAX_CLUSTERS`` clusters every pattern is listed
    (the identity included), so the p-value is exact; otherwise ``n_perm`` patterns are drawn at random.
    """
    if n_clusters <= EXACT_MAX_CLUSTERS:
        patterns = (np.arange(2**n_clusters)[:, None] >> np.arange(n_clusters)) & 1
        exhaustive = True
    else:
        rng = np.random.default_rng((seed, _PERMUTATION_STREAM))
        patterns = rng.integers(0, 2, size=(n_perm, n_clusters))
        exhaustive = False
    matrix = patterns.astype(np.float64)
    matrix.flags.writeable = False
    return matrix, exhaustive


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """The central ``confidence`` interval of the defined replicates (None when there are none).

    Replicates where the metric is undefined (a resample with no denominator) are left out.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
