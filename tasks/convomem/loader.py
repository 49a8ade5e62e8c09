"""Read a ConvoMem release (the official one or the offline builder's) into validated items and conversations.

The release is a file tree, not a table (research note §1.1, §1.3)::

    core_benchmark/evidence_questions/<folder>/<N>_evidence/<persona>.json   EvidencePayload
    core_benchmark/filler_conversations/<persona>.json                       EvidencePayload or [Conversation]
    core_benchmark/pre_mixed_testcases/<folder>/<N>_evidence/batched_NNN.json  [TestCase]

``<folder>`` names the evidence type (``CATEGORIES`` maps it to membench's label) and ``N`` the number
of evidence messages. Files are large (a pre-mixed file holds up to 300 conversations per test case),
so this module reads one file at a time and hands back plain frozen values; what to keep is decided
by ``haystacks``, which reads a file a second time rather than hold a folder in memory. ``Release``
records the sha256 of every file it reads: that is the dataset's fingerprint, and a file whose bytes
change between two reads is refused.

Every field read is type-checked, and bad data is a one-line DataError naming the file and the record
path inside it (``evidence_items[3].conversations[1].messages[4].speaker``): the files are single JSON
documents, so the record is a path, not a line, except for a syntax error, which names its line.
Speakers are accepted in any case and kept as "User"/"Assistant". The official files mix snake_case
(EvidencePayload, EvidenceItem) with camelCase (TestCase, ``personId``, ``containsEvidence``); both are
read as released.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError, DataError
from membench.core.jsonl_input import Where, check, each_object, list_of, optional, parse_json, require, shown

#: evidence-type folder of the release -> the category label used across membench.
CATEGORIES: dict[str, str] = {
    "user_evidence": "user_facts",
    "assistant_facts_evidence": "assistant_facts",
    "changing_evidence": "changing_facts",
    "abstention_evidence": "abstention",
    "preference_evidence": "preferences",
    "implicit_connection_evidence": "implicit_connections",
}
EVIDENCE_FOLDER = "evidence_questions"
FILLER_FOLDER = "filler_conversations"
PRE_MIXED_FOLDER = "pre_mixed_testcases"
#: the folders each form reads, under ROOT/core_benchmark.
FORM_FOLDERS: dict[str, tuple[str, ...]] = {
    "evidence": (EVIDENCE_FOLDER, FILLER_FOLDER),
    "pre_mixed": (PRE_MIXED_FOLDER,),
}
SPEAKERS = {"user": "User", "assistant": "Assistant"}
# The generator's test that an evidence message made it into a conversation (ConversationValidator):
# a message of the same speaker contains the text; or the text contains a message at least 80% as long;
# or the two are within max(10, 15% of the text's length) single-character edits.
PARTIAL_SHARE = 0.8
FUZZY_SHARE = 0.15
FUZZY_MIN_EDITS = 10

_TIER = re.compile(r"([1-9]\d*)_evidence")
_NULL_OR_TEXT = (str, type(None))
_KEY_LISTS = ("require", "forbid")


@dataclass(frozen=True, slots=True)
class Message:
    speaker: str  # "User" or "Assistant"
    text: str

    def as_gold(self) -> dict[str, str]:
        return {"speaker": self.speaker, "text": self.text}


@dataclass(frozen=True, slots=True)
class Conversation:
    messages: tuple[Message, ...]
    conversation_id: str | None


@dataclass(frozen=True)
class Cell:
    """One ``<folder>/<N>_evidence`` folder: a category at one evidence count."""

    folder: str
    label: str
    evidence_count: int
    path: Path

    @property
    def key(self) -> str:
        return f"{self.label}:{self.evidence_count}"


@dataclass(frozen=True)
class EvidenceItem:
    """One question with its gold and its own evidence conversations, and where it was read."""

    item_id: str
    label: str
    evidence_count: int
    persona_id: str
    question: str
    answer: str
    message_evidences: tuple[Message, ...]
    conversations: tuple[Conversation, ...]
    keys: dict[str, Any] | None
    file: Path
    record: str  # e.g. "evidence_items[3]" or "[2].evidenceItems[0]"


@dataclass(frozen=True)
class PreMixedCase:
    """One official TestCase: a mixed haystack and the items asked on it."""

    index: int
    items: tuple[EvidenceItem, ...]
    conversations: tuple[Conversation, ...]
    context_size: int


def item_id_of(folder: str, evidence_count: int, persona_key: str, question: str, answer: str) -> str:
    """The item's id: the same item has the same id at every context size and on every machine."""
    joined = "\n".join((folder, str(evidence_count), persona_key, question, answer))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:12]


