"""Every offline system on the same HaluMem run, and what running a system out of process costs.

Usage: python benchmarks/bench_systems.py [--users 10] [--systems mem0,memos,...] [--calls 500]

1. ``membench run --task halumem --system NAME`` for each system, as child processes in one fresh
   directory (the same built data, extractive reader, rule judge): wall time, peak RSS of the membench
   process and, for a system in a worker, of the worker (its log's last line), add latency per session
   (ingest.jsonl) and search latency per question (records' ``latency_s["retrieve"]``), and the
   HaluMem headline metrics from its summary.json. Then
   ``membench compare`` over them all, which prints the leaderboard with paired tests. A system whose
   environment is not installed is skipped, with the command that installs it.
2. The channel's own cost: bm25 in this process against the same bm25 in a worker under this
   interpreter, ``--calls`` retrieve calls each on one ingested episode: per-call median and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from membench.core.env import apply_offline_env
from membench.core.records import latest_ingests, latest_records, read_ingests, read_records
from membench.core.types import Episode, Session, Turn
from membench.registry import Registry
from membench.systems.base import MemorySystem
from membench.systems.bm25 import BM25System
from membench.systems.envs import env_status
from membench.systems.worker.client import LOG_NAME, worker_class_for
from membench.systems.worker.serve import PEAK_RSS_PREFIX

apply_offline_env()  # for the membench processes this starts (they inherit it)

#: runs the command given as arguments, then prints the peak RSS (kB) of the largest process it waited for.
PEAK_OF_CHILD = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
OFFLINE_SYSTEMS = "mem0,memos,langmem,bm25,dense,full-context,no-memory,oracle"
#: HaluMem's headline metrics (percent) in the table: extraction, update, question answering.
SCORES = ("recall", "extraction_f1", "memory_accuracy", "fmr", "update_correct", "qa_correct")


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def spread(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{statistics.median(ms):.1f} / {percentile(ms, 95):.1f}" if ms else "-"


def worker_peak_mb(run_dir: Path) -> float | None:
    peaks = []
    for log in (run_dir / "state").glob(f"*/{LOG_NAME}"):
        for match in re.finditer(rf"{re.escape(PEAK_RSS_PREFIX)} (\d+) MB", log.read_text(errors="replace")):
            peaks.append(float(match.group(1)))
    return max(peaks) if peaks else None


def run_system(name: str, users: int, workdir: Path) -> str | None:
    """One system's row of the table, or None when it cannot run here (the reason is printed)."""
    cls = Registry([]).get("system", name)
    if cls.environment and env_status(cls.environment).problem():
        print(f"skipped {name}: {env_status(cls.environment).problem()}", file=sys.stderr)
        return None
    command = [sys.executable, "-m", "membench", "run", "--task", "halumem", "--system", name]
    command += ["-T", f"users={users}", "--display", "none", "--max-episodes", "1"]
    start = time.perf_counter()
    # A parent of its own per run, so the peak is this run's: its largest process, membench or a
    # worker it waited for (a worker also writes its own peak in its log, the last column).
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF_CHILD, *command],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    peak_note = f"{int(done.stdout.split()[-1]) / 1024:.0f}"
    run_dir = next((workdir / "results" / "runs").glob(f"halumem__{name}__*"))
    adds = [i.latency_s for i in latest_ingests(read_ingests(run_dir)) if i.ok]
    searches = [
        r.prediction.latency_s["retrieve"]
        for r in latest_records(read_records(run_dir))
        if r.prediction and "retrieve" in r.prediction.latency_s
    ]
    worker = worker_peak_mb(run_dir)
    mode = f"worker ({cls.environment})" if cls.environment else "in process"
    worker_note = f"{worker:.0f}" if worker is not None else "-"
    summary = json.loads((run_dir / "summary.json").read_text())
    values = {m["metric"]: m["value"] for m in summary["metrics"]}
    scores = [f"{values[m] * 100:.1f}" if values.get(m) is not None else "-" for m in SCORES]
    cells = [name, mode, *scores, f"{wall:.1f}", spread(adds), spread(searches), peak_note, worker_note]
    return "| " + " | ".join(cells) + " |"


def episode(sessions: int, turns: int) -> Episode:
    return Episode(
        episode_id="bench",
        sessions=[
            Session(
                session_id=f"s{s}",
                turns=[
                    Turn(
                        role="user" if t % 2 == 0 else "assistant",
                        content=f"turn {t} of session {s} about topic {t * s % 17}",
                    )
                    for t in range(turns)
                ],
            )
            for s in range(sessions)
        ],
    )


async def time_calls(system: MemorySystem, calls: int) -> list[float]:
    data = episode(10, 20)
    await system.reset(data)
    for session in data.sessions:
        await system.ingest(session)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        await system.retrieve(f"topic {i % 17} session {i % 10}", 10)
        times.append(time.perf_counter() - start)
    await system.close()
    return times


def channel_cost(calls: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        inside = asyncio.run(time_calls(BM25System({}, Path(workdir) / "in"), calls))
        worker_cls = worker_class_for(BM25System, python=Path(sys.executable))
        outside = asyncio.run(time_calls(worker_cls({}, Path(workdir) / "out"), calls))
    overhead = statistics.median(outside) - statistics.median(inside)
    print(f"bm25 retrieve, k=10, 200 turns stored, {calls} calls (median / p95 ms):")
    print(f"  in process {spread(inside)}; in a worker {spread(outside)}")
    print(f"  channel cost per call (difference of medians): {overhead * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--systems", default=OFFLINE_SYSTEMS)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--quiet", action="store_true", help="leave out membench compare's tables")
    args = parser.parse_args()
    channel_cost(args.calls)
    with tempfile.TemporaryDirectory() as workdir:
        print(f"\nhalumem, {args.users} users, one episode at a time (median / p95 ms; MB peak RSS)")
        head = ["system", "runs", *SCORES, "wall s", "add per session", "search per question"]
        print("| " + " | ".join([*head, "peak MB", "worker MB"]) + " |")
        print("|---" * (len(head) + 2) + "|")
        ran = []
        for name in args.systems.split(","):
            row = run_system(name, args.users, Path(workdir))
            if row is not None:
                print(row, flush=True)
                ran.append(name)
        compare = [
            sys.executable,
            "-m",
            "membench",
            "compare",
            "--task",
            "halumem",
            "--systems",
            ",".join(ran),
        ]
        subprocess.run(compare, cwd=workdir, check=True, stdout=subprocess.DEVNULL if args.quiet else None)


if __name__ == "__main__":
    main()
