"""Runner throughput against the local OpenAI-compatible server with injected latency, and the
harness's own overhead per probe.

Every answer probe makes one LLM reader call; with latency L per call and c episodes in flight, the ideal
wall time of the answer phase is calls × L / c. We report ideal / measured (1.0 = no overhead at all).
Usage: python benchmarks/bench_runner.py [--latency 0.2] [--users 32] [--concurrency 1 8 32]
[--max-probes 8] (``--max-episodes`` = ``--max-connections`` = concurrency)

``--overhead USERS`` instead runs ``no-memory`` on HaluMem built data of that many users, with no LLM
(extractive reader, rule judge), and prints the wall time of the episodes (the runner's ``run``: from
reading the run directory to writing the final manifest, without the data build and the summary) per
probe, best of ``--repeat``; ``--profile`` prints where one more run spends it (cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from collections import Counter
from pathlib import Path

from membench.api import run
from membench.core.config import LLMSpec, RunConfig
from membench.core.env import apply_offline_env
from membench.core.records import read_records
from membench.running.components import prepare, run_dir_of
from membench.running.display import NullDisplay
from membench.running.rundir import open_run_dir
from membench.running.runner import Runner
from membench.testing.openai_server import FakeOpenAIServer

# Early enough after the imports: litellm and mem0 are imported only when a run first needs them.
apply_offline_env()
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")


def measure(
    concurrency: int, latency: float, users: int, data_dir: Path, max_probes: int = 8
) -> tuple[int, float, float, float]:
    """LLM calls, measured seconds, and two ideals: perfect spreading, and the episode-order bound."""
    with FakeOpenAIServer(latency_s=latency) as server, tempfile.TemporaryDirectory() as results:
        config = RunConfig(
            task="halumem",
            system="bm25",
            task_options={"users": str(users), "sessions": "4", "turns": "6"},
            reader_llm=LLMSpec("openai/fake-model", server.base_url),
            max_episodes=concurrency,
            max_probes=max_probes,
            max_connections=concurrency,
            results_dir=Path(results),
            data_dir=data_dir,
            use_cache=False,
            display="none",
        )
        start = time.perf_counter()
        outcome = run(config, NullDisplay())
        elapsed = time.perf_counter() - start
        calls = server.total_requests
        per_session = Counter(
            (r.episode_id, r.after_session) for r in read_records(outcome.run_dir) if r.kind == "qa"
        )
    ideal = calls * latency / concurrency
    # Sessions of one episode run in order, and the calls due after one session go max_probes at a
    # time, so no schedule beats the busiest episode's chain of rounds of calls.
    rounds: Counter[str] = Counter()
    for (episode, _), calls_due in per_session.items():
        rounds[episode] += -(-calls_due // config.max_probes)
    bound = max(ideal, max(rounds.values()) * latency)
    return calls, elapsed, ideal, bound


def overhead(users: int, data_dir: Path, profile: cProfile.Profile | None = None) -> tuple[int, float]:
    """Probes run and seconds of the runner's ``run`` for ``no-memory`` (no LLM) on ``users`` episodes."""
    with tempfile.TemporaryDirectory() as results:
        config = RunConfig(
            task="halumem",
            system="no-memory",
            task_options={"users": str(users)},
            results_dir=Path(results),
            data_dir=data_dir,
            display="none",
        )
        display = NullDisplay()
        components, plan, identity = prepare(config, display)
        runner = Runner(config, components, plan, display)
        run_dir = run_dir_of(config, identity)
        with open_run_dir(run_dir, identity, fresh=False) as previous:
            if profile is not None:
                profile.enable()
            start = time.perf_counter()
            manifest = asyncio.run(runner.run(run_dir, identity, previous))
            elapsed = time.perf_counter() - start
            if profile is not None:
                profile.disable()
    return manifest.counts.probes_scored, elapsed


def report_overhead(users: int, repeat: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as data:
        overhead(users, Path(data))  # warm-up: builds the data, imports what a run imports
        timings = [overhead(users, Path(data)) for _ in range(repeat)]
        probes = timings[0][0]
        per_probe = sorted(elapsed / probes * 1000 for _, elapsed in timings)
        print(f"no-memory on HaluMem, {users} users: {probes} probes, no LLM")
        print(f"harness overhead per probe: {per_probe[0]:.3f} ms best, {per_probe[-1]:.3f} ms worst")
        if profile:
            profiler = cProfile.Profile()
            overhead(users, Path(data), profiler)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-probes", type=int, default=8, help="probes in flight per episode")
    parser.add_argument("--overhead", type=int, metavar="USERS", help="measure overhead per probe instead")
    parser.add_argument("--repeat", type=int, default=5, help="runs of --overhead (default: 5)")
    parser.add_argument("--profile", action="store_true", help="with --overhead: profile one more run")
    args = parser.parse_args()
    if args.overhead:
        report_overhead(args.overhead, args.repeat, args.profile)
        return
    with tempfile.TemporaryDirectory() as data:
        measure(8, 0.0, args.users, Path(data))  # warm-up: builds the data, imports litellm
        print(
            f"latency {args.latency * 1000:.0f} ms per LLM call, {args.users} episodes (HaluMem users), "
            f"--max-probes {args.max_probes}"
        )
        print("concurrency | LLM calls | measured s | ideal s | ideal/measured | bound s | bound/measured")
        for concurrency in args.concurrency:
            calls, elapsed, ideal, bound = measure(
                concurrency, args.latency, args.users, Path(data), args.max_probes
            )
            row = f"{concurrency:>11} | {calls:>9} | {elapsed:>10.2f} | {ideal:>7.2f}"
            print(f"{row} | {ideal / elapsed:>14.2f} | {bound:>7.2f} | {bound / elapsed:>14.2f}")


if __name__ == "__main__":
    main()
