"""A real `membench run` process killed with SIGKILL mid-run resumes to the same records as a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from membench.core.records import latest_records, read_records

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")


def command(results: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "membench",
        "run",
        "--task",
        "toy",
        "--system",
        "slow",
        "--plugin",
        f"{TOY}:ToyTask",
        "--plugin",
        f"{TOY}:SlowSystem",
        "-T",
        "episodes=6",
        "-T",
        "sessions=4",
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


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    env = {**os.environ, "MEMBENCH_TOY_SLEEP": "0.15"}
    killed = tmp_path / "killed" / "results"
    process = subprocess.Popen(command(killed), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    records_file = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = killed / "runs"
        if runs.exists() and any(runs.iterdir()):
            records_file = run_dir_of(killed) / "records.jsonl"
            if records_file.exists() and records_file.read_text().count("\n") >= 5:
                break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert records_file is not None
    lines_at_kill = records_file.read_text().count("\n")
    assert 5 <= lines_at_kill < 24, "the kill must land mid-run"

    resumed = subprocess.run(command(killed), env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout

    clean = tmp_path / "clean" / "results"
    uninterrupted = subprocess.run(command(clean), env=env, capture_output=True, text=True, timeout=120)
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    killed_records = read_records(run_dir_of(killed))
    assert len({r.probe_id for r in killed_records}) == 24 == len(killed_records), (
        "none lost, none duplicated"
    )
    assert comparable(run_dir_of(killed)) == comparable(run_dir_of(clean))
    assert run_dir_of(killed).name == run_dir_of(clean).name, "same identity, same run id"
