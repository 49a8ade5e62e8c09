"""The fact-match reader: exact on every built item given full context, wrong without the evidence."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from membench.core.text import normalize
from membench.core.types import Memory, Probe, Session, Turn
from membench.systems.baselines import TurnLog
from membench_builders import convomem as builder
from membench_tasks.convomem.keys import ABSTENTION, Keys, is_right
from membench_tasks.convomem.reader import FactMatchReader, subject_names

READER = FactMatchReader()
START = datetime(2024, 1, 1, 9)


@dataclass(frozen=True)
class Built:
    label: str
    persona: str
    question: str
    keys: Keys
    conversations: list[dict[str, Any]]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Built], dict[str, list[dict[str, Any]]]]:
    """Every item of a two-persona default build, and each persona's 300 filler conversations."""
    tree = builder.build_convomem(tmp_path_factory.mktemp("cm") / "data", personas=2) / "core_benchmark"
    items = [
        Built(
            label=builder.LABELS[path.parent.parent.name],
            persona=path.stem,
            question=item["question"],
            keys=Keys.from_json(item["membench_keys"]),
            conversations=item["conversations"],
        )
        for path in sorted((tree / "evidence_questions").rglob("*.json"))
        for item in json.loads(path.read_text("utf-8"))["evidence_items"]
    ]
    filler = {
        path.stem: json.loads(path.read_text("utf-8"))["evidence_items"][0]["conversations"]
        for path in sorted((tree / "filler_conversations").glob("*.json"))
    }
    return items, filler


def memories(conversations: list[dict[str, Any]]) -> list[Memory]:
    """A haystack as full context sees it: the contract's sessions (conversation ``i`` starts on day
    ``i``, every turn stamped with its session's start) stored as ``TurnLog`` turns."""
    log = TurnLog()
    for i, conversation in enumerate(conversations):
        start = (START + timedelta(days=i)).isoformat()
        turns = [
            Turn(role=m["speaker"].lower(), content=m["text"], timestamp=start)
            for m in conversation["messages"]
        ]
        log.add(Session(session_id=conversation["id"], turns=turns, start_time=start))
    return log.all()


