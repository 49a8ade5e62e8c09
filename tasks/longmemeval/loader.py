"""Read a LongMemEval file (the official release's or the offline builder's) into episodes and probes.

The release (xiaowu0162/LongMemEval; ``longmemeval_s_cleaned.json``, ``longmemeval_m_cleaned.json``,
``longmemeval_oracle.json``) is one JSON list of questions, each with its own haystack::

    {"question_id", "question_type", "question", "answer", "question_date",
     "haystack_session_ids": [...], "haystack_dates": [...],
     "haystack_sessions": [[{"role", "content", "has_answer"?}, ...], ...],
     "answer_session_ids": [...]}

- One question is one episode: its haystack's sessions are ingested oldest first (the haystack's own
  order in the ``_s`` and ``_m`` files, which upstream sorts by date; ``_oracle`` is not sorted, so
  the sessions are put in date order, ties kept in file order), each with its date as ``start_time``
  and on every turn. The question is asked after the last session, and the reader is shown its
  ``question_date`` (``Probe.inputs``), which temporal questions ("how many days ago") need.
- Abstention questions are those whose ``question_id`` ends in ``_abs``: there is no separate type,
  so ``question_type`` is one of the six and the abstention flag is read from the id alone
  (``is_abstention``), whatever the type says.
- Each answerable question carries its evidence, the ``answer_session_ids``, for the session-level
  retrieval metrics (``membench.core.retrieval``), with the text of the session's ``has_answer``
  turns (the whole session when none is flagged) for systems that return no session ids.
  Abstention questions carry none: upstream's retrieval metrics skip them, as they ask about
  something that was never said.
- Built data adds ``membench_keys`` (``require``/``forbid`` phrases for the exact rule judge); the
  official file never has them.

Every field read is type-checked; bad data is one ``DataError`` naming the file, the record's index
and field path (``[3].haystack_sessions[2][1].role``) and its ``question_id``. The file is one JSON
document read whole: ``_m`` (2.7 GB) needs several times that in memory.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError, DataError
from membench.core.jsonl_input import Where, check, list_of, optional, parse_json, require
from membench.core.retrieval import EVIDENCE_LABEL, Evidence, evidence_label
from membench.core.types import Dataset, Episode, Probe, Session, Turn

#: the six question types, in the order upstream's ``print_qa_metrics.py`` lists them.
QUESTION_TYPES: tuple[str, ...] = (
    "single-session-user",
    "single-session-preference",
    "single-session-assistant",
    "multi-session",
    "temporal-reasoning",
    "knowledge-update",
)
ABSTENTION_SUFFIX = "_abs"
ROLES = ("user", "assistant")
#: how the release writes a date: "2023/05/20 (Sat) 02:21".
_DATE = re.compile(r"(\d{4})/(\d{2})/(\d{2}) \((\w{3})\) (\d{2}):(\d{2})")


def is_abstention(question_id: str) -> bool:
    """Whether a question is an abstention question: its id ends in ``_abs`` (there is no type for it)."""
    return question_id.endswith(ABSTENTION_SUFFIX)


def iso_date(text: str, at: Where) -> str:
    """A release date ("2023/05/20 (Sat) 02:21") as ISO 8601 ("2023-05-20T02:21:00"), which orders as text."""
    found = _DATE.fullmatch(text.strip())
    if found is None:
        raise at.error(f'must be a date like "2023/05/20 (Sat) 02:21", got "{text[:40]}"')
    year, month, day, _weekday, hour, minute = found.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute))
    except ValueError as exc:
        raise at.error(f'is not a real date ("{text}": {exc})') from None
    return moment.isoformat()


def load_longmemeval(path: Path, *, top_k: int) -> Dataset:
    """Every question of ``path`` as one episode with one probe."""
    if not path.is_file():
        raise ConfigError(
            f"LongMemEval file not found: {path} (membench data pull longmemeval, or give the JSON file "
            "with -T data=PATH)"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, None, None, f"is not valid UTF-8 (byte {exc.start})") from None
    root = Where(path, None)
    records = check(parse_json(text, path, None), list, root)
    episodes: list[Episode] = []
    probes: list[Probe] = []
    seen: set[str] = set()
    for index, value in enumerate(records):
        at = root.item(index)
        record = check(value, dict, at)
        question_id = require(record, "question_id", str, at)
        try:
            episode, probe = _question(record, question_id, at, top_k)
        except DataError as exc:
            raise DataError(path, None, exc.field, f"{exc.problem} (question_id {question_id})") from None
        if question_id in seen:
            raise at.key("question_id").error(f"repeats question_id {question_id}")
        seen.add(question_id)
        episodes.append(episode)
        probes.append(probe)
    if not probes:
        raise root.error("is an empty list: it holds no question")
    return Dataset(
        name="longmemeval",
        episodes=episodes,
        probes=probes,
        fingerprint=hashlib.sha256(raw).hexdigest(),
        source=str(path),
        metadata={
            "questions": len(probes),
            "abstention": sum(p.gold["abstention"] for p in probes),
            "sessions": sum(len(e.sessions) for e in episodes),
        },
    )


def _question(record: dict[str, Any], question_id: str, at: Where, top_k: int) -> tuple[Episode, Probe]:
    """One record's episode (its haystack) and probe (its question)."""
    question_type = require(record, "question_type", str, at)
    if question_type not in QUESTION_TYPES:
        raise at.key("question_type").error(
            f"must be one of {', '.join(QUESTION_TYPES)}, got '{question_type}'"
        )
    question = require(record, "question", str, at)
    answer = require(record, "answer", (str, int, float), at)
    question_date = require(record, "question_date", str, at)
    iso_date(question_date, at.key("question_date"))
    ids = list_of(require(record, "haystack_session_ids", list, at), str, at.key("haystack_session_ids"))
    dates = list_of(require(record, "haystack_dates", list, at), str, at.key("haystack_dates"))
    contents = require(record, "haystack_sessions", list, at)
    if not len(ids) == len(dates) == len(contents):
        raise at.key("haystack_sessions").error(
            f"has {len(contents)} sessions, but haystack_session_ids has {len(ids)} and haystack_dates "
            f"{len(dates)}: the three lists go together"
        )
    if not ids:
        raise at.key("haystack_sessions").error("is empty: a question needs a history to ask about")
    sessions: list[tuple[str, Session, str]] = []  # (date, session, answer turns' text)
    for i, (session_id, date) in enumerate(zip(ids, dates, strict=True)):
        stamp = iso_date(date, at.key("haystack_dates").item(i))
        turns, flagged = _turns(contents[i], at.key("haystack_sessions").item(i), stamp)
        sessions.append((stamp, Session(session_id=session_id, turns=turns, start_time=stamp), flagged))
    _refuse_repeats(ids, at.key("haystack_session_ids"))
    sessions.sort(key=lambda entry: entry[0])  # stable: ties keep the file's order
    answer_ids = list_of(require(record, "answer_session_ids", list, at), str, at.key("answer_session_ids"))
    abstention = is_abstention(question_id)
    evidence = [] if abstention else _evidence(answer_ids, sessions, at.key("answer_session_ids"))
    keys = optional(record, "membench_keys", dict, at, None)
    episode = Episode(
        episode_id=question_id,
        sessions=[session for _, session, _ in sessions],
        metadata={"question_type": question_type, "question_date": question_date},
    )
    probe = Probe(
        probe_id=question_id,
        episode_id=question_id,
        after_session=len(sessions) - 1,
        kind="qa",
        mode="answer",
        question=question,
        query=question,
        top_k=top_k,
        inputs={"question_date": question_date},
        gold={
            "answer": str(answer),
            "question_type": question_type,
            "abstention": abstention,
            "answer_session_ids": answer_ids,
            "keys": None if keys is None else _keys(keys, at.key("membench_keys")),
        },
        labels={
            "question_type": question_type,
            "abstention": "yes" if abstention else "no",
            EVIDENCE_LABEL: evidence_label(evidence) if evidence else "",
        },
    )
    return episode, probe


