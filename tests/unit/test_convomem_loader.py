"""Reading and validating the ConvoMem release on hand-written fixtures in the official schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, DataError
from membench_tasks.convomem import loader
from membench_tasks.convomem.haystacks import load_convomem
from membench_tasks.convomem.loader import (
    CATEGORIES,
    Cell,
    Conversation,
    Message,
    Release,
    appears_in,
    item_id_of,
    read_evidence_file,
    read_filler_file,
    read_test_cases,
    within_edits,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "convomem"
BASE = FIXTURE / "core_benchmark"
USER_1 = BASE / "evidence_questions" / "user_evidence" / "1_evidence"
ALICE_1 = USER_1 / "alice_Sales_Manager.json"
FILLER = BASE / "filler_conversations"
MIXED = BASE / "pre_mixed_testcases" / "user_evidence" / "1_evidence" / "batched_000.json"


def cell(folder: str = "user_evidence", count: int = 1) -> Cell:
    return Cell(folder, CATEGORIES[folder], count, BASE / "evidence_questions" / folder / f"{count}_evidence")


def copy_release(tmp_path: Path) -> Path:
    root = tmp_path / "release"
    shutil.copytree(FIXTURE, root)
    return root


def edit(file: Path, change: Any) -> None:
    """Rewrite a JSON file after ``change(value)`` mutated its parsed value."""
    value = json.loads(file.read_text(encoding="utf-8"))
    change(value)
    file.write_text(json.dumps(value, indent=2), encoding="utf-8")


def load(root: Path, form: str = "evidence", **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "form": form, "sizes": [1, 3], "categories": None, "evidence": None, "per_cell": 5, "seed": 0,
        "batch_from": 50, "top_k": 10,
    }  # fmt: skip
    options.update(overrides)
    return load_convomem(root, **options)


# ---------------------------------------------------------------- reading the three kinds of file


def test_evidence_file_items_ids_personas_and_speakers() -> None:
    release = Release(FIXTURE, "evidence")
    items = read_evidence_file(release, cell(), ALICE_1)
    assert [i.item_id for i in items] == ["c2eef5a15ce7", "f03e9ed351ce"]
    assert items[0].item_id == item_id_of(
        "user_evidence", 1, "alice_Sales_Manager", "Which city is my team offsite in?", "Denver"
    )
    first = items[0]
    assert (first.label, first.evidence_count, first.persona_id) == ("user_facts", 1, "alice_Sales_Manager")
    assert first.keys == {"require": ["Denver"], "forbid": [], "abstain": False}
    assert items[1].keys is None, "official items have no keys"
    assert first.record == "evidence_items[0]"
    assert [c.conversation_id for c in first.conversations] == ["conv-a1"]
    assert first.message_evidences == (Message("User", "Our team offsite is in Denver this spring."),)

    bob = read_evidence_file(release, cell(), USER_1 / "bob_Engineer.json")[0]
    assert bob.persona_id == "bob_Engineer", "no personId: the file stem"
    assert [m.speaker for m in bob.conversations[0].messages] == ["User", "Assistant"], "'user', 'ASSISTANT'"
    assert bob.conversations[0].conversation_id is None
    changing = BASE / "evidence_questions" / "changing_evidence" / "2_evidence" / "bob_Engineer.json"
    assert read_evidence_file(release, cell("changing_evidence", 2), changing)[0].persona_id == "bob_Engineer"


def test_filler_file_in_both_forms() -> None:
    release = Release(FIXTURE, "evidence")
    alice = read_filler_file(release, FILLER / "alice_Sales_Manager.json")  # EvidencePayload form
    assert [c.conversation_id for _, c in alice] == [f"alice-f{k}" for k in range(1, 7)]
    assert {p for p, _ in alice} == {"alice_Sales_Manager"}
    bob = read_filler_file(release, FILLER / "bob_Engineer.json")  # bare list form
    assert [(p, c.conversation_id) for p, c in bob] == [("bob_Engineer", None)] * 4
    assert bob[2][1].messages[0].text == "[bob filler 3] Name this service."
    carol = read_filler_file(release, FILLER / "carol_IT_Admin.json")  # personId null: the stem
    assert {p for p, _ in carol} == {"carol_IT_Admin"} and len(carol) == 4


def test_filler_persona_is_the_items_person_id(tmp_path: Path) -> None:
    root = copy_release(tmp_path)
    file = root / "core_benchmark" / "filler_conversations" / "alice_Sales_Manager.json"
    edit(file, lambda v: v["evidence_items"][1].update(personId="carol_IT_Admin"))
    found = read_filler_file(Release(root, "evidence"), file)
    assert [p for p, _ in found] == ["alice_Sales_Manager"] * 3 + ["carol_IT_Admin"] * 3


def test_pre_mixed_cases_are_camel_case_with_snake_case_items() -> None:
    cases = read_test_cases(Release(FIXTURE, "pre_mixed"), cell(), MIXED)
    assert [(c.index, c.context_size, len(c.conversations)) for c in cases] == [(0, 3, 3), (1, 2, 2)]
    assert [i.item_id for i in cases[0].items] == ["c2eef5a15ce7", "f03e9ed351ce"], "ids keyed on personId"
    assert cases[0].items[1].record == "[0].evidenceItems[1]"
    assert [c.conversation_id for c in cases[1].conversations] == ["conv-a1", None]


# ---------------------------------------------------------------- the layout


def test_root_and_core_benchmark_are_both_accepted() -> None:
    assert Release(FIXTURE, "evidence").base == Release(BASE, "evidence").base == BASE


def test_missing_folders_say_what_was_expected_where(tmp_path: Path) -> None:
    (tmp_path / "core_benchmark" / "evidence_questions").mkdir(parents=True)
    with pytest.raises(ConfigError, match="filler_conversations is missing") as caught:
        Release(tmp_path, "evidence")
    assert str(tmp_path / "core_benchmark" / "filler_conversations") in str(caught.value)
    with pytest.raises(ConfigError, match=r"form 'pre_mixed' reads .*pre_mixed_testcases"):
        Release(tmp_path, "pre_mixed")
    with pytest.raises(ConfigError, match="is not a folder"):
        Release(tmp_path / "nowhere", "evidence")


def test_unknown_category_and_tier_folders_are_named(tmp_path: Path) -> None:
    root = copy_release(tmp_path)
    stray = root / "core_benchmark" / "evidence_questions" / "gossip_evidence"
    stray.mkdir()
    with pytest.raises(DataError, match="is not a ConvoMem category folder") as caught:
        load(root)
    assert str(stray) in str(caught.value)
    stray.rmdir()
    tier = root / "core_benchmark" / "evidence_questions" / "user_evidence" / "one_evidence"
    tier.mkdir()
    with pytest.raises(DataError, match="<N>_evidence") as caught:
        load(root)
    assert str(tier) in str(caught.value)


# ---------------------------------------------------------------- bad data: one line, file and field


def broken(tmp_path: Path, change: Any, file: Path = ALICE_1) -> tuple[Path, str]:
    """Load a copy of the fixture with ``change`` applied to ``file``; the DataError's message."""
    root = copy_release(tmp_path)
    target = root / file.relative_to(FIXTURE)
    edit(target, change)
    with pytest.raises(DataError) as caught:
        load(root, form="pre_mixed" if "pre_mixed" in str(file) else "evidence")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(target))
    return target, message


