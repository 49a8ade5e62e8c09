"""Reading LongMemEval files: a fixture in the official schema, and one-line errors for bad records."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, DataError
from membench.core.retrieval import EVIDENCE_LABEL, Evidence, parse_evidence_label
from membench_tasks.longmemeval.loader import is_abstention, load_longmemeval

FIXTURE = Path(__file__).parent.parent / "fixtures" / "longmemeval" / "official_sample.json"
RECORDS: list[dict[str, Any]] = json.loads(FIXTURE.read_text("utf-8"))


def test_each_question_is_an_episode_with_its_haystack_oldest_first() -> None:
    dataset = load_longmemeval(FIXTURE, top_k=7)
    assert [e.episode_id for e in dataset.episodes] == ["q_user_1", "q_update_2_abs", "q_multi_3"]
    first = dataset.episodes[0]
    assert [s.session_id for s in first.sessions] == ["sess_fill_a", "answer_q1_1", "sess_fill_b"]
    assert [s.start_time for s in first.sessions] == [
        "2023-05-20T02:21:00",
        "2023-05-22T10:05:00",
        "2023-05-25T18:30:00",
    ]
    assert [(t.role, t.timestamp) for t in first.sessions[1].turns] == [
        ("user", "2023-05-22T10:05:00"),
        ("assistant", "2023-05-22T10:05:00"),
    ]
    # listed out of date order (as the oracle file is): ingested in date order, ties kept.
    third = dataset.episodes[2]
    assert [s.session_id for s in third.sessions] == ["answer_q3_1", "sess_fill_c", "answer_q3_2"]
    assert dataset.metadata == {"questions": 3, "abstention": 1, "sessions": 8}
    assert len(dataset.fingerprint) == 64


def test_the_question_is_asked_after_the_last_session_with_its_date_shown() -> None:
    probe = load_longmemeval(FIXTURE, top_k=7).probes[0]
    assert (probe.probe_id, probe.episode_id, probe.after_session) == ("q_user_1", "q_user_1", 2)
    assert (probe.kind, probe.mode, probe.top_k) == ("qa", "answer", 7)
    assert probe.question == probe.query == "What breed is the user's dog?"
    assert probe.inputs == {"question_date": "2023/05/30 (Tue) 23:40"}
    assert probe.gold == {
        "answer": "a beagle",
        "question_type": "single-session-user",
        "abstention": False,
        "answer_session_ids": ["answer_q1_1"],
        "keys": None,
    }
    assert probe.labels["question_type"] == "single-session-user" and probe.labels["abstention"] == "no"


def test_evidence_is_the_answer_sessions_with_their_answer_turns_text() -> None:
    probes = load_longmemeval(FIXTURE, top_k=7).probes
    assert parse_evidence_label(probes[0].labels[EVIDENCE_LABEL]) == (
        Evidence("answer_q1_1", None, "I take my beagle Rufus to the park every morning."),
    )
    assert parse_evidence_label(probes[2].labels[EVIDENCE_LABEL]) == (
        Evidence("answer_q3_1", None, "I bought two succulents at the market."),
        Evidence("answer_q3_2", None, "I picked up a fern today as well."),
    )
    assert probes[2].gold["answer"] == "3", "a numeric answer is read as its text"


def test_abstention_is_the_id_suffix_whatever_the_type_and_carries_no_evidence() -> None:
    probe = load_longmemeval(FIXTURE, top_k=7).probes[1]
    assert probe.gold["question_type"] == "knowledge-update" and probe.gold["abstention"] is True
    assert probe.labels["abstention"] == "yes" and probe.labels[EVIDENCE_LABEL] == ""
    assert is_abstention("7161e7e2_abs") and not is_abstention("gpt4_abs_12") and not is_abstention("abs")


def _broken(tmp_path: Path, change: Callable[[list[dict[str, Any]]], None]) -> Path:
    records = copy.deepcopy(RECORDS)
    change(records)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(records), "utf-8")
    return path


def _set(record: int, field: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(records: list[dict[str, Any]]) -> None:
        records[record][field] = value

    return change


def _del(record: int, field: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(records: list[dict[str, Any]]) -> None:
        del records[record][field]

    return change


def _turn(
    record: int, session: int, turn: int, field: str, value: Any
) -> Callable[[list[dict[str, Any]]], None]:
    def change(records: list[dict[str, Any]]) -> None:
        records[record]["haystack_sessions"][session][turn][field] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_del(0, "question"), "field '[0].question' is missing (question_id q_user_1)"),
        (
            _set(2, "question_type", "multi-hop"),
            "field '[2].question_type' must be one of single-session-user, single-session-preference, "
            "single-session-assistant, multi-session, temporal-reasoning, knowledge-update, got "
            "'multi-hop' (question_id q_multi_3)",
        ),
        (
            _turn(2, 1, 0, "role", "system"),
            "field '[2].haystack_sessions[1][0].role' must be user or assistant, got 'system' "
            "(question_id q_multi_3)",
        ),
        (
            _turn(0, 1, 0, "has_answer", "yes"),
            "field '[0].haystack_sessions[1][0].has_answer' must be a boolean, got a string (\"yes\") "
            "(question_id q_user_1)",
        ),
        (
            _set(1, "haystack_dates", ["2023/06/01 08:00", "2023/06/03 (Sat) 12:00"]),
            "field '[1].haystack_dates[0]' must be a date like \"2023/05/20 (Sat) 02:21\", got "
            '"2023/06/01 08:00" (question_id q_update_2_abs)',
        ),
        (
            _set(0, "question_date", "2023/02/30 (Thu) 10:00"),
            "field '[0].question_date' is not a real date",
        ),
        (
            _set(0, "haystack_dates", ["2023/05/20 (Sat) 02:21"]),
            "field '[0].haystack_sessions' has 3 sessions, but haystack_session_ids has 3 and "
            "haystack_dates 1: the three lists go together (question_id q_user_1)",
        ),
        (
            _set(0, "answer_session_ids", ["answer_q9_1"]),
            "field '[0].answer_session_ids[0]' names session answer_q9_1, which is not in the haystack "
            "(question_id q_user_1)",
        ),
        (
            _set(0, "haystack_session_ids", ["sess_fill_a", "answer_q1_1", "sess_fill_a"]),
            "field '[0].haystack_session_ids[2]' repeats session id sess_fill_a",
        ),
        (_set(2, "question_id", "q_user_1"), "field '[2].question_id' repeats question_id q_user_1"),
        (_set(0, "answer", None), "field '[0].answer' must be a string or an integer or a number, got null"),
    ],
)
def test_bad_records_are_one_line_naming_file_record_field_and_question(
    tmp_path: Path, change: Callable[[list[dict[str, Any]]], None], message: str
) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(DataError) as info:
        load_longmemeval(path, top_k=10)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and message in text


def test_a_file_that_is_not_a_list_or_not_json_or_absent_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "object.json"
    path.write_text('{"question_id": "x"}', "utf-8")
    with pytest.raises(DataError, match=r"object\.json: must be a list, got an object"):
        load_longmemeval(path, top_k=10)
    path.write_text("[]", "utf-8")
    with pytest.raises(DataError, match=r"object\.json: is an empty list: it holds no question"):
        load_longmemeval(path, top_k=10)
    path.write_text("[{", "utf-8")
    with pytest.raises(DataError, match="is not valid JSON"):
        load_longmemeval(path, top_k=10)
    with pytest.raises(ConfigError, match=r"LongMemEval file not found: .*membench data pull longmemeval"):
        load_longmemeval(tmp_path / "missing.json", top_k=10)
