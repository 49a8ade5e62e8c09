"""HaluMem end to end on tiny built data: every baseline, the LLM paths, errors kept out of valid metrics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from membench.analysis.runs import read_contributions
from membench.analysis.summary import summarize
from membench.api import run
from membench.core.config import LLMSpec
from membench.core.records import read_records
from membench.core.retrieval import EVIDENCE_LABEL, MATCH_LABEL, parse_evidence_label
from membench.running.display import NullDisplay
from membench.testing import FakeLLM, Fields, Prompt, RawReply, unscored_verdicts
from membench.testing.configs import tiny_run_config

PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "halumem_plugin.py") + ":BrokenOnceBM25"


def values(run_dir: Path, task: Any) -> dict[str, float | None]:
    return {m["metric"]: m["value"] for m in summarize(task, run_dir, n_boot=200)["metrics"]}


def stored_turns_accuracy(task: Any) -> float:
    """The rule judge's memory accuracy of a system that stores every turn, however it labels them.

    Each turn scores a = 2 (it states a true point, or occurs in its session) except the assistant's
    distractor claims, one turn each, which state a false value and nothing true: a = 0.
    """
    dataset = task.load()
    turns = sum(len(session.turns) for episode in dataset.episodes for session in episode.sessions)
    extraction = [probe for probe in dataset.probes if probe.kind == "extraction"]
    claims = sum(point["is_distractor"] for probe in extraction for point in probe.gold["memory_points"])
    return (turns - claims) / turns


def full_context_mrr(task: Any) -> float:
    """Evidence MRR of a system that returns every turn so far, oldest first: each question's first
    match is the first turn of its earliest evidence session, at rank 1 + the turns before it."""
    dataset = task.load()
    sessions = {e.episode_id: e.sessions for e in dataset.episodes}
    ranks = []
    for probe in dataset.probes:
        evidence = parse_evidence_label(probe.labels.get(EVIDENCE_LABEL, ""))
        if evidence:
            ids = [s.session_id for s in sessions[probe.episode_id]]
            earliest = min(ids.index(e.session_id) for e in evidence)
            ranks.append(1 + sum(len(s.turns) for s in sessions[probe.episode_id][:earliest]))
    assert len(ranks) > 1 and len(set(ranks)) > 1, "the tiny data cites more than one session"
    return sum(1 / rank for rank in ranks) / len(ranks)


def evidence_matches(task: Any, run_dir: Path) -> set[str]:
    """How the run's questions were matched to their evidence (the ``evidence_match`` label)."""
    frame = read_contributions(task, run_dir)
    return set(frame.loc[frame["metric"] == "evidence_recall", MATCH_LABEL])


