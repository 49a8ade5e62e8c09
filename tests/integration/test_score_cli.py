"""``membench score``: a finished HaluMem run judged again, as a new run, with judge agreement."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from membench.analysis.rescore import RescoreConfig, rescore
from membench.analysis.runs import load_run
from membench.api import run
from membench.cli.main import main
from membench.core.config import LLMSpec
from membench.core.records import MEMORIES, RECORDS, read_manifest, read_records
from membench.running.display import NullDisplay
from membench.testing import FakeLLM, RawReply, grade_abstention, unscored_verdicts
from membench.testing.configs import TINY_TASK_OPTIONS, tiny_run_config
from membench_tasks.halumem.task import HaluMemTask


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def halumem_run(tmp_path: Path, system: str) -> Path:
    return run(tiny_run_config(tmp_path, "halumem", system), NullDisplay()).run_dir


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return halumem_run(tmp_path, "bm25")


@pytest.fixture
def forgetful(tmp_path: Path) -> Path:
    """A no-memory run: its LLM judge asks only QA judgments (nothing extracted, nothing retrieved)."""
    return halumem_run(tmp_path, "no-memory")


def test_rule_to_lexical_writes_a_new_run_and_reports_agreement(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_digest(source)
    assert main(["score", str(source), "--judge", "lexical", "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert tree_digest(source) == before, "the original run is never modified"
    assert "Cohen's kappa" in out and "raw agreement" in out and "confusion (qa)" in out
    assert "QA correct under rule" in out and "QA correct under lexical" in out
    rescored_dirs = [d for d in source.parent.iterdir() if d != source]
    assert len(rescored_dirs) == 1
    rescored = load_run(rescored_dirs[0])
    original = load_run(source)
    assert rescored.complete and rescored.mode == "extractive · lexical"
    identity = rescored.manifest.identity
    assert identity["judge"]["name"] == "lexical"
    assert identity["rescored_from"] == {
        "run_id": original.manifest.run_id,
        "judge": original.manifest.identity["judge"],
    }
    assert {k: v for k, v in identity.items() if k not in ("judge", "rescored_from")} == {
        k: v for k, v in original.manifest.identity.items() if k != "judge"
    }
    assert {r.probe_id for r in rescored.records} == {r.probe_id for r in original.records}
    by_id = {r.probe_id: r for r in original.records}
    for record in rescored.records:
        assert record.score is not None and record.score.judge == "lexical"
        assert record.prediction is not None
        assert record.prediction.answer == by_id[record.probe_id].prediction.answer  # type: ignore[union-attr]
    assert len(rescored.ingests) == len(original.ingests)
    agreement = json.loads((rescored.run_dir / "agreement.json").read_text())
    kinds = {k["kind"]: k for k in agreement["labels"]}
    n_qa = sum(1 for r in original.records if r.kind == "qa")
    assert kinds["qa"]["n"] == n_qa and 0.0 <= kinds["qa"]["raw_agreement"] <= 1.0
    assert kinds["qa"]["cohens_kappa"] is not None
    assert sum(map(sum, kinds["qa"]["confusion"]["counts"])) == n_qa
    # compare refuses to pair runs judged differently unless asked to, then pairs the same probes.
    compare = ["compare", str(source), str(rescored.run_dir), "--n-boot", "100", "--format", "json"]
    assert main(compare) == 2
    assert "differ in judge" in capsys.readouterr().err
    assert main([*compare, "--allow-different", "judge"]) == 0
    pair = json.loads(capsys.readouterr().out)["families"][0]["comparisons"][0]
    assert pair["n_paired"] == n_qa and pair["b"] == "bm25 (extractive · lexical)"


def test_data_that_changed_is_refused(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["score", str(source), "--judge", "lexical", "--data-dir", str(tmp_path / "data"), "-T", "users=3"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "fingerprint" in err and str(source) in err
    assert main(["score", str(source), "--judge", "rule", "--data-dir", str(tmp_path / "data")]) == 2
    assert "judged by rule already" in capsys.readouterr().err
    assert main(["score", str(source), "--judge", "nope", "--data-dir", str(tmp_path / "data")]) == 2
    assert "unknown judge 'nope'" in (err := capsys.readouterr().err) and "judges: rule, lexical" in err
    assert [d for d in source.parent.iterdir() if d != source] == [], "nothing half-done is written"


def test_a_probe_that_changed_is_refused_before_anything_is_written(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "elsewhere" / source.name
    shutil.copytree(source, copy)
    lines = (copy / RECORDS).read_text().splitlines(keepends=True)
    record = json.loads(lines[3])
    record["input_hash"] = "f" * 16
    lines[3] = json.dumps(record) + "\n"
    (copy / RECORDS).write_text("".join(lines))
    assert main(["score", str(copy), "--judge", "lexical", "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert str(copy / RECORDS) in err and "input_hash" in err and record["probe_id"] in err
    assert [d.name for d in copy.parent.iterdir()] == [source.name]


def test_a_refused_fresh_rescore_keeps_the_previous_one(source: Path, tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["score", str(source), "--judge", "lexical", *data]) == 0
    (rescored,) = [d for d in source.parent.iterdir() if d != source]
    before = tree_digest(rescored)
    lines = (source / RECORDS).read_text().splitlines(keepends=True)
    record = json.loads(lines[3])
    lines[3] = json.dumps({**record, "input_hash": "f" * 16}) + "\n"
    (source / RECORDS).write_text("".join(lines))
    assert main(["score", str(source), "--judge", "lexical", "--fresh", *data]) == 2
    assert sorted(source.parent.iterdir()) == sorted([source, rescored]), "nothing archived"
    assert tree_digest(rescored) == before


def test_an_interrupted_rescore_resumes(source: Path, tmp_path: Path) -> None:
    config = RescoreConfig(run_dir=source, judge="lexical", data_dir=tmp_path / "data", n_boot=0)
    first = rescore(config)
    lines = (first.run_dir / RECORDS).read_bytes().splitlines(keepends=True)
    kept = lines[:20]
    # What a kill leaves: part of the records, a torn last line, a manifest still "running".
    (first.run_dir / RECORDS).write_bytes(b"".join(kept) + lines[20][:30])
    manifest = read_manifest(first.run_dir)
    assert manifest is not None
    (first.run_dir / "manifest.json").write_text(
        manifest.model_copy(update={"status": "running"}).model_dump_json()
    )
    second = rescore(config)
    assert second.run_dir == first.run_dir and second.manifest.status == "complete"
    assert second.manifest.resumes == 1
    records = read_records(second.run_dir)
    assert len(records) == len(lines), "only the missing probes were judged again"
    assert (second.run_dir / RECORDS).read_bytes().splitlines(keepends=True)[:20] == kept  # untouched
    stored = [json.loads(line) for line in (second.run_dir / MEMORIES).read_text().splitlines()]
    keys = [(line["episode_id"], line["ref"]) for line in stored]
    assert keys and len(set(keys)) == len(keys), "the resume stored no memory a second time"
    assert second.manifest.counts.probes_scored == len(lines)


def abstention_label(reference: str) -> str:
    """The label ``grade_abstention`` gives the no-memory run's "Unknown." against ``reference``."""
    return "correct" if reference.startswith("Unknown") else "omission"


