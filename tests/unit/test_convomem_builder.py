"""The offline ConvoMem builder: determinism, the release's tree and schema, evidence, keys, filler."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError
from membench.core.text import content_tokens, normalize, split_sentences, tokens
from membench_builders import convomem as builder
from membench_builders import convomem_vocab as vocab
from membench_tasks.convomem.keys import contains
from membench_tasks.convomem.reader import subject_names

PERSONAS = ("persona_000", "persona_001")


def _files(root: Path) -> dict[str, bytes]:
    tree = root / "core_benchmark"
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return builder.build_convomem(tmp_path_factory.mktemp("cm") / "data", personas=2)


def _items(root: Path) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """(label, N, persona, item) of every evidence item, in path order."""
    for path in sorted((root / "core_benchmark" / "evidence_questions").rglob("*.json")):
        label = builder.LABELS[path.parent.parent.name]
        n = int(path.parent.name.split("_")[0])
        for item in json.loads(path.read_text("utf-8"))["evidence_items"]:
            yield label, n, path.stem, item


def _filler(root: Path, persona: str) -> list[dict[str, Any]]:
    payload = json.loads((root / "core_benchmark" / "filler_conversations" / f"{persona}.json").read_text())
    return [c for item in payload["evidence_items"] for c in item["conversations"]]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = _files(builder.build_convomem(tmp_path / "a", personas=1, filler=20, seed=3))
    b = _files(builder.build_convomem(tmp_path / "b", personas=1, filler=20, seed=3))
    c = _files(builder.build_convomem(tmp_path / "c", personas=1, filler=20, seed=4))
    assert a == b
    assert a.keys() == c.keys() and all(a[name] != c[name] for name in a)


def test_more_personas_leave_earlier_personas_unchanged(tmp_path: Path) -> None:
    one = _files(builder.build_convomem(tmp_path / "one", personas=1, filler=10))
    two = _files(builder.build_convomem(tmp_path / "two", personas=2, filler=10))
    assert all(two[name] == data for name, data in one.items())
    assert len(two) == 2 * len(one)


def test_the_tree_is_the_release_layout(built: Path) -> None:
    expected = {f"filler_conversations/{p}.json" for p in PERSONAS}
    folders = {label: folder for folder, label in builder.LABELS.items()}
    for label, tiers in builder.TIERS.items():
        expected |= {
            f"evidence_questions/{folders[label]}/{n}_evidence/{p}.json" for n in tiers for p in PERSONAS
        }
    assert set(_files(built)) == expected
    assert len(expected) == 2 + 2 * 25
    # the release's tiers: changing facts start at 2, preferences stop at 2
    assert not (built / "core_benchmark/evidence_questions/changing_evidence/1_evidence").exists()
    assert not (built / "core_benchmark/evidence_questions/preference_evidence/3_evidence").exists()
    assert sorted(p.name for p in built.parent.iterdir()) == ["data"], "no staging folder is left behind"


def test_an_evidence_file_has_the_contract_schema(built: Path) -> None:
    path = built / "core_benchmark/evidence_questions/user_evidence/2_evidence/persona_001.json"
    text = path.read_text("utf-8")
    assert text.endswith("}\n") and text.count("\n") == 1
    payload = json.loads(text)
    assert list(payload) == ["evidence_items", "checkpoint"]
    assert payload["checkpoint"] == "membench-convomem-builder-v1"
    item = payload["evidence_items"][1]
    assert list(item) == [
        "question",
        "answer",
        "message_evidences",
        "conversations",
        "category",
        "scenario_description",
        "personId",
        "use_case_model_name",
        "core_model_name",
        "membench_keys",
    ]
    assert item["personId"] == "persona_001"
    assert item["use_case_model_name"] == item["core_model_name"] == "membench-builder"
    assert [m["speaker"] for m in item["message_evidences"]] == ["User", "User"]
    assert [c["id"] for c in item["conversations"]] == [
        "persona_001-user_facts-2-001-e1",
        "persona_001-user_facts-2-001-e2",
    ]
    for conversation in item["conversations"]:
        assert list(conversation) == ["messages", "id", "containsEvidence", "model_name"]
        assert conversation["containsEvidence"] is True and conversation["model_name"] == "membench-builder"
        assert [m["speaker"] for m in conversation["messages"]] == ["User", "Assistant", "User", "Assistant"]
        assert all(list(m) == ["speaker", "text"] and m["text"] for m in conversation["messages"])
    keys = item["membench_keys"]
    assert list(keys) == ["require", "forbid", "abstain"]
    assert len(keys["require"]) == 2 and keys["forbid"] == [] and keys["abstain"] is False
    assert item["question"].endswith("?") and all(contains(item["answer"], k) for k in keys["require"])


def test_a_filler_file_is_one_payload_of_filler_conversations(built: Path) -> None:
    payload = json.loads((built / "core_benchmark/filler_conversations/persona_000.json").read_text())
    assert payload["checkpoint"] == "membench-convomem-builder-v1"
    [item] = payload["evidence_items"]
    assert (item["question"], item["answer"], item["message_evidences"]) == ("", "", [])
    assert item["personId"] == "persona_000" and "membench_keys" not in item
    conversations = item["conversations"]
    assert len(conversations) == 300
    assert [c["id"] for c in conversations[:2]] == ["persona_000-filler-0000", "persona_000-filler-0001"]
    assert conversations[-1]["id"] == "persona_000-filler-0299"
    assert all(c["containsEvidence"] is False for c in conversations)
    assert {len(c["messages"]) for c in conversations} == {4}


def test_messages_option_sets_every_conversation_length(tmp_path: Path) -> None:
    root = builder.build_convomem(tmp_path / "d", personas=1, filler=5, messages=7)
    speakers = ["User", "Assistant"] * 3 + ["User"]
    assert all([m["speaker"] for m in c["messages"]] == speakers for c in _filler(root, "persona_000"))
    for _, _, _, item in _items(root):
        assert all(len(c["messages"]) == 7 for c in item["conversations"])


def test_every_category_and_tier_has_three_items_per_persona(built: Path) -> None:
    cells: dict[tuple[str, int, str], int] = {}
    for label, n, persona, item in _items(built):
        cells[(label, n, persona)] = cells.get((label, n, persona), 0) + 1
        assert len(item["conversations"]) == len(item["message_evidences"]) == n
    assert cells == {
        (label, n, p): 3 for label, tiers in builder.TIERS.items() for n in tiers for p in PERSONAS
    }


def test_each_evidence_message_is_verbatim_in_exactly_one_conversation_of_its_item(built: Path) -> None:
    for label, _, _, item in _items(built):
        speaker = "Assistant" if label == "assistant_facts" else "User"
        for j, evidence in enumerate(item["message_evidences"]):
            assert evidence["speaker"] == speaker
            holding = [
                k for k, c in enumerate(item["conversations"]) if evidence in c["messages"]
            ]  # the same speaker and text
            assert holding == [j], (item["question"], evidence)
            assert sum(m == evidence for m in item["conversations"][j]["messages"]) == 1


def test_keys_of_each_category(built: Path) -> None:
    for label, n, _, item in _items(built):
        keys, said = item["membench_keys"], " ".join(m["text"] for m in item["message_evidences"])
        if label == "abstention":
            assert keys == {"require": [], "forbid": [], "abstain": True}
            continue
        assert keys["abstain"] is False and all(contains(said, k) for k in keys["require"])
        if label in ("user_facts", "assistant_facts", "implicit_connections"):
            assert len(keys["require"]) == n and keys["forbid"] == []
            assert all(
                contains(m["text"], k)
                for m, k in zip(item["message_evidences"], keys["require"], strict=True)
            )
        if label == "preferences":
            assert len(keys["require"]) == n and item["answer"].startswith("The response should")
        if label == "implicit_connections":
            assert item["answer"].startswith("The response should")
            assert not any(contains(item["question"], k) for k in keys["require"]), (
                "the constraint is implicit"
            )


def test_changing_facts_require_the_last_value_and_forbid_every_earlier_one(built: Path) -> None:
    seen = 0
    for label, n, _, item in _items(built):
        if label != "changing_facts":
            continue
        seen += 1
        keys, texts = item["membench_keys"], [m["text"] for m in item["message_evidences"]]
        [final] = keys["require"]
        assert len(keys["forbid"]) == n - 1 and final not in keys["forbid"]
        assert len(set(keys["forbid"])) == n - 1
        # message j states value j and no other, in conversation order
        for text, value in zip(texts, [*keys["forbid"], final], strict=True):
            assert [v for v in [*keys["forbid"], final] if contains(text, v)] == [value]
        assert contains(item["answer"], final) and not any(
            contains(item["answer"], v) for v in keys["forbid"]
        )
    assert seen == 2 * 5 * 3


def test_a_hand_checked_changing_item(tmp_path: Path) -> None:
    root = builder.build_convomem(tmp_path / "h", personas=1, filler=0)
    path = root / "core_benchmark/evidence_questions/changing_evidence/3_evidence/persona_000.json"
    item = json.loads(path.read_text())["evidence_items"][0]
    assert item["question"] == "What is the current budget for the Quill Program?"
    assert [m["text"] for m in item["message_evidences"]] == [
        "We got a budget of $240,000 approved for the Quill Program.",
        "The budget for the Quill Program is now $82,500.",
        "Quick one. The budget for the Quill Program is now $435,000.",
    ]
    assert item["membench_keys"] == {
        "require": ["$435,000"],
        "forbid": ["$240,000", "$82,500"],
        "abstain": False,
    }
    assert item["answer"] == "The current budget for the Quill Program is $435,000."
    assert item["category"] == "Program budgets"


def test_filler_never_states_an_item_subject_with_its_attribute_nor_an_item_value(built: Path) -> None:
    items = list(_items(built))
    for persona in PERSONAS:
        mine = [item for _, _, p, item in items if p == persona]
        filler = [
            f" {normalize(sentence)} "
            for c in _filler(built, persona)
            for m in c["messages"]
            for sentence in split_sentences(m["text"])
        ]
        for item in mine:
            [name] = subject_names(item["question"])
            attribute = set(content_tokens(item["question"])) - set(tokens(name))
            for sentence in filler:
                if f" {name} " in sentence:
                    assert not attribute.intersection(sentence.split()), (item["question"], sentence)
        keys = {
            k for item in mine for k in item["membench_keys"]["require"] + item["membench_keys"]["forbid"]
        }
        assert [k for k in sorted(keys) if any(f" {normalize(k)} " in s for s in filler)] == []


def test_filler_holds_distractors_and_decoys(built: Path) -> None:
    """The same attributes of other subjects, and the items' subjects with no fact, both occur."""
    items = [item for _, _, p, item in _items(built) if p == "persona_000"]
    text = " ".join(m["text"] for c in _filler(built, "persona_000") for m in c["messages"])
    assert len(re.findall(r"budget code for Project \w+", text)) >= 5
    assert len(re.findall(r"shortlist of cities for the \w+ Offsite", text)) >= 5
    names = [subject_names(item["question"])[0] for item in items]
    mentioned = [name for name in names if f" {name} " in " " + " ".join(tokens(text)) + " "]
    assert len(mentioned) >= len(names) // 2