class Release:
    """The release tree of one form: where its folders are, and the files read so far (the fingerprint).

    ``path`` may be the release root or its ``core_benchmark`` folder.
    """

    def __init__(self, path: Path, form: str) -> None:
        if not path.is_dir():
            raise ConfigError(
                f"ConvoMem data {path} is not a folder (give the release root or core_benchmark)"
            )
        self.base = path / "core_benchmark" if (path / "core_benchmark").is_dir() else path
        missing = [name for name in FORM_FOLDERS[form] if not (self.base / name).is_dir()]
        if missing:
            expected = " and ".join(str(self.base / name) for name in FORM_FOLDERS[form])
            raise ConfigError(
                f"ConvoMem form '{form}' reads {expected}, but {', '.join(missing)} is missing there "
                "(give the release root or its core_benchmark folder)"
            )
        self._digests: dict[str, str] = {}

    def cells(self, top: str, labels: Collection[str], counts: Collection[int] | None) -> list[Cell]:
        """The ``<folder>/<N>_evidence`` folders under ``top`` of the selected labels and counts, in
        CATEGORIES order then by N. Every category folder must be known, and every tier folder of a
        selected category must be named ``<N>_evidence``."""
        order = list(CATEGORIES)
        cells: list[Cell] = []
        for folder in _subfolders(self.base / top):
            if folder.name not in CATEGORIES:
                raise DataError(folder, None, None, f"is not a ConvoMem category folder ({', '.join(order)})")
            if CATEGORIES[folder.name] not in labels:
                continue
            for tier in _subfolders(folder):
                match = _TIER.fullmatch(tier.name)
                if match is None:
                    raise DataError(tier, None, None, "is not an evidence-count folder named <N>_evidence")
                count = int(match.group(1))
                if counts is None or count in counts:
                    cells.append(Cell(folder.name, CATEGORIES[folder.name], count, tier))
        return sorted(cells, key=lambda c: (order.index(c.folder), c.evidence_count))

    def json_files(self, folder: Path) -> list[Path]:
        """The ``.json`` files directly in ``folder``, sorted by name (never the OS listing order)."""
        return sorted(p for p in folder.iterdir() if p.suffix == ".json" and p.is_file() and p.name[0] != ".")

    def filler_files(self) -> list[Path]:
        return self.json_files(self.base / FILLER_FOLDER)

    def read(self, file: Path) -> Any:
        """The parsed JSON of ``file``, its digest recorded (a second read must see the same bytes)."""
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise DataError(file, None, None, f"cannot be read: {exc.strerror or exc}") from exc
        digest = hashlib.sha256(data).hexdigest()
        if self._digests.setdefault(file.relative_to(self.base).as_posix(), digest) != digest:
            raise DataError(file, None, None, "changed while it was being read; load it again")
        return parse_file(file, data)

    def fingerprint(self) -> str:
        """sha256 over the sorted relative paths and digests of the files read: the same release copied
        elsewhere, or given as its root or its core_benchmark folder, has the same fingerprint."""
        digest = hashlib.sha256()
        for relative in sorted(self._digests):
            digest.update(f"{relative}\0{self._digests[relative]}\n".encode())
        return digest.hexdigest()


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def parse_file(file: Path, data: bytes) -> Any:
    """A whole JSON file's value, or a one-line DataError (a syntax error or bad byte names its line)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        problem = f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})"
        raise DataError(file, data.count(b"\n", 0, exc.start) + 1, None, problem) from None
    try:
        return parse_json(text, file, None)
    except DataError as exc:
        syntax_line = _syntax_error_line(text) if exc.field is None else None
        if syntax_line is None:
            raise
        raise DataError(file, syntax_line, None, exc.problem) from None


def _syntax_error_line(text: str) -> int | None:
    """The line of the JSON syntax error in ``text`` (parsed again: this runs only on the error path)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.lineno
    except (ValueError, RecursionError):
        return None
    return None


# ---------------------------------------------------------------- the three kinds of file


def read_evidence_file(release: Release, cell: Cell, file: Path) -> list[EvidenceItem]:
    """The items of one evidence_questions file (an EvidencePayload), in file order."""
    value = release.read(file)
    root = Where(file, None)
    if not isinstance(value, dict):
        raise DataError(file, None, None, f"must be an EvidencePayload object, got {_kind(value)}")
    optional(value, "checkpoint", _NULL_OR_TEXT, root, None)
    return list(_items(value, "evidence_items", root, cell, file, id_key=file.stem))


