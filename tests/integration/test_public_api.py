"""The Python API (``membench.api``) on real tiny HaluMem runs: each entry point returns what its command
prints from, and ``import membench`` stays light."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from membench import api
from membench.core.records import latest_records, read_records
from membench.core.types import UsageByRole
from membench.running.display import Display, NullDisplay
from membench.testing.configs import tiny_run_config


class RecordingDisplay:
    """A display that keeps every call, in order, as ``(method, detail)``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def start(self, title: str, episodes: int, probes: int) -> None:
        self.events.append(("start", title))

    def probe_done(self, errored: bool, usage: UsageByRole) -> None:
        self.events.append(("probe_done", ""))

    def episode_done(self) -> None:
        self.events.append(("episode_done", ""))

    def message(self, text: str) -> None:
        self.events.append(("message", text))

    def stop(self) -> None:
        self.events.append(("stop", ""))


#: how long each fixture run's ``api.run`` call took, measured around it.
CALL_SECONDS: dict[str, float] = {}
#: what the bm25 run told its display.
BM25_DISPLAY = RecordingDisplay()


def tiny_run(tmp_path: Path, system: str, display: Display | None = None) -> api.RunOutcome:
    started = time.perf_counter()
    outcome = api.run(tiny_run_config(tmp_path, "halumem", system), display or NullDisplay())
    CALL_SECONDS[system] = time.perf_counter() - started
    return outcome


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, api.RunOutcome, api.RunOutcome]:
    root = tmp_path_factory.mktemp("api")
    return root, tiny_run(root, "bm25", BM25_DISPLAY), tiny_run(root, "no-memory")


def main_value(outcome: api.RunOutcome) -> float:
    main = outcome.components.task.main_metric().name
    return next(e["value"] for e in outcome.summary["metrics"] if e["metric"] == main)


