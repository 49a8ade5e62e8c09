"""The one significance policy: which interval is shown, which test decides, how a family is corrected.

``compare``, ``report``, ``score`` and the run summary all decide through this module, so a claim made
in one output can never disagree with another.

- **Intervals.** The percentile cluster bootstrap under-covers with few episodes: for a nominal 95%,
  ``benchmarks/sim_policy.py`` measures about 87% at G = 5, 91% at G = 10 and 92-94% at G = 20-30,
  where the t interval on episodes (value ± t(G-1)·SE, SE clustered by episode, clipped to the
  metric's range) covers 94-96%. Below ``MIN_BOOTSTRAP_EPISODES`` episodes the t interval is shown,
  from there on the bootstrap; every output says which.
- **Decisions.** A reject, a ``*`` or a rank separation always comes from the episode-level
  (cluster sign-flip) permutation test, Holm-corrected across the declared family. Exact McNemar may
  be shown beside right/wrong metrics, labelled as treating probes as independent: with gaps that vary
  by episode it rejects far above alpha, so it never decides.
- **Few episodes.** An exact sign-flip test over G episodes cannot give p below 2/2^G (the observed
  pattern and its mirror image are always as extreme), and Holm multiplies the smallest p of a family
  of m by m. When m·2/2^G > alpha nothing can be significant however large the gap: outputs say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from membench.stats.corrections import benjamini_hochberg, holm
from membench.stats.resample import EXACT_MAX_CLUSTERS

ALPHA = 0.05
CONFIDENCE = 0.95
#: the power at which minimum detectable effects are quoted.
POWER = 0.8
#: from this many episodes on, the cluster bootstrap interval is shown; below it, the t interval.
MIN_BOOTSTRAP_EPISODES = 50
MCNEMAR_LABEL = "exact McNemar (treats probes as independent; decides nothing)"

IntervalMethod = Literal["t", "bootstrap"]
#: Holm for a declared family (decisions); Benjamini-Hochberg for exploratory breakdowns.
Correction = Literal["holm", "benjamini-hochberg"]
INTERVAL_NAMES: dict[IntervalMethod, str] = {
    "t": "t interval on episodes",
    "bootstrap": "cluster bootstrap percentile interval",
}


def interval_method(n_clusters: int) -> IntervalMethod:
    """Which interval has proper coverage at ``n_clusters`` episodes."""
    return "t" if n_clusters < MIN_BOOTSTRAP_EPISODES else "bootstrap"


def choose_interval(
    bootstrap: tuple[float, float] | None, t: tuple[float, float] | None, n_clusters: int
) -> tuple[float, float] | None:
    """The interval to show of the two an estimate carries, by ``interval_method``."""
    return t if interval_method(n_clusters) == "t" else bootstrap


def interval_note(n_clusters: int, clusters: str = "episodes") -> str:
    """Which interval an output with ``n_clusters`` clusters shows, and why, in a short line;
    ``clusters`` names them (episodes, unless a task clusters by a label)."""
    if interval_method(n_clusters) == "t":
        name = INTERVAL_NAMES["t"] if clusters == "episodes" else "t interval on clusters"
        return f"{name} ({n_clusters} {clusters}: below {MIN_BOOTSTRAP_EPISODES}, the bootstrap under-covers)"
    return f"{INTERVAL_NAMES['bootstrap']} ({n_clusters} {clusters})"


def interval_sentence() -> str:
    """How every output explains its intervals, in one sentence."""
    return (
        f"{CONFIDENCE:.0%} intervals: the {INTERVAL_NAMES['t']} (mean ± t·clustered SE) below "
        f"{MIN_BOOTSTRAP_EPISODES} episodes, where the bootstrap under-covers; the "
        f"{INTERVAL_NAMES['bootstrap']} from {MIN_BOOTSTRAP_EPISODES} episodes on"
    )


@dataclass(frozen=True)
class Decision:
    """One comparison's verdict within its family: the Holm-adjusted permutation p and the reject."""

    p_adjusted: float | None
    reject: bool


def decide(
    p_permutation: Sequence[float | None], alpha: float = ALPHA, correction: Correction = "holm"
) -> list[Decision]:
    """The correction across the comparisons of one family that have a permutation p; the others stay
    untested (a metric undefined on one side has no p and no verdict)."""
    tested = [i for i, p in enumerate(p_permutation) if p is not None]
    adjust = holm if correction == "holm" else benjamini_hochberg
    adjusted = adjust([p_permutation[i] or 0.0 for i in tested]).tolist() if tested else []
    by_index = dict(zip(tested, adjusted, strict=True))
    return [
        Decision(by_index.get(i), i in by_index and float(by_index[i]) <= alpha)
        for i in range(len(p_permutation))
    ]


def smallest_p(n_clusters: int, n_perm: int = 10000) -> float:
    """The smallest two-sided p the sign-flip test can give over ``n_clusters`` episodes."""
    if n_clusters < 1:
        return 1.0
    if n_clusters <= EXACT_MAX_CLUSTERS:
        return min(1.0, 2.0 / 2**n_clusters)
    return 1.0 / (1 + n_perm)


def can_reject(n_clusters: int, family_size: int = 1, alpha: float = ALPHA, n_perm: int = 10000) -> bool:
    """Whether any comparison over ``n_clusters`` episodes could survive Holm in a family of that size."""
    return max(1, family_size) * smallest_p(n_clusters, n_perm) <= alpha


def detectable_difference(
    se: float | None, n_clusters: int, family_size: int = 1, alpha: float = ALPHA, power: float = POWER
) -> float | None:
    """The minimum detectable difference (``power.paired_mde``, before Holm), or None where no
    difference could be significant at all: an MDE beside the few-episodes note would contradict it."""
    from membench.stats.power import paired_mde

    if not can_reject(n_clusters, family_size, alpha):
        return None
    return paired_mde(se, n_clusters, alpha, power)


def few_episodes_note(
    n_clusters: int,
    family_size: int = 1,
    alpha: float = ALPHA,
    n_perm: int = 10000,
    clusters: str | None = None,
) -> str | None:
    """A sentence for outputs whose clusters are too few for any test to reject, else None.
    ``clusters`` names them when they are not episodes ("clusters (by persona_id)")."""
    if can_reject(n_clusters, family_size, alpha, n_perm):
        return None
    family = f", times {family_size} for Holm over {family_size} comparisons" if family_size > 1 else ""
    return (
        f"note: with {n_clusters} {clusters or 'episode(s)'}, the smallest possible permutation p is "
        f"{smallest_p(n_clusters, n_perm):.3g}{family}: no difference can be significant at "
        f"alpha {alpha}, however large; run more {'clusters' if clusters else 'episodes'} to separate systems"
    )
