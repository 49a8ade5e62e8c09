"""The seeded HaluMem builder: official schema, determinism, and the guarantees the rule judge relies on."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError
from membench.core.retrieval import EVIDENCE_LABEL, parse_evidence_label
from membench_builders import halumem, halumem_story
from membench_builders import halumem_vocab as vocab
from membench_builders.halumem import build_halumem, main
from membench_tasks.halumem.loader import load_halumem

QUESTION_TYPES = {
    "Basic Fact Recall",
    "Multi-hop Inference",
    "Dynamic Update",
    "Memory Boundary",
    "Memory Conflict",
    "Generalization & Application",
}
TIME = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d, \d{4}, \d\d:\d\d:\d\d$")


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def _has(text: str, phrase: str) -> bool:
    """The data contract's phrase match: normalised text, whole words."""
    return f" {_normalise(phrase)} " in f" {_normalise(text)} "


def _build(tmp_path: Path, name: str = "halumem.jsonl", **kwargs: Any) -> list[dict[str, Any]]:
    path = build_halumem(tmp_path / name, **kwargs)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _user_turns(session: dict[str, Any]) -> list[str]:
    return [m["content"] for m in session["dialogue"] if m["role"] == "user"]


def _real(user: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in user["sessions"] if not s.get("is_generated_qa_session")]


@pytest.fixture(scope="module")
def default_users(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return _build(tmp_path_factory.mktemp("default"))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = build_halumem(tmp_path / "a.jsonl", seed=7, variant="long", noise=2).read_bytes()
    again = build_halumem(tmp_path / "b.jsonl", seed=7, variant="long", noise=2).read_bytes()
    other = build_halumem(tmp_path / "c.jsonl", seed=8, variant="long", noise=2).read_bytes()
    assert first == again
    assert first != other
    assert first.endswith(b"\n") and b"\r" not in first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "c.jsonl"]  # no temp files


def test_every_type_and_source_is_present(default_users: list[dict[str, Any]]) -> None:
    assert len(default_users) == 3
    questions = [q for u in default_users for s in u["sessions"] for q in s.get("questions", [])]
    points = [p for u in default_users for s in u["sessions"] for p in s["memory_points"]]
    assert {q["question_type"] for q in questions} == QUESTION_TYPES
    assert {p["memory_type"] for p in points} == {"Persona Memory", "Event Memory", "Relationship Memory"}
    assert {p["memory_source"] for p in points} == {"system", "secondary", "interference"}
    assert {q["difficulty"] for q in questions} <= {"easy", "medium", "hard"}
    assert any(p["is_update"] == "True" for p in points)


def test_memory_point_fields(default_users: list[dict[str, Any]]) -> None:
    for user in default_users:
        for session in user["sessions"]:
            assert [p["index"] for p in session["memory_points"]] == list(
                range(1, len(session["memory_points"]) + 1)
            )
            for point in session["memory_points"]:
                assert point["is_update"] in ("True", "False")
                assert (point["is_update"] == "True") == bool(point["original_memories"])
                assert TIME.match(point["timestamp"])
                if point["memory_source"] == "interference":
                    assert "importance" not in point
                elif point["memory_source"] == "system":
                    assert point["importance"] == 1.0
                else:
                    assert point["importance"] in (0.25, 0.5, 0.75)
                keys = point["membench_keys"]
                assert keys["required"] and all(_has(point["memory_content"], r) for r in keys["required"])


def test_counts_and_dialogue_shape(default_users: list[dict[str, Any]]) -> None:
    for user in default_users:
        assert user["persona_info"].startswith("Name: ")
        assert user["token_cost"] == {}
        assert user["total_question_count"] == sum(s.get("question_count", 0) for s in user["sessions"])
        assert user["total_dialogue_token_length"] == sum(
            s["dialogue_token_length"] for s in user["sessions"]
        )
        starts = []
        for session in user["sessions"]:
            dialogue = session["dialogue"]
            assert session["dialogue_turn_num"] == 8 == len(dialogue) // 2
            assert [m["role"] for m in dialogue] == ["user", "assistant"] * 8
            assert [m["dialogue_turn"] for m in dialogue] == [t for t in range(8) for _ in (0, 1)]
            for user_message, reply in itertools.pairwise(dialogue):
                if user_message["role"] == "user":
                    assert reply["timestamp"] == user_message["timestamp"]
            assert session["dialogue_token_length"] == sum(len(m["content"].split()) for m in dialogue)
            assert session["memory_points_count"] == len(session["memory_points"])
            if "questions" in session:
                assert session["question_count"] == len(session["questions"])
            assert TIME.match(session["start_time"]) and TIME.match(session["end_time"])
            assert session["start_time"] == dialogue[0]["timestamp"]
            assert session["end_time"] == dialogue[-1]["timestamp"]
            starts.append(halumem.parse_time(session["start_time"]))
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_some_sessions_have_no_questions_key(default_users: list[dict[str, Any]]) -> None:
    sessions = [s for u in default_users for s in u["sessions"]]
    missing = [s for s in sessions if "questions" not in s]
    assert missing and all("question_count" not in s for s in missing)
    assert len(missing) < len(sessions)


