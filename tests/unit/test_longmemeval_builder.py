"""The offline LongMemEval builder: the official schema, seeded bytes, keys an offline reader meets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench.core.types import Episode, Memory, Prediction
from membench.systems.baselines import TurnLog
from membench_builders.longmemeval import ABSTENTION_TYPES, TYPES, build_longmemeval
from membench_tasks.convomem.reader import FactMatchReader
from membench_tasks.longmemeval.judges import RuleJudge
from membench_tasks.longmemeval.loader import load_longmemeval

SMALL = {"per_type": 2, "abstention": 5, "sessions": 5, "turns": 4, "pool": 12}


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_ones(tmp_path: Path) -> None:
    first = build_longmemeval(tmp_path / "a.json", seed=3, **SMALL).read_bytes()
    assert build_longmemeval(tmp_path / "b.json", seed=3, **SMALL).read_bytes() == first
    assert build_longmemeval(tmp_path / "c.json", seed=4, **SMALL).read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "c.json"], "no temporaries"


def test_more_questions_leave_the_earlier_ones_unchanged(tmp_path: Path) -> None:
    small = json.loads(build_longmemeval(tmp_path / "a.json", **{**SMALL, "abstention": 0}).read_text())
    large = json.loads(build_longmemeval(tmp_path / "b.json", **{**SMALL, "abstention": 3}).read_text())
    assert large[: len(small)] == small


def test_the_records_have_the_official_fields_and_evidence_flags(tmp_path: Path) -> None:
    records = json.loads(build_longmemeval(tmp_path / "d.json", **SMALL).read_text())
    assert len(records) == 6 * 2 + 5
    official = {
        "question_id", "question_type", "question", "answer", "question_date", "haystack_session_ids",
        "haystack_dates", "haystack_sessions", "answer_session_ids",
    }  # fmt: skip
    assert all(set(r) == official | {"membench_keys"} for r in records)
    assert [r["question_type"] for r in records[:12]] == [t for t in TYPES for _ in range(2)]
    abstention = [r for r in records if r["question_id"].endswith("_abs")]
    assert [r["question_type"] for r in abstention] == list(ABSTENTION_TYPES)
    for record in records:
        flagged = {
            sid
            for sid, session in zip(record["haystack_session_ids"], record["haystack_sessions"], strict=True)
            if any(turn.get("has_answer") for turn in session)
        }
        assert flagged == set(record["answer_session_ids"]), record["question_id"]
        assert len(record["haystack_sessions"]) == 5
        assert all(len(session) == 4 for session in record["haystack_sessions"])
        assert record["haystack_dates"] == sorted(record["haystack_dates"])
        assert record["question_date"] > record["haystack_dates"][-1]
    ms = next(r for r in records if r["question_type"] == "multi-session")
    assert len(ms["answer_session_ids"]) == 2 and len(ms["membench_keys"]["require"]) == 2


def _answer(episode: Episode, question: str, only: set[str] | None = None) -> str:
    log = TurnLog()
    for session in episode.sessions:
        if only is None or session.session_id in only:
            log.add(session)
    memories: list[Memory] = log._memories
    return FactMatchReader().read(question, memories)


def test_the_offline_reader_is_right_from_the_answer_sessions_alone_and_from_everything(
    tmp_path: Path,
) -> None:
    dataset = load_longmemeval(build_longmemeval(tmp_path / "e.json", **SMALL), top_k=10)
    episodes = {e.episode_id: e for e in dataset.episodes}
    judge = RuleJudge()
    for probe in dataset.probes:
        episode = episodes[probe.episode_id]
        for only in (set(probe.gold["answer_session_ids"]), None):
            answer = _answer(episode, probe.question, only)
            score = asyncio.run(judge.score(probe, Prediction(answer=answer), episode))
            assert score.label == "right", (probe.probe_id, only, answer)
        # nothing remembered: right exactly where the right answer is to decline.
        nothing = asyncio.run(
            judge.score(probe, Prediction(answer=_answer(episode, probe.question, set())), episode)
        )
        assert nothing.label == ("right" if probe.gold["abstention"] else "wrong"), probe.probe_id


def test_a_knowledge_update_is_answered_with_the_latest_state(tmp_path: Path) -> None:
    dataset = load_longmemeval(build_longmemeval(tmp_path / "f.json", **SMALL), top_k=10)
    probe = next(
        p
        for p in dataset.probes
        if p.gold["question_type"] == "knowledge-update" and not p.gold["abstention"]
    )
    episode = next(e for e in dataset.episodes if e.episode_id == probe.episode_id)
    answer = _answer(episode, probe.question)
    assert probe.gold["answer"] in answer and " is now " in answer and "\n" not in answer


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"per_type": 0}, "per_type must be at least 1"),
        ({"per_type": 12}, "need 82 people, but the builder has 68 names"),
        ({"sessions": 2}, "sessions must be at least 3"),
        ({"turns": 3}, "turns must be an even number"),
        ({"pool": 4}, "the filler pool (4) must hold at least sessions (5)"),
    ],
)
def test_options_the_data_cannot_be_written_for_are_refused(
    tmp_path: Path, options: dict[str, int], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_longmemeval(tmp_path / "g.json", **{**SMALL, **options})
    assert not (tmp_path / "g.json").exists()
