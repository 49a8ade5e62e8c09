"""The command line as a user meets it: help, listing, data building, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from membench.api import run
from membench.cli.main import main
from membench.cli.run_output import print_outcome
from membench.core.config import RunConfig
from membench.running.display import NullDisplay
from membench.systems.mem0 import Mem0System

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")


def membench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # rich wraps printed lines at the terminal width
    command = [sys.executable, "-m", "membench", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from membench.cli.main import build_parser; build_parser().format_help();"
        "heavy = [m for m in ('litellm', 'torch', 'mem0', 'pandas', 'scipy', 'bm25s', 'datasets')"
        " if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
    assert "run" in membench("--help").stdout


def test_list_shows_builtins_and_discovered_tasks(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["list", "systems"]) == 0
    systems = capsys.readouterr().out
    for name in ("no-memory", "full-context", "bm25", "mem0", "dense"):
        assert name in systems
    assert main(["list", "tasks"]) == 0
    assert "halumem" in capsys.readouterr().out
    assert main(["list", "judges"]) == 0
    assert "rule, lexical, llm" in capsys.readouterr().out


def test_data_build_writes_the_dataset(tmp_path: Path) -> None:
    result = membench("data", "build", "halumem", "-T", "users=2", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.split("wrote ", 1)[1].strip())
    assert written.exists() and written.read_text().count("\n") == 2


def test_bad_data_file_gives_one_line_naming_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "HaluMem-Medium.jsonl"
    bad.write_text(
        '{"uuid": "u1", "persona_info": "Name: A B; Gender: x", "sessions": [{"start_time": 3}]}\n'
    )
    result = membench(
        "run",
        "--task",
        "halumem",
        "--system",
        "bm25",
        "-T",
        f"data={bad}",
        "--results-dir",
        str(tmp_path / "results"),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(bad) in lines[0] and ":1" in lines[0] and "sessions[0]" in lines[0]
    assert not (tmp_path / "results").exists(), "nothing half-done is written"


def test_unknown_system_is_a_clear_error(tmp_path: Path) -> None:
    result = membench("run", "--task", "halumem", "--system", "nope", "--results-dir", str(tmp_path))
    assert result.returncode == 2 and "unknown system 'nope'" in result.stderr


def test_dry_run_counts_without_running(tmp_path: Path) -> None:
    result = membench(
        "run",
        "--task",
        "halumem",
        "--system",
        "bm25",
        "--dry-run",
        "-T",
        "users=2",
        "--judge-llm",
        "openai/x",
        "--data-dir",
        str(tmp_path / "data"),
        "--results-dir",
        str(tmp_path / "results"),
    )
    assert result.returncode == 0, result.stderr
    assert "episodes: 2" in result.stdout and "expected LLM calls: reader 0, judge at least" in result.stdout
    assert "system-side LLM calls" not in result.stdout, "bm25 makes none and says nothing"
    assert not (tmp_path / "results" / "runs").exists()


def test_dry_run_prints_the_systems_own_word_on_its_llm_calls(tmp_path: Path) -> None:
    result = membench(
        *("run", "--task", "halumem", "--system", "mem0", "--dry-run", "-T", "users=1"),
        *("--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")),
    )
    assert result.returncode == 0, result.stderr
    assert f"system-side LLM calls: {Mem0System.llm_calls_note}" in result.stdout.splitlines()


def test_a_finished_run_says_where_it_is_and_what_to_do_next(tmp_path: Path) -> None:
    results = tmp_path / "results"
    common = ["--task", "halumem", "-T", "users=2", "--data-dir", str(tmp_path / "data")]
    result = membench("run", "--system", "bm25", *common, "--results-dir", str(results), "--display", "plain")
    assert result.returncode == 0, result.stderr
    said = result.stdout
    assert f"results: {results}/runs/halumem__bm25__" in said
    assert f"--systems bm25,OTHER --results-dir {results}" in said
    assert f"membench report {results} --out report" in said
    # Two episodes: the summary names its interval and says no comparison of this run could reject.
    assert "CI: t interval on episodes (2 episodes: below 50, the bootstrap under-covers)" in said
    assert "with 2 episode(s), the smallest possible permutation p is 0.5" in said


def test_an_empty_limit_is_a_usage_error(tmp_path: Path) -> None:
    for limit in ("0", "-1", "two"):
        result = membench("run", "--task", "halumem", "--system", "bm25", "--limit", limit)
        assert result.returncode == 2, (limit, result.stderr)
        assert "--limit" in result.stderr and result.stdout == ""


def test_printing_a_run_summary_writes_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps printed lines at the terminal width
    config = RunConfig(
        task="toy",
        system="keyword",
        results_dir=tmp_path / "results",
        data_dir=tmp_path / "data",
        plugins=(f"{TOY}:ToyTask", f"{TOY}:KeywordSystem"),
        display="none",
    )
    outcome = run(config, NullDisplay())
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    print_outcome(outcome)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert f"results: {outcome.run_dir}" in capsys.readouterr().out
