"""Load a HaluMem file (the official release or the offline builder's output) into Episodes and Probes.

One JSONL line is one user, hence one Episode; sessions keep file order, because HaluMem-Long's noise
sessions carry out-of-order timestamps and the official protocol feeds them in list order. After
each evaluated session the task asks, in this order: what the system extracted from it (extraction),
what it retrieves for each updated memory (update), and the session's questions (qa). Gold data
(memory points, answers, evidence, persona_info) goes only into ``Probe.gold`` and the ``_``
labels the metrics read (the extraction probe's points, the question's placed evidence), never into
what a system ingests.

A question's ``evidence`` names memory points by their content only, without a session: the loader
finds the session that states each one (the latest point of that exact content in the question's
session or an earlier one; the official questions only cite those) and labels the probe with it, for
the retrieval metrics (``core.retrieval``). An evidence content that no such point states cannot be
placed: it is left out of the retrieval evidence, and counted in ``Dataset.metadata``
("evidence_unplaced").

The official files have quirks this loader accepts on purpose (see shared research notes, HaluMem
§1.3-1.5): ``is_update`` and ``is_generated_qa_session`` as strings "True"/"False" or as booleans, a
``questions`` key that is absent rather than empty, distractor points without ``importance``, and
malformed ``memory_type`` strings inside question evidence (kept verbatim). Everything else it reads
is type-checked, and a bad field is a one-line DataError naming file, line and field path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError, DataError
from membench.core.jsonl_input import Where, check, each_object, iter_jsonl, list_of, optional, require, shown
from membench.core.retrieval import EVIDENCE_LABEL, Evidence, evidence_label
from membench.core.types import Dataset, Episode, Probe, Session, Turn
from membench_tasks.halumem.metrics import gold_points_label

VARIANTS = ("medium", "long")
MEMORY_TYPES = ("Event Memory", "Persona Memory", "Relationship Memory")
#: retrieval budgets of the official protocol: top-10 for update probes, top-20 for questions.
UPDATE_TOP_K = 10
QA_TOP_K = 20

_NAME = re.compile(r"Name:\s*([^;]*)")
ROLES = ("user", "assistant")
#: the official "%b %d, %Y, %H:%M:%S" with English month names, checked without the locale.
_TIMESTAMP = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-2]\d|3[01]), \d{4}, "
    r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
)
_BOOL_STRINGS = {"true": True, "false": False}
_POINT_KEYS = ("subject", "required", "stale")


@dataclass
class _User:
    """One parsed JSONL line, before the dataset-wide variant is known."""

    uuid: str
    persona_name: str
    sessions: list[Session] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    #: each memory point's content -> the id of the latest session so far that states it.
    stated: dict[str, str] = field(default_factory=dict)
    #: question evidence whose content no point of its session or an earlier one states.
    unplaced: int = 0


def load_halumem(path: Path, variant: str | None = None) -> Dataset:
    """Episodes (one per user) and probes of a HaluMem JSONL file.

    ``variant`` ("medium" or "long") is inferred when not given: from the official file name, else
    "long" exactly when the file has generated noise sessions.
    """
    if variant is not None and variant not in VARIANTS:
        raise ConfigError(f"HaluMem variant must be one of {', '.join(VARIANTS)}, got '{variant}'")
    users: list[_User] = []
    first_line: dict[str, int] = {}
    for line, obj in iter_jsonl(path):
        user = _parse_user(obj, Where(path, line))
        if user.uuid in first_line:
            raise DataError(path, line, "uuid", f"repeats the uuid of line {first_line[user.uuid]}")
        first_line[user.uuid] = line
        users.append(user)
    if not users:
        raise DataError(path, None, None, "holds no users (the file is empty)")

    noise_sessions = sum(not s.evaluated for u in users for s in u.sessions)
    chosen = variant or _variant_from_name(path) or ("long" if noise_sessions else "medium")
    episodes = [
        Episode(
            episode_id=u.uuid,
            sessions=u.sessions,
            metadata={"persona_name": u.persona_name, "variant": chosen},
        )
        for u in users
    ]
    return Dataset(
        name="halumem",
        episodes=episodes,
        probes=[probe for u in users for probe in u.probes],
        fingerprint=file_sha256(path),
        source=str(path),
        metadata={
            "variant": chosen,
            "users": len(users),
            "sessions": sum(len(u.sessions) for u in users),
            "noise_sessions": noise_sessions,
            "evidence_unplaced": sum(u.unplaced for u in users),
        },
    )


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (the Long file is ~107 MB)."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc


def verify_sha256(path: Path, expected: str) -> str:
    """The file's sha256 if it equals ``expected`` (any case); a ConfigError otherwise."""
    actual = file_sha256(path)
    if actual != expected.strip().lower():
        raise ConfigError(
            f"{path} has sha256 {actual}, expected {expected.strip()}: the file is damaged, truncated or "
            "another release; download it again"
        )
    return actual