def test_missing_field(tmp_path: Path) -> None:
    target, message = broken(tmp_path, lambda v: v["evidence_items"][1].pop("answer"))
    assert message == f"{target}: field 'evidence_items[1].answer' is missing"


def test_wrong_type(tmp_path: Path) -> None:
    def change(v: Any) -> None:
        v["evidence_items"][0]["conversations"][0]["containsEvidence"] = "yes"

    _, message = broken(tmp_path, change)
    assert "field 'evidence_items[0].conversations[0].containsEvidence' must be a boolean or null" in message
    _, message = broken(tmp_path / "b", lambda v: v.update(evidence_items={}))
    assert "field 'evidence_items' must be a list, got an object" in message


def test_bad_speaker(tmp_path: Path) -> None:
    def change(v: Any) -> None:
        v["evidence_items"][0]["conversations"][0]["messages"][3]["speaker"] = "Bot"

    target, message = broken(tmp_path, change)
    expected = "field 'evidence_items[0].conversations[0].messages[3].speaker' must be User or Assistant"
    assert message == f'{target}: {expected}, got "Bot"'


def test_evidence_text_not_in_its_conversations(tmp_path: Path) -> None:
    def change(v: Any) -> None:
        v["evidence_items"][0]["message_evidences"][0]["text"] = "Our offsite moved to a lighthouse in Maine."

    target, message = broken(tmp_path, change)
    assert message.startswith(
        f"{target}: field 'evidence_items[0].message_evidences[0].text' is said by no User"
    )


