"""LLM-bound throughput from a cold process, at several concurrencies, and beside inspect_ai.

The workload of issue 17: 576 reader calls (HaluMem built data, 64 users × 4 sessions × 6 rounds,
9 answer probes each; ``bm25``, the LLM reader, the rule judge, cache off) against
``FakeOpenAIServer`` on loopback answering every call after 200 ms. ``--max-episodes`` =
``--max-connections`` = the concurrency c, so c bounds the calls in flight and 64 episodes never cap
it. Each measurement is a fresh interpreter (the child), as ``membench run`` is: its imports, the run's
preparation and the summary all count. The server lives in this (parent) process, so it takes no CPU
from the measured one beyond what the two cores share.

The ideal is calls × 200 ms / c. Three figures are printed: ideal / the child's ``api.run`` (the
command's work: prepare, the episodes, the summary), ideal / the child's whole life (with interpreter
start and imports), and ideal / the calls' own window (the first request's arrival at the server to
the last one's plus the latency): the share of the network's time the episodes kept busy, apart from
the fixed costs around them, which are printed beside it (``api.run`` up to the first request, and after
the last reply: the summary). ``--users`` sets the workload (9 calls per user); with 640 users the
fixed costs weigh a tenth as much. Then the same calls in inspect_ai (one ``generate`` per sample,
``includes`` scorer, ``max_connections`` = ``max_samples`` = each ``--inspect-at``) in its own venv,
made on first use and kept in ``--inspect-venv``; its process's wall time over membench's at the same
concurrency is the ratio.

The LLM client alone (``LLMClient.complete`` × the same calls, no runner) separates the transport's
share: the openai SDK at each concurrency, litellm (``hosted_vllm/``, the same server) at the highest
``--inspect-at`` concurrency, with the import time and the CPU per call.

Usage: python benchmarks/bench_concurrency.py [--latency 0.2] [--concurrency 1 8 32 64]
       [--users 64] [--inspect-at 32 [64 ...]] [--no-inspect] [--inspect-venv /tmp/membench-bench-inspect]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from membench.testing.openai_server import FakeOpenAIServer

USERS, SESSIONS, TURNS = 64, 4, 6
INSPECT_SPEC = "inspect_ai==0.3.*"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "membench-bench-inspect"

#: the measured membench process: argv = data dir, results dir, base URL, concurrency, users, sessions,
#: rounds.
MEMBENCH_CHILD = """
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from membench.api import run
from membench.core.config import LLMSpec, RunConfig
from membench.running.display import NullDisplay
data, results, url, c = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = RunConfig(
    task="halumem", system="bm25",
    task_options={"users": sys.argv[5], "sessions": sys.argv[6], "turns": sys.argv[7]},
    reader_llm=LLMSpec("openai/fake-model", url),
    max_episodes=c, max_connections=c, results_dir=Path(results), data_dir=Path(data),
    use_cache=False, display="none",
)
begun, begun_at = time.perf_counter(), time.monotonic()
outcome = run(config, NullDisplay())
ended, ended_at = time.perf_counter(), time.monotonic()
print(json.dumps({
    "run_s": ended - begun, "imports_s": begun - started, "status": outcome.manifest.status,
    "begun_at": begun_at, "ended_at": ended_at,
}))
"""

#: the LLM client alone, the same calls with no runner: argv = model, base URL, concurrency, calls.
CLIENT_CHILD = """
import asyncio, json, resource, sys, time
from membench.llm.client import LLMClient, warm_up
model, url, c, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
llm = LLMClient(model, role="reader", api_base=url, max_connections=c)
begun = time.perf_counter()
warm_up([llm])
warmed = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
ask = [[{"role": "user", "content": f"Question {i}: where does user {i} live these days?"}] for i in range(n)]
async def calls():
    await asyncio.gather(*(llm.complete(messages) for messages in ask))
asyncio.run(calls())
ended = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu_ms = (usage.ru_utime + usage.ru_stime - cpu) * 1000 / n
print(json.dumps({"warm_s": warmed - begun, "calls_s": ended - warmed, "cpu_ms": cpu_ms}))
"""

#: the inspect_ai process: argv = base URL, concurrency, samples, log dir.
INSPECT_CHILD = """
import json, sys, time
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate
url, c, n, logs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ask = "Question {}: where does user {} live these days?"
samples = [Sample(input=ask.format(i, i), target="Echo") for i in range(n)]
task = Task(dataset=samples, solver=generate(), scorer=includes())
begun = time.perf_counter()
(log,) = eval(
    task, model="openai/fake-model", model_base_url=url, max_connections=c, max_samples=c,
    log_dir=logs, display="none", model_args={"responses_api": False},
)
took = time.perf_counter() - begun
print(json.dumps({"eval_s": took, "status": log.status, "samples": len(log.samples or [])}))
"""


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OPENAI_API_KEY="sk-bench-not-a-real-key",
        MEM0_TELEMETRY="False",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        INSPECT_DISPLAY="none",
    )
    return env


def run_child(python: str, code: str, *args: str) -> tuple[dict[str, Any], float]:
    """The child's JSON line and its process wall time (start to exit)."""
    start = time.perf_counter()
    done = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, env=child_env(), check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def measure_membench(
    data: Path, users: int, concurrency: int, latency: float
) -> tuple[int, dict[str, Any], float]:
    """The calls made, the child's figures (with ``window_s``, ``before_s`` and ``after_s``: the
    calls' window and the run's time before and after it), and the child's process wall time."""
    with FakeOpenAIServer(latency_s=latency) as server, tempfile.TemporaryDirectory() as results:
        out, wall = run_child(
            sys.executable,
            MEMBENCH_CHILD,
            *(str(data), results, server.base_url, str(concurrency)),
            *(str(users), str(SESSIONS), str(TURNS)),
        )
        arrived = [r.received_at for r in server.requests if r.path == "/v1/chat/completions"]
    if out["status"] != "complete":
        raise SystemExit(f"the run at {concurrency} ended {out['status']}")
    if arrived:
        out["window_s"] = max(arrived) + latency - min(arrived)
        out["before_s"] = min(arrived) - out["begun_at"]
        out["after_s"] = out["ended_at"] - max(arrived) - latency
    return len(arrived), out, wall


