"""The significance policy's figures: interval coverage by episodes, and the decisions' family-wise error.

Not a test (``tests/unit/test_stats_simulation.py`` asserts the thresholds on smaller runs): run
``python benchmarks/sim_policy.py`` and read the table. Data and nulls are those of
``membench.testing.simulation``: G episodes of 20 right/wrong probes with Beta(6, 4) episode rates; ten
systems as good as the baseline on average, each with its own episode-level swing of up to ±0.3.
"""

from __future__ import annotations

import argparse
import time

from membench.stats.policy import MIN_BOOTSTRAP_EPISODES
from membench.testing.simulation import family_wise_error, interval_coverage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replications", type=int, default=2000, help="simulated runs per coverage cell")
    parser.add_argument("--fwer-replications", type=int, default=400, help="simulated families per cell")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"coverage of nominal 95% intervals ({args.replications} runs each); shown = the policy's")
    print(f"choice (t below {MIN_BOOTSTRAP_EPISODES} episodes, bootstrap from there)")
    print(f"{'episodes':>8} {'bootstrap':>10} {'t':>7} {'shown':>7}")
    for n_clusters in (5, 10, 20, 30, 50):
        c = interval_coverage(n_clusters, replications=args.replications, n_boot=1000)
        print(f"{n_clusters:>8} {c.bootstrap:>10.3f} {c.t:>7.3f} {c.shown:>7.3f}")
    print(f"\nfamily-wise error over 10 null comparisons vs one baseline ({args.fwer_replications} families)")
    print(f"{'episodes':>8} {'decisions (perm+Holm)':>22} {'McNemar+Holm':>13}")
    for n_clusters in (10, 20, 40):
        f = family_wise_error(n_clusters, comparisons=10, replications=args.fwer_replications)
        print(f"{n_clusters:>8} {f.decisions:>22.3f} {f.mcnemar_holm:>13.3f}")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