def test_import_membench_loads_nothing_heavy() -> None:
    code = (
        "import sys, membench; assert membench.api.run and membench.api.load_records;"
        "print([m for m in ('litellm', 'torch', 'mem0', 'pandas', 'scipy', 'bm25s') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_run_writes_its_summary_and_returns_it(runs: tuple[Path, api.RunOutcome, api.RunOutcome]) -> None:
    _, bm25, _ = runs
    assert bm25.manifest.status == "complete"
    written = json.loads((bm25.run_dir / "summary.json").read_text())
    assert written == json.loads(json.dumps(bm25.summary)), "the summary returned is the one written"
    metrics = {m.name for m in bm25.components.task.metrics}
    assert {e["metric"] for e in bm25.summary["metrics"]} == metrics
    assert 0.0 < main_value(bm25) <= 1.0


def test_run_times_the_whole_call_and_says_when_it_computes_intervals(
    runs: tuple[Path, api.RunOutcome, api.RunOutcome],
) -> None:
    _, bm25, forgetful = runs
    for outcome in (bm25, forgetful):
        # More than the episodes (the runner's wall time): data, system and summary; within the call.
        assert (
            outcome.manifest.wall_time_s
            < outcome.elapsed_s
            <= CALL_SECONDS[outcome.manifest.identity["system"]["name"]]
        )
    events = BM25_DISPLAY.events
    assert events[-1] == ("message", "computing intervals ...")
    assert events.index(("stop", "")) < len(events) - 1, "told after the bars have stopped"
    assert events.count(("episode_done", "")) == bm25.manifest.counts.episodes_planned == 2


def test_load_records_gives_one_row_per_probe(runs: tuple[Path, api.RunOutcome, api.RunOutcome]) -> None:
    _, bm25, _ = runs
    frame = api.load_records(bm25.run_dir)
    records = latest_records(read_records(bm25.run_dir))
    assert len(frame) == len(records) == bm25.manifest.counts.probes_planned
    assert list(frame.columns[:10]) == [
        "run_id",
        "task",
        "system",
        "reader",
        "judge",
        "episode_id",
        "probe_id",
        "after_session",
        "kind",
        "status",
    ]
    assert set(frame.probe_id) == {r.probe_id for r in records} and frame.probe_id.is_unique
    assert set(frame.status) == {"scored"} and set(frame.system) == {"bm25"}
    assert set(frame.run_id) == {bm25.manifest.run_id} and set(frame.reader) == {"extractive"}
    assert set(frame.kind) == {"extraction", "update", "qa"}
    assert frame.episode_id.nunique() == 2 and set(frame.judge) == {"rule"}
    qa = frame[frame.kind == "qa"]
    assert qa.answer.notna().all() and qa.score_label.notna().all()
    assert (frame.n_memories > 0).any() and frame.error_stage.isna().all()
    assert {"latency_s.retrieve", "latency_s.judge"} <= set(frame.columns)
    assert not any(c.startswith("values.") for c in frame.columns), "HaluMem verdicts are labels"
    assert not any(c.startswith("usage.") for c in frame.columns), "no LLM: no usage columns"
    assert (frame.cost_usd == 0.0).all()
    by_id = {r.probe_id: r for r in records}
    for row in qa.itertuples():
        assert row.answer == by_id[row.probe_id].prediction.answer  # type: ignore[union-attr]
        assert row.score_label == by_id[row.probe_id].score.label  # type: ignore[union-attr]


def test_score_judges_again_into_a_new_run(
    runs: tuple[Path, api.RunOutcome, api.RunOutcome], tmp_path: Path
) -> None:
    root, bm25, _ = runs
    source = tmp_path / "runs" / bm25.run_dir.name  # a copy: the other tests see only the two runs
    shutil.copytree(bm25.run_dir, source)
    rescored = api.score(api.RescoreConfig(source, judge="lexical", data_dir=root / "data", n_boot=0))
    assert rescored.run_dir != source and rescored.run_dir.parent == source.parent
    assert rescored.manifest.status == "complete"
    assert rescored.manifest.counts.probes_scored == bm25.manifest.counts.probes_scored
    assert (rescored.agreement.judge_a, rescored.agreement.judge_b) == ("rule", "lexical")
    agreement = json.loads((rescored.run_dir / "agreement.json").read_text())
    assert agreement["judge_b"] == "lexical"
    frame = api.load_records(rescored.run_dir)
    assert set(frame.judge) == {"lexical"} and len(frame) == bm25.manifest.counts.probes_planned


def test_compare_pairs_the_runs_probe_by_probe(runs: tuple[Path, api.RunOutcome, api.RunOutcome]) -> None:
    _, bm25, forgetful = runs
    result = api.compare([forgetful.run_dir, bm25.run_dir], baseline="no-memory", n_boot=200)
    assert result.task == "halumem" and result.baseline == "no-memory (extractive · rule)"
    (family,) = result.families
    assert family.spec.name == bm25.components.task.main_metric().name
    (pair,) = family.pairs
    assert pair.estimate_a.value == pytest.approx(main_value(forgetful))
    assert pair.estimate_b.value == pytest.approx(main_value(bm25))
    assert pair.member.comparison.difference == pytest.approx(main_value(bm25) - main_value(forgetful))
    assert pair.only_a == pair.only_b == ()


def test_report_writes_the_leaderboard_and_a_page_per_run(
    runs: tuple[Path, api.RunOutcome, api.RunOutcome], tmp_path: Path
) -> None:
    root, bm25, forgetful = runs
    written = api.report(root / "results", tmp_path / "site", baseline="no-memory", n_boot=200)
    assert all(path.is_file() for path in written.files)
    names = {path.relative_to(tmp_path / "site").as_posix() for path in written.files}
    assert {"leaderboard.md", "leaderboard.html"} <= names
    assert len([n for n in names if n.startswith("runs/")]) == 2
    (board,) = written.boards
    assert {entry.run.run_dir for entry in board.entries} == {bm25.run_dir, forgetful.run_dir}
    assert "bm25" in (tmp_path / "site" / "leaderboard.md").read_text()


def test_the_entry_points_are_membench_names(runs: tuple[Path, api.RunOutcome, api.RunOutcome]) -> None:
    """``membench.run(membench.RunConfig(...))`` as the README shows it: the names are membench.api's,
    even after the stage packages (membench.running, membench.reporting) have been imported."""
    import membench
    import membench.reporting
    import membench.running.runner

    for name in membench.PUBLIC:
        assert getattr(membench, name) is getattr(api, name)
    _, bm25, _ = runs
    frame = membench.load_records(bm25.run_dir)
    assert len(frame) == bm25.manifest.counts.probes_planned and set(frame["status"]) == {"scored"}
