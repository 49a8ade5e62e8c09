"""``membench export`` and ``membench.load_runs`` on real tiny HaluMem runs: bm25 and no-memory offline,
and bm25 with an LLM reader (a loopback fake) whose first two answers cannot be parsed, so the table
has usage columns and errored probes. Every format is read back with pandas and must hold the same
table, the one the records say."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from membench import api
from membench.analysis.frames import PROBE_COLUMNS, SUMMARY_COLUMNS
from membench.cli.main import main
from membench.core.config import LLMSpec
from membench.core.records import latest_records, read_records
from membench.core.types import Record
from membench.running.display import NullDisplay
from membench.testing import FakeLLM, Prompt
from membench.testing.configs import tiny_run_config

#: the reader's prompts answered with an empty answer (twice each: the reader asks again once).
GARBLED = 2


@dataclass(frozen=True)
class Fixture:
    """The three runs of the module, under ``root/results/runs``."""

    root: Path
    bm25: api.RunOutcome
    forgetful: api.RunOutcome
    llm: api.RunOutcome

    @property
    def all(self) -> list[api.RunOutcome]:
        return [self.bm25, self.forgetful, self.llm]

    @property
    def glob(self) -> str:
        return str(self.root / "results" / "runs" / "*")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    root = tmp_path_factory.mktemp("export")
    bm25, forgetful = (
        api.run(tiny_run_config(root, "halumem", s), NullDisplay()) for s in ("bm25", "no-memory")
    )
    garbled: list[str] = []

    def answer(prompt: Prompt) -> str:
        if prompt.text not in garbled and len(garbled) < GARBLED:
            garbled.append(prompt.text)
        return "" if prompt.text in garbled else "Unknown"

    with pytest.MonkeyPatch.context() as env, FakeLLM(answer=answer).serve() as server:
        env.setenv("OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY", "sk-test-not-real"))
        config = tiny_run_config(
            root,
            "halumem",
            "bm25",
            reader_llm=LLMSpec("openai/fake-model", server.base_url),
            limit=1,  # one episode: 11 probes, 7 questions for the reader
        )
        llm = api.run(config, NullDisplay())
    return Fixture(root, bm25, forgetful, llm)


def records_of(outcome: api.RunOutcome) -> list[Record]:
    return latest_records(read_records(outcome.run_dir))


def export(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["export", *(str(a) for a in args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def plain_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The table as Python values, absent (None, NaN) as None: how formats with other dtypes compare."""
    return [
        {k: None if v is None or (isinstance(v, float) and math.isnan(v)) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def test_the_three_formats_hold_the_same_table(
    runs: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = {}
    for kind in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"probes.{kind}"
        code, stdout, _ = export(capsys, runs.glob, "--out", out)  # the format from the suffix
        assert code == 0
        assert stdout == f"wrote 55 probes of 3 run(s) to {out} ({kind})\n"
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp file left"
    tables["csv"] = pd.read_csv(tmp_path / "probes.csv", float_precision="round_trip")
    tables["jsonl"] = pd.read_json(tmp_path / "probes.jsonl", lines=True, dtype=False, precise_float=True)
    tables["parquet"] = pd.read_parquet(tmp_path / "probes.parquet")

    expected = api.load_runs(runs.glob).probes
    assert len(expected) == sum(o.manifest.counts.probes_planned for o in runs.all) == 22 + 22 + 11
    for kind, table in tables.items():
        assert list(table.columns) == list(expected.columns), kind
        assert plain_rows(table) == plain_rows(expected), kind
    pd.testing.assert_frame_equal(tables["parquet"], expected)
    assert list(expected.columns[: len(PROBE_COLUMNS)]) == list(PROBE_COLUMNS)
    assert list(expected.columns[len(PROBE_COLUMNS) :]) == [
        "labels.difficulty",
        "labels.memory_type",
        "labels.question_type",
        "latency_s.answer",
        "latency_s.judge",
        "latency_s.retrieve",
        "latency_s.session_memories",
        "usage.reader.calls",
        "usage.reader.tokens",
        "usage.reader.cost_usd",
    ]


def test_a_row_holds_its_probes_record(runs: Fixture) -> None:
    frame = api.load_runs([runs.bm25.run_dir]).probes
    record = next(r for r in records_of(runs.bm25) if r.kind == "qa")
    (row,) = frame[frame.probe_id == record.probe_id].to_dict(orient="records")
    assert record.prediction and record.score
    assert {k: row[k] for k in ("run_id", "task", "system", "reader", "judge", "episode_id")} == {
        "run_id": runs.bm25.manifest.run_id,
        "task": "halumem",
        "system": "bm25",
        "reader": "extractive",
        "judge": "rule",
        "episode_id": record.episode_id,
    }
    assert row["kind"] == "qa" and row["status"] == "scored" and row["after_session"] == record.after_session
    assert row["answer"] == record.prediction.answer and row["score_label"] == record.score.label
    assert row["n_memories"] == len(record.prediction.memories) > 0
    assert row["labels.question_type"] == record.labels["question_type"]
    assert row["latency_s.retrieve"] == record.prediction.latency_s["retrieve"]
    assert row["error_stage"] is None and row["cost_usd"] == 0.0
    assert "labels._gold_points" not in frame.columns, "a task's data labels are not categories"


def test_usage_and_errors_are_columns(runs: Fixture) -> None:
    frame = api.load_runs(runs.llm.run_dir).probes
    records = {r.probe_id: r for r in records_of(runs.llm)}
    errored = frame[frame.status == "error"]
    assert len(errored) == GARBLED
    for row in errored.to_dict(orient="records"):
        error = records[row["probe_id"]].error
        assert error and (row["error_stage"], row["error_type"]) == ("reader", "OutputParseError")
        assert row["error_message"] == error.message
    asked = frame[frame.kind == "qa"].drop(errored.index)
    assert len(asked) == 7 - GARBLED and (asked["usage.reader.calls"] == 1).all()
    for row in asked.to_dict(orient="records"):
        usage = records[row["probe_id"]].usage["reader"]
        assert row["usage.reader.tokens"] == usage.prompt_tokens + usage.completion_tokens > 0
        assert row["usage.reader.cost_usd"] == usage.cost_usd
    # A probe the reader does not answer (extraction, update) made no call: 0, not absent.
    assert (frame[frame.kind != "qa"]["usage.reader.calls"] == 0).all()
    assert frame["usage.reader.calls"].sum() == runs.llm.manifest.usage["reader"].calls
    assert set(frame.reader) == {"llm:openai/fake-model"}


def test_stdout_and_the_order_do_not_depend_on_how_runs_are_named(
    runs: Fixture, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = [o.run_dir for o in runs.all]
    code, forwards, _ = export(capsys, *dirs)
    assert code == 0
    code, backwards, _ = export(capsys, *reversed(dirs), dirs[0])  # the same directory twice: read once
    assert code == 0 and backwards == forwards
    code, lines, _ = export(capsys, *dirs, "--format", "jsonl")
    assert code == 0
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [r["probe_id"] for r in rows] == list(pd.read_csv(io.StringIO(forwards)).probe_id)
    order = ("task", "system", "run_id", "episode_id", "after_session", "probe_id")
    keys = [tuple(r[c] for c in order) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(rows) == 22 + 22 + 11


def test_summaries_are_summary_json(runs: Fixture) -> None:
    loaded = api.load_runs(runs.glob)
    assert list(loaded.summaries.columns) == list(SUMMARY_COLUMNS)
    for outcome in runs.all:
        written = json.loads((outcome.run_dir / "summary.json").read_text())
        mine = loaded.summaries[loaded.summaries.run_id == outcome.manifest.run_id]
        expected = written["metrics"] + [
            e for _, entries in sorted(written["breakdowns"].items()) for e in entries
        ]
        assert len(mine) == len(expected) > 0
        for row, estimate in zip(plain_rows(mine), expected, strict=True):
            assert row == {
                **{c: row[c] for c in ("run_id", "task", "system", "reader", "judge")},
                **{c: estimate[c] for c in SUMMARY_COLUMNS[5:]},
            }
            assert row["system"] == outcome.manifest.identity["system"]["name"]
    overall = loaded.summaries[(loaded.summaries.metric == "qa_correct") & loaded.summaries.by.isna()]
    assert sorted(overall.system) == ["bm25", "bm25", "no-memory"]
    by_type = loaded.summaries[
        (loaded.summaries.metric == "qa_correct") & (loaded.summaries.by == "question_type")
    ]
    assert set(by_type.level) >= {"Basic Fact Recall", "Multi-hop Inference"}
    bm25_ids = sorted(o.manifest.run_id for o in (runs.bm25, runs.llm))
    assert loaded.runs.run_id.tolist() == [*bm25_ids, runs.forgetful.manifest.run_id]
    assert loaded.runs.status.tolist() == ["complete"] * 3 and loaded.runs.has_summary.all()
    errored = dict(zip(loaded.runs.run_id, loaded.runs.probes_errored, strict=True))
    assert errored == {
        runs.bm25.manifest.run_id: 0,
        runs.llm.manifest.run_id: GARBLED,
        runs.forgetful.manifest.run_id: 0,
    }


def test_a_run_without_summary_has_probes_but_no_estimates(runs: Fixture, tmp_path: Path) -> None:
    copy = tmp_path / runs.bm25.run_dir.name
    shutil.copytree(runs.bm25.run_dir, copy)
    (copy / "summary.json").unlink()
    loaded = api.load_runs([copy])
    assert len(loaded.probes) == 22 and loaded.summaries.empty
    assert loaded.runs.has_summary.tolist() == [False]


def test_not_a_run_directory_is_a_usage_error(
    runs: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "probes.csv"
    out.write_text("kept\n")
    results = runs.root / "results"
    code, stdout, stderr = export(capsys, runs.bm25.run_dir, results, "--out", out)
    assert code == 2 and stdout == ""
    assert stderr == (
        f"membench: error: {results}: not a run directory (no manifest.json); "
        f"its runs are '{results / 'runs' / '*'}'\n"
    )
    assert out.read_text() == "kept\n", "nothing half-written"
    code, _, stderr = export(capsys, tmp_path / "nothing-*")
    assert (code, stderr) == (2, f"membench: error: {tmp_path / 'nothing-*'}: no run directory matches\n")
    code, _, stderr = export(capsys, runs.bm25.run_dir, "--format", "parquet")
    assert (code, stderr) == (2, "membench: error: --format parquet writes a binary file: give --out PATH\n")


def test_a_damaged_record_names_its_file_and_line(
    runs: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "runs" / runs.bm25.run_dir.name
    shutil.copytree(runs.bm25.run_dir, copy)
    lines = (copy / "records.jsonl").read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"kind":', '"kind":,', 1)
    (copy / "records.jsonl").write_text("".join(lines))
    out = tmp_path / "probes.parquet"
    code, stdout, stderr = export(capsys, copy, "--out", out)
    assert code == 2 and stdout == "" and not out.exists()
    where = re.escape(f"{copy / 'records.jsonl'}:3")
    assert re.fullmatch(
        f"membench: error: {where}: Invalid JSON: expected value at line 1 column \\d+\n", stderr
    )


def test_a_run_given_twice_is_refused(
    runs: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(runs.bm25.run_dir, copy)
    code, _, stderr = export(capsys, runs.bm25.run_dir, copy)
    assert code == 2
    assert stderr == (
        f"membench: error: run {runs.bm25.manifest.run_id} is given twice: {runs.bm25.run_dir.resolve()} "
        f"and {copy} (a copy, or an archived .replaced- one); name it once\n"
    )


def test_a_glob_leaves_archived_runs_out(runs: Fixture, tmp_path: Path) -> None:
    """``--fresh`` keeps the old run beside the new as ``<name>.replaced-<time>``: the same run id."""
    shutil.copytree(runs.root / "results" / "runs", tmp_path / "runs")
    archive = tmp_path / "runs" / f"{runs.bm25.run_dir.name}.replaced-20261202T000000Z"
    shutil.copytree(runs.bm25.run_dir, archive)
    probes = api.load_runs(str(tmp_path / "runs" / "*")).probes
    assert len(probes) == 22 + 22 + 11 and probes.run_id.value_counts().tolist() == [22, 22, 11]
