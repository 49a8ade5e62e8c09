"""ConvoMem haystacks on the hand-written fixture: the sample, both generators and the pre-mixed form.

The fixture (tests/fixtures/convomem/README.md) has three personas: alice (items A1 c2eef5a15ce7, A2
f03e9ed351ce with 1 evidence, A3 b9536feab23a with 2; filler alice-f1..f6), bob (B1 765cb71a5960 with
1, B2 0cf6ddb81565 changing with 2; four filler conversations without ids) and carol (C1 d87aa4e60d46,
abstention; filler carol-f1..f4).
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError
from membench.core.retrieval import EVIDENCE_LABEL, Evidence, evidence_label, parse_evidence_label
from membench.core.types import Dataset, Episode
from membench_tasks.convomem.haystacks import PAPER_SIZES, _evidence, load_convomem, pick, session_ids
from membench_tasks.convomem.loader import Conversation, EvidenceItem, Message

FIXTURE = Path(__file__).parents[1] / "fixtures" / "convomem"
A1, A2, A3 = "c2eef5a15ce7", "f03e9ed351ce", "b9536feab23a"
B1, B2, C1 = "765cb71a5960", "0cf6ddb81565", "d87aa4e60d46"
ALICE, BOB, CAROL = "alice_Sales_Manager", "bob_Engineer", "carol_IT_Admin"
EVIDENCE_IDS = {A1: ["conv-a1"], A2: ["conv-a2"], A3: ["conv-a3-1", "conv-a3-2"], C1: ["conv-c1"]}
EVIDENCE_IDS |= {B2: ["conv-b2-1", "conv-b2-2"]}


def load(form: str = "evidence", path: Path = FIXTURE, **overrides: Any) -> Dataset:
    options: dict[str, Any] = {
        "form": form, "sizes": [1, 3, 5], "categories": None, "evidence": None, "per_cell": 3, "seed": 0,
        "batch_from": 50, "top_k": 7,
    }  # fmt: skip
    options.update(overrides)
    return load_convomem(path, **options)


def episode(dataset: Dataset, episode_id: str) -> Episode:
    return next(e for e in dataset.episodes if e.episode_id == episode_id)


def persona_of(text: str) -> str | None:
    """The persona a fixture filler message belongs to ("[alice filler 3] ..." -> alice)."""
    return text[1:].split()[0] if text.startswith("[") and " filler " in text else None


def rng_for(key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


# ---------------------------------------------------------------- standard haystacks


def test_standard_haystacks_ids_sizes_and_dropped_sizes() -> None:
    dataset = load()
    ids = [e.episode_id for e in dataset.episodes]
    at_1 = [f"{i}-n1" for i in (B1, A2, A1, C1)]  # 2-evidence items are not asked at size 1
    assert ids[:4] == at_1
    assert sorted(ids[4:10]) == sorted(f"{i}-n3" for i in (A1, A2, A3, B1, B2, C1))
    assert len(ids) == 16 and all(len(e.sessions) == int(e.episode_id[-1]) for e in dataset.episodes)
    assert dataset.metadata == {"form": "evidence", "items": 6, "haystacks": 16, "conversations": 52}
    assert (dataset.name, dataset.source) == ("convomem", str(FIXTURE))
    assert [p.probe_id for p in dataset.probes[:2]] == [f"{B1}-n1:{B1}", f"{A2}-n1:{A2}"]


def test_a_standard_haystack_follows_the_documented_recipe() -> None:
    haystack = episode(load(), f"{A1}-n5")
    rng = rng_for(f"0:{A1}:5")
    filler = rng.sample(range(6), 4)  # alice's pool: alice-f1..f6 in file order
    positions = sorted(rng.sample(range(5), 1))
    expected = [f"alice-f{k + 1}" for k in filler]
    expected.insert(positions[0], "conv-a1")
    assert [s.session_id for s in haystack.sessions] == expected
    assert haystack.metadata == {
        "context_size": 5,
        "persona_id": ALICE,
        "layout": "standard",
        "evidence_positions": {A1: positions},
    }


def test_standard_haystacks_hold_their_evidence_and_only_their_personas_filler() -> None:
    dataset = load()
    persona_word = {ALICE: "alice", BOB: "bob", CAROL: "carol"}
    for haystack in dataset.episodes:
        ((item_id, positions),) = haystack.metadata["evidence_positions"].items()
        texts = [s.turns[0].content for s in haystack.sessions]
        for p, text in enumerate(texts):
            expected = None if p in positions else persona_word[haystack.metadata["persona_id"]]
            assert persona_of(text) == expected, (haystack.episode_id, p)
        assert len(set(texts)) == len(texts), "filler is drawn without replacement"
        (probe,) = [p for p in dataset.probes if p.episode_id == haystack.episode_id]
        evidence = [e.session_id for e in parse_evidence_label(probe.labels[EVIDENCE_LABEL])]
        assert [haystack.sessions[p].session_id for p in positions] == evidence
        if item_id != B1:  # bob's own conversation has no id, so its session id is positional
            assert evidence == EVIDENCE_IDS[item_id], "in the item's own order"
    bob_5 = episode(dataset, f"{B2}-n5")
    assert [s.session_id for s in bob_5.sessions] == [f"c00{p}" for p in range(3)] + [
        "conv-b2-1",
        "conv-b2-2",
    ]


def test_sessions_turns_times_probe_gold_and_labels() -> None:
    dataset = load()
    haystack = episode(dataset, f"{A3}-n3")
    assert [s.start_time for s in haystack.sessions] == [
        "2024-01-01T09:00:00",
        "2024-01-02T09:00:00",
        "2024-01-03T09:00:00",
    ]
    evidence = haystack.sessions[haystack.metadata["evidence_positions"][A3][0]]
    assert [(t.role, t.content, t.timestamp) for t in evidence.turns] == [
        ("user", "My quota this year is 2 million dollars.", evidence.start_time),
        ("assistant", "That is an ambitious target.", evidence.start_time),
    ]
    (probe,) = [p for p in dataset.probes if p.episode_id == f"{A3}-n3"]
    assert (probe.probe_id, probe.after_session, probe.kind, probe.mode) == (
        f"{A3}-n3:{A3}",
        2,
        "qa",
        "answer",
    )
    assert probe.question == probe.query == "What is my annual quota?" and probe.top_k == 7
    assert probe.gold == {
        "answer": "2 million dollars",
        "category": "user_facts",
        "message_evidences": [
            {"speaker": "User", "text": "My quota this year is 2 million dollars."},
            {"speaker": "Assistant", "text": "I have logged your annual quota of 2 million dollars."},
        ],
        "keys": None,
    }
    assert probe.labels == {
        "category": "user_facts",
        "evidence_count": "2",
        "context_size": "3",
        "persona_id": ALICE,
        "haystack_id": f"{A3}-n3",
        "item_id": A3,
        # each evidence conversation, with the evidence message it holds (for text matching)
        EVIDENCE_LABEL: evidence_label(
            [
                Evidence("conv-a3-1", None, "My quota this year is 2 million dollars."),
                Evidence("conv-a3-2", None, "I have logged your annual quota of 2 million dollars."),
            ]
        ),
    }
    (abstain,) = [p for p in dataset.probes if p.episode_id == f"{C1}-n1"]
    assert abstain.gold["keys"] == {"require": [], "forbid": ["Priya"], "abstain": True}
    assert abstain.labels["category"] == "abstention"


# ---------------------------------------------------------------- batched haystacks


def test_batched_haystacks_hold_every_sampled_item_of_the_persona() -> None:
    dataset = load(sizes=[1, 5], batch_from=4)
    batched = [e for e in dataset.episodes if e.metadata["layout"] == "batched"]
    assert [e.episode_id for e in batched] == [f"{ALICE}-n5", f"{BOB}-n5", f"{CAROL}-n5"]
    alice = batched[0]
    assert set(alice.metadata["evidence_positions"]) == {A1, A2, A3}
    assert len(alice.sessions) == 5 and alice.metadata["context_size"] == 5  # 4 evidence + 1 filler
    for item_id, positions in alice.metadata["evidence_positions"].items():
        assert [alice.sessions[p].session_id for p in positions] == EVIDENCE_IDS[item_id]
    taken = sorted(p for ps in alice.metadata["evidence_positions"].values() for p in ps)
    rest = [s.turns[0].content for p, s in enumerate(alice.sessions) if p not in taken]
    assert [persona_of(t) for t in rest] == ["alice"]
    probes = [p for p in dataset.probes if p.episode_id == f"{ALICE}-n5"]
    assert {p.labels["item_id"] for p in probes} == {A1, A2, A3}
    assert {p.labels["haystack_id"] for p in probes} == {f"{ALICE}-n5"}
    assert all(p.after_session == 4 and p.labels["context_size"] == "5" for p in probes)
    assert [len(e.sessions) for e in batched] == [5, 5, 5]
    standard = [e.episode_id for e in dataset.episodes if e.metadata["layout"] == "standard"]
    assert len(standard) == 4, "size 1 stays standard"


def test_batched_haystack_grows_to_hold_all_evidence() -> None:
    alice = episode(load(sizes=[4], batch_from=4, categories=["user_facts"]), f"{ALICE}-n4")
    assert len(alice.sessions) == 4 and {s.session_id for s in alice.sessions} == {
        "conv-a1",
        "conv-a2",
        "conv-a3-1",
        "conv-a3-2",
    }
    two = episode(load(sizes=[2], batch_from=2, categories=["user_facts"]), f"{ALICE}-n2")
    assert len(two.sessions) == 4 and two.metadata["context_size"] == 4, "never fewer than the evidence"


def test_not_enough_filler_names_persona_size_and_pool() -> None:
    with pytest.raises(ConfigError) as caught:
        load(sizes=[7], categories=["changing_facts"])
    message = str(caught.value)
    assert "persona bob_Engineer" in message and "size 7 needs 5 filler" in message and "holds 4" in message
    with pytest.raises(ConfigError, match=r"persona carol_IT_Admin: a haystack of size 6 needs 5 .* holds 4"):
        load(sizes=[6], batch_from=6)


# ---------------------------------------------------------------- the sample


def test_pick_round_robins_over_personas() -> None:
    candidates = [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("b2", "B"), ("c1", "C")]
    for seed in range(10):
        picked = pick(candidates, 3, seed, "cell")
        assert sorted(i[0] for i in picked) == ["a", "b", "c"], "one per persona before any second"
        four = pick(candidates, 4, seed, "cell")
        assert four[:3] == picked and four[3][0] in "ab"
        assert pick(list(reversed(candidates)) + candidates, 4, seed, "cell") == four, "order and repeats"
    assert sorted(pick(candidates, 10, 0, "cell")) == sorted(i for i, _ in candidates)
    assert pick([], 2, 0, "cell") == []


def test_per_cell_spreads_over_personas() -> None:
    for seed in range(6):
        dataset = load(sizes=[1], per_cell=2, seed=seed, categories=["user_facts"], evidence=[1])
        asked = {p.labels["item_id"] for p in dataset.probes}
        assert len(asked) == 2 and B1 in asked and len(asked & {A1, A2}) == 1
    single = load(sizes=[5], per_cell=1)
    cells = sorted((p.labels["category"], p.labels["evidence_count"]) for p in single.probes)
    assert cells == [("abstention", "1"), ("changing_facts", "2"), ("user_facts", "1"), ("user_facts", "2")]


def test_the_same_items_are_asked_at_every_size() -> None:
    dataset = load(sizes=[3, 5], per_cell=1, categories=["user_facts"], evidence=[1])
    assert len({p.labels["item_id"] for p in dataset.probes}) == 1 and len(dataset.probes) == 2


def test_selection_options() -> None:
    only = load(categories=["abstention"], sizes=[1])
    assert [p.labels["item_id"] for p in only.probes] == [C1]
    assert {p.labels["evidence_count"] for p in load(evidence=[2], sizes=[3]).probes} == {"2"}
    with pytest.raises(ConfigError, match="no ConvoMem items"):
        load(evidence=[6])
    with pytest.raises(ConfigError, match="form must be one of evidence, pre_mixed"):
        load(form="mixed")
    with pytest.raises(ConfigError, match=r"sizes\[1\] must be at least 1, got 0"):
        load(sizes=[1, 0])
    with pytest.raises(ConfigError, match="per_cell must be at least 1"):
        load(per_cell=0)
    assert PAPER_SIZES[-1] == 300 and len(PAPER_SIZES) == 15


# ---------------------------------------------------------------- determinism


def test_same_inputs_give_identical_json_whatever_the_listing_order(monkeypatch: pytest.MonkeyPatch) -> None:
    first = load(sizes=[1, 3, 5], batch_from=5).model_dump_json()
    listing = Path.iterdir

    def reversed_listing(self: Path) -> Iterator[Path]:
        return iter(sorted(listing(self), reverse=True))

    monkeypatch.setattr(Path, "iterdir", reversed_listing)
    assert load(sizes=[5, 3, 1, 3], batch_from=5).model_dump_json() == first
    assert load(sizes=[1, 3, 5], batch_from=5, seed=1).model_dump_json() != first


def test_a_moved_release_gives_the_same_dataset_but_its_source(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "copy")
    here, there = load(), load(path=tmp_path / "copy" / "core_benchmark")
    assert here.fingerprint == there.fingerprint and here.episodes == there.episodes
    assert here.probes == there.probes and there.source == str(tmp_path / "copy" / "core_benchmark")


def test_session_ids_fall_back_to_positions() -> None:
    def conv(conversation_id: str | None) -> Conversation:
        return Conversation((), conversation_id)

    assert session_ids([conv("x"), conv(None), conv("y"), conv("x"), conv("")]) == [
        "c000",
        "c001",
        "y",
        "c003",
        "c004",
    ]
    assert session_ids([conv("c001"), conv(None)]) == ["c000", "c001"], "a real id never collides"


# ---------------------------------------------------------------- pre-mixed test cases


def test_pre_mixed_cases_with_evidence_found_by_id_and_by_text() -> None:
    dataset = load(form="pre_mixed", sizes=[2, 3])
    assert [e.episode_id for e in dataset.episodes] == [
        "user_facts-1e-batched_000-0",
        "user_facts-1e-batched_000-1",
        "abstention-1e-batched_000-0",
    ]
    first = dataset.episodes[0]
    assert [s.session_id for s in first.sessions] == ["alice-f1", "conv-a1", "mixed-2"]
    assert first.metadata == {
        "context_size": 3,
        "persona_id": ALICE,
        "layout": "pre_mixed",
        "evidence_positions": {A1: [1], A2: [2]},  # A1 by its id, A2 (another id) by its text
    }
    asked = {
        p.probe_id: ",".join(e.session_id for e in parse_evidence_label(p.labels[EVIDENCE_LABEL]))
        for p in dataset.probes
    }
    assert asked == {
        f"user_facts-1e-batched_000-0:{A1}": "conv-a1",
        f"user_facts-1e-batched_000-0:{A2}": "mixed-2",
        f"user_facts-1e-batched_000-1:{A1}": "conv-a1",
        f"abstention-1e-batched_000-0:{C1}": "conv-c1",
    }
    second = dataset.episodes[1]
    assert [s.session_id for s in second.sessions] == ["conv-a1", "c001"]
    assert second.metadata["context_size"] == 2, "contextSize null: the list's length"
    assert dataset.metadata == {"form": "pre_mixed", "items": 3, "haystacks": 3, "conversations": 7}
    probe = dataset.probes[0]
    assert probe.after_session == 2 and probe.labels["context_size"] == "3" and probe.gold["keys"] is None


def test_pre_mixed_sampling_keeps_only_cases_of_kept_items() -> None:
    one = load(form="pre_mixed", sizes=[3], per_cell=1, categories=["user_facts"])
    assert [e.episode_id for e in one.episodes] == ["user_facts-1e-batched_000-0"]
    (probe,) = one.probes
    assert probe.labels["item_id"] in {A1, A2}
    kept = probe.labels["item_id"]
    assert list(one.episodes[0].metadata["evidence_positions"]) == [kept], "asks only its kept items"
    with pytest.raises(ConfigError, match="no ConvoMem items"):
        load(form="pre_mixed", sizes=[1, 5])


def test_filler_filed_under_another_name_is_found_by_person_id(tmp_path: Path) -> None:
    root = tmp_path / "release"
    shutil.copytree(FIXTURE, root)
    filler = root / "core_benchmark" / "filler_conversations"
    (filler / "alice_Sales_Manager.json").rename(filler / "team_a.json")  # its items keep personId alice
    moved = load(path=root, sizes=[5], categories=["user_facts"], evidence=[2])
    original = load(sizes=[5], categories=["user_facts"], evidence=[2])
    assert moved.episodes == original.episodes, "the same pool, in the same order"
    assert moved.fingerprint != original.fingerprint, "a different file was read"


def test_an_evidence_conversation_holding_no_message_verbatim_is_matched_by_all_of_them() -> None:
    """A pre-mixed case's conversation that is the item's by its id may hold a reworded message: its
    text for matching is then every evidence message of the item, not nothing."""
    said = Message("User", "My quota this year is 2 million dollars.")
    logged = Message("Assistant", "I have logged your quota.")
    item = EvidenceItem(
        "i1",
        "user_facts",
        2,
        ALICE,
        "What is my quota?",
        "2 million dollars",
        (said, logged),
        (),
        None,
        FIXTURE,
        "evidence_items[0]",
    )
    verbatim = Conversation((said, Message("Assistant", "Noted.")), "conv-1")
    reworded = Conversation((Message("User", "This year my quota is 2 million dollars."),), "conv-2")
    assert _evidence(item, "conv-1", verbatim) == Evidence("conv-1", None, said.text)
    assert _evidence(item, "conv-2", reworded) == Evidence("conv-2", None, f"{said.text}\n{logged.text}")
