"""Runner mechanics on the toy plugin task: records, resume, errors, identity, limit selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from membench.analysis.runs import read_contributions
from membench.api import compare, load_records, run
from membench.core.config import RunConfig
from membench.core.errors import ConfigError, IdentityMismatch
from membench.core.records import latest_records, read_ingests, read_records
from membench.running.components import prepare
from membench.running.display import NullDisplay

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")
PLUGINS = tuple(
    f"{TOY}:{name}" for name in ("ToyTask", "KeywordSystem", "FlakySystem", "SlowSystem", "AnsweringSystem")
)


def config(tmp_path: Path, system: str = "keyword", **overrides: object) -> RunConfig:
    base: dict[str, object] = {
        "task": "toy",
        "system": system,
        "results_dir": tmp_path / "results",
        "data_dir": tmp_path / "data",
        "plugins": PLUGINS,
        "display": "none",
    }
    base.update(overrides)
    return RunConfig(**base)  # type: ignore[arg-type]


def stable(records: list) -> list[dict]:
    """Records without what legitimately varies between runs (timings, wall-clock stamps)."""
    out = []
    for r in sorted(records, key=lambda r: r.probe_id):
        d = r.model_dump(mode="json")
        d.pop("completed_at")
        if d["prediction"]:
            d["prediction"].pop("latency_s")
        out.append(d)
    return out


def test_end_to_end_writes_one_scored_record_per_probe(tmp_path: Path) -> None:
    outcome = run(config(tmp_path), NullDisplay())
    records = read_records(outcome.run_dir)
    assert len(records) == 12 and len({r.probe_id for r in records}) == 12
    assert all(r.status == "scored" for r in records)
    assert outcome.manifest.status == "complete"
    assert outcome.manifest.counts.probes_scored == 12
    # The right turn is retrieved and the extractive reader answers with the stated colour.
    assert all(r.score and r.score.values["correct"] == 1.0 for r in records)
    # Probes of one episode are answered in dataset order, each after its own session was ingested.
    ep0 = [r.probe_id for r in records if r.episode_id == "ep0"]
    assert ep0 == ["ep0:q0", "ep0:q1", "ep0:q2"]
    assert len(read_ingests(outcome.run_dir)) == 12
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert manifest["identity"]["system"]["name"] == "keyword"


def test_resume_redoes_only_lost_probes_and_reingests_their_episode(tmp_path: Path) -> None:
    first = run(config(tmp_path), NullDisplay())
    complete = read_records(first.run_dir)
    path = first.run_dir / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if '"episode_id":"ep3"' not in line or '"probe_id":"ep3:q0"' in line]
    # Cut the last records as a kill would, and leave a torn half-line behind.
    path.write_text("".join(kept) + lines[-1][:40])
    ingests_before = len(read_ingests(first.run_dir))

    second = run(config(tmp_path), NullDisplay())
    assert second.run_dir == first.run_dir
    records = read_records(second.run_dir)
    assert len(records) == 12, "no probe lost or duplicated"
    assert stable(records) == stable(complete)
    assert second.manifest.resumes == 1
    # Only ep3 was re-ingested, up to its last pending session.
    new_ingests = read_ingests(second.run_dir)[ingests_before:]
    assert {i.episode_id for i in new_ingests} == {"ep3"}
    assert [i.session_index for i in new_ingests] == [0, 1, 2]


def test_errors_are_recorded_not_scored_and_retried_only_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path, system="flaky", task_options={"boom": "ep0:q1", "judge_fails": "ep1:q2"})
    outcome = run(cfg, NullDisplay())
    by_id = {r.probe_id: r for r in read_records(outcome.run_dir)}
    assert by_id["ep0:q1"].error and by_id["ep0:q1"].error.stage == "system"
    assert by_id["ep0:q1"].error.type == "ConnectionError" and by_id["ep0:q1"].score is None
    assert by_id["ep1:q2"].error and by_id["ep1:q2"].error.stage == "judge"
    assert by_id["ep1:q2"].prediction is not None, "the prediction is kept when only the judge failed"
    assert outcome.manifest.counts.probes_errored == 2 and outcome.manifest.status == "complete"

    frame = read_contributions(outcome.components.task, outcome.run_dir)
    valid = frame[frame.metric == "accuracy"]
    every = frame[frame.metric == "accuracy_all"]
    assert valid.den.sum() == 10 and valid.num.sum() == 10, "errors leave the valid denominator"
    assert every.den.sum() == 12 and every.num.sum() == 10, "the paper's (all) variant counts them as 0"

    again = run(cfg, NullDisplay())
    assert len(read_records(again.run_dir)) == 12, "errored probes are not redone without --retry-errors"

    monkeypatch.setenv("MEMBENCH_TOY_HEALED", "1")
    healed = run(
        config(
            tmp_path,
            system="flaky",
            task_options={"boom": "ep0:q1", "judge_fails": "ep1:q2"},
            retry_errors=True,
        ),
        NullDisplay(),
    )
    latest = {r.probe_id: r for r in latest_records(read_records(healed.run_dir))}
    assert latest["ep0:q1"].status == "scored"
    assert latest["ep1:q2"].status == "error", "the judge still fails: still an error, never a wrong answer"
    assert len(read_records(healed.run_dir)) == 14, "redos are appended; nothing is rewritten"


def test_a_run_dir_with_another_identity_is_refused_with_the_field_named(tmp_path: Path) -> None:
    run_dir = tmp_path / "myrun"
    run(config(tmp_path, run_dir=run_dir), NullDisplay())
    with pytest.raises(IdentityMismatch, match=r"task\.options\.episodes: '4' -> '3'"):
        run(config(tmp_path, run_dir=run_dir, task_options={"episodes": "3"}), NullDisplay())
    fresh = run(config(tmp_path, run_dir=run_dir, task_options={"episodes": "3"}, fresh=True), NullDisplay())
    assert len(read_records(fresh.run_dir)) == 9
    archived = [p for p in tmp_path.iterdir() if p.name.startswith("myrun.replaced-")]
    assert len(archived) == 1 and len(read_records(archived[0])) == 12, "--fresh archives, never deletes"


def test_limit_picks_the_same_episodes_for_every_system(tmp_path: Path) -> None:
    a = run(config(tmp_path, limit=2, task_options={"episodes": "8"}), NullDisplay())
    b = run(config(tmp_path, system="flaky", limit=2, task_options={"episodes": "8"}), NullDisplay())
    episodes_a = {r.episode_id for r in read_records(a.run_dir)}
    episodes_b = {r.episode_id for r in read_records(b.run_dir)}
    assert episodes_a == episodes_b and len(episodes_a) == 2
    c = run(config(tmp_path, limit=2, seed=1, task_options={"episodes": "8"}), NullDisplay())
    assert c.run_dir != a.run_dir, "the seed is part of the run identity"


def test_a_system_that_answers_itself_is_asked_with_the_system_reader(tmp_path: Path) -> None:
    outcome = run(config(tmp_path, system="answering", reader="system"), NullDisplay())
    records = read_records(outcome.run_dir)
    assert len(records) == 12 and all(r.status == "scored" for r in records)
    # Every answer is the system's own words, and the judge scored it right.
    assert all(r.prediction and r.prediction.answer.startswith("the system says ") for r in records)  # type: ignore[union-attr]
    assert all(r.score and r.score.values["correct"] == 1.0 for r in records)
    assert all(r.prediction and len(r.prediction.memories) == 1 for r in records), "retrieved first"
    assert all("answer" in r.prediction.latency_s for r in records if r.prediction)
    # Its answering is the system's usage, one call per probe, and the run is named by its reader.
    assert outcome.manifest.usage["system"].calls == 12
    assert outcome.manifest.identity["reader"] == {"name": "system", "version": "v1"}
    frame = load_records(outcome.run_dir)
    assert len(frame) == 12 and frame["answer"].str.startswith("the system says ").all()
    assert frame["values.correct"].eq(1.0).all() and set(frame["labels.parity"]) == {"even", "odd"}
    accuracy = next(e for e in outcome.summary["metrics"] if e["metric"] == "accuracy")
    assert accuracy["value"] == 1.0 and accuracy["n"] == 12

    # The same system under the shared reader answers with the retrieved sentence, never asked itself.
    shared = run(config(tmp_path, system="answering"), NullDisplay())
    answers = {r.prediction.answer for r in read_records(shared.run_dir) if r.prediction}
    assert answers and not any(a and a.startswith("the system says") for a in answers)
    assert "system" not in shared.manifest.usage
    # The two readers' runs are never paired unless asked to.
    with pytest.raises(ConfigError, match="reader"):
        compare([outcome.run_dir, shared.run_dir], n_boot=0, plugins=PLUGINS)
    paired = compare([outcome.run_dir, shared.run_dir], n_boot=0, plugins=PLUGINS, allow_different=["reader"])
    assert paired.families[0].pairs[0].member.comparison.n_paired == 12


def test_the_system_reader_refuses_a_system_that_does_not_answer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"system 'keyword' does not answer questions itself"):
        run(config(tmp_path, reader="system"), NullDisplay())
    assert not (tmp_path / "results" / "runs").exists(), "refused before anything is written"
    # The refusal comes when the components are built, so a dry run is refused the same way.
    with pytest.raises(ConfigError, match=r"system 'keyword' does not answer questions itself"):
        prepare(config(tmp_path, reader="system", dry_run=True))