def _turns(value: Any, at: Where, stamp: str) -> tuple[list[Turn], str]:
    """A session's turns (each stamped with the session's date) and the text of its answer turns."""
    turns: list[Turn] = []
    flagged: list[str] = []
    for j, element in enumerate(check(value, list, at)):
        t_at = at.item(j)
        turn = check(element, dict, t_at)
        role = require(turn, "role", str, t_at)
        if role not in ROLES:
            raise t_at.key("role").error(f"must be user or assistant, got '{role}'")
        content = require(turn, "content", str, t_at)
        if optional(turn, "has_answer", bool, t_at, False):
            flagged.append(content)
        turns.append(Turn(role=role, content=content, timestamp=stamp))
    if not turns:
        raise at.error("is an empty session (no turns)")
    return turns, "\n".join(flagged)


def _refuse_repeats(ids: list[str], at: Where) -> None:
    seen: set[str] = set()
    for i, session_id in enumerate(ids):
        if session_id in seen:
            raise at.item(i).error(f"repeats session id {session_id}: a haystack's sessions must differ")
        seen.add(session_id)


def _evidence(answer_ids: list[str], sessions: list[tuple[str, Session, str]], at: Where) -> list[Evidence]:
    """The answer sessions as session-level evidence, with their answer turns' text (or all of it)."""
    held = {session.session_id: (session, flagged) for _, session, flagged in sessions}
    evidence: list[Evidence] = []
    for i, session_id in enumerate(answer_ids):
        if session_id not in held:
            raise at.item(i).error(f"names session {session_id}, which is not in the haystack")
        session, flagged = held[session_id]
        text = flagged or "\n".join(turn.content for turn in session.turns)
        evidence.append(Evidence(session_id=session_id, text=text))
    return evidence


def _keys(value: dict[str, Any], at: Where) -> dict[str, list[str]]:
    """Built data's machine-checkable keys: phrases the answer must state and must not state."""
    return {
        name: list_of(optional(value, name, list, at, []), str, at.key(name))
        for name in ("require", "forbid")
    }