def test_user_turns_state_every_real_fact(default_users: list[dict[str, Any]]) -> None:
    for user in default_users:
        for session in user["sessions"]:
            turns = _user_turns(session)
            for point in session["memory_points"]:
                if point["memory_source"] != "interference":
                    for phrase in point["membench_keys"]["required"]:
                        assert any(_has(turn, phrase) for turn in turns), (point["memory_content"], phrase)


def test_questions_carry_evidence_and_keys(default_users: list[dict[str, Any]]) -> None:
    for user in default_users:
        contents: set[str] = set()  # the points stated so far: evidence never cites a later session
        for session in user["sessions"]:
            contents |= {p["memory_content"] for p in session["memory_points"]}
            for question in session.get("questions", []):
                keys = question["membench_keys"]
                boundary = question["question_type"] == "Memory Boundary"
                assert keys["unknown"] is boundary
                assert (question["evidence"] == []) is boundary
                assert (keys["required"] == []) is boundary
                assert all(_has(question["answer"], phrase) for phrase in keys["required"])
                assert all(e["memory_content"] in contents for e in question["evidence"])
                assert not set(keys["required"]) & set(keys["reject"])


def _stating_turns(session: dict[str, Any], point: dict[str, Any]) -> list[str]:
    """The user turns of the round a point was stated in (Long's noise rounds share its timestamp)."""
    return [
        m["content"]
        for m in session["dialogue"]
        if m["role"] == "user" and m["timestamp"] == point["timestamp"]
    ]


def _states_stale_value(turns: list[str], keys: dict[str, list[str]]) -> bool:
    """One turn names the slot's subject and every superseded phrase: what the rule judge calls stale."""
    return any(
        any(_has(turn, phrase) for phrase in keys["subject"])
        and all(_has(turn, phrase) for phrase in keys["stale"])
        for turn in turns
    )


def _check_updates_and_distractors(users: list[dict[str, Any]]) -> tuple[int, int]:
    updates = distractors = 0
    for user in users:
        all_user_turns = [t for s in user["sessions"] for t in _user_turns(s)]
        earlier_turns: list[str] = []
        earlier_contents: set[str] = set()
        stated_in: dict[str, list[str]] = {}
        for session in user["sessions"]:
            for point in session["memory_points"]:
                if point["is_update"] == "True":
                    updates += 1
                    assert point["membench_keys"]["stale"]
                    assert set(point["original_memories"]) <= earlier_contents
                    for phrase in point["membench_keys"]["stale"]:
                        assert any(_has(turn, phrase) for turn in earlier_turns), phrase
                        assert not _has(point["memory_content"], phrase)
                    for original in point["original_memories"]:
                        assert _states_stale_value(stated_in[original], point["membench_keys"]), original
                if point["memory_source"] == "interference":
                    distractors += 1
                    for phrase in point["membench_keys"]["required"]:
                        assert not any(_has(turn, phrase) for turn in all_user_turns), phrase
                        assert any(
                            _has(m["content"], phrase)
                            for m in session["dialogue"]
                            if m["role"] == "assistant"
                        )
            earlier_turns += _user_turns(session)
            earlier_contents |= {p["memory_content"] for p in session["memory_points"]}
            stated_in |= {p["memory_content"]: _stating_turns(session, p) for p in session["memory_points"]}
    return updates, distractors


