"""Read a LoCoMo file (the official ``locomo10.json`` or the offline builder's) into episodes and probes.

The file is one JSON list of conversations (research note §3.4)::

    [{"sample_id": "conv-26",
      "conversation": {"speaker_a": "...", "speaker_b": "...",
                       "session_1_date_time": "1:56 pm on 8 May, 2023",
                       "session_1": [{"speaker": "...", "dia_id": "D1:1", "text": "...",
                                      "img_url": [...], "blip_caption": "...", "query": "..."}, ...],
                       ...},
      "qa": [{"question": "...", "answer": "...", "evidence": ["D1:3"], "category": 2},
             {"question": "...", "adversarial_answer": "...", "evidence": [...], "category": 5}, ...],
      "observation": ..., "session_summary": ..., "event_summary": ...}, ...]

Only ``sample_id``, ``conversation`` and ``qa`` are read (the generated observations and summaries are
other tasks' inputs). How it maps:

- One conversation is one episode; its sessions, in the order of their numbers, are its sessions, with
  ``session_<n>_date_time`` as the start time (ISO, so times order as text; the original text stays in
  the episode's metadata). An empty session is skipped, as the original code does.
- Both speakers' turns go into the one memory. Speaker A's turns have role ``user`` and speaker B's
  role ``assistant`` (systems such as mem0 and the hosted APIs take only those two), and every turn's
  content starts with the speaker's name, ``"Caroline: ..."``, so who said it survives into whatever a
  system stores. A shared image's BLIP caption follows the text as ``[shares <caption>]``, the
  original's rendering.
- Each QA item is one probe asked after the last session, labelled with its category's name
  (``official.CATEGORIES``). Category 5 (adversarial) has ``adversarial_answer`` instead of
  ``answer``: it is the wrong answer the question baits, kept as the item's key (the official rule
  scores the prediction, not the key). Answers that are numbers (a year) are read as text.
- ``evidence`` dialog ids ("D1:3") are resolved to the turn that has that ``dia_id`` (its session,
  and its 0-based index over every turn of the conversation, as ``core.retrieval`` counts) and kept
  for the retrieval metrics. One id string can hold several ("D8:6; D9:17", a known defect of the
  release); an id naming no turn of its conversation is left out and counted in the dataset's
  metadata (``unresolved_evidence``), never guessed.

Bad data is a one-line DataError naming the file and the record path (``[3].qa[12].category``); the
file is one JSON document, so the record is a path, not a line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError
from membench.core.jsonl_input import Where, check, each_object, optional, parse_json, require
from membench.core.retrieval import Evidence, evidence_label
from membench.core.types import Dataset, Episode, Probe, Session, Turn
from membench_tasks.halumem.loader import file_sha256
from membench_tasks.locomo.official import ADVERSARIAL, CATEGORIES

#: the file a pull writes and a folder given as ``-T data=`` is read from.
FILE_NAME = "locomo10.json"
#: the original's date format ("1:56 pm on 8 May, 2023").
DATE_FORMAT = "%I:%M %p on %d %B, %Y"
#: the role of each speaker's turns.
ROLES = {"speaker_a": "user", "speaker_b": "assistant"}

_SESSION = re.compile(r"session_([1-9]\d*)")
_DIA_ID = re.compile(r"D(\d+):(\d+)")


@dataclass(frozen=True)
class _Conversation:
    episode: Episode
    probes: list[Probe]
    unresolved: int


def locomo_file(path: Path) -> Path:
    """The LoCoMo file ``-T data=`` names: the file itself, or a folder holding ``locomo10.json``."""
    if path.is_dir():
        path = path / FILE_NAME
    if not path.is_file():
        raise ConfigError(f"no LoCoMo file at {path} (membench data pull locomo writes one)")
    return path


def load_locomo(path: Path, *, top_k: int) -> Dataset:
    """Every conversation of the file at ``path`` as an episode, each QA item as a probe."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    at = Where(path, None)
    samples = check(parse_json(text, path, None), list, at)
    if not samples:
        raise at.error("holds no conversations (an empty list)")
    conversations: list[_Conversation] = []
    seen: dict[str, int] = {}
    for index, sample in enumerate(samples):
        sample_at = at.item(index)
        conversation = _conversation(check(sample, dict, sample_at), sample_at, top_k)
        sample_id = conversation.episode.episode_id
        if sample_id in seen:
            raise sample_at.key("sample_id").error(f"repeats the sample_id of [{seen[sample_id]}]")
        seen[sample_id] = index
        conversations.append(conversation)
    return Dataset(
        name="locomo",
        episodes=[c.episode for c in conversations],
        probes=[probe for c in conversations for probe in c.probes],
        fingerprint=file_sha256(path),
        source=str(path),
        metadata={
            "conversations": len(conversations),
            "sessions": sum(len(c.episode.sessions) for c in conversations),
            "questions": sum(len(c.probes) for c in conversations),
            "unresolved_evidence": sum(c.unresolved for c in conversations),
        },
    )