def measure_client(model: str, calls: int, concurrency: int, latency: float) -> dict[str, Any]:
    with FakeOpenAIServer(latency_s=latency) as server:
        out, _ = run_child(sys.executable, CLIENT_CHILD, model, server.base_url, str(concurrency), str(calls))
    return out


def inspect_python(venv: Path) -> str:
    """The inspect_ai venv's python, creating the venv (and installing inspect_ai) on first use."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import inspect_ai"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return str(python)
    print(f"making {venv} with {INSPECT_SPEC} (once; kept for the next runs) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    installed = subprocess.run([*pip, INSPECT_SPEC, "openai"], capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        raise RuntimeError(f"pip install {INSPECT_SPEC} failed: {installed.stderr.strip()[-1500:]}")
    return str(python)


def measure_inspect(
    python: str, calls: int, concurrency: int, latency: float
) -> tuple[dict[str, Any], float]:
    with FakeOpenAIServer(latency_s=latency) as server, tempfile.TemporaryDirectory() as logs:
        out, wall = run_child(python, INSPECT_CHILD, server.base_url, str(concurrency), str(calls), logs)
        out["calls"] = server.path_counts.get("/v1/chat/completions", 0)
    return out, wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--users", type=int, default=USERS, help="HaluMem users (9 calls each)")
    parser.add_argument("--inspect-at", type=int, nargs="+", default=[32])
    parser.add_argument("--no-inspect", action="store_true")
    parser.add_argument("--inspect-venv", type=Path, default=DEFAULT_VENV)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        data = Path(data_dir)
        calls, _, _ = measure_membench(data, args.users, 64, 0.0)  # builds the data, warms the cache
        print(f"{args.latency * 1000:.0f} ms per call; cold process per row; ideal = calls × latency / c")
        print("    c  calls  ideal s   run s  ideal/run  process s  ideal/process")
        walls: dict[int, float] = {}
        windows: list[str] = []
        for concurrency in args.concurrency:
            calls, out, wall = measure_membench(data, args.users, concurrency, args.latency)
            ideal = calls * args.latency / concurrency
            walls[concurrency] = wall
            print(
                f"{concurrency:>5}  {calls:>5}  {ideal:>7.2f}  {out['run_s']:>6.2f}  "
                f"{ideal / out['run_s']:>9.2f}  {wall:>9.2f}  {ideal / wall:>13.2f}",
                flush=True,
            )
            windows.append(
                f"{concurrency:>5}  {out['window_s']:>8.2f}  {ideal / out['window_s']:>12.2f}  "
                f"{out['before_s']:>14.2f}  {out['after_s']:>13.2f}"
            )
        print("the calls' window (first request to last reply), and the run around it")
        print("    c  window s  ideal/window  before calls s  after calls s")
        print("\n".join(windows))
    print(f"the LLM client alone, {calls} calls (warm: the import before the calls)")
    print("    c  transport  warm s  calls s  ideal/calls  CPU ms per call")
    for model, transport in (("openai/fake-model", "openai"), ("hosted_vllm/fake-model", "litellm")):
        for concurrency in args.concurrency if transport == "openai" else [max(args.inspect_at)]:
            if concurrency == 1:
                continue  # calls × latency again: nothing to learn
            out = measure_client(model, calls, concurrency, args.latency)
            ideal = calls * args.latency / concurrency
            print(
                f"{concurrency:>5}  {transport:>9}  {out['warm_s']:>6.2f}  {out['calls_s']:>7.2f}  "
                f"{ideal / out['calls_s']:>11.2f}  {out['cpu_ms']:>15.2f}",
                flush=True,
            )
    if args.no_inspect:
        return
    try:
        python = inspect_python(args.inspect_venv)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"inspect_ai: not measured: {exc}")
        return
    version = subprocess.run(
        [python, "-c", "import inspect_ai; print(inspect_ai.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    for concurrency in args.inspect_at:
        out, wall = measure_inspect(python, calls, concurrency, args.latency)
        ideal = out["calls"] * args.latency / concurrency
        print(
            f"inspect_ai {version} at {concurrency}: {out['calls']} calls, eval {out['eval_s']:.2f} s, "
            f"process {wall:.2f} s, ideal/process {ideal / wall:.2f} ({out['status']})"
        )
        if concurrency in walls:
            ratio = wall / walls[concurrency]
            print(f"inspect_ai / membench process wall time at {concurrency}: {ratio:.2f}")


if __name__ == "__main__":
    main()
