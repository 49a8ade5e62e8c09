"""Runner throughput against the local OpenAI-compatible server with injected latency.

Every answer probe makes one LLM reader call; with latency L per call and c episodes in flight, the ideal
wall time of the answer phase is calls × L / c. We report ideal / measured (1.0 = no overhead at all).
Usage: python benchmarks/bench_runner.py [--latency 0.2] [--users 32] [--concurrency 1 8 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from membench.api import run
from membench.core.config import LLMSpec, RunConfig
from membench.core.env import apply_offline_env
from membench.core.records import read_records
from membench.running.display import NullDisplay
from membench.testing.openai_server import FakeOpenAIServer

# Early enough after the imports: litellm and mem0 are imported only when a run first needs them.
apply_offline_env()
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")


def measure(concurrency: int, latency: float, users: int, data_dir: Path) -> tuple[int, float, float, float]:
    """LLM calls, measured seconds, and two ideals: perfect spreading, and the episode-order bound."""
    with FakeOpenAIServer(latency_s=latency) as server, tempfile.TemporaryDirectory() as results:
        config = RunConfig(
            task="halumem",
            system="bm25",
            task_options={"users": str(users), "sessions": "4", "turns": "6"},
            reader_llm=LLMSpec("openai/fake-model", server.base_url),
            max_episodes=concurrency,
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
        per_episode = Counter(r.episode_id for r in read_records(outcome.run_dir) if r.kind == "qa")
    ideal = calls * latency / concurrency
    # Probes of one episode run in order, so no schedule beats the busiest episode's chain of calls.
    bound = max(ideal, max(per_episode.values()) * latency)
    return calls, elapsed, ideal, bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        measure(8, 0.0, args.users, Path(data))  # warm-up: builds the data, imports litellm
        print(f"latency {args.latency * 1000:.0f} ms per LLM call, {args.users} episodes (HaluMem users)")
        print("concurrency | LLM calls | measured s | ideal s | ideal/measured | bound s | bound/measured")
        for concurrency in args.concurrency:
            calls, elapsed, ideal, bound = measure(concurrency, args.latency, args.users, Path(data))
            row = f"{concurrency:>11} | {calls:>9} | {elapsed:>10.2f} | {ideal:>7.2f}"
            print(f"{row} | {ideal / elapsed:>14.2f} | {bound:>7.2f} | {bound / elapsed:>14.2f}")


if __name__ == "__main__":
    main()