def _conversation(sample: Mapping[str, Any], at: Where, top_k: int) -> _Conversation:
    sample_id = require(sample, "sample_id", str, at)
    if not sample_id.strip():
        raise at.key("sample_id").error("is empty")
    conv_at = at.key("conversation")
    conv = require(sample, "conversation", dict, at)
    speakers = {key: require(conv, key, str, conv_at) for key in ROLES}
    if speakers["speaker_a"] == speakers["speaker_b"]:
        raise conv_at.key("speaker_b").error(f"is the same as speaker_a ({speakers['speaker_a']})")
    roles = {name: ROLES[key] for key, name in speakers.items()}
    numbers = sorted(int(m.group(1)) for key in conv if (m := _SESSION.fullmatch(key)))
    if not numbers:
        raise conv_at.error("has no session_<n> list")
    sessions: list[Session] = []
    dates: dict[str, str] = {}
    turns_by_id: dict[tuple[int, int], tuple[str, int, str]] = {}
    position = 0  # the turn's index in the episode, as core.retrieval.Evidence counts it
    for number in numbers:
        key = f"session_{number}"
        date_key = f"{key}_date_time"
        date_text = require(conv, date_key, str, conv_at)
        start = _iso(date_text, conv_at.key(date_key))
        session_id = f"{sample_id}/{key}"
        turns: list[Turn] = []
        for turn_at, raw in each_object(conv, key, conv_at):
            turn, dia_id, said = _turn(raw, turn_at, roles, start)
            found = _DIA_ID.fullmatch(dia_id)
            if found is None:
                raise turn_at.key("dia_id").error(f'must look like "D{number}:<turn>", got "{dia_id}"')
            ids = (int(found.group(1)), int(found.group(2)))
            if ids in turns_by_id:
                raise turn_at.key("dia_id").error(f'repeats the dia_id "{dia_id}"')
            turns_by_id[ids] = (session_id, position, said)
            position += 1
            turns.append(turn)
        if turns:
            sessions.append(Session(session_id=session_id, turns=turns, start_time=start))
            dates[session_id] = date_text
    if not sessions:
        raise conv_at.error("has no turns in any session")
    episode = Episode(
        episode_id=sample_id, sessions=sessions, metadata={"speakers": speakers, "date_times": dates}
    )
    probes: list[Probe] = []
    unresolved = 0
    for qa_at, qa in each_object(sample, "qa", at):
        probe, missed = _probe(qa, qa_at, sample_id, len(probes), len(sessions) - 1, turns_by_id, top_k)
        probes.append(probe)
        unresolved += missed
    if not probes:
        raise at.key("qa").error("holds no questions")
    return _Conversation(episode, probes, unresolved)


