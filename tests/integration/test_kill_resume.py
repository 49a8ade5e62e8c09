"""A real `membench run` process killed with SIGKILL mid-run resumes to the same records as a clean run.

The kill lands at a known point, not at whatever moment a poll happens to see: the run's system
(``GatedSystem``, loaded from this file as a plugin) stops for good before its ``GATE``-th session
when ``MEMBENCH_TOY_GATE`` is set, so the killed run has exactly the records of the sessions before
the gate, however fast or slow the machine is.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

from membench.core.records import RECORDS, latest_records, read_records
from membench.core.types import Session
from membench.registry import import_object

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")
KeywordSystem: Any = import_object(f"{TOY}:KeywordSystem")
#: 6 episodes of 4 sessions, one probe after each session.
EPISODES, SESSIONS = 6, 4
PROBES = EPISODES * SESSIONS
#: sessions ingested (hence probes answered and flushed) before the killed run stops for good.
GATE = 5
#: how long to wait for the gated run to flush its records; a guard against hanging, not an assertion.
SAFETY_NET_S = 120


class GatedSystem(KeywordSystem):
    """The toy keyword store; with ``MEMBENCH_TOY_GATE=N`` its N+1-th ingest blocks until the kill."""

    name = "gated"
    ingested: ClassVar[int] = 0  # across the run's workers: one process, one count

    async def ingest(self, session: Session) -> None:
        gate = os.environ.get("MEMBENCH_TOY_GATE")
        if gate is not None and GatedSystem.ingested >= int(gate):
            await asyncio.Event().wait()  # never set: the process waits here for its SIGKILL
        GatedSystem.ingested += 1
        await super().ingest(session)


def command(results: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "membench",
        "run",
        "--task",
        "toy",
        "--system",
        "gated",
        "--plugin",
        f"{TOY}:ToyTask",
        "--plugin",
        f"{__file__}:GatedSystem",
        "-T",
        f"episodes={EPISODES}",
        "-T",
        f"sessions={SESSIONS}",
        "--results-dir",
        str(results),
        "--data-dir",
        str(results.parent / "data"),
        "--display",
        "plain",
    ]


def comparable(run_dir: Path) -> list[dict]:
    rows = []
    for record in sorted(latest_records(read_records(run_dir)), key=lambda r: r.probe_id):
        row = record.model_dump(mode="json", exclude={"completed_at"})
        row["prediction"].pop("latency_s")
        rows.append(row)
    return rows


def run_dir_of(results: Path) -> Path:
    (run_dir,) = (results / "runs").iterdir()
    return run_dir


def flushed_lines(results: Path) -> int:
    """Complete lines in the run's records file (0 before the run directory exists)."""
    runs = results / "runs"
    files = list(runs.glob(f"*/{RECORDS}")) if runs.exists() else []
    return files[0].read_bytes().count(b"\n") if files else 0


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    killed = tmp_path / "killed" / "results"
    gated = {**os.environ, "MEMBENCH_TOY_GATE": str(GATE)}
    process = subprocess.Popen(command(killed), env=gated, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SAFETY_NET_S
    while flushed_lines(killed) < GATE and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the gated run ended before its kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert flushed_lines(killed) == GATE, "killed at the gate: the records of the sessions before it"

    env = {k: v for k, v in os.environ.items() if k != "MEMBENCH_TOY_GATE"}
    resumed = subprocess.run(command(killed), env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout

    clean = tmp_path / "clean" / "results"
    uninterrupted = subprocess.run(command(clean), env=env, capture_output=True, text=True, timeout=120)
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    killed_records = read_records(run_dir_of(killed))
    assert len({r.probe_id for r in killed_records}) == PROBES == len(killed_records), (
        "none lost, none duplicated"
    )
    assert comparable(run_dir_of(killed)) == comparable(run_dir_of(clean))
    assert run_dir_of(killed).name == run_dir_of(clean).name, "same identity, same run id"