def test_evidence_text_of_a_pre_mixed_item(tmp_path: Path) -> None:
    def change(v: Any) -> None:
        v[0]["evidenceItems"][1]["message_evidences"][0]["speaker"] = "Assistant"

    _, message = broken(tmp_path, change, MIXED)
    assert "field '[0].evidenceItems[1].message_evidences[0].text' is said by no Assistant message" in message


def test_pre_mixed_wrong_type(tmp_path: Path) -> None:
    _, message = broken(tmp_path, lambda v: v[0].update(contextSize="3"), MIXED)
    assert "field '[0].contextSize' must be an integer or null, got a string" in message


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    root = copy_release(tmp_path)
    target = root / ALICE_1.relative_to(FIXTURE)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[3].strip() == '"question": "Which city is my team offsite in?",'
    lines[3] = lines[3].rstrip(",")  # line 4 loses its comma
    target.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load(root)
    assert str(caught.value) == f"{target}:5: is not valid JSON (Expecting ',' delimiter at column 7)"


def test_bad_bytes_and_lone_surrogates(tmp_path: Path) -> None:
    root = copy_release(tmp_path)
    target = root / ALICE_1.relative_to(FIXTURE)
    data = target.read_bytes()
    target.write_bytes(data.replace(b"Denver this", b"Denver\xff this", 1))
    with pytest.raises(DataError, match=r":7: is not valid UTF-8 \(byte 0xff at column 67\)"):
        load(root)
    target.write_bytes(data.replace(b"Denver this", b"Denver\\udfff this", 1))
    with pytest.raises(
        DataError, match=r"field 'evidence_items\[0\].message_evidences\[0\].text' holds a lone"
    ):
        load(root)


def test_repeated_item_in_a_file(tmp_path: Path) -> None:
    _, message = broken(tmp_path, lambda v: v["evidence_items"].append(v["evidence_items"][0]))
    assert "field 'evidence_items[2]' repeats the question and answer of evidence_items[0]" in message


def test_wrong_top_level_shapes(tmp_path: Path) -> None:
    root = copy_release(tmp_path)
    target = root / ALICE_1.relative_to(FIXTURE)
    target.write_text("[]", encoding="utf-8")
    with pytest.raises(DataError, match="must be an EvidencePayload object, got a list"):
        load(root)
    mixed = root / MIXED.relative_to(FIXTURE)
    mixed.write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="must be a list of TestCase objects, got an object"):
        load(root, form="pre_mixed")


# ---------------------------------------------------------------- evidence matching and fingerprint


def test_evidence_appears_by_the_generators_rules() -> None:
    said = Conversation((Message("User", "I prefer early morning calls with my clients."),), None)
    assert appears_in(Message("User", "morning calls"), said), "verbatim inside a message"
    assert appears_in(Message("User", "I prefer early morning calls with my clients. Always."), said), (
        "partial"
    )
    assert appears_in(Message("User", "I prefer morning calls with clients"), said), "10 edits: fuzzy"
    assert not appears_in(Message("User", "I prefer late evening calls with clients"), said)
    assert not appears_in(Message("Assistant", "morning calls"), said), "the speaker must match"


def test_within_edits_is_levenshtein() -> None:
    assert within_edits("kitten", "sitting", 3) and not within_edits("kitten", "sitting", 2)
    assert within_edits("", "abc", 3) and not within_edits("", "abcd", 3)
    assert within_edits("flaw", "lawn", 2) and not within_edits("flaw", "lawn", 1)
    assert within_edits("same", "same", 0)


def test_fingerprint_follows_bytes_not_location(tmp_path: Path) -> None:
    original = load(FIXTURE).fingerprint
    moved = copy_release(tmp_path / "elsewhere")
    assert load(moved).fingerprint == original
    assert load(moved / "core_benchmark").fingerprint == original
    target = moved / "core_benchmark" / "filler_conversations" / "bob_Engineer.json"
    target.write_bytes(target.read_bytes().replace(b"one nit", b"two nits"))
    assert load(moved).fingerprint != original
    assert load(FIXTURE, categories=["abstention"]).fingerprint != original, "only the files read count"


def test_a_file_that_changes_between_reads_is_refused(tmp_path: Path) -> None:
    release = Release(copy_release(tmp_path), "evidence")
    file = release.base / ALICE_1.relative_to(BASE)
    release.read(file)
    file.write_bytes(file.read_bytes() + b"\n")
    with pytest.raises(DataError, match="changed while it was being read"):
        release.read(file)


def test_categories_are_checked() -> None:
    assert loader.selected_labels(None) == tuple(CATEGORIES.values())
    with pytest.raises(ConfigError, match="unknown ConvoMem categories gossip"):
        loader.selected_labels(["user_facts", "gossip"])