@pytest.mark.parametrize("system", ["no-memory", "full-context", "bm25"])
def test_every_baseline_runs_end_to_end(system: str, tmp_path: Path) -> None:
    outcome = run(tiny_run_config(tmp_path, "halumem", system), NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete"
    assert records and all(r.status == "scored" for r in records)
    kinds = {r.kind for r in records}
    assert kinds == {"extraction", "update", "qa"}
    metrics = values(outcome.run_dir, outcome.components.task)
    if system == "no-memory":
        # Remembering nothing recalls nothing and "resists" every distractor: FMR alone misleads.
        assert metrics["recall"] == 0.0 and metrics["fmr"] == 1.0
        assert metrics["update_correct"] is None, "no update probe retrieved anything: none routed to update"
    else:
        # Verbatim turns contain every stated fact, and every distractor the assistant asserted.
        assert metrics["recall"] == 1.0 and metrics["fmr"] == 0.0
        assert metrics["memory_accuracy"] == pytest.approx(stored_turns_accuracy(outcome.components.task))
        assert (metrics["update_correct"], metrics["update_other"]) == (0.0, 1.0), (
            "the turn that stated the old city is retrieved beside the move: superseded, never marked so"
        )
    assert 0.0 <= (metrics["qa_correct"] or 0.0) <= 1.0
    retrieval = (metrics["evidence_recall"], metrics["evidence_hit"], metrics["evidence_mrr"])
    if system == "no-memory":
        assert retrieval == (0.0, 0.0, 0.0) and evidence_matches(
            outcome.components.task, outcome.run_dir
        ) == {"nothing retrieved"}
    else:
        # stored turns carry their session: evidence is matched by provenance
        assert evidence_matches(outcome.components.task, outcome.run_dir) == {"provenance"}
    if system == "full-context":
        assert retrieval == pytest.approx((1.0, 1.0, full_context_mrr(outcome.components.task)))


def supported_if_the_user_said_it(memory: str) -> Fields:
    """The accuracy verdict on a stored turn: a user's turn is supported and about a gold point; an
    assistant's turn is not (the prompt: a claim the user never confirmed is not supported)."""
    return {"score": 2, "included": True} if memory.startswith("user:") else {"score": 0, "included": False}


def test_system_and_judge_failures_are_errors_outside_valid_denominators(tmp_path: Path) -> None:
    """A judge that answers garbage for one question, and a system that times out once."""
    first_question: list[str] = []

    def qa(prompt: Prompt) -> Fields | RawReply:
        """Garbage for the first QA judgment and its re-ask; every other answer is correct."""
        if not first_question:
            first_question.append(prompt.text)
        if prompt.text == first_question[0]:
            return RawReply("I think it is probably fine.")
        return {"label": "correct"}

    fake = FakeLLM(
        integrity={"score": 2},
        accuracy=lambda prompt: supported_if_the_user_said_it(prompt.section("Candidate memory")),
        update={"label": "correct"},
        qa=qa,
    )
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    with fake.serve() as server:
        config = tiny_run_config(
            tmp_path,
            "halumem",
            "bm25-broken-once",
            plugins=(PLUGIN,),
            judge_llm=LLMSpec("openai/fake-model", server.base_url),
            max_episodes=1,
        )
        outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    qa = [r for r in records if r.kind == "qa"]
    system_errors = [r for r in qa if r.error and r.error.stage == "system"]
    judge_errors = [r for r in qa if r.error is None and r.score and r.score.status == "error"] + [
        r for r in qa if r.error and r.error.stage == "judge"
    ]
    assert len(system_errors) == 1 and system_errors[0].error.type == "TimeoutError"
    assert len(judge_errors) >= 1
    errored = len(system_errors) + len(judge_errors)
    # Those two are the only failures: every other judgment was answered as its prompt asks.
    garbled = [p.retry for p in fake.prompts if p.text == first_question[0]]
    assert len(judge_errors) == 1 and garbled == [False, True], "the garbled question, then its re-ask"
    failed = {where for where, _ in unscored_verdicts(records)}
    assert failed == {system_errors[0].probe_id, judge_errors[0].probe_id}
    extraction = [r for r in records if r.kind == "extraction"]
    assert extraction and all(r.status == "scored" for r in extraction)
    for record in extraction:
        assert record.score is not None and record.prediction is not None
        for detail in record.score.details:
            if detail["element"] == "point":
                assert detail["g"] == 2
            else:
                memory = record.prediction.memories[detail["position"]].text
                verdict = supported_if_the_user_said_it(memory)
                assert (detail["a"], detail["included"]) == (verdict["score"], verdict["included"])

    frame = read_contributions(outcome.components.task, outcome.run_dir)
    valid = frame[frame.metric == "qa_correct"]
    every = frame[frame.metric == "qa_correct_all"]
    assert every.den.sum() == len(qa)
    assert valid.den.sum() == len(qa) - errored, "errored items leave the valid denominator"
    assert valid.num.sum() == every.num.sum(), "and are never counted as correct or wrong"
    estimates = {
        m["metric"]: m for m in summarize(outcome.components.task, outcome.run_dir, n_boot=0)["metrics"]
    }
    assert estimates["qa_correct"]["n_errors"] == errored
    assert outcome.manifest.counts.probes_errored >= errored

    # The values the fake's verdicts imply, by hand: every gold point found, a user's turn fully
    # supported, an assistant's turn not supported and not about a gold point, the rest correct.
    stored = [m.text for r in extraction if r.prediction for m in r.prediction.memories]
    said_by_user = sum(text.startswith("user:") for text in stored)
    metrics = {name: estimate["value"] for name, estimate in estimates.items()}
    implied = {
        "recall": 1.0,
        "weighted_recall": 1.0,
        "fmr": 0.0,
        "memory_accuracy": said_by_user / len(stored),
        "target_precision": 1.0,
        "extraction_f1": 1.0,
        "extracted_memories": float(len(stored)),
        "target_memories": float(said_by_user),
        "update_correct": 1.0,
        "qa_correct": 1.0,
        "qa_correct_all": (len(qa) - errored) / len(qa),
        "qa_hallucination": 0.0,
    }
    assert 0 < said_by_user < len(stored)
    assert {name: metrics[name] for name in implied} == pytest.approx(implied)


@pytest.mark.needs_mem0
def test_mem0_offline_end_to_end(tmp_path: Path) -> None:
    """The main command's path on tiny data: real mem0, real MiniLM embeddings, no LLM anywhere."""
    outcome = run(tiny_run_config(tmp_path, "halumem", "mem0"), NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and outcome.manifest.usage == {}
    assert {r.kind for r in records} == {"extraction", "update", "qa"}
    assert all(r.status == "scored" for r in records)
    assert outcome.manifest.identity["system"]["options"]["mode"] == "offline"
    assert "offline mode: infer=False" in outcome.components.system_description
    metrics = values(outcome.run_dir, outcome.components.task)
    # infer=False stores every turn verbatim: every stated fact is recalled, as with full-context,
    # every turn is judged as full-context's labelled turns are, and the old city stays beside the new.
    assert metrics["recall"] == 1.0
    assert metrics["memory_accuracy"] == pytest.approx(stored_turns_accuracy(outcome.components.task))
    assert (metrics["update_correct"], metrics["update_other"]) == (0.0, 1.0)
    assert metrics["add_time_s"] is not None and metrics["search_time_s"] is not None
    # mem0 keeps each stored turn's session in its metadata: evidence is matched by provenance
    assert evidence_matches(outcome.components.task, outcome.run_dir) == {"provenance"}
    assert metrics["evidence_recall"] is not None and metrics["evidence_hit"] is not None
