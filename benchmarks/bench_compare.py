"""Time ``membench compare`` end to end: 10 run directories x 5,000 probes x 200 episodes, 10,000 resamples.

Not a test: run ``python benchmarks/bench_compare.py`` and read the timings (target: under 5 s on 2 cores).
Run directories of the toy task (tests/fixtures/toy_plugin.py) are written to a temporary directory,
with right/wrong outcomes that depend on an episode effect and a per-system skill, and a few errored
probes per run so the left-out bookkeeping is timed too. Timed: reading the run directories (manifest,
records, contributions), the comparisons (family vs a baseline, and all 45 pairs), and the whole CLI
command with JSON output, which is what a user waits for.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np

from membench.analysis.compare import compare_runs
from membench.analysis.runs import load_run
from membench.cli.main import main
from membench.registry import Registry
from membench.testing.toy_runs import write_toy_run

TOY = str(Path(__file__).parents[1] / "tests" / "fixtures" / "toy_plugin.py") + ":ToyTask"


def write_runs(root: Path, n_systems: int, n_probes: int, n_clusters: int, seed: int) -> list[Path]:
    """Runs whose outcomes share an episode effect, each system a little more skilled than the last."""
    rng = np.random.default_rng(seed)
    episode = rng.integers(0, n_clusters, size=n_probes)
    easiness = rng.normal(0.0, 1.0, size=n_clusters)[episode] + rng.normal(0.0, 1.0, size=n_probes)
    dirs = []
    for system in range(n_systems):
        chance = 1.0 / (1.0 + np.exp(-(easiness + 0.05 * system)))
        correct = rng.random(n_probes) < chance
        errored = rng.random(n_probes) < 0.002
        outcomes = {f"e{episode[i]}:p{i}": None if errored[i] else float(correct[i]) for i in range(n_probes)}
        dirs.append(write_toy_run(root, f"system-{system}", outcomes))
    return dirs


def timed(label: str, fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(f"{label:<62} {seconds:6.2f} s")
    return seconds


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--systems", type=int, default=10)
    parser.add_argument("--probes", type=int, default=5000)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--n-boot", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = write_runs(Path(tmp), args.systems, args.probes, args.clusters, args.seed)
        print(
            f"{args.systems} runs x {args.probes} probes x {args.clusters} episodes, "
            f"{args.n_boot} bootstrap resamples (toy task, right/wrong outcomes)"
        )
        registry = Registry([TOY])
        runs = []
        timed(
            "read 10 run directories (manifest, records)",
            lambda: runs.extend(load_run(d, registry) for d in dirs),
        )
        timed("contributions frames of all runs", lambda: [r.contributions() for r in runs])
        timed(
            "compare_runs (contributions + stats): 9 vs a baseline, Holm",
            lambda: compare_runs(runs, baseline="system-0", n_boot=args.n_boot, seed=args.seed),
        )
        timed(
            "compare_runs (contributions + stats): all 45 pairs, Holm",
            lambda: compare_runs(runs, n_boot=args.n_boot, seed=args.seed),
        )
        command = ["compare", *map(str, dirs), "--plugin", TOY, "--baseline", "system-0", "--format", "json"]
        command += ["--n-boot", str(args.n_boot)]
        sink = io.StringIO()

        def cli() -> None:
            with contextlib.redirect_stdout(sink):
                assert main(command) == 0

        timed("membench compare RUN_DIR x10 --baseline system-0 --format json", cli)


if __name__ == "__main__":
    main_bench()
