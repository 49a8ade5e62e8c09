"""Metric arithmetic shared by estimates and comparisons: values, replicates and linearised influence.

Every aggregated metric is a function of two totals (Σnum and a weight), and every derived metric a
function of other metrics. So one routine turns *any* set of totals into metric values: the observed
totals (one row), bootstrap replicates or permutation swaps (one row each). Derived metrics are then
recomputed row by row from their inputs' rows, which keeps F1's interval consistent with recall's and
precision's instead of treating F1 as an average of per-item F1s.

Standard errors use the linearisation (sandwich) of the same functions: each unit (an episode, or a
probe for the naive error) gets an influence value, and derived metrics chain their inputs' influences
through a numerical gradient of ``MetricSpec.derive``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from membench.core.errors import ConfigError
from membench.core.task import MetricSpec


class Sums(NamedTuple):
    """Σnum and Σweight of one aggregated metric, per unit (episode, probe) or per replicate.

    The weight is Σden for ratio metrics and the number of non-errored rows for sum metrics, so a sum
    over no rows is undefined (N/A) rather than 0, exactly like a ratio over a zero denominator.
    """

    num: np.ndarray
    weight: np.ndarray

    def total(self) -> Sums:
        return Sums(np.array([self.num.sum()]), np.array([self.weight.sum()]))


class MetricSet:
    """A task's metric specs by name, with their dependencies checked once up front."""

    def __init__(self, specs: Sequence[MetricSpec]) -> None:
        self.specs: dict[str, MetricSpec] = {}
        for spec in specs:
            if spec.name in self.specs:
                raise ConfigError(f"metric '{spec.name}' is declared twice")
            self.specs[spec.name] = spec
        for name in self.specs:
            self.leaves(name)

    def spec(self, name: str) -> MetricSpec:
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join(self.specs) or "none"
            raise ConfigError(f"unknown metric '{name}'; known metrics: {known}") from None

    def aggregated(self) -> list[str]:
        """Names of the metrics read straight from contributions (not derived)."""
        return [name for name, spec in self.specs.items() if spec.derive is None]

    def leaves(self, name: str) -> tuple[str, ...]:
        """The aggregated metrics ``name`` rests on (itself when it is aggregated), in first-seen order."""
        found: dict[str, None] = {}
        self._collect(name, (), found)
        return tuple(found)

    def _collect(self, name: str, path: tuple[str, ...], found: dict[str, None]) -> None:
        if name in path:
            raise ConfigError(f"derived metrics form a cycle: {' -> '.join((*path, name))}")
        spec = self.spec(name)
        if spec.derive is None:
            found.setdefault(name, None)
            return
        if not spec.inputs:
            raise ConfigError(f"derived metric '{name}' names no inputs")
        for source in spec.inputs:
            self._collect(source, (*path, name), found)

    def values(self, name: str, totals: Mapping[str, Sums], memo: dict[str, np.ndarray]) -> np.ndarray:
        """Metric ``name`` for every row of ``totals`` (NaN where undefined); ``memo`` shares inputs."""
        if name in memo:
            return memo[name]
        spec = self.spec(name)
        if spec.derive is None:
            sums = totals[name]
            with np.errstate(divide="ignore", invalid="ignore"):
                value = sums.num if spec.aggregate == "sum" else sums.num / sums.weight
            out = np.where(sums.weight > 0, value, np.nan)
        else:
            out = _derive_rows(spec, {source: self.values(source, totals, memo) for source in spec.inputs})
        memo[name] = out
        return out

    def point(self, names: Sequence[str], totals: Mapping[str, Sums]) -> dict[str, float | None]:
        """Observed values of ``names`` and of everything they derive from; None where undefined."""
        memo: dict[str, np.ndarray] = {}
        observed = {leaf: sums.total() for leaf, sums in totals.items()}
        for name in names:
            self.values(name, observed, memo)
        return {name: (float(row[0]) if math.isfinite(row[0]) else None) for name, row in memo.items()}

    def influence(
        self, name: str, units: Mapping[str, Sums], point: Mapping[str, float | None]
    ) -> np.ndarray | None:
        """Each unit's linearised contribution to the error of ``name`` (None where undefined).

        Ratio R = Y/X: (y_g - R·x_g)/X. Sum Y: y_g - Y/G. Derived f(v1..vk): Σ ∂f/∂v_i · influence_i.
        """
        value = point.get(name)
        if value is None:
            return None
        spec = self.spec(name)
        if spec.derive is None:
            sums = units[name]
            if spec.aggregate == "sum":
                return sums.num - sums.num.mean()
            return (sums.num - value * sums.weight) / sums.weight.sum()
        # A derived value is defined only where all its inputs are (see _derive_rows).
        at = {source: float(point[source] or 0.0) for source in spec.inputs}
        chained: np.ndarray | None = None
        for source, slope in zip(spec.inputs, _gradient(spec, at), strict=True):
            part = self.influence(source, units, point)
            if part is None:
                return None
            chained = slope * part if chained is None else chained + slope * part
        return chained


def sandwich_se(influence: np.ndarray | None) -> float | None:
    """Cluster-robust standard error from per-unit influences, with the G/(G-1) small-sample factor."""
    if influence is None or len(influence) < 2:
        return None
    g = len(influence)
    return math.sqrt(g / (g - 1) * float(np.sum(influence**2)))


def _derive_rows(spec: MetricSpec, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Apply ``spec.derive`` row by row; rows where an input is undefined stay undefined."""
    assert spec.derive is not None
    stacked = np.column_stack([inputs[source] for source in spec.inputs])
    out = np.full(len(stacked), np.nan)
    for row in np.flatnonzero(np.isfinite(stacked).all(axis=1)):
        out[row] = spec.derive(dict(zip(spec.inputs, stacked[row].tolist(), strict=True)))
    return out


def _gradient(spec: MetricSpec, at: dict[str, float]) -> list[float]:
    """Central-difference slopes of ``spec.derive`` at ``at``: derive is an opaque callable."""
    assert spec.derive is not None
    slopes = []
    for key in spec.inputs:
        step = 1e-6 * max(1.0, abs(at[key]))
        up, down = dict(at), dict(at)
        up[key] += step
        down[key] -= step
        slopes.append((spec.derive(up) - spec.derive(down)) / (2 * step))
    return slopes
