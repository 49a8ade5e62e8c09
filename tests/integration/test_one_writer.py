"""One writer per directory: a second `membench run` (or `score`, or `report` on the same output
folder) is refused while the first writes, naming its PID, and a writer killed with SIGKILL leaves no
lock behind (the kernel drops an ``flock`` with its process), so the same command resumes.

The first run stops at a known point: ``GatedSystem`` (from test_kill_resume.py) blocks for good
before its ``GATE``-th session, so the second command always meets a live writer.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from membench.analysis.rescore import RescoreConfig, rescore
from membench.core.errors import RunFailure
from membench.core.lock import LOCK, exclusive
from membench.core.records import RECORDS, read_records
from membench.registry import import_object
from membench.reporting import Settings, write_report
from membench.running.display import NullDisplay
from membench.testing.configs import tiny_run_config

KILL_RESUME = str(Path(__file__).with_name("test_kill_resume.py"))
#: the gated run of the kill-and-resume test: its command, its gate, and how to read its progress.
command, flushed_lines, run_dir_of, GATE, PROBES, SAFETY_NET_S = (
    import_object(f"{KILL_RESUME}:{name}")
    for name in ("command", "flushed_lines", "run_dir_of", "GATE", "PROBES", "SAFETY_NET_S")
)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def ungated_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MEMBENCH_TOY_GATE"}


def start_gated_run(results: Path) -> subprocess.Popen[bytes]:
    """A run that has flushed ``GATE`` records and then waits, for good, holding its run directory."""
    gated = {**os.environ, "MEMBENCH_TOY_GATE": str(GATE)}
    process = subprocess.Popen(
        command(results), env=gated, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + SAFETY_NET_S
    while flushed_lines(results) < GATE and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None and flushed_lines(results) == GATE, "the gated run is at its gate"
    return process


def test_a_second_run_is_refused_and_a_killed_one_leaves_no_stale_lock(tmp_path: Path) -> None:
    results = tmp_path / "results"
    first = start_gated_run(results)
    try:
        before = tree_digest(results)
        second = subprocess.run(
            command(results), env=ungated_env(), capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 1, second.stderr
        (message,) = second.stderr.strip().splitlines()
        assert str(run_dir_of(results)) in message and f"(PID {first.pid})" in message
        assert tree_digest(results) == before, "the refused run wrote nothing"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    resumed = subprocess.run(command(results), env=ungated_env(), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    records = read_records(run_dir_of(results))
    assert len({r.probe_id for r in records}) == PROBES == len(records), "none lost, none duplicated"


def test_a_rescore_being_written_is_refused(tmp_path: Path) -> None:
    from membench.api import run

    source = run(tiny_run_config(tmp_path, "halumem", "bm25"), NullDisplay()).run_dir
    config = RescoreConfig(run_dir=source, judge="lexical", data_dir=tmp_path / "data", n_boot=0)
    rescored = rescore(config).run_dir
    before = tree_digest(rescored)
    with exclusive(rescored / LOCK, rescored), pytest.raises(RunFailure) as refused:
        rescore(config)
    assert str(rescored) in str(refused.value) and f"(PID {os.getpid()})" in str(refused.value)
    assert tree_digest(rescored) == before
    assert len(read_records(rescored)) == len((source / RECORDS).read_bytes().splitlines())


def test_a_report_folder_being_written_is_refused(tmp_path: Path) -> None:
    from membench.api import run

    results = run(tiny_run_config(tmp_path, "halumem", "bm25"), NullDisplay()).run_dir.parents[1]
    out = tmp_path / "site"
    settings = Settings(n_boot=0)
    write_report(results, out, settings)
    before = tree_digest(out)
    with exclusive(out.parent / f".{out.name}.lock", out), pytest.raises(RunFailure) as refused:
        write_report(results, out, settings)
    assert str(out) in str(refused.value) and f"(PID {os.getpid()})" in str(refused.value)
    assert tree_digest(out) == before
    write_report(results, out, settings)  # released: the next report writes
