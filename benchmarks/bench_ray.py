"""Local vs Ray executor on one machine: the same HaluMem run, the runner's episodes timed.

Usage: python benchmarks/bench_ray.py bm25|llm [--users 20] [--episodes 2] [--latency 0.2] [--cache]
(needs membench[ray]). ``llm`` answers with the LLM reader against the loopback fake, ``--latency``
seconds per call. Prints, per executor: probes, wall seconds of ``Runner.run`` (the episodes only: no
data build, no summary), when the first and last episode came back, and for ray the seconds the
driver spent replaying (writing) the returned episodes: what bounds a cluster's write rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from membench.core.config import LLMSpec, RunConfig
from membench.core.env import apply_offline_env
from membench.running import ray_executor
from membench.running.components import prepare, run_dir_of
from membench.running.display import NullDisplay
from membench.running.rundir import open_run_dir
from membench.running.runner import Runner
from membench.testing.openai_server import FakeOpenAIServer

apply_offline_env()
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-real-key")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

replay_s = 0.0
_replay = ray_executor._replay


arrivals: list[float] = []


def timed_replay(*args: Any) -> Any:  # the driver's writing of one returned episode
    global replay_s
    t = time.perf_counter()
    arrivals.append(t)
    try:
        return _replay(*args)
    finally:
        replay_s += time.perf_counter() - t


ray_executor._replay = timed_replay


def once(config: RunConfig) -> tuple[int, float, dict[str, Any]]:
    components, plan, identity = prepare(config, NullDisplay())
    run_dir = run_dir_of(config, identity)
    runner = Runner(config, components, plan, NullDisplay())
    with open_run_dir(run_dir, identity, fresh=True, elsewhere="") as previous:
        t = time.perf_counter()
        arrivals.clear()
        manifest = asyncio.run(runner.run(run_dir, identity, previous))
        dt = time.perf_counter() - t
    assert manifest.status == "complete", manifest.status
    if arrivals:
        print(f"  first episode back after {arrivals[0] - t:.2f} s, last after {arrivals[-1] - t:.2f} s")
    return manifest.counts.probes_scored + manifest.counts.probes_errored, dt, manifest.cache


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["bm25", "llm"])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--cache", action="store_true", help="a second, cached pass too")
    args = ap.parse_args()
    global replay_s
    import ray

    t = time.perf_counter()
    ray.init(
        num_cpus=args.episodes, include_dashboard=False, logging_level="warning", _node_ip_address="127.0.0.1"
    )
    print(f"ray.init: {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as root, FakeOpenAIServer(latency_s=args.latency) as server:
        root = Path(root)
        for executor in ("local", "ray"):
            settings = dict(
                task="halumem",
                system="bm25",
                task_options={"users": str(args.users)},
                max_episodes=args.episodes,
                results_dir=root / executor,
                data_dir=root / "data",
                cache_path=root / f"{executor}.sqlite",
                display="none",
                executor=executor,
            )
            if args.kind == "llm":
                settings.update(
                    reader_llm=LLMSpec("openai/fake-model", server.base_url),
                    max_connections=8,
                    use_cache=args.cache,
                    task_options={"users": str(args.users), "sessions": "4", "turns": "6"},
                )
            config = RunConfig(**settings)
            before = server.total_requests
            for attempt in ("cold", "cached") if args.cache else ("run",):
                replay_s = 0.0
                probes, dt, cache = once(config)
                calls = server.total_requests - before
                before = server.total_requests
                extra = f", driver replay {replay_s:.2f} s" if executor == "ray" else ""
                print(
                    f"{executor:5} {attempt:6} probes {probes}, {dt:.2f} s, {probes / dt:.0f} probes/s, "
                    f"LLM calls {calls}, cache {cache}{extra}"
                )
    ray.shutdown()


if __name__ == "__main__":
    main()
