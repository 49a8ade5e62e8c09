"""Reading LoCoMo files: a hand-written fixture in the official schema, and one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, DataError
from membench.core.retrieval import Evidence, parse_evidence_label
from membench_tasks.locomo.loader import load_locomo, locomo_file
from membench_tasks.locomo.task import LoCoMoTask

FIXTURE = Path(__file__).parents[1] / "fixtures" / "locomo" / "locomo10.json"


def test_each_conversation_is_an_episode_with_dated_sessions_and_both_speakers() -> None:
    dataset = load_locomo(FIXTURE, top_k=5)
    assert [e.episode_id for e in dataset.episodes] == ["conv-fx1", "conv-fx2"]
    first = dataset.episodes[0]
    # session_3 is empty: skipped, as the original code does
    assert [s.session_id for s in first.sessions] == ["conv-fx1/session_1", "conv-fx1/session_2"]
    assert [s.start_time for s in first.sessions] == ["2023-03-04T15:05:00", "2023-03-19T10:40:00"]
    assert first.metadata["date_times"]["conv-fx1/session_2"] == "10:40 am on 19 March, 2023"
    turns = first.sessions[0].turns
    assert [(t.role, t.content) for t in turns] == [
        ("user", "Ines: Hi Tomas! I finally joined a rowing club last week."),
        ("assistant", "Tomas: Nice! I spent Sunday repairing my old bicycle."),
        ("user", "Ines: Look at the boat we train in. [shares a photo of a long rowing boat on a river]"),
    ]
    assert {t.timestamp for t in turns} == {"2023-03-04T15:05:00"}
    # speaker B speaks first in conv-fx2: roles follow speaker_a/speaker_b, not the order of turns
    assert [t.role for t in dataset.episodes[1].sessions[0].turns] == ["assistant", "user"]


def test_each_qa_item_is_a_probe_after_the_last_session_with_its_category_and_key() -> None:
    dataset = load_locomo(FIXTURE, top_k=5)
    probes = {p.probe_id: p for p in dataset.probes}
    assert list(probes) == [
        "conv-fx1/q0001", "conv-fx1/q0002", "conv-fx1/q0003", "conv-fx1/q0004", "conv-fx1/q0005",
        "conv-fx2/q0001", "conv-fx2/q0002",
    ]  # fmt: skip
    assert {p.after_session for p in dataset.probes if p.episode_id == "conv-fx1"} == {1}
    assert [p.labels["category"] for p in dataset.probes] == [
        "single-hop", "temporal", "multi-hop", "open-domain", "adversarial", "single-hop", "adversarial",
    ]  # fmt: skip
    year = probes["conv-fx1/q0002"]
    assert year.gold == {"answer": "2019", "category": 2, "evidence": ["D2:1"]}  # a number read as text
    bait = probes["conv-fx1/q0005"]
    assert (bait.gold["answer"], bait.gold["category"]) == ("paella", 5)  # adversarial_answer is the key
    assert all(p.mode == "answer" and p.top_k == 5 and p.query == p.question for p in dataset.probes)
    assert "keys" not in year.gold  # official data has no machine-checkable keys


def test_evidence_ids_resolve_to_turns_by_their_index_in_the_conversation() -> None:
    dataset = load_locomo(FIXTURE, top_k=5)
    evidence = {p.probe_id: parse_evidence_label(p.labels["_evidence"]) for p in dataset.probes}
    assert evidence["conv-fx1/q0002"] == (
        Evidence("conv-fx1/session_2", 3, "I moved to Porto in 2019 and still love it."),
    )
    # "D1:1; D1:2" in one string (a defect of the release) names two turns
    assert [(e.session_id, e.position) for e in evidence["conv-fx1/q0003"]] == [
        ("conv-fx1/session_1", 0),
        ("conv-fx1/session_1", 1),
    ]
    # "D9:9" names no turn: left out and counted, never guessed
    assert [e.position for e in evidence["conv-fx1/q0004"]] == [2]
    assert dataset.metadata["unresolved_evidence"] == 1
    assert evidence["conv-fx2/q0002"] == ()
    assert dataset.metadata["conversations"] == 2 and dataset.metadata["questions"] == 7


def test_the_fingerprint_is_the_files_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere.json"
    copy.write_bytes(FIXTURE.read_bytes())
    assert load_locomo(copy, top_k=5).fingerprint == load_locomo(FIXTURE, top_k=5).fingerprint
    copy.write_bytes(FIXTURE.read_bytes().replace(b"rowing club", b"sailing club"))
    assert load_locomo(copy, top_k=5).fingerprint != load_locomo(FIXTURE, top_k=5).fingerprint


def test_a_folder_of_a_pull_is_read_through_its_file(tmp_path: Path) -> None:
    (tmp_path / "locomo10.json").write_bytes(FIXTURE.read_bytes())
    assert locomo_file(tmp_path) == tmp_path / "locomo10.json"
    with pytest.raises(ConfigError, match="no LoCoMo file at"):
        locomo_file(tmp_path / "missing")


def _broken(tmp_path: Path, change: Callable[[list[dict[str, Any]]], None]) -> Path:
    data = json.loads(FIXTURE.read_text("utf-8"))
    change(data)
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps(data), "utf-8")
    return path


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        for step in path[:-1]:
            data = data[step]
        data[path[-1]] = value

    return change


def _drop(path: tuple[Any, ...]) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        for step in path[:-1]:
            data = data[step]
        del data[path[-1]]

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set((0, "qa", 1, "category"), 7), "field '[0].qa[1].category' must be one of 1, 2, 3, 4, 5, got 7"),
        (_drop((0, "qa", 0, "answer")), "field '[0].qa[0].answer' is missing"),
        (_drop((0, "qa", 4, "adversarial_answer")), "field '[0].qa[4].answer' is missing"),
        (
            _set((0, "qa", 0, "evidence"), [3]),
            "field '[0].qa[0].evidence[0]' must be a string, got an integer (3)",
        ),
        (
            _set((0, "conversation", "session_2_date_time"), "yesterday"),
            "field '[0].conversation.session_2_date_time' must be a date like \"1:56 pm on 8 May, 2023\", "
            'got "yesterday"',
        ),
        (
            _drop((0, "conversation", "session_1_date_time")),
            "field '[0].conversation.session_1_date_time' is missing",
        ),
        (
            _set((1, "conversation", "session_1", 0, "speaker"), "Bob"),
            "field '[1].conversation.session_1[0].speaker' must be one of the two speakers "
            '(Aiko, Bram), got "Bob"',
        ),
        (
            _set((1, "conversation", "session_1", 1, "dia_id"), "D1:1"),
            "field '[1].conversation.session_1[1].dia_id' repeats the dia_id \"D1:1\"",
        ),
        (_set((1, "sample_id"), "conv-fx1"), "field '[1].sample_id' repeats the sample_id of [0]"),
        (_set((0, "qa"), []), "field '[0].qa' holds no questions"),
    ],
)
def test_bad_data_is_one_line_naming_the_file_record_and_field(
    tmp_path: Path, change: Callable[[Any], None], message: str
) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(DataError) as info:
        load_locomo(path, top_k=5)
    assert str(info.value) == f"{path}: {message}"
    assert "\n" not in str(info.value)


def test_a_file_that_is_not_a_list_of_conversations_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locomo10.json"
    path.write_text('{"sample_id": "x"}', "utf-8")
    with pytest.raises(DataError) as info:
        load_locomo(path, top_k=5)
    assert str(info.value) == f'{path}: must be a list, got an object ({{"sample_id": "x"}})'
    path.write_text("[]", "utf-8")
    with pytest.raises(DataError, match="holds no conversations"):
        load_locomo(path, top_k=5)


def test_the_oracle_is_given_each_evidence_turn_as_the_conversation_has_it(tmp_path: Path) -> None:
    task = LoCoMoTask({"data": str(FIXTURE)}, tmp_path)
    evidence = task.evidence(task.load())
    assert evidence["conv-fx1/session_2"] == [
        "Tomas: I moved to Porto in 2019 and still love it.",
        "Ines: My sister Lea visited and we cooked paella together.",
    ]
    assert evidence["conv-fx2/session_1"] == ["Aiko: Wonderful, the violinist played Vivaldi."]