def read_filler_file(release: Release, file: Path) -> list[tuple[str, Conversation]]:
    """(persona id, conversation) for every conversation of a filler file, in file order.

    In the EvidencePayload form the persona is each item's ``personId`` (the file stem when it has
    none); in the bare-list form it is the file stem.
    """
    value = release.read(file)
    root = Where(file, None)
    if isinstance(value, list):
        return [
            (file.stem, _conversation(check(raw, dict, root.item(i)), root.item(i)))
            for i, raw in enumerate(value)
        ]
    if not isinstance(value, dict):
        raise DataError(file, None, None, f"must be an EvidencePayload object or a list, got {_kind(value)}")
    found: list[tuple[str, Conversation]] = []
    for at, obj in each_object(value, "evidence_items", root):
        persona = _persona(obj, at, file.stem)
        found.extend((persona, _conversation(c, c_at)) for c_at, c in each_object(obj, "conversations", at))
    return found


def read_test_cases(release: Release, cell: Cell, file: Path) -> list[PreMixedCase]:
    """The TestCases of one pre-mixed batched file (a list), in file order."""
    value = release.read(file)
    root = Where(file, None)
    if not isinstance(value, list):
        raise DataError(file, None, None, f"must be a list of TestCase objects, got {_kind(value)}")
    cases: list[PreMixedCase] = []
    for i, raw in enumerate(value):
        at = root.item(i)
        obj = check(raw, dict, at)
        items = _items(obj, "evidenceItems", at, cell, file, id_key=None)
        conversations = tuple(_conversation(c, c_at) for c_at, c in each_object(obj, "conversations", at))
        if not conversations:
            raise at.key("conversations").error("is empty (a test case needs its haystack)")
        size = optional(obj, "contextSize", (int, type(None)), at, None)
        if size is not None and size < 1:
            raise at.key("contextSize").error(f"must be at least 1, got {size}")
        cases.append(PreMixedCase(i, items, conversations, len(conversations) if size is None else size))
    return cases


# ---------------------------------------------------------------- records


def _items(
    obj: dict[str, Any], key: str, at: Where, cell: Cell, file: Path, id_key: str | None
) -> tuple[EvidenceItem, ...]:
    """The items of list field ``key``; two with the same question and answer would share an id (and
    their probes an id), so a repeat is refused."""
    items: list[EvidenceItem] = []
    first: dict[str, int] = {}
    for k, (item_at, raw) in enumerate(each_object(obj, key, at)):
        item = _item(raw, item_at, cell, file, id_key)
        if item.item_id in first:
            raise item_at.error(f"repeats the question and answer of {key}[{first[item.item_id]}]")
        first[item.item_id] = k
        items.append(item)
    return tuple(items)


def _item(obj: dict[str, Any], at: Where, cell: Cell, file: Path, id_key: str | None) -> EvidenceItem:
    """An EvidenceItem. Its id is keyed on ``id_key`` (the persona file's stem) or, in a pre-mixed file,
    which has no persona file, on the item's persona."""
    question = require(obj, "question", str, at)
    answer = require(obj, "answer", str, at)
    require(obj, "category", str, at)
    for key in ("scenario_description", "use_case_model_name", "core_model_name"):
        optional(obj, key, _NULL_OR_TEXT, at, None)
    # Without a personId, an evidence file's persona is its stem; a pre-mixed file's stem (batched_000)
    # recurs in every category folder, so its fallback names the folder too: one cluster per file.
    fallback = file.stem if id_key is not None else f"{cell.label}-{cell.evidence_count}e-{file.stem}"
    persona = _persona(obj, at, fallback)
    evidences = _messages(obj, "message_evidences", at)
    conversations = tuple(_conversation(c, c_at) for c_at, c in each_object(obj, "conversations", at))
    return EvidenceItem(
        item_id=item_id_of(cell.folder, cell.evidence_count, id_key or persona, question, answer),
        label=cell.label,
        evidence_count=cell.evidence_count,
        persona_id=persona,
        question=question,
        answer=answer,
        message_evidences=evidences,
        conversations=conversations,
        keys=_keys(obj, at),
        file=file,
        record=at.field,
    )


def _persona(obj: dict[str, Any], at: Where, fallback: str) -> str:
    person: str | None = optional(obj, "personId", _NULL_OR_TEXT, at, None)
    return person if person and person.strip() else fallback


def _conversation(obj: dict[str, Any], at: Where) -> Conversation:
    messages = _messages(obj, "messages", at)
    optional(obj, "containsEvidence", (bool, type(None)), at, None)
    optional(obj, "model_name", _NULL_OR_TEXT, at, None)
    return Conversation(messages, optional(obj, "id", _NULL_OR_TEXT, at, None))