def test_llm_judge_rescore_is_free_the_second_time(
    forgetful: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = forgetful
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    before = tree_digest(source)
    fake = FakeLLM(qa=grade_abstention)
    with fake.serve() as server:
        config = RescoreConfig(
            run_dir=source,
            judge="llm",
            judge_llm=LLMSpec("openai/fake-model", server.base_url),
            data_dir=tmp_path / "data",
            cache_path=tmp_path / "cache.sqlite",
            n_boot=0,
        )
        first = rescore(config)
        calls = server.total_requests
        assert calls > 0 and first.manifest.cache["misses"] == calls
        second = rescore(RescoreConfig(**{**config.__dict__, "fresh": True}))
        assert server.total_requests == calls, "the cache answers every judgment the second time"
    assert second.manifest.cache["hits"] >= calls and second.manifest.cache["misses"] == 0
    assert second.manifest.status == "complete" and second.run_dir == first.run_dir
    assert tree_digest(source) == before
    qa = {k.kind: k for k in second.agreement.kinds}["qa"]
    assert qa.n == sum(
        1 for r in read_records(source) if r.kind == "qa"
    ) and second.agreement.judge_b.startswith("llm")
    assert second.manifest.usage["judge"].calls >= calls

    # Every judgment was a QA one, answered as its prompt asks, and scored as the fake graded it.
    assert {p.kind for p in fake.prompts} == {"qa"} and not any(p.retry for p in fake.prompts)
    dataset = HaluMemTask(dict(TINY_TASK_OPTIONS["halumem"]), tmp_path / "data" / "halumem").load()
    references = {p.probe_id: p.gold["answer"] for p in dataset.probes if p.kind == "qa"}
    records = read_records(second.run_dir)
    assert unscored_verdicts(records) == []
    labels = {r.probe_id: r.score.label for r in records if r.kind == "qa" and r.score}
    assert labels == {pid: abstention_label(ref) for pid, ref in references.items()}
    correct = sum(abstention_label(ref) == "correct" for ref in references.values())
    assert 0 < correct < len(references)
    assert second.agreement.estimate_b.value == pytest.approx(correct / len(references))
    assert second.agreement.estimate_b.n_errors == 0


def test_judge_failures_are_errors_not_wrong_answers(
    forgetful: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = forgetful
    fake = FakeLLM(qa=RawReply("no idea"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    with fake.serve() as server:
        outcome = rescore(
            RescoreConfig(
                run_dir=source,
                judge="llm",
                judge_llm=LLMSpec("openai/fake-model", server.base_url),
                data_dir=tmp_path / "data",
                use_cache=False,
                n_boot=0,
            )
        )
    qa = [r for r in read_records(outcome.run_dir) if r.kind == "qa"]
    assert qa and all(r.status == "error" for r in qa)
    assert outcome.manifest.counts.probes_errored == len(qa)
    assert outcome.agreement.estimate_b.value is None and outcome.agreement.estimate_b.n_errors == len(qa)
    asked = [p for p in fake.prompts if p.kind == "qa"]
    assert len(asked) == 2 * len(qa) and sum(p.retry for p in asked) == len(qa), "each asked, then re-asked"


def test_an_api_key_in_provider_errors_reaches_no_output(
    forgetful: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider that quotes the key back in its error message: the rescore records the judge
    errors, and neither its files, the agreement nor the printed summary holds the key."""
    secret = "sk-membench-review-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with FakeLLM().serve() as server:
        server.add_faults(*[("status", 401, {}, f"Incorrect API key provided: {secret}")] * 200)
        args = ["score", str(forgetful), "--judge", "llm", "--judge-llm", "openai/fake-model"]
        args += ["--judge-api-base", server.base_url, "--data-dir", str(tmp_path / "data"), "--no-cache"]
        main(args)
        assert server.total_requests > 0
    out = capsys.readouterr()
    (rescored,) = [d for d in forgetful.parent.iterdir() if d != forgetful]
    assert any(r.status == "error" for r in read_records(rescored)), "the 401s were recorded as errors"
    texts = [p.read_text() for p in rescored.rglob("*") if p.is_file()]
    assert texts and all(secret not in text for text in [*texts, out.out, out.err])
