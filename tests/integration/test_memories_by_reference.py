"""Runs store their memories by reference (memories.jsonl, once per episode) and every reader takes
them back: summaries, compare, the report site, export and a rescore say the same of a run written
this way as of the same run written the old way (memories inline, no memories.jsonl); kills, old runs
resumed, lost memories and ``--fresh`` keep the rules a run directory always had.

Real runs: HaluMem tiny (bm25, full-context) and episodic tiny (full-context)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from membench import api
from membench.analysis.rescore import RescoreConfig, rescore
from membench.analysis.runs import find_run_dirs, load_run
from membench.analysis.summary import summarize
from membench.cli.main import main
from membench.core.errors import DataError
from membench.core.records import (
    MEMORIES,
    RECORDS,
    dump_json,
    latest_records,
    read_latest_records,
    read_records,
    write_atomic,
)
from membench.core.types import Record
from membench.registry import import_object
from membench.reporting import Settings, write_report
from membench.running.display import NullDisplay
from membench.testing.configs import TINY_TASK_OPTIONS, tiny_run_config

RUNS = Path(__file__).parents[1] / "fixtures" / "report" / "report_runs.py"
make_runs = import_object(f"{RUNS}:make_runs")
HALUMEM_TINY = import_object(f"{RUNS}:HALUMEM_TINY")
N_BOOT = 200


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Per task, the results folder of its runs (frozen: fixed times), written by this code."""
    root = tmp_path_factory.mktemp("by-reference")
    return {
        "halumem": make_runs(root / "halumem", "halumem", ["bm25", "full-context"], HALUMEM_TINY),
        "episodic": make_runs(
            root / "episodic", "episodic", ["full-context"], dict(TINY_TASK_OPTIONS["episodic"])
        ),
    }


def to_old_form(run_dir: Path) -> None:
    """Rewrite ``run_dir`` as membench wrote runs before: memories inline, no memory_refs, no
    memories.jsonl."""
    lines = [r.model_dump_json(exclude={"prediction": {"memory_refs"}}) + "\n" for r in read_records(run_dir)]
    write_atomic(run_dir / RECORDS, "".join(lines))
    (run_dir / MEMORIES).unlink()


def outputs(results: Path, site: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Every run's summary, the compare JSON (two runs or more), the report site and the export CSV."""
    dirs = find_run_dirs(results)
    out: dict[str, Any] = {d.name: dump_json(summarize(load_run(d).task, d, n_boot=N_BOOT)) for d in dirs}
    files, _ = write_report(
        results, site, Settings(n_boot=N_BOOT, n_perm=200, data_dir=results.parent / "data")
    )
    out["site"] = {str(path.relative_to(site)): path.read_bytes() for path in files}
    capsys.readouterr()
    assert main(["export", *map(str, dirs), "--format", "csv"]) == 0
    out["csv"] = capsys.readouterr().out
    if len(dirs) > 1:
        assert main(["compare", *map(str, dirs), "--all-metrics", "--format", "json", "--n-boot", "200"]) == 0
        out["compare"] = capsys.readouterr().out
    return out


def comparable(records: list[Record]) -> list[dict[str, Any]]:
    """The latest records, by probe id, without what differs between two executions (times)."""
    rows = []
    for record in sorted(latest_records(records), key=lambda r: r.probe_id):
        row = record.model_dump(exclude={"completed_at"})
        if row["prediction"] is not None:
            row["prediction"]["latency_s"] = sorted(row["prediction"]["latency_s"])
        rows.append(row)
    return rows


def memory_lines(run_dir: Path) -> list[dict[str, Any]]:
    """The complete lines of run_dir's memories.jsonl."""
    text = (run_dir / MEMORIES).read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def by_reference(run_dir: Path) -> list[bool]:
    """Per record line, whether it points at its memories (rather than holding them, or none)."""
    lines = (run_dir / RECORDS).read_text().splitlines()
    return [bool((json.loads(line)["prediction"] or {}).get("memory_refs")) for line in lines]


def cut_records(run_dir: Path, keep: int) -> None:
    """What a kill leaves: the first ``keep`` records, and the manifest still running."""
    lines = (run_dir / RECORDS).read_text().splitlines(keepends=True)
    (run_dir / RECORDS).write_text("".join(lines[:keep]))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))