def test_updates_supersede_earlier_statements_and_distractors_are_never_said_by_the_user(
    default_users: list[dict[str, Any]],
) -> None:
    updates, distractors = _check_updates_and_distractors(default_users)
    assert updates >= 3 and distractors >= 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_guarantees_hold_on_long_stories_with_noise(tmp_path: Path, seed: int) -> None:
    # 60 sessions cycle every chapter several times and exhaust parts of the vocabulary
    users = _build(tmp_path, users=2, sessions=60, variant="long", noise=4, seed=seed)
    updates, distractors = _check_updates_and_distractors(users)
    assert updates > 20 and distractors > 20


def test_vocabulary_phrases_never_contain_one_another() -> None:
    values = [
        *vocab.FEMALE_NAMES, *vocab.MALE_NAMES, *vocab.LAST_NAMES, *vocab.CITIES, *vocab.JOBS,
        *vocab.EMPLOYERS, *vocab.HOBBIES, *vocab.FOODS, *vocab.PETS, *vocab.PET_NAMES,
        *vocab.EMOTIONS, *vocab.WEEKDAYS, *(key for _, _, key in vocab.EVENTS),
    ]  # fmt: skip
    assert len(set(values)) == len(values)
    for a, b in itertools.permutations(values, 2):
        assert not _has(b, a), (a, b)
    fixed = [
        *vocab.FILLER_USER,
        *(q for q, _ in vocab.NOISE_TRIVIA),
        *(e for e, _ in vocab.NOISE_ELEMENTS),
    ]
    for value in itertools.chain.from_iterable(halumem_story.FALSIFIABLE.values()):
        assert not any(_has(text, value) for text in fixed), value


def test_long_variant_noise(tmp_path: Path) -> None:
    medium = _build(tmp_path, "m.jsonl", seed=3)
    long = _build(tmp_path, "l.jsonl", seed=3, variant="long", noise=3)
    for m_user, l_user in zip(medium, long, strict=True):
        sessions = l_user["sessions"]
        noise = [s for s in sessions if s.get("is_generated_qa_session")]
        assert len(noise) == 3 and not sessions[0].get("is_generated_qa_session")
        assert [s["session_id"] for s in sessions] == list(range(len(sessions)))
        for session in noise:
            assert session["is_generated_qa_session"] is True
            assert session["generation_source"] == "stage6_3_supplement"
            assert session["title"] == "Pure_QA_Session"
            assert (session["memory_points"], session["questions"], session["question_count"]) == ([], [], 0)
            assert session["dialogue_turn_num"] == 8
            assert (
                {m["timestamp"] for m in session["dialogue"]}
                == {session["start_time"]}
                == {session["end_time"]}
            )
        # Medium's content is unchanged underneath the noise
        real = _real(l_user)
        assert [s["memory_points"] for s in real] == [s["memory_points"] for s in m_user["sessions"]]
        assert [s.get("questions") for s in real] == [s.get("questions") for s in m_user["sessions"]]
        for l_session, m_session in zip(real, m_user["sessions"], strict=True):
            inserted = l_session["dialogue_turn_num"] - m_session["dialogue_turn_num"]
            assert inserted in (1, 2)
            assert [m["dialogue_turn"] for m in l_session["dialogue"]] == [
                t for t in range(l_session["dialogue_turn_num"]) for _ in (0, 1)
            ]
            assert l_session["dialogue_token_length"] == sum(
                len(m["content"].split()) for m in l_session["dialogue"]
            )
            stamps = [m["timestamp"] for m in l_session["dialogue"]]
            assert set(stamps) == {m["timestamp"] for m in m_session["dialogue"]}  # copied from neighbours
        assert l_user["total_dialogue_token_length"] == sum(s["dialogue_token_length"] for s in sessions)


def test_long_sessions_are_not_always_in_time_order(tmp_path: Path) -> None:
    def time_sorted(seed: int) -> bool:
        users = _build(tmp_path, f"l{seed}.jsonl", users=1, variant="long", noise=3, seed=seed)
        starts = [halumem.parse_time(s["start_time"]) for s in users[0]["sessions"]]
        return starts == sorted(starts)

    assert not all(time_sorted(seed) for seed in range(10))


