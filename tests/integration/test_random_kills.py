"""Seeded SIGKILLs of a real `membench run` at random points, each followed by the same command, until
the run completes: no probe lost, none duplicated, records and metrics those of an uninterrupted run.

Each kill lands at a chosen point, not at whatever moment a poll happens to see: the run's system
(``CountingGateSystem``, loaded from this file as a plugin) answers ``MEMBENCH_TOY_RETRIEVALS``
retrievals in a process and blocks at the next, after appending a line to ``MEMBENCH_TOY_GATE_FILE``.
Every probe retrieves once, so a start killed at its gate has flushed exactly that many new records:
the test polls records.jsonl for that count and the gate file for the block (events, not time).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest

from membench.analysis.summary import SUMMARY
from membench.core.records import read_records
from membench.core.types import Memory
from membench.registry import import_object

KILL_RESUME = Path(__file__).with_name("test_kill_resume.py")
TOY: str = import_object(f"{KILL_RESUME}:TOY")
KeywordSystem: Any = import_object(f"{KILL_RESUME}:KeywordSystem")
comparable: Any = import_object(f"{KILL_RESUME}:comparable")
run_dir_of: Any = import_object(f"{KILL_RESUME}:run_dir_of")
flushed_lines: Any = import_object(f"{KILL_RESUME}:flushed_lines")
#: how long to wait for one start to reach its gate or finish; a guard against hanging, not an assertion.
SAFETY_NET_S = 120
#: new records a killed start flushes before its kill: drawn from 0 to this (0: killed before its first).
MAX_RECORDS_PER_START = 3


class CountingGateSystem(KeywordSystem):
    """The toy keyword store; with ``MEMBENCH_TOY_RETRIEVALS=N`` its N+1-th retrieval blocks for good."""

    name = "counting-gate"
    retrieved: ClassVar[int] = 0  # across the run's workers: one process, one count

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        allowed = os.environ.get("MEMBENCH_TOY_RETRIEVALS")
        if allowed is not None and CountingGateSystem.retrieved >= int(allowed):
            with open(os.environ["MEMBENCH_TOY_GATE_FILE"], "a") as gate:
                gate.write("blocked\n")
            await asyncio.Event().wait()  # never set: the process waits here for its SIGKILL
        CountingGateSystem.retrieved += 1
        return await super().retrieve(query, k)


def command(results: Path, episodes: int, sessions: int) -> list[str]:
    return [
        *(sys.executable, "-m", "membench", "run", "--task", "toy", "--system", "counting-gate"),
        *("--plugin", f"{TOY}:ToyTask", "--plugin", f"{__file__}:CountingGateSystem"),
        *("-T", f"episodes={episodes}", "-T", f"sessions={sessions}", "--display", "plain"),
        *("--results-dir", str(results), "--data-dir", str(results.parent / "data")),
    ]


def ungated_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MEMBENCH_TOY_")}


def kill_at_gate(argv: list[str], results: Path, new_records: int, gate_file: Path) -> None:
    """Start ``argv`` gated after ``new_records`` retrievals, wait for that many new records and the block,
    then SIGKILL it."""
    before = flushed_lines(results)
    env = {
        **ungated_env(),
        "MEMBENCH_TOY_RETRIEVALS": str(new_records),
        "MEMBENCH_TOY_GATE_FILE": str(gate_file),
    }
    gate_file.unlink(missing_ok=True)
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + SAFETY_NET_S
    while (
        not (gate_file.exists() and flushed_lines(results) == before + new_records)
        and process.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert process.poll() is None, "the gated start ended before its kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert flushed_lines(results) == before + new_records, "killed at the gate, with its records flushed"


def kill_and_resume_until_complete(
    tmp_path: Path, kills: int, episodes: int, sessions: int, seed: int
) -> None:
    """``kills`` seeded kills, each start gated at a random count of new records below what is pending
    (so it cannot finish first), then one ungated start that completes the run."""
    rng = random.Random(seed)
    results = tmp_path / "killed" / "results"
    argv = command(results, episodes, sessions)
    for _ in range(kills):
        pending = episodes * sessions - flushed_lines(results)
        new_records = rng.randint(0, max(0, min(MAX_RECORDS_PER_START, pending - 1)))
        kill_at_gate(argv, results, new_records, tmp_path / "gate")
    final = subprocess.run(argv, env=ungated_env(), capture_output=True, text=True, timeout=SAFETY_NET_S)
    assert final.returncode == 0, final.stderr
    assert "resuming" in final.stdout


def assert_same_as_uninterrupted(tmp_path: Path, episodes: int, sessions: int) -> None:
    killed = run_dir_of(tmp_path / "killed" / "results")
    clean_results = tmp_path / "clean" / "results"
    argv = command(clean_results, episodes, sessions)
    clean = subprocess.run(argv, env=ungated_env(), capture_output=True, text=True, timeout=SAFETY_NET_S)
    assert clean.returncode == 0, clean.stderr
    uninterrupted = run_dir_of(clean_results)

    planned = {r.probe_id for r in read_records(uninterrupted)}
    written = Counter(r.probe_id for r in read_records(killed))
    assert len(planned) == episodes * sessions
    assert planned - set(written) == set(), "no probe lost"
    assert [p for p, n in written.items() if n > 1] == [], "no probe written twice"
    assert comparable(killed) == comparable(uninterrupted), "the latest records of an uninterrupted run"
    summary = json.loads((killed / SUMMARY).read_text())
    assert summary == json.loads((uninterrupted / SUMMARY).read_text()), "the same metrics"
    assert killed.name == uninterrupted.name, "same identity, same run id"


def test_three_random_kills_resume_to_an_uninterrupted_run(tmp_path: Path) -> None:
    kill_and_resume_until_complete(tmp_path, kills=3, episodes=4, sessions=3, seed=11)
    assert_same_as_uninterrupted(tmp_path, episodes=4, sessions=3)


@pytest.mark.slow
def test_thirty_random_kills_resume_to_an_uninterrupted_run(tmp_path: Path) -> None:
    kill_and_resume_until_complete(tmp_path, kills=30, episodes=8, sessions=5, seed=11)
    assert_same_as_uninterrupted(tmp_path, episodes=8, sessions=5)