@pytest.mark.parametrize("task", ["halumem", "episodic"])
def test_every_output_is_the_same_for_a_run_written_either_way(
    task: str, made: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    shutil.copytree(made[task], results)
    shutil.copytree(made[task].parent / "data", tmp_path / "data")
    new = outputs(results, tmp_path / "site-new", capsys)
    for run_dir in find_run_dirs(results):
        assert (run_dir / MEMORIES).exists() and any(by_reference(run_dir))
        to_old_form(run_dir)
        assert not (run_dir / MEMORIES).exists() and "memory_refs" not in (run_dir / RECORDS).read_text()
    old = outputs(results, tmp_path / "site-old", capsys)
    assert new == old
    assert "leaderboard.md" in new["site"] and new["csv"].count("\n") > 10


@pytest.mark.parametrize("task", ["halumem", "episodic"])
def test_memories_jsonl_holds_each_distinct_memory_once_per_episode(task: str, made: dict[str, Path]) -> None:
    for run_dir in find_run_dirs(made[task]):
        lines = memory_lines(run_dir)
        stored = [(line["episode_id"], json.dumps(line["memory"], sort_keys=True)) for line in lines]
        records = read_records(run_dir)
        retrieved = [
            (r.episode_id, json.dumps(m.model_dump(), sort_keys=True))
            for r in records
            if r.prediction is not None
            for m in r.prediction.memories
        ]
        assert len(set(stored)) == len(stored) and set(stored) == set(retrieved)
        assert len({(line["episode_id"], line["ref"]) for line in lines}) == len(lines)
        if "full-context" in run_dir.name:
            assert len(retrieved) > 2 * len(stored), "the whole history, stored once"


def _halumem(root: Path, system: str = "full-context", **overrides: Any) -> api.RunOutcome:
    return api.run(tiny_run_config(root, "halumem", system, **overrides), NullDisplay())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """HaluMem tiny × full-context run once, without a stop: what every resumed run must end with."""
    outcome = _halumem(tmp_path_factory.mktemp("uninterrupted"))
    return comparable(read_records(outcome.run_dir))


def test_a_kill_between_a_memory_and_its_record_resumes_cleanly(
    uninterrupted: list[dict[str, Any]], tmp_path: Path
) -> None:
    run_dir = _halumem(tmp_path).run_dir
    before = memory_lines(run_dir)
    cut_records(run_dir, 9)  # memories.jsonl keeps the lines of the records cut: nothing points at them
    with (run_dir / MEMORIES).open("a") as memories:
        memories.write(json.dumps(before[-1])[:40])  # and a memory line cut mid-write
    assert len(read_records(run_dir)) == 9
    resumed = _halumem(tmp_path)
    assert resumed.manifest.status == "complete" and resumed.manifest.resumes == 1
    assert comparable(read_records(run_dir)) == uninterrupted
    assert memory_lines(run_dir) == before, "the redone records point at the memories already stored"


def test_an_old_run_resumed_by_this_code_reads_whole(
    uninterrupted: list[dict[str, Any]], tmp_path: Path
) -> None:
    run_dir = _halumem(tmp_path).run_dir
    to_old_form(run_dir)
    cut_records(run_dir, 9)
    assert _halumem(tmp_path).manifest.status == "complete"
    written = by_reference(run_dir)
    assert written == [False] * 9 + [True] * (len(written) - 9)
    whole = read_records(run_dir)
    assert comparable(whole) == uninterrupted
    slim = read_latest_records(run_dir)
    assert [[m.text for m in r.prediction.memories] for r in slim if r.prediction] == [
        [m.text for m in r.prediction.memories] for r in whole if r.prediction
    ]


def test_a_lost_memory_stops_a_resume_with_one_error_and_repair_redoes_its_probes(
    uninterrupted: list[dict[str, Any]], tmp_path: Path
) -> None:
    run_dir = _halumem(tmp_path).run_dir
    lines = (run_dir / MEMORIES).read_text().splitlines(keepends=True)
    lost = json.loads(lines[0])
    (run_dir / MEMORIES).write_text("".join(lines[1:]))
    pointing = [
        n
        for n, line in enumerate((run_dir / RECORDS).read_text().splitlines(), start=1)
        if lost["ref"] in line
    ]
    assert pointing
    message = f"holds no memory {lost['ref']} of episode {lost['episode_id']}, which {run_dir / RECORDS}:"
    with pytest.raises(DataError) as raised:
        read_records(run_dir)
    assert str(raised.value).startswith(f"{run_dir / MEMORIES}: {message}{pointing[0]} points at")
    with pytest.raises(DataError, match="--repair") as resumed:
        _halumem(tmp_path)
    assert message in str(resumed.value) and len(str(resumed.value).splitlines()) == 1

    repaired = _halumem(tmp_path, repair=True)
    assert repaired.manifest.status == "complete"
    (aside,) = run_dir.glob("records.damaged-*.jsonl")
    assert [json.loads(line)["line"] for line in aside.read_text().splitlines()] == pointing
    assert comparable(read_records(run_dir)) == uninterrupted
    assert memory_lines(run_dir)[-1] == lost, "stored again by the redone probes"


def test_fresh_archives_the_run_with_its_memories(tmp_path: Path) -> None:
    run_dir = _halumem(tmp_path, "bm25").run_dir
    memories = (run_dir / MEMORIES).read_bytes()
    assert _halumem(tmp_path, "bm25", fresh=True).run_dir == run_dir
    (archived,) = run_dir.parent.glob(f"{run_dir.name}.replaced-*")
    assert (archived / MEMORIES).read_bytes() == memories and (run_dir / MEMORIES).read_bytes() == memories
    assert len(read_records(archived)) == len(read_records(run_dir))


def test_a_rescore_reads_its_source_in_either_form_and_writes_by_reference(
    made: dict[str, Path], tmp_path: Path
) -> None:
    def rescored(form: str) -> tuple[list[dict[str, Any]], bytes]:
        results = tmp_path / form
        shutil.copytree(made["halumem"], results)
        (source,) = [d for d in find_run_dirs(results) if "__bm25__" in d.name]
        if form == "old":
            to_old_form(source)
        config = RescoreConfig(source, "lexical", data_dir=made["halumem"].parent / "data", n_boot=0)
        outcome = rescore(config)
        # The rescore writes as a run does, memories by reference, whichever form its source has.
        lines = [json.loads(line) for line in (outcome.run_dir / RECORDS).read_text().splitlines()]
        retrieved = [line["prediction"] for line in lines if line["prediction"]]
        assert all(p["memories"] == [] for p in retrieved) and any(p["memory_refs"] for p in retrieved)
        assert (outcome.run_dir / MEMORIES).stat().st_size > 0
        records = comparable(read_records(outcome.run_dir))
        return records, (outcome.run_dir / "agreement.json").read_bytes()

    new, old = rescored("new"), rescored("old")
    assert new == old
    assert sum(len(r["prediction"]["memories"]) for r in new[0] if r["prediction"]) > 0
