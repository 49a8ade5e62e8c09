"""mem0 figures for BENCHMARKS.md: the main command's wall time and peak memory, mem0's add and search
latency from that run's own records, and what the response cache saves on an identical LLM-mode re-run.

Usage: python benchmarks/bench_mem0.py [--users 10] [--latency 0.05]

1. ``membench run --task halumem --system mem0`` (offline, the README's main command) in a fresh
   directory, as a child process: wall time and the child's peak RSS. Add latency per session comes
   from ingest.jsonl, search latency per question from the records (``latency_s["retrieve"]``).
2. mem0 in llm mode with an LLM reader and an LLM judge, all on the loopback test server with
   ``--latency`` seconds per call, run twice (the second with ``--fresh``): requests the server saw and
   wall time of each run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from membench.core.env import apply_offline_env
from membench.core.records import latest_ingests, latest_records, read_ingests, read_records
from membench.testing.openai_server import FakeOpenAIServer, mem0_responder

# For the membench processes this starts (they inherit it); nothing imported above reads it.
apply_offline_env()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main_command(users: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, "-m", "membench", "run", "--task", "halumem", "--system", "mem0"]
        command += ["-T", f"users={users}", "--display", "none"]
        start = time.perf_counter()
        subprocess.run(command, cwd=workdir, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        run_dir = next((Path(workdir) / "results" / "runs").iterdir())
        adds = [i.latency_s for i in latest_ingests(read_ingests(run_dir)) if i.ok]
        searches = [
            r.prediction.latency_s["retrieve"]
            for r in latest_records(read_records(run_dir))
            if r.prediction and "retrieve" in r.prediction.latency_s
        ]
    print(
        f"main command (halumem, {users} users, mem0 offline, fresh data): "
        f"{wall:.1f} s wall, {peak_mb:.0f} MB peak RSS"
    )
    for name, values in (("add per session", adds), ("search per question", searches)):
        ms = [v * 1000 for v in values]
        print(
            f"  mem0 {name}: n={len(ms)}, median {statistics.median(ms):.1f} ms, "
            f"p95 {percentile(ms, 95):.1f} ms"
        )


def three_models(request: dict[str, object]) -> str:
    if request.get("model") == "extractor":
        return mem0_responder(request)
    if request.get("model") == "reader":
        return "Answer: Unknown"
    return '{"reason": "ok", "label": "correct", "score": 2, "accuracy_score": 2, "included": true}'


def cached_rerun(users: int, latency: float) -> None:
    with (
        FakeOpenAIServer(three_models, latency_s=latency) as server,
        tempfile.TemporaryDirectory() as workdir,
    ):
        base = [sys.executable, "-m", "membench", "run", "--task", "halumem", "--system", "mem0"]
        base += ["-T", f"users={users}", "--display", "none", "--max-episodes", "2"]
        for model, flag, base_flag in (
            ("extractor", "--system-llm", "--system-api-base"),
            ("reader", "--llm", "--llm-api-base"),
            ("judge", "--judge-llm", "--judge-api-base"),
        ):
            base += [flag, f"openai/{model}", base_flag, server.base_url]
        env = {**os.environ, "MEMBENCH_CACHE_DIR": str(Path(workdir) / "cache")}
        for attempt, extra in (("first run", []), ("identical re-run (--fresh)", ["--fresh"])):
            before = server.total_requests
            start = time.perf_counter()
            subprocess.run(base + extra, cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            print(
                f"  {attempt}: {server.total_requests - before} LLM requests, {wall:.1f} s wall "
                f"({latency * 1000:.0f} ms per call)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--llm-users", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    main_command(args.users)
    print(f"mem0 llm mode + LLM reader + LLM judge on the test server ({args.llm_users} users):")
    cached_rerun(args.llm_users, args.latency)


if __name__ == "__main__":
    main()
