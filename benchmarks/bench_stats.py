"""Time the statistics on a leaderboard-sized family: 10 systems x 5,000 probes x 200 episodes.

Not a test: run ``python benchmarks/bench_stats.py`` and read the timings (target: compare_family with
10,000 bootstrap resamples and 10,000 sign flips under 5 s on 2 cores). The data are synthetic
right/wrong outcomes with episode effects, plus a ratio metric with per-system denominators and a
derived F1, so every code path (McNemar, permutation over ratios, per-replicate derivation) is timed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from membench.core.task import MetricSpec
from membench.stats import compare_family, estimate


def _f1(values: Mapping[str, float]) -> float:
    total = values["recall"] + values["precision"]
    return 2 * values["recall"] * values["precision"] / total if total else 0.0


SPECS = (
    MetricSpec("accuracy", "Accuracy", main=True),
    MetricSpec("recall", "Recall"),
    MetricSpec("precision", "Precision"),
    MetricSpec("f1", "F1", inputs=("recall", "precision"), derive=_f1),
)


def synthetic_runs(n_systems: int, n_probes: int, n_clusters: int, seed: int) -> dict[str, pd.DataFrame]:
    """One contributions table per system over the same probes; systems differ slightly in skill."""
    rng = np.random.default_rng(seed)
    episode = rng.integers(0, n_clusters, size=n_probes)
    episode_ids = np.char.add("e", episode.astype(str))
    probe_ids = np.char.add("p", np.arange(n_probes).astype(str))
    easiness = rng.normal(0.0, 1.0, size=n_clusters)[episode] + rng.normal(0.0, 1.0, size=n_probes)
    runs = {}
    for system in range(n_systems):
        chance = 1.0 / (1.0 + np.exp(-(easiness + 0.05 * system)))
        correct = (rng.random(n_probes) < chance).astype(float)
        gold = rng.integers(1, 6, size=n_probes).astype(float)
        extracted = rng.integers(0, 6, size=n_probes).astype(float)
        parts = [
            ("accuracy", correct, np.ones(n_probes)),
            ("recall", rng.binomial(gold.astype(int), chance).astype(float), gold),
            ("precision", rng.binomial(extracted.astype(int), chance).astype(float), extracted),
        ]
        runs[f"system_{system}"] = pd.concat(
            pd.DataFrame(
                {
                    "metric": name,
                    "episode_id": episode_ids,
                    "probe_id": probe_ids,
                    "num": num,
                    "den": den,
                    "error": False,
                }
            )
            for name, num, den in parts
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--probes", type=int, default=5000)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--boot", type=int, default=10000)
    parser.add_argument("--perm", type=int, default=10000)
    args = parser.parse_args()
    runs = synthetic_runs(args.systems, args.probes, args.clusters, seed=7)
    print(f"{args.systems} systems x {args.probes} probes x {args.clusters} episodes, {args.boot} resamples")

    for metric in ("accuracy", "f1"):
        start = time.perf_counter()
        family = compare_family(runs, SPECS, metric, baseline="system_0", n_boot=args.boot, n_perm=args.perm)
        elapsed = time.perf_counter() - start
        rejected = sum(member.reject for member in family.members)
        test = family.members[0].comparison.test
        print(f"compare_family {metric:<9} vs baseline: {elapsed:6.2f} s  ({test}; {rejected} rejected)")

    start = time.perf_counter()
    family = compare_family(runs, SPECS, "accuracy", n_boot=args.boot, n_perm=args.perm)
    elapsed = time.perf_counter() - start
    print(f"compare_family accuracy all {len(family.members)} pairs: {elapsed:6.2f} s")

    start = time.perf_counter()
    estimate(runs["system_0"], SPECS, n_boot=args.boot)
    print(f"estimate, all metrics of one run: {time.perf_counter() - start:6.2f} s")


if __name__ == "__main__":
    main()
