"""``membench run --repair``: a damaged line in a run's records is moved aside and its probe redone."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from membench.cli.main import main
from membench.core.records import INGESTS, RECORDS, read_ingests, read_records
from membench.testing.openai_server import FakeOpenAIServer

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")
DAMAGE = b'{"probe_id": "ep1:q1", "status": sc\xff'


def toy_run(run_dir: Path, *extra: str) -> int:
    """The toy task with the keyword system, through the command line, into ``run_dir``."""
    return main(
        [
            *("run", "--task", "toy", "--system", "keyword", "--display", "none"),
            *("--plugin", f"{TOY}:ToyTask", "--plugin", f"{TOY}:KeywordSystem"),
            *("--run-dir", str(run_dir), "--results-dir", str(run_dir.parent / "results")),
            *("--data-dir", str(run_dir.parent / "data"), *extra),
        ]
    )


def damage_line(path: Path, number: int) -> bytes:
    """Replace line ``number`` of ``path`` with unreadable bytes; returns the line it replaced."""
    lines = path.read_bytes().split(b"\n")
    original = lines[number - 1]
    lines[number - 1] = DAMAGE
    path.write_bytes(b"\n".join(lines))
    return original


def metrics(run_dir: Path) -> list[dict[str, object]]:
    return json.loads((run_dir / "summary.json").read_text())["metrics"]


@pytest.fixture
def undamaged(tmp_path: Path) -> Path:
    run_dir = tmp_path / "undamaged" / "run"
    assert toy_run(run_dir) == 0
    return run_dir


def test_a_damaged_middle_record_is_refused_naming_the_line_and_repaired(
    tmp_path: Path, undamaged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "damaged" / "run"
    assert toy_run(run_dir) == 0
    lost = json.loads(damage_line(run_dir / RECORDS, 5))["probe_id"]
    capsys.readouterr()

    assert toy_run(run_dir) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"{run_dir / RECORDS}:5:" in error and "--repair" in error

    assert toy_run(run_dir, "--repair") == 0
    (aside,) = run_dir.glob("records.damaged-*.jsonl")
    (moved,) = [json.loads(line) for line in aside.read_text().splitlines()]
    assert moved["line"] == 5 and moved["text"].startswith('{"probe_id": "ep1:q1"')
    per_probe = Counter(r.probe_id for r in read_records(run_dir))
    assert len(per_probe) == 12 and set(per_probe.values()) == {1}
    assert [r.probe_id for r in read_records(run_dir)][-1] == lost  # redone, after the others
    assert metrics(run_dir) == metrics(undamaged)


def test_a_damaged_ingest_line_is_moved_aside_too(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert toy_run(run_dir) == 0
    damage_line(run_dir / INGESTS, 3)
    assert toy_run(run_dir) == 2
    assert toy_run(run_dir, "--repair") == 0
    (aside,) = run_dir.glob("ingest.damaged-*.jsonl")
    assert json.loads(aside.read_text())["line"] == 3
    assert len(read_ingests(run_dir)) == 11


def test_a_torn_last_line_still_resumes_without_repair(tmp_path: Path) -> None:
    """A kill mid-write cuts the last line: that is an interrupted run, not damage, and resumes as is."""
    run_dir = tmp_path / "run"
    assert toy_run(run_dir) == 0
    records = run_dir / RECORDS
    data = records.read_bytes()
    records.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 20])  # the last line, cut
    assert toy_run(run_dir) == 0
    assert len(read_records(run_dir)) == 12
    assert not list(run_dir.glob("*.damaged-*"))


def test_with_an_llm_reader_the_endpoint_check_leaves_damaged_records_to_the_repair_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The check asks whether any probe is pending, which reads the records: a damaged line must still
    # end in the one line that names it and says --repair, after the endpoint answered.
    with FakeOpenAIServer() as server:
        llm = ("--llm", "openai/fake-model", "--llm-api-base", server.base_url)
        run_dir = tmp_path / "damaged" / "run"
        assert toy_run(run_dir, *llm) == 0
        damage_line(run_dir / RECORDS, 5)
        capsys.readouterr()
        before = server.total_requests
        assert toy_run(run_dir, *llm) == 2
        pinged = server.total_requests - before
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and f"{run_dir / RECORDS}:5:" in error and "--repair" in error
    assert pinged == 1, "the check, and no probe"
