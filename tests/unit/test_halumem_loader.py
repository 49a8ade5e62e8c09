"""The HaluMem loader on hand-written files in the official schema, and on broken ones."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, DataError
from membench.core.retrieval import EVIDENCE_LABEL, Evidence, evidence_label, parse_evidence_label
from membench.core.types import Dataset, Probe
from membench_tasks.halumem.loader import load_halumem, verify_sha256

FIXTURE = Path(__file__).parent.parent / "fixtures" / "halumem" / "official_sample.jsonl"
MARTIN = "2f1f897e-d67f-4bc5-8a7b-000000000001"
ANA = "9a0c2b44-5e1d-4f7a-9c3e-000000000002"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_halumem(FIXTURE)


def _probes(dataset: Dataset) -> dict[str, Probe]:
    return {probe.probe_id: probe for probe in dataset.probes}


def test_dataset_identity_and_counts(dataset: Dataset) -> None:
    assert dataset.name == "halumem"
    assert dataset.source == str(FIXTURE)
    assert dataset.fingerprint == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    # no official file name, so the generated noise sessions make it "long"
    assert dataset.metadata == {
        "variant": "long",
        "users": 2,
        "sessions": 7,
        "noise_sessions": 2,
        "evidence_unplaced": 0,
    }


def test_episodes_keep_file_order_and_flag_noise_sessions(dataset: Dataset) -> None:
    martin, ana = dataset.episodes
    assert martin.episode_id == MARTIN and ana.episode_id == ANA
    assert martin.metadata == {"persona_name": "Martin Mark", "variant": "long"}
    assert ana.metadata["persona_name"] == "Ana Lima"
    assert [s.session_id for s in ana.sessions] == [f"{ANA}:s{i}" for i in range(4)]
    assert [s.evaluated for s in ana.sessions] == [True, False, True, False]
    assert [s.evaluated for s in martin.sessions] == [True, True, True]
    # Long's noise session dated before the first one stays where the file put it
    assert [s.start_time for s in ana.sessions][:2] == ["Jan 10, 2026, 09:00:00", "Nov 03, 2025, 14:22:05"]
    first = martin.sessions[0]
    assert first.end_time == "Dec 15, 2025, 06:14:50"
    assert [(t.role, t.timestamp) for t in first.turns] == [
        ("user", "Dec 15, 2025, 06:11:23"),
        ("assistant", "Dec 15, 2025, 06:11:23"),
        ("user", "Dec 15, 2025, 06:14:50"),
        ("assistant", "Dec 15, 2025, 06:14:50"),
    ]
    assert first.turns[2].content == "Ten years. I work as a nurse at Saint Clare Hospital."


def test_systems_never_see_gold(dataset: Dataset) -> None:
    ingested = json.dumps([e.model_dump()["sessions"] for e in dataset.episodes])
    assert "memory_content" not in ingested and "Occupation" not in ingested
    assert "Unknown; not provided" not in ingested


def test_probe_ids_and_order(dataset: Dataset) -> None:
    assert [p.probe_id for p in dataset.probes] == [
        f"{MARTIN}:s0:extraction",
        f"{MARTIN}:s0:qa:0",
        f"{MARTIN}:s1:extraction",
        f"{MARTIN}:s1:update:1",
        f"{MARTIN}:s2:extraction",
        f"{MARTIN}:s2:update:1",
        f"{MARTIN}:s2:qa:0",
        f"{MARTIN}:s2:qa:1",
        f"{MARTIN}:s2:qa:2",
        f"{ANA}:s0:extraction",
        f"{ANA}:s2:extraction",  # no memory points, but its extracted memories are judged (as officially)
    ]
    assert [p.after_session for p in dataset.probes] == [0, 0, 1, 1, 2, 2, 2, 2, 2, 0, 2]


def test_extraction_probe_gold_points(dataset: Dataset) -> None:
    probe = _probes(dataset)[f"{MARTIN}:s1:extraction"]
    assert (probe.kind, probe.mode, probe.question, probe.query) == ("extraction", "session_memories", "", "")
    # what a failed record needs to count its points: [index, type, importance, distractor, update]
    assert json.loads(probe.labels["_gold_points"]) == [
        [1, "Persona Memory", 1.0, False, True],
        [2, "Persona Memory", None, True, False],
        [3, "Event Memory", 0.5, False, False],
    ]
    update, distractor, feeling = probe.gold["memory_points"]
    assert update == {
        "point_id": f"{MARTIN}:s1:m1",
        "index": 1,
        "content": "Martin Mark moved from Porto to Lisbon in March 2026.",
        "memory_type": "Persona Memory",
        "source": "system",
        "is_distractor": False,
        "is_update": True,
        "original_memories": ["Martin Mark lives in Porto."],
        "importance": 1.0,
        "keys": None,
    }
    assert distractor["is_distractor"] is True
    assert distractor["source"] == "interference"
    assert distractor["importance"] is None
    assert distractor["is_update"] is False
    assert feeling["memory_type"] == "Event Memory"  # "Event memory" normalised
    assert feeling["is_update"] is False  # a JSON boolean
    assert feeling["importance"] == 0.5
    first = _probes(dataset)[f"{MARTIN}:s0:extraction"].gold["memory_points"][1]
    assert first["importance"] == 1.0 and isinstance(first["importance"], float)  # written as 1


def test_a_real_session_without_memory_points_still_gets_an_extraction_probe(dataset: Dataset) -> None:
    probes = _probes(dataset)
    empty = probes[f"{ANA}:s2:extraction"]
    assert (empty.gold, empty.labels) == ({"memory_points": []}, {"_gold_points": "[]"})
    assert f"{ANA}:s1:extraction" not in probes and f"{ANA}:s3:extraction" not in probes  # noise sessions


def test_update_probes(dataset: Dataset) -> None:
    probes = _probes(dataset)
    string_flag = probes[f"{MARTIN}:s1:update:1"]
    assert (string_flag.kind, string_flag.mode, string_flag.top_k) == ("update", "retrieve", 10)
    assert string_flag.query == "Martin Mark moved from Porto to Lisbon in March 2026."
    assert string_flag.question == ""
    assert string_flag.gold["point"]["point_id"] == f"{MARTIN}:s1:m1"
    assert string_flag.labels == {"memory_type": "Persona Memory"}
    bool_flag = probes[f"{MARTIN}:s2:update:1"]
    assert bool_flag.gold["point"]["original_memories"] == [
        "Martin Mark works as a nurse at Saint Clare Hospital."
    ]
    # "True" with no original memories is not probed (the official adapters skip it too)
    assert f"{MARTIN}:s2:update:2" not in probes
    unprobed = probes[f"{MARTIN}:s2:extraction"].gold["memory_points"][1]
    assert unprobed["is_update"] is True and unprobed["original_memories"] == []
    assert unprobed["memory_type"] == "Relationship Memory"  # "[Apr 20, ...][Relationship Memory]" normalised


def test_qa_probes(dataset: Dataset) -> None:
    probes = _probes(dataset)
    first = probes[f"{MARTIN}:s0:qa:0"]
    assert (first.kind, first.mode, first.top_k) == ("qa", "answer", 20)
    assert first.question == first.query == "Where does Martin Mark live?"
    assert first.gold == {
        "answer": "Porto.",
        "evidence": [{"memory_content": "Martin Mark lives in Porto.", "memory_type": "Persona Memory"}],
        "keys": None,
    }
    assert first.labels == {
        "question_type": "Basic Fact Recall",
        "difficulty": "easy",
        EVIDENCE_LABEL: evidence_label([Evidence(f"{MARTIN}:s0", None, "Martin Mark lives in Porto.")]),
    }
    boundary = probes[f"{MARTIN}:s2:qa:0"]
    assert boundary.gold["evidence"] == []
    assert boundary.labels == {"question_type": "Memory Boundary", "difficulty": "easy"}
    multi_hop = probes[f"{MARTIN}:s2:qa:1"]
    # evidence types are kept verbatim, malformed or not
    assert multi_hop.gold["evidence"][0]["memory_type"] == "[Dec 01, 2037, 22:12:52][Relationship Memory]"
    assert probes[f"{MARTIN}:s2:qa:2"].labels["question_type"] == "Memory Conflict"


def test_question_evidence_is_placed_in_the_sessions_that_state_it(dataset: Dataset) -> None:
    """The evidence names points by content only: each is found in its question's session or an
    earlier one, and becomes session-level evidence with that content as its text."""
    probes = _probes(dataset)
    assert parse_evidence_label(probes[f"{MARTIN}:s2:qa:1"].labels[EVIDENCE_LABEL]) == (
        Evidence(f"{MARTIN}:s2", None, "Martin Mark's sister Paula visits him in Lisbon every spring."),
        Evidence(f"{MARTIN}:s0", None, "Martin Mark lives in Porto."),
    )
    assert parse_evidence_label(probes[f"{MARTIN}:s2:qa:2"].labels[EVIDENCE_LABEL]) == (
        Evidence(f"{MARTIN}:s2", None, "Martin Mark now works as a head nurse at Saint Clare Hospital."),
    )


def test_evidence_no_earlier_session_states_is_left_out_and_counted(tmp_path: Path) -> None:
    """A question citing a point of a later session (or of none) cannot be placed: the official
    questions never do, so it is counted in the metadata rather than guessed."""
    martin = json.loads(FIXTURE.read_text(encoding="utf-8").splitlines()[0])
    question = martin["sessions"][0]["questions"][0]
    question["evidence"] = [
        {"memory_content": "Martin Mark works as a pharmacist.", "memory_type": "Persona Memory"},  # s1
        {"memory_content": "Martin Mark lives in Porto.", "memory_type": "Persona Memory"},
        {"memory_content": "Martin Mark owns a boat.", "memory_type": "Persona Memory"},  # no point
    ]
    path = tmp_path / "sample.jsonl"
    path.write_text(json.dumps(martin) + "\n", encoding="utf-8")
    loaded = load_halumem(path)
    assert loaded.metadata["evidence_unplaced"] == 2
    first = _probes(loaded)[f"{MARTIN}:s0:qa:0"]
    assert len(first.gold["evidence"]) == 3, "the gold keeps every item, placed or not"
    assert parse_evidence_label(first.labels[EVIDENCE_LABEL]) == (
        Evidence(f"{MARTIN}:s0", None, "Martin Mark lives in Porto."),
    )


def test_variant_from_official_file_name_or_argument(tmp_path: Path) -> None:
    medium = tmp_path / "halumem-MEDIUM.jsonl"
    shutil.copy(FIXTURE, medium)
    loaded = load_halumem(medium)
    assert loaded.metadata["variant"] == "medium"
    assert {e.metadata["variant"] for e in loaded.episodes} == {"medium"}
    assert load_halumem(FIXTURE, variant="medium").metadata["variant"] == "medium"
    with pytest.raises(ConfigError, match="variant must be one of medium, long"):
        load_halumem(FIXTURE, variant="short")


def test_a_file_without_noise_sessions_is_medium(tmp_path: Path) -> None:
    path = tmp_path / "sample.jsonl"
    path.write_text(FIXTURE.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert load_halumem(path).metadata == {
        "variant": "medium",
        "users": 1,
        "sessions": 3,
        "noise_sessions": 0,
        "evidence_unplaced": 0,
    }


def test_verify_sha256(tmp_path: Path) -> None:
    digest = hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    assert verify_sha256(FIXTURE, digest.upper()) == digest
    with pytest.raises(ConfigError) as info:
        verify_sha256(FIXTURE, "0" * 64)
    message = str(info.value)
    assert str(FIXTURE) in message and digest in message and "0" * 64 in message
    with pytest.raises(ConfigError, match="cannot read"):
        verify_sha256(tmp_path / "absent.jsonl", digest)


# ---------------------------------------------------------------- broken inputs


def _users() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def _write_users(tmp_path: Path, users: list[dict[str, Any]]) -> Path:
    path = tmp_path / "broken.jsonl"
    path.write_text("".join(json.dumps(u) + "\n" for u in users), encoding="utf-8")
    return path


def _load_error(path: Path) -> str:
    with pytest.raises(DataError) as info:
        load_halumem(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    return message


def test_missing_field(tmp_path: Path) -> None:
    users = _users()
    del users[1]["sessions"][0]["memory_points"][0]["memory_content"]
    message = _load_error(_write_users(tmp_path, users))
    assert (
        message
        == f"{tmp_path / 'broken.jsonl'}:2: field 'sessions[0].memory_points[0].memory_content' is missing"
    )


def test_wrong_type(tmp_path: Path) -> None:
    users = _users()
    users[0]["sessions"][1]["dialogue"][3]["content"] = ["not", "text"]
    message = _load_error(_write_users(tmp_path, users))
    assert ":1: field 'sessions[1].dialogue[3].content' must be a string, got a list" in message


def test_a_bad_string_boolean(tmp_path: Path) -> None:
    users = _users()
    users[0]["sessions"][2]["memory_points"][0]["is_update"] = "yes"
    message = _load_error(_write_users(tmp_path, users))
    assert (
        ':1: field \'sessions[2].memory_points[0].is_update\' must be true/false or "True"/"False"' in message
    )


def test_question_field_paths(tmp_path: Path) -> None:
    users = _users()
    del users[0]["sessions"][2]["questions"][1]["evidence"][0]["memory_type"]
    message = _load_error(_write_users(tmp_path, users))
    assert message.endswith(":1: field 'sessions[2].questions[1].evidence[0].memory_type' is missing")


def test_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "HaluMem-Medium.jsonl"
    data = FIXTURE.read_bytes()
    path.write_bytes(data[: len(data) - 400])
    message = _load_error(path)
    assert message.startswith(f"{path}:2: is not valid JSON (")
    assert message.endswith("truncated?")


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "HaluMem-Medium.jsonl"
    data = FIXTURE.read_bytes().replace(b"Chispa", b"Ch\xe9spa", 1)
    path.write_bytes(data)
    message = _load_error(path)
    column = data.splitlines()[1].index(b"\xe9") + 1
    assert message == f"{path}:2: is not valid UTF-8 (byte 0xe9 at column {column})"


def test_duplicate_users_and_missing_names_are_refused(tmp_path: Path) -> None:
    users = _users()
    message = _load_error(_write_users(tmp_path, [users[0], users[1], users[0]]))
    assert message.endswith(":3: field 'uuid' repeats the uuid of line 1")
    users[1]["persona_info"] = "Gender: Female; Age: 29"
    message = _load_error(_write_users(tmp_path, users))
    assert ":2: field 'persona_info' has no 'Name: First Last;' entry" in message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    assert _load_error(path) == f"{path}: holds no users (the file is empty)"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("NaN", "must be a finite number, got nan"),
        ("Infinity", "must be a finite number, got inf"),
        ("-Infinity", "must be a finite number, got -inf"),
        ("1e999", "must be a finite number, got inf"),
        ("1" + "0" * 400, "is too large a number"),
        ("-0.5", "must be at least 0, got -0.5"),
    ],
)
def test_an_importance_that_is_no_usable_weight_is_refused(tmp_path: Path, raw: str, problem: str) -> None:
    users = _users()
    users[0]["sessions"][2]["memory_points"][0]["importance"] = "IMPORTANCE"
    path = _write_users(tmp_path, users)
    path.write_text(path.read_text(encoding="utf-8").replace('"IMPORTANCE"', raw), encoding="utf-8")
    message = _load_error(path)
    assert f":1: field 'sessions[2].memory_points[0].importance' {problem}" in message


def test_roles_and_times_outside_the_release_format_are_refused(tmp_path: Path) -> None:
    users = _users()
    users[1]["sessions"][0]["dialogue"][2]["role"] = "Dec 15, 2025, 06:11:23"  # swapped with its timestamp
    message = _load_error(_write_users(tmp_path, users))
    assert ":2: field 'sessions[0].dialogue[2].role' must be one of user, assistant" in message
    users = _users()
    users[0]["sessions"][2]["end_time"] = "user"
    message = _load_error(_write_users(tmp_path, users))
    assert (
        ":1: field 'sessions[2].end_time' must be a time like 'Dec 15, 2025, 06:11:23', got \"user\""
        in message
    )