def test_default_build_is_a_few_megabytes(tmp_path: Path) -> None:
    root = builder.build_convomem(tmp_path / "full")
    sizes = _files(root)
    assert len(sizes) == 6 * 26
    assert 1_000_000 < sum(len(data) for data in sizes.values()) < 4_000_000


def test_rebuilding_replaces_the_tree_whole(tmp_path: Path) -> None:
    root = builder.build_convomem(tmp_path / "r", personas=2, filler=3)
    (root / "keep.txt").write_text("mine")
    builder.build_convomem(root, personas=1, filler=3, seed=9)
    assert _files(root) == _files(builder.build_convomem(tmp_path / "s", personas=1, filler=3, seed=9))
    assert (root / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "s"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"personas": 0}, "personas must be between 1 and 1000"),
        ({"filler": -1}, "filler must be 0 or more"),
        ({"messages": 1}, "messages must be at least 2"),
    ],
)
def test_bad_options_are_refused_before_any_work(
    tmp_path: Path, options: dict[str, int], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        builder.build_convomem(tmp_path / "x", **options)
    assert list(tmp_path.iterdir()) == []


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _strings(getattr(value, field.name))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, tuple | list):
        for v in value:
            yield from _strings(v)


def test_code_words_occur_nowhere_else_in_the_vocabulary() -> None:
    """A sentence names a subject only when it is about it: no value, template or chat line holds a code
    word, and no code word holds another."""
    everything = [
        vocab.ROLES, vocab.PERSONA_FIRST_NAMES, vocab.PERSONA_LAST_NAMES, vocab.COMPANIES, vocab.VALUES,
        vocab.CONSTRAINTS, vocab.USER_FACTS, vocab.ASSISTANT_FACTS, vocab.CHANGING_FACTS, vocab.PREFERENCES,
        vocab.IMPLICIT, vocab.USER_DECOYS, vocab.ASSISTANT_DECOYS, vocab.USER_OPENERS, vocab.USER_CLOSERS,
        vocab.USER_CHAT, vocab.ASSISTANT_ACKS, vocab.ASSISTANT_CLOSERS,
    ]  # fmt: skip
    words = {token for value in everything for text in _strings(value) for token in tokens(text)}
    codes = [word.lower() for word in vocab.CODE_WORDS]
    assert len(set(codes)) == len(codes) and all(tokens(code) == [code] for code in codes)
    assert sorted(words.intersection(codes)) == []
    assert len(codes) >= builder.ITEMS_PER_PERSONA + 30, "enough subjects are left for filler"


def test_every_statement_repeats_its_question_words() -> None:
    """A statement answers its question word for word: each template holds every content word of the
    question outside the subject (the reader's rule 2 then needs no paraphrase)."""
    subject = builder.subject_phrase("Falcon", "Offsite")
    checks: list[tuple[str, tuple[str, ...]]] = [
        (f.question, f.statements + f.updates)
        for f in vocab.USER_FACTS + vocab.ASSISTANT_FACTS + vocab.CHANGING_FACTS
    ]
    checks += [(p.question, s.statements) for p in vocab.PREFERENCES for s in p.slots]
    checks += [(i.question, i.statements) for i in vocab.IMPLICIT]
    asked_words = {"recommend", "suggest", "current", "currently", "now"}
    for question, templates in checks:
        wanted = builder.banned_words(question.format(subject=subject), subject) - asked_words
        for template in templates:
            said = set(content_tokens(template.format(subject=subject, value="X")))
            assert wanted <= said, (question, template)