def mix(
    rng: random.Random, filler: list[dict[str, Any]], groups: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """``filler`` with every group's conversations at random positions, each group's order kept (the
    rebuilt haystacks' rule)."""
    evidence = [c for group in groups for c in group]
    owners = rng.sample([g for g, group in enumerate(groups) for _ in group], len(evidence))
    queues = [list(group) for group in groups]
    interleaved = [queues[g].pop(0) for g in owners]
    total = len(filler) + len(interleaved)
    slots = set(rng.sample(range(total), len(interleaved)))
    rest, ev = iter(filler), iter(interleaved)
    return [next(ev) if i in slots else next(rest) for i in range(total)]


def test_every_item_is_right_with_its_evidence_among_100_filler(release: tuple[list[Built], Any]) -> None:
    """The standard layout: one item's evidence at random positions among 100 of its persona's filler
    (all 300 filler: the batched test below)."""
    items, filler = release
    assert len(items) == 150
    for n, item in enumerate(items):
        rng = random.Random(n)
        haystack = mix(rng, rng.sample(filler[item.persona], 100), [item.conversations])
        answer = READER.read(item.question, memories(haystack))
        assert is_right(answer, item.keys), (item.label, item.question, answer)


def test_every_item_is_right_in_a_haystack_of_all_filler_and_every_item(
    release: tuple[list[Built], Any],
) -> None:
    """The batched layout at its largest: 300 filler and all 75 items of the persona in one history."""
    items, filler = release
    for persona, conversations in filler.items():
        mine = [item for item in items if item.persona == persona]
        haystack = memories(mix(random.Random(persona), conversations, [i.conversations for i in mine]))
        assert len(haystack) == 4 * (300 + sum(len(i.conversations) for i in mine))
        answers = {i.question: READER.read(i.question, haystack) for i in mine}
        assert [
            (i.question, answers[i.question]) for i in mine if not is_right(answers[i.question], i.keys)
        ] == []


def test_without_the_evidence_the_reader_is_right_only_on_abstention(
    release: tuple[list[Built], Any],
) -> None:
    items, filler = release
    only_filler = {persona: memories(conversations) for persona, conversations in filler.items()}
    for item in items:
        for given in ([], only_filler[item.persona]):
            answer = READER.read(item.question, given)
            assert answer == ABSTENTION, (item.question, answer)
            assert is_right(answer, item.keys) is (item.label == "abstention")


def test_other_items_evidence_answers_nothing(release: tuple[list[Built], Any]) -> None:
    """Half of a persona's items mixed into its filler leave every item of the other half unanswered."""
    items, filler = release
    mine = [item for item in items if item.persona == "persona_000"]
    present, absent = mine[::2], mine[1::2]
    haystack = memories(mix(random.Random(1), filler["persona_000"], [i.conversations for i in present]))
    assert {READER.read(item.question, haystack) for item in absent} == {ABSTENTION}
    assert all(is_right(ABSTENTION, item.keys) is (item.label == "abstention") for item in absent)


def test_changing_facts_follow_provenance_not_retrieval_order(release: tuple[list[Built], Any]) -> None:
    items, filler = release
    changing = [item for item in items if item.label == "changing_facts"]
    assert len(changing) == 30
    for n, item in enumerate(changing):
        rng = random.Random(n)
        haystack = memories(mix(rng, rng.sample(filler[item.persona], 20), [item.conversations]))
        shuffled = rng.sample(haystack, len(haystack))
        assert is_right(READER.read(item.question, shuffled), item.keys)
        # without timestamps and positions the last statement cannot be told: every value is stated
        untimed = [m.model_copy(update={"timestamp": None, "position": None}) for m in shuffled]
        answer = READER.read(item.question, untimed)
        assert not is_right(answer, item.keys) and len(answer.splitlines()) == len(item.conversations)


def test_each_built_question_names_one_subject_which_every_evidence_conversation_names(
    release: tuple[list[Built], Any],
) -> None:
    items, _ = release
    for item in items:
        [name] = subject_names(item.question)
        assert len(name.split()) >= 2, item.question  # a code word and its kind: "falcon offsite"
        for conversation in item.conversations:
            said = normalize(" ".join(m["text"] for m in conversation["messages"]))
            assert f" {name} " in f" {said} ", (item.question, conversation["id"])


def _turn(text: str, day: int, position: int, role: str = "user") -> Memory:
    return Memory(
        text=f"{role}: {text}", session_id=f"c{day}", position=position, timestamp=f"2024-01-{day:02d}"
    )


def test_names_are_capitalised_runs_without_the_pronoun_i() -> None:
    assert subject_names("What is the budget code for Project Falcon?") == ["project falcon"]
    assert subject_names("Which hotel should I book for the Heron Sales Trip?") == ["heron sales trip"]
    assert subject_names("What did I say about lunch?") == []


def test_a_fact_is_answered_by_the_sentence_naming_its_subject() -> None:
    given = [
        _turn("The budget code for Project Heron is HX-1000.", 1, 0),
        _turn("Morning! The budget code for Project Falcon is FX-2210. Can you keep that in mind?", 2, 1),
        _turn("Project Falcon came up twice in the leadership sync today.", 3, 2),
        _turn("Noted.", 3, 3, role="assistant"),
    ]
    assert READER.read("What is the budget code for Project Falcon?", given) == (
        "The budget code for Project Falcon is FX-2210."
    )
    # the subject is named, but nothing asked is: decline
    assert READER.read("What is the launch date for Project Falcon?", given) == ABSTENTION
    # the attribute is stated, but of another subject: decline
    assert READER.read("What is the budget code for Project Orion?", given) == ABSTENTION


def test_an_aggregation_question_gets_every_stated_value_in_time_order() -> None:
    given = [
        _turn("Put Denver on the shortlist of cities for the Falcon Offsite as well.", 5, 9),
        _turn("One of the cities on the shortlist for the Heron Offsite is Oslo.", 4, 7),
        _turn("One of the cities on the shortlist for the Falcon Offsite is Lisbon.", 2, 3),
    ]
    assert READER.read("Which cities are on the shortlist for the Falcon Offsite?", given).splitlines() == [
        "One of the cities on the shortlist for the Falcon Offsite is Lisbon.",
        "Put Denver on the shortlist of cities for the Falcon Offsite as well.",
    ]


def test_a_question_about_now_gets_the_latest_statement() -> None:
    given = [
        _turn("Update: the launch date for the Falcon Rollout is now May 2.", 9, 30),
        _turn("The launch date for the Falcon Rollout is March 3.", 1, 2),
        _turn("Heads up, the launch date for the Falcon Rollout slipped to April 14.", 4, 11),
    ]
    question = "What is the current launch date for the Falcon Rollout?"
    assert READER.read(question, given) == "Update: the launch date for the Falcon Rollout is now May 2."
    keys = Keys(require=("May 2",), forbid=("March 3", "April 14"), abstain=False)
    assert is_right(READER.read(question, given), keys)
    # the same day: position decides
    same_day = [m.model_copy(update={"timestamp": "2024-01-01"}) for m in given]
    assert READER.read(question, same_day) == "Update: the launch date for the Falcon Rollout is now May 2."
    # positions only (no timestamps) still order them
    positions_only = [m.model_copy(update={"timestamp": None}) for m in given]
    assert READER.read(question, positions_only).endswith("now May 2.")


def test_the_reader_reads_the_question_not_the_gold_and_names_itself() -> None:
    probe = Probe(
        probe_id="p",
        episode_id="e",
        after_session=0,
        kind="qa",
        mode="answer",
        question="Who is the sales engineer on the Falcon Deal?",
        gold={"answer": "Dana Abbott", "keys": {"require": ["Dana Abbott"]}},
    )
    given = [_turn("Grace Hughes is the sales engineer on the Falcon Deal.", 1, 0)]
    answer = asyncio.run(READER.answer(probe, given))
    assert answer.text == "Grace Hughes is the sales engineer on the Falcon Deal."
    assert asyncio.run(READER.answer(probe, [])).text == ABSTENTION
    assert READER.identity() == {"name": "fact-match", "version": "v1", "min_coverage": 0.5}
