"""The offline LoCoMo builder: the official schema, all five categories, keys the reader can answer."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench.core.retrieval import parse_evidence_label
from membench.systems.baselines import TurnLog
from membench_builders.locomo import build_locomo, date_time_text
from membench_tasks.locomo.keys import Keys, is_right
from membench_tasks.locomo.loader import load_locomo
from membench_tasks.locomo.reader import NOT_MENTIONED, TurnMatchReader


def test_same_seed_same_bytes_and_another_seed_other_data(tmp_path: Path) -> None:
    first = build_locomo(
        tmp_path / "a.json", conversations=2, sessions=3, turns=8, decoys=1, seed=4
    ).read_bytes()
    again = build_locomo(
        tmp_path / "b.json", conversations=2, sessions=3, turns=8, decoys=1, seed=4
    ).read_bytes()
    other = build_locomo(
        tmp_path / "c.json", conversations=2, sessions=3, turns=8, decoys=1, seed=5
    ).read_bytes()
    assert first == again != other


def test_growing_the_file_keeps_the_first_conversations(tmp_path: Path) -> None:
    small = json.loads(build_locomo(tmp_path / "a.json", conversations=2, seed=1).read_text("utf-8"))
    large = json.loads(build_locomo(tmp_path / "b.json", conversations=3, seed=1).read_text("utf-8"))
    assert large[:2] == small


def test_the_file_has_the_official_fields_and_every_category(tmp_path: Path) -> None:
    samples = json.loads(
        build_locomo(tmp_path / "l.json", conversations=2, sessions=4, turns=8, decoys=1).read_text("utf-8")
    )
    conversation = samples[0]["conversation"]
    assert set(samples[0]) == {"sample_id", "conversation", "qa"}
    assert {f"session_{n}" for n in range(1, 5)} | {f"session_{n}_date_time" for n in range(1, 5)} | {
        "speaker_a",
        "speaker_b",
    } == set(conversation)
    assert [t["dia_id"] for t in conversation["session_2"]] == [f"D2:{i}" for i in range(1, 9)]
    speakers = [t["speaker"] for t in conversation["session_1"]]
    assert speakers == [conversation["speaker_a"], conversation["speaker_b"]] * 4
    assert Counter(q["category"] for q in samples[0]["qa"]) == {1: 2, 2: 2, 3: 2, 4: 2, 5: 4}
    for item in samples[0]["qa"]:
        answer_field = "adversarial_answer" if item["category"] == 5 else "answer"
        assert set(item) == {"question", answer_field, "evidence", "category", "membench_keys"}
        assert item["evidence"] and item["membench_keys"]["abstain"] == (item["category"] == 5)
    images = [
        t
        for s in samples
        for k, v in s["conversation"].items()
        if k[-1].isdigit()
        for t in v
        if "blip_caption" in t
    ]
    assert images and all(
        set(t) == {"speaker", "dia_id", "text", "img_url", "blip_caption", "query"} for t in images
    )


def test_dates_are_in_the_originals_format() -> None:
    assert date_time_text(datetime(2023, 5, 8, 13, 56)) == "1:56 pm on 8 May, 2023"
    assert date_time_text(datetime(2023, 5, 8, 0, 5)) == "12:05 am on 8 May, 2023"


def test_the_offline_reader_is_right_on_every_item_from_its_evidence_and_from_everything(
    tmp_path: Path,
) -> None:
    """The keys are machine-checkable and answerable: from the whole history, and from the evidence
    turns alone (an adversarial item's evidence is the other speaker's turn, so the reader declines)."""
    dataset = load_locomo(build_locomo(tmp_path / "l.json", conversations=3, sessions=5, turns=10), top_k=10)
    episodes = {e.episode_id: e for e in dataset.episodes}
    reader = TurnMatchReader()
    for probe in dataset.probes:
        log = TurnLog()
        for session in episodes[probe.episode_id].sessions:
            log.add(session)
        memories = log.all()
        keys = Keys.from_json(probe.gold["keys"])
        assert is_right(reader.read(probe.question, memories), keys), probe.probe_id
        evidence = parse_evidence_label(probe.labels["_evidence"])
        held = [m for m in memories if m.position in {e.position for e in evidence}]
        assert len(held) == len(evidence) >= 1
        from_evidence = reader.read(probe.question, held)
        assert is_right(from_evidence, keys), probe.probe_id
        assert (from_evidence == NOT_MENTIONED) == keys.abstain


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"conversations": 0}, "conversations must be between 1 and 10, got 0"),
        ({"sessions": 1}, "sessions must be at least 2 (multi-hop facts span two), got 1"),
        ({"sessions": 2, "turns": 4, "decoys": 0}, "turns must be at least 2 and leave each speaker 5 turns"),
        ({"sessions": 2, "turns": 10}, "leave each speaker 13 turns over the sessions (5 facts and 2 decoys"),
        ({"decoys": -1}, "decoys must be 0 or more per fact type, got -1"),
    ],
)
def test_impossible_options_are_refused_before_writing(
    tmp_path: Path, options: dict[str, int], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_locomo(tmp_path / "l.json", **options)
    assert not (tmp_path / "l.json").exists()


def test_decoys_repeat_a_facts_words_without_its_answer(tmp_path: Path) -> None:
    samples = json.loads(build_locomo(tmp_path / "l.json", conversations=1, decoys=2).read_text("utf-8"))
    conversation = samples[0]["conversation"]
    turns = [t for key, value in conversation.items() if key[-1].isdigit() for t in value]
    pet = samples[0]["qa"][0]  # "What is the name of <speaker A>'s <kind>?"
    kind = pet["question"].rstrip("?").split()[-1]
    said = [
        t["text"]
        for t in turns
        if t["speaker"] == conversation["speaker_a"] and kind in t["text"].replace(".", " ").split()
    ]
    assert pet["category"] == 4 and len(said) == 3  # the fact and its two decoys
    assert [text for text in said if pet["answer"] in text] == [f"My {kind} is named {pet['answer']}."]