def _messages(obj: dict[str, Any], key: str, at: Where) -> tuple[Message, ...]:
    """The list of messages at ``key``. Messages are most of a release (about 100 per conversation), so
    a well-formed one is checked inline and only a bad one takes ``_message``'s path to its error."""
    found: list[Message] = []
    for i, raw in enumerate(require(obj, key, list, at)):
        speaker = raw.get("speaker") if type(raw) is dict else None
        canonical = SPEAKERS.get(speaker.lower()) if type(speaker) is str else None
        text = raw.get("text") if canonical is not None else None
        if type(text) is str and canonical is not None:
            found.append(Message(canonical, text))
        else:
            place = at.key(key).item(i)
            found.append(_message(check(raw, dict, place), place))
    return tuple(found)


def _message(obj: dict[str, Any], at: Where) -> Message:
    speaker = require(obj, "speaker", str, at)
    canonical = SPEAKERS.get(speaker.lower())
    if canonical is None:
        raise at.key("speaker").error(f"must be User or Assistant, got {shown(speaker)}")
    return Message(canonical, require(obj, "text", str, at))


def _keys(obj: dict[str, Any], at: Where) -> dict[str, Any] | None:
    """The builder's machine-checkable keys; None on official data, which has none."""
    keys = optional(obj, "membench_keys", (dict, type(None)), at, None)
    if keys is None:
        return None
    keys_at = at.key("membench_keys")
    checked: dict[str, Any] = {
        name: list_of(require(keys, name, list, keys_at), str, keys_at.key(name)) for name in _KEY_LISTS
    }
    checked["abstain"] = require(keys, "abstain", bool, keys_at)
    return checked


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


# ---------------------------------------------------------------- evidence in conversations


def contains_evidence(evidence: Message, conversation: Conversation) -> bool:
    """Whether a message of the evidence's speaker in ``conversation`` contains its text verbatim."""
    return any(m.speaker == evidence.speaker and evidence.text in m.text for m in conversation.messages)


def appears_in(evidence: Message, conversation: Conversation) -> bool:
    """The generator's test that ``evidence`` made it into ``conversation``: verbatim, as a message it
    contains (at least ``PARTIAL_SHARE`` of its length), or within a few edits of a message."""
    if contains_evidence(evidence, conversation):
        return True
    wanted = evidence.text
    said = [m.text for m in conversation.messages if m.speaker == evidence.speaker]
    if any(text in wanted and len(text) >= PARTIAL_SHARE * len(wanted) for text in said):
        return True
    limit = max(FUZZY_MIN_EDITS, int(len(wanted) * FUZZY_SHARE))
    return any(within_edits(text, wanted, limit) for text in said)


def require_evidence_present(item: EvidenceItem) -> None:
    """Refuse an item with an evidence message found in none of its own conversations (the generator
    refused such items, so one here is damaged data). Checked on the items a run asks: the fuzzy test
    is too slow to run over every item of a 1.2 GB release."""
    for j, evidence in enumerate(item.message_evidences):
        if not any(appears_in(evidence, c) for c in item.conversations):
            raise DataError(
                item.file,
                None,
                f"{item.record}.message_evidences[{j}].text",
                f"is said by no {evidence.speaker} message of the item's {len(item.conversations)} "
                f"conversation(s): {shown(evidence.text)}",
            )


def within_edits(a: str, b: str, limit: int) -> bool:
    """Whether the Levenshtein distance between ``a`` and ``b`` is at most ``limit``.

    Only the band of cells within ``limit`` of the diagonal can hold a distance that small, so only
    those are computed, and the scan stops as soon as a whole row exceeds the limit.
    """
    if abs(len(a) - len(b)) > limit:
        return False
    over = limit + 1
    previous = [j if j <= limit else over for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        low, high = max(1, i - limit), min(len(b), i + limit)
        current = [over] * (len(b) + 1)
        current[0] = i if i <= limit else over
        char = a[i - 1]
        for j in range(low, high + 1):
            substitute = previous[j - 1] + (char != b[j - 1])
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitute, over)
        if min(current[low - 1 : high + 1]) > limit:
            return False
        previous = current
    return previous[len(b)] <= limit


def selected_labels(categories: Sequence[str] | None) -> tuple[str, ...]:
    """The category labels to read (``None`` = all), each checked against ``CATEGORIES``."""
    labels = tuple(CATEGORIES.values())
    if categories is None:
        return labels
    unknown = [c for c in categories if c not in labels]
    if unknown:
        raise ConfigError(f"unknown ConvoMem categories {', '.join(unknown)}; known: {', '.join(labels)}")
    return tuple(dict.fromkeys(categories))