def _iso(text: str, at: Where) -> str:
    """A LoCoMo date ("1:56 pm on 8 May, 2023") as ISO 8601 ("2023-05-08T13:56:00")."""
    try:
        return datetime.strptime(" ".join(text.split()), DATE_FORMAT).isoformat()
    except ValueError:
        raise at.error(f'must be a date like "1:56 pm on 8 May, 2023", got "{text}"') from None


def _turn(raw: Mapping[str, Any], at: Where, roles: Mapping[str, str], start: str) -> tuple[Turn, str, str]:
    """The turn, its ``dia_id``, and what was said without the speaker's name (the evidence text: the
    name is in every turn of that speaker, so matching by text on it would find any of them)."""
    speaker = require(raw, "speaker", str, at)
    if speaker not in roles:
        raise at.key("speaker").error(
            f'must be one of the two speakers ({", ".join(roles)}), got "{speaker}"'
        )
    dia_id = require(raw, "dia_id", str, at)
    said = require(raw, "text", str, at)
    caption = optional(raw, "blip_caption", str, at, "")
    if caption.strip():
        said += f" [shares {caption.strip()}]"
    return Turn(role=roles[speaker], content=f"{speaker}: {said}", timestamp=start), dia_id, said


def _probe(
    qa: Mapping[str, Any],
    at: Where,
    sample_id: str,
    index: int,
    last_session: int,
    turns_by_id: Mapping[tuple[int, int], tuple[str, int, str]],
    top_k: int,
) -> tuple[Probe, int]:
    """One QA item as a probe, and how many of its evidence ids name no turn."""
    question = require(qa, "question", str, at)
    category = require(qa, "category", int, at)
    if category not in CATEGORIES:
        raise at.key("category").error(f"must be one of {', '.join(map(str, CATEGORIES))}, got {category}")
    field = "adversarial_answer" if category == ADVERSARIAL and "adversarial_answer" in qa else "answer"
    answer = require(qa, field, (str, int, float), at)
    raw_ids = optional(qa, "evidence", list, at, [])
    ids = [check(value, str, at.key("evidence").item(i)) for i, value in enumerate(raw_ids)]
    evidence, unresolved = _evidence(ids, turns_by_id)
    gold: dict[str, Any] = {"answer": str(answer), "category": category, "evidence": ids}
    keys = optional(qa, "membench_keys", dict, at, None)
    if keys is not None:
        gold["keys"] = _keys(keys, at.key("membench_keys"))
    probe = Probe(
        probe_id=f"{sample_id}/q{index + 1:04d}",
        episode_id=sample_id,
        after_session=last_session,
        kind="qa",
        mode="answer",
        question=question,
        query=question,
        top_k=top_k,
        gold=gold,
        labels={"category": CATEGORIES[category], "_evidence": evidence_label(evidence)},
    )
    return probe, unresolved


def _evidence(
    ids: list[str], turns_by_id: Mapping[tuple[int, int], tuple[str, int, str]]
) -> tuple[list[Evidence], int]:
    """The turns the evidence ids name, each once, and the count of ids that name none."""
    found: dict[tuple[int, int], Evidence] = {}
    unresolved = 0
    for value in ids:
        named = _DIA_ID.findall(value)
        unresolved += not named
        for session, turn in named:
            place = turns_by_id.get((int(session), int(turn)))
            if place is None:
                unresolved += 1
                continue
            session_id, position, text = place
            found.setdefault((int(session), int(turn)), Evidence(session_id, position, text))
    return list(found.values()), unresolved


def _keys(raw: Mapping[str, Any], at: Where) -> dict[str, Any]:
    """Built data's keys, checked: ``require`` a list of texts, ``abstain`` a boolean."""
    require_list = optional(raw, "require", list, at, [])
    for i, value in enumerate(require_list):
        check(value, str, at.key("require").item(i))
    abstain = optional(raw, "abstain", bool, at, False)
    if not require_list and not abstain:
        raise at.error("requires nothing and does not abstain: no answer could be judged")
    return {"require": list(require_list), "abstain": abstain}
