"""A dry run has no side effects: it prints the plan and leaves --data-dir and --results-dir as they were.

The audit's ``-T users=1000000000 --dry-run`` built the data (768 MB after 20 s) into --data-dir; a dry
run builds what it must into a scratch folder it removes, and reads data already there in place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from membench.cli.main import main
from membench.core.records import RECORDS, read_records


def files_under(root: Path) -> list[Path]:
    """Every path under ``root`` (folders too), sorted; none when it does not exist."""
    return sorted(root.rglob("*")) if root.exists() else []


def dry_run(tmp_path: Path, *extra: str) -> int:
    return main(
        [
            *("run", "--task", "halumem", "--system", "bm25", "-T", "users=2", "--display", "plain"),
            *("--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")),
            *extra,
        ]
    )


def test_a_dry_run_on_data_not_built_yet_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dry_run(tmp_path, "--dry-run") == 0
    assert "episodes: 2" in capsys.readouterr().out, "the plan is printed from data built elsewhere"
    assert files_under(tmp_path / "data") == [] and files_under(tmp_path / "results") == []


def test_a_dry_run_reads_built_data_in_place_and_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dry_run(tmp_path) == 0, "a real run builds the data and writes a run"
    before = {path: path.read_bytes() for path in files_under(tmp_path) if path.is_file()}
    (records,) = (tmp_path / "results" / "runs").glob(f"*/{RECORDS}")
    capsys.readouterr()

    assert dry_run(tmp_path, "--dry-run") == 0
    assert "episodes: 2" in capsys.readouterr().out
    after = {path: path.read_bytes() for path in files_under(tmp_path) if path.is_file()}
    assert after == before, "no file added, removed or changed"
    assert read_records(records.parent), "the real run's records are still there"