def _variant_from_name(path: Path) -> str | None:
    name = path.name.lower()
    for variant in VARIANTS:
        if name == f"halumem-{variant}.jsonl":
            return variant
    return None


def _parse_user(obj: dict[str, Any], at: Where) -> _User:
    uuid = require(obj, "uuid", str, at)
    if not uuid.strip():
        raise at.key("uuid").error("is empty")
    user = _User(uuid=uuid, persona_name=_persona_name(obj, at))
    for i, (s_at, raw) in enumerate(each_object(obj, "sessions", at)):
        session_id = f"{uuid}:s{i}"
        noise = _flag(raw, "is_generated_qa_session", s_at, default=False)
        user.sessions.append(
            Session(
                session_id=session_id,
                turns=[_parse_turn(m, m_at) for m_at, m in each_object(raw, "dialogue", s_at)],
                start_time=_timestamp(raw, "start_time", s_at),
                end_time=_timestamp(raw, "end_time", s_at),
                evaluated=not noise,
            )
        )
        if not noise:
            user.probes.extend(_session_probes(raw, s_at, user, i))
    if not user.sessions:
        raise at.key("sessions").error("is empty")
    return user


def _persona_name(obj: dict[str, Any], at: Where) -> str:
    """The persona's name: the text between "Name:" and the next ";" of persona_info."""
    persona = require(obj, "persona_info", str, at)
    match = _NAME.search(persona)
    if match is None or not match.group(1).strip():
        raise at.key("persona_info").error("has no 'Name: First Last;' entry")
    return match.group(1).strip()


def _parse_turn(raw: dict[str, Any], at: Where) -> Turn:
    role = require(raw, "role", str, at)
    if role not in ROLES:
        raise at.key("role").error(f"must be one of {', '.join(ROLES)}, got {shown(role)}")
    return Turn(
        role=role, content=require(raw, "content", str, at), timestamp=_timestamp(raw, "timestamp", at)
    )


def _timestamp(obj: dict[str, Any], key: str, at: Where) -> str:
    """A time in the release's format: systems parse it, so a malformed one would fail mid-run."""
    value = require(obj, key, str, at)
    if _TIMESTAMP.fullmatch(value) is None:
        raise at.key(key).error(f"must be a time like 'Dec 15, 2025, 06:11:23', got {shown(value)}")
    return value


def _session_probes(raw: dict[str, Any], at: Where, user: _User, i: int) -> list[Probe]:
    """Extraction, then update, then qa probes of evaluated session ``i`` (the official order)."""
    uuid = user.uuid
    prefix = f"{uuid}:s{i}"
    points = _parse_points(raw, at, prefix)
    user.stated.update({point["content"]: prefix for point in points})
    # Every evaluated session is probed, gold points or not: the official scorer judges the accuracy
    # of every extracted memory, including those of a session with no memory points.
    probes = [
        Probe(
            probe_id=f"{prefix}:extraction",
            episode_id=uuid,
            after_session=i,
            kind="extraction",
            mode="session_memories",
            gold={"memory_points": points},
            labels=gold_points_label(points),
        )
    ]
    for point in points:
        if point["is_update"] and point["original_memories"]:
            probes.append(
                Probe(
                    probe_id=f"{prefix}:update:{point['index']}",
                    episode_id=uuid,
                    after_session=i,
                    kind="update",
                    mode="retrieve",
                    query=point["content"],
                    top_k=UPDATE_TOP_K,
                    gold={"point": point},
                    labels={"memory_type": point["memory_type"]},
                )
            )
    for j, (q_at, question) in enumerate(each_object(raw, "questions", at, missing_ok=True)):
        text = require(question, "question", str, q_at)
        evidence = [
            {
                "memory_content": require(e, "memory_content", str, e_at),
                "memory_type": require(e, "memory_type", str, e_at),
            }
            for e_at, e in each_object(question, "evidence", q_at)
        ]
        labels = {
            "question_type": require(question, "question_type", str, q_at),
            "difficulty": require(question, "difficulty", str, q_at),
        }
        placed = _placed_evidence(evidence, user)
        if placed:
            labels[EVIDENCE_LABEL] = evidence_label(placed)
        probes.append(
            Probe(
                probe_id=f"{prefix}:qa:{j}",
                episode_id=uuid,
                after_session=i,
                kind="qa",
                mode="answer",
                question=text,
                query=text,
                top_k=QA_TOP_K,
                gold={
                    "answer": require(question, "answer", str, q_at),
                    "evidence": evidence,
                    "keys": _question_keys(question, q_at),
                },
                labels=labels,
            )
        )
    return probes