def test_loader_reads_the_builder_output_per_contract(tmp_path: Path) -> None:
    path = build_halumem(tmp_path / "built.jsonl", variant="long", noise=2, seed=5)
    users = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    dataset = load_halumem(path, variant="long")
    assert dataset.metadata == {
        "variant": "long",
        "users": 3,
        "sessions": 3 * 8,
        "noise_sessions": 6,
        "evidence_unplaced": 0,
    }
    expected: list[tuple[str, str, str, dict[str, Any]]] = []
    for user in users:
        uid = user["uuid"]
        for i, session in enumerate(user["sessions"]):
            if session.get("is_generated_qa_session"):
                continue
            points = session["memory_points"]
            expected.append((f"{uid}:s{i}:extraction", "", "", {}))
            for point in points:
                if point["is_update"] == "True":
                    keys = point["membench_keys"]
                    expected.append(
                        (f"{uid}:s{i}:update:{point['index']}", point["memory_content"], "", keys)
                    )
            for j, question in enumerate(session.get("questions", [])):
                expected.append(
                    (
                        f"{uid}:s{i}:qa:{j}",
                        question["question"],
                        question["answer"],
                        question["membench_keys"],
                    )
                )
    got = []
    for probe in dataset.probes:
        if probe.kind == "extraction":
            got.append((probe.probe_id, probe.query, "", {}))
        elif probe.kind == "update":
            got.append((probe.probe_id, probe.query, "", probe.gold["point"]["keys"]))
        else:
            got.append((probe.probe_id, probe.query, probe.gold["answer"], probe.gold["keys"]))
    assert got == expected
    assert Counter(p.kind for p in dataset.probes)["update"] >= 3
    for episode, user in zip(dataset.episodes, users, strict=True):
        assert episode.metadata["persona_name"] == user["persona_info"].split(";")[0].removeprefix("Name: ")
        assert [s.evaluated for s in episode.sessions] == [
            not s.get("is_generated_qa_session") for s in user["sessions"]
        ]
    # every question's evidence is placed in a session, at or before the question's, that states it
    earlier = 0
    for probe in (p for p in dataset.probes if p.kind == "qa"):
        user = users[[e.episode_id for e in dataset.episodes].index(probe.episode_id)]
        evidence = parse_evidence_label(probe.labels.get(EVIDENCE_LABEL, ""))
        assert [e.text for e in evidence] == [e["memory_content"] for e in probe.gold["evidence"]]
        for e in evidence:
            index = int(e.session_id.rpartition(":s")[2])
            assert index <= probe.after_session
            assert e.text in {p["memory_content"] for p in user["sessions"][index]["memory_points"]}
            earlier += index < probe.after_session
    assert earlier, "some questions cite an earlier session"


def test_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.jsonl"
    assert main(["--out", str(out), "--users", "2", "--sessions", "3", "--seed", "4"]) == 0
    assert out.read_bytes() == build_halumem(tmp_path / "api.jsonl", users=2, sessions=3, seed=4).read_bytes()
    assert str(out) in capsys.readouterr().out


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "x.jsonl"), "--turns", "3"]) == 2
    assert "turns must be at least 6" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="need variant=long"):
        build_halumem(tmp_path / "y.jsonl", noise=2)
    with pytest.raises(ConfigError, match="at least 1"):
        build_halumem(tmp_path / "y.jsonl", users=0)


@pytest.mark.parametrize(
    "size",
    [
        {"users": 10, "sessions": 8, "turns": 8},
        {"users": 2, "sessions": 20, "turns": 30},
        {"users": 2, "sessions": 4, "turns": 8, "variant": "long", "noise": 5},
    ],
)
def test_the_size_estimate_is_within_a_factor_of_two_of_the_file(
    tmp_path: Path, size: dict[str, Any]
) -> None:
    written = build_halumem(tmp_path / "h.jsonl", **size).stat().st_size
    estimate = halumem.estimated_bytes(size["users"], size["sessions"], size["turns"], size.get("noise", 0))
    assert written / 2 <= estimate <= written * 2


def test_a_size_that_cannot_fit_is_refused_naming_the_estimate_before_any_write(tmp_path: Path) -> None:
    out = tmp_path / "data" / "halumem.jsonl"
    with pytest.raises(
        ConfigError, match=r"would write about 32,000\.0 GB, over the builder's limit of 2 GB"
    ):
        build_halumem(out, users=1_000_000_000, sessions=8, turns=8)
    assert not (tmp_path / "data").exists()


def test_the_task_refuses_a_billion_users_at_once_writing_nothing(tmp_path: Path) -> None:
    from membench_tasks.halumem.task import HaluMemTask

    task = HaluMemTask({"users": "1000000000"}, tmp_path / "halumem")
    with pytest.raises(ConfigError, match=r"users=1000000000, .* about 32,000\.0 GB"):
        task.load()
    assert list(tmp_path.iterdir()) == []