def _placed_evidence(evidence: list[dict[str, str]], user: _User) -> list[Evidence]:
    """A question's evidence as the sessions that state it (session-level: a memory point says
    which session states it, not which turn), with the point's content for text matching; the
    contents no session so far states are counted in ``user.unplaced``."""
    placed: list[Evidence] = []
    for item in evidence:
        session_id = user.stated.get(item["memory_content"])
        if session_id is None:
            user.unplaced += 1
        else:
            placed.append(Evidence(session_id, None, item["memory_content"]))
    return placed


def _parse_points(raw: dict[str, Any], at: Where, prefix: str) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    seen: set[int] = set()
    for p_at, point in each_object(raw, "memory_points", at):
        index = require(point, "index", int, p_at)
        if index in seen:
            raise p_at.key("index").error(f"repeats index {index} within the session")
        seen.add(index)
        source = require(point, "memory_source", str, p_at)
        originals = require(point, "original_memories", list, p_at)
        points.append(
            {
                "point_id": f"{prefix}:m{index}",
                "index": index,
                "content": require(point, "memory_content", str, p_at),
                "memory_type": _memory_type(require(point, "memory_type", str, p_at)),
                "source": source,
                "is_distractor": source == "interference",
                "is_update": _flag(point, "is_update", p_at),
                "original_memories": list_of(originals, str, p_at.key("original_memories")),
                "importance": _importance(point, p_at),
                "keys": _point_keys(point, p_at),
            }
        )
    return points


def _importance(point: dict[str, Any], at: Where) -> float | None:
    """A point's importance, the weight of weighted recall: absent or null (a distractor), else a
    finite number of at least 0 (``check`` refuses NaN, Infinity and overflow; a negative weight would
    turn a recalled point into a penalty)."""
    importance: float | None = optional(point, "importance", (float, type(None)), at, None)
    if importance is not None and importance < 0:
        raise at.key("importance").error(f"must be at least 0, got {importance}")
    return importance


def _memory_type(raw: str) -> str:
    """One of MEMORY_TYPES when exactly one of their leading words occurs in ``raw``, else ``raw``.

    Real data has forms like "[Dec 01, 2037, 22:12:52][Relationship Memory]"; a string naming no type,
    or several, is kept as given rather than guessed.
    """
    lowered = raw.lower()
    found = [t for t in MEMORY_TYPES if t.split()[0].lower() in lowered]
    return found[0] if len(found) == 1 else raw


def _flag(obj: dict[str, Any], key: str, at: Where, default: bool | None = None) -> bool:
    """A boolean written as JSON true/false or as the strings "True"/"False" (any case).

    Required unless ``default`` is given.
    """
    if key not in obj:
        if default is None:
            raise at.key(key).error("is missing")
        return default
    value = check(obj[key], (bool, str), at.key(key))
    if isinstance(value, bool):
        return value
    if value.strip().lower() not in _BOOL_STRINGS:
        raise at.key(key).error(f'must be true/false or "True"/"False", got {shown(value)}')
    return _BOOL_STRINGS[value.strip().lower()]


def _point_keys(point: dict[str, Any], at: Where) -> dict[str, list[str]] | None:
    """The builder's machine-checkable keys of a memory point; None on official data."""
    keys = optional(point, "membench_keys", dict, at, None)
    if keys is None:
        return None
    keys_at = at.key("membench_keys")
    return {name: list_of(require(keys, name, list, keys_at), str, keys_at.key(name)) for name in _POINT_KEYS}


def _question_keys(question: dict[str, Any], at: Where) -> dict[str, Any] | None:
    """The builder's machine-checkable keys of a question; None on official data."""
    keys = optional(question, "membench_keys", dict, at, None)
    if keys is None:
        return None
    keys_at = at.key("membench_keys")
    return {
        "required": list_of(require(keys, "required", list, keys_at), str, keys_at.key("required")),
        "reject": list_of(require(keys, "reject", list, keys_at), str, keys_at.key("reject")),
        "unknown": require(keys, "unknown", bool, keys_at),
    }
