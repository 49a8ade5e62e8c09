"""Seeded offline LongMemEval data, written in the official file's schema.

The release (``longmemeval_s_cleaned.json`` on the hub, 278 MB) is 500 questions, each with its own
haystack of about 50 timestamped user-assistant sessions. This builder writes the same schema (the
task's ``loader.py`` lists it) from templates (``longmemeval_vocab.py``), small enough for a 2-core
machine, so the loader, the runner, the judges and the retrieval metrics run on the real format:

- every question type of the release (``per_type`` questions each), asked about a person of its own
  whom only its evidence names; plus ``abstention`` questions (``question_id`` ending in ``_abs``,
  typed as single-session-user, multi-session, knowledge-update, temporal-reasoning or
  single-session-assistant in turn, as upstream's abstention questions are) that ask a fact of a
  person the history only mentions in passing, while a *near miss* (the same fact of another
  person) is in it;
- single-session-user and -preference: one user turn states the fact or the preference;
  single-session-assistant: the user asks for a suggestion and the assistant's reply is the answer;
  multi-session: two sessions each state one item of a list, and the answer is both; knowledge-update:
  a fact, then a later session changing it (the answer is the new state); temporal-reasoning: the
  date of an event, stated a few days after the session it is told in;
- evidence turns have ``has_answer: true`` and their sessions are the ``answer_session_ids``;
- the rest of each haystack is drawn from one pool of filler sessions shared by every question, as
  the release's haystacks share filler: chit-chat and *distractors*, the evidence's own templates
  stating facts of other people (``FILLER_NAMES``), so a retriever must rank the one session that
  names the question's person above sessions that share every other word; and up to
  ``DECOY_SESSIONS`` sessions of the question's own with a *decoy*, its person mentioned in passing
  with none of the words asked about, so the name alone does not find the evidence either;
- ``membench_keys`` on every question: the phrases a right answer states (``require``; ``forbid`` is
  empty, as the release's knowledge-update rule lets an answer mention the old state too). The exact
  rule judge reads them; the release never has them.

What it does not reproduce: LLM-written sessions, ~115k-token haystacks, and questions that need
date arithmetic or counting (the built temporal questions ask for a stated date): an offline reader
could not answer those, and the data is for checking the harness and comparing retrieval, not for
quoting as LongMemEval accuracy.

The same options give byte-identical files; question ``i`` and filler session ``j`` draw from seeds of
their own, so more abstention questions (they come last) leave the others unchanged, fillers included.

    python -m membench_builders.longmemeval --out data/longmemeval/built.json --per-type 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError
from membench.core.text import content_tokens
from membench_builders import longmemeval_vocab as vocab

#: Bump whenever a change alters what is written for some options, so older built data is rebuilt.
BUILDER_VERSION = "1"
TYPES: tuple[str, ...] = (
    "single-session-user",
    "single-session-preference",
    "single-session-assistant",
    "multi-session",
    "temporal-reasoning",
    "knowledge-update",
)
#: the types abstention questions take, in turn.
ABSTENTION_TYPES: tuple[str, ...] = (
    "single-session-user",
    "multi-session",
    "knowledge-update",
    "temporal-reasoning",
    "single-session-assistant",
)
#: decoy sessions per haystack (fewer when the haystack has no room: one pool filler always stays).
DECOY_SESSIONS = 2
#: evidence sessions each type needs.
EVIDENCE_SESSIONS = {"multi-session": 2, "knowledge-update": 2}
FIRST_DAY = datetime(2023, 1, 2, 9, 0)

Turn = dict[str, Any]


@dataclass(frozen=True)
class Draft:
    """One question before it is laid out: its text, gold, keys and evidence sessions (oldest first)."""

    question: str
    answer: str
    require: tuple[str, ...]
    sessions: tuple[tuple[Turn, ...], ...]


def release_date(moment: datetime) -> str:
    """A date as the release writes it: "2023/05/20 (Sat) 02:21" (weekday names fixed, not the locale's)."""
    weekday = vocab.WEEKDAYS[moment.weekday()]
    return f"{moment:%Y/%m/%d} ({weekday}) {moment:%H:%M}"


def spoken_date(moment: datetime) -> str:
    """A date as the evidence says it: "March 3"."""
    return f"{vocab.MONTHS[moment.month - 1]} {moment.day}"


def _turn(role: str, content: str, has_answer: bool = False) -> Turn:
    turn: Turn = {"role": role, "content": content}
    if has_answer:
        turn["has_answer"] = True
    return turn


def _session(rng: random.Random, turns: int, planted: Sequence[Turn]) -> tuple[Turn, ...]:
    """``turns`` alternating user/assistant turns of chit-chat, with ``planted`` (a user turn, or a
    user request and the assistant's reply) at a random place that keeps the roles alternating.
    A planted user statement is followed by a chit-chat question, as people change the subject."""
    slots = list(range(0, turns - len(planted) + 1, 2))
    start = rng.choice(slots)
    out: list[Turn] = []
    for index in range(turns):
        role = "user" if index % 2 == 0 else "assistant"
        offset = index - start
        if 0 <= offset < len(planted):
            turn = planted[offset]
            if role == "user" and len(planted) == 1:
                turn = {**turn, "content": f"{turn['content']} {rng.choice(vocab.USER_CHAT)}"}
            out.append(turn)
            continue
        lines = vocab.USER_CHAT if role == "user" else vocab.ASSISTANT_CHAT
        out.append(_turn(role, rng.choice(lines)))
    return tuple(out)


def _fill(template: str, **values: str) -> str:
    return template.format(**values)


def draft(
    rng: random.Random, question_type: str, said: str, asked: str, dates: Sequence[datetime], turns: int
) -> Draft:
    """A question of ``question_type`` about ``asked``, whose evidence talks about ``said`` (the same
    person, or for an abstention question another one: the near miss). ``dates`` are the dates of its
    evidence sessions."""
    if question_type == "single-session-user":
        t = rng.choice(vocab.USER_FACTS)
        rel, value = rng.choice(vocab.RELATIONS), rng.choice(t.values)
        said_turn = _turn("user", _fill(t.statement, rel=rel, name=said, value=value), True)
        return Draft(
            _fill(t.question, rel=rel, name=asked), value, (value,), (_session(rng, turns, [said_turn]),)
        )
    if question_type == "single-session-assistant":
        t = rng.choice(vocab.ASSISTANT_FACTS)
        place, value = rng.choice(vocab.PLACES), rng.choice(t.values)
        request = _turn("user", _fill(t.statement, rel=place, name=said))
        reply = _turn("assistant", _fill(vocab.ASSISTANT_ANSWER, rel=place, name=said, value=value), True)
        question = _fill(t.question, rel=place, name=asked)
        return Draft(question, f"the {value}", (value,), (_session(rng, turns, [request, reply]),))
    if question_type == "single-session-preference":
        t = rng.choice(vocab.PREFERENCES)
        value = rng.choice(t.values)
        said_turn = _turn("user", _fill(t.statement, name=said, value=value), True)
        rubric = _fill(vocab.PREFERENCE_RUBRIC, name=asked, value=value)
        return Draft(_fill(t.question, name=asked), rubric, (value,), (_session(rng, turns, [said_turn]),))
    if question_type == "multi-session":
        t = rng.choice(vocab.LIST_FACTS)
        first, second = rng.sample(t.values, 2)
        sessions = tuple(
            _session(rng, turns, [_turn("user", _fill(t.statement, name=said, value=v), True)])
            for v in (first, second)
        )
        return Draft(_fill(t.question, name=asked), f"{first} and {second}", (first, second), sessions)
    if question_type == "knowledge-update":
        t = rng.choice(vocab.UPDATES)
        old, new = rng.sample(t.values, 2)
        sessions = (
            _session(rng, turns, [_turn("user", _fill(t.statement, name=said, value=old), True)]),
            _session(rng, turns, [_turn("user", _fill(t.update, name=said, value=new), True)]),
        )
        return Draft(_fill(t.question, name=asked), new, (new,), sessions)
    if question_type == "temporal-reasoning":
        t = rng.choice(vocab.DATED_FACTS)
        course = rng.choice(vocab.COURSES)
        day = spoken_date(dates[0] + timedelta(days=rng.randint(1, 9)))
        said_turn = _turn("user", _fill(t.statement, rel=course, name=said, value=day), True)
        question = _fill(t.question, rel=course, name=asked)
        return Draft(question, day, (day,), (_session(rng, turns, [said_turn]),))
    raise ValueError(f"unknown question type {question_type}")


def decoy_session(rng: random.Random, name: str, question: str, turns: int) -> tuple[Turn, ...]:
    """Chit-chat with one user turn mentioning ``name`` in passing, in a decoy that shares no content
    word with ``question`` besides the name (so it never answers it)."""
    asked = set(content_tokens(question)) - set(content_tokens(name))
    lines = [d for d in vocab.DECOYS if not asked & set(content_tokens(d))]
    return _session(rng, turns, [_turn("user", _fill(rng.choice(lines), name=name))])


def filler_session(seed: int, index: int, turns: int) -> tuple[Turn, ...]:
    """Filler session ``index`` of the shared pool: chit-chat with one distractor (a fact of a person
    no question asks about, in an evidence template)."""
    rng = random.Random(f"{seed}:filler:{index}")
    name = rng.choice(vocab.FILLER_NAMES)
    kind = rng.choice(("user", "preference", "list", "update"))
    if kind == "user":
        t = rng.choice(vocab.USER_FACTS)
        text = _fill(t.statement, rel=rng.choice(vocab.RELATIONS), name=name, value=rng.choice(t.values))
    elif kind == "preference":
        t = rng.choice(vocab.PREFERENCES)
        text = _fill(t.statement, name=name, value=rng.choice(t.values))
    elif kind == "list":
        t = rng.choice(vocab.LIST_FACTS)
        text = _fill(t.statement, name=name, value=rng.choice(t.values))
    else:
        t = rng.choice(vocab.UPDATES)
        text = _fill(t.statement, name=name, value=rng.choice(t.values))
    return _session(rng, turns, [_turn("user", text)])


def question_record(
    seed: int, index: int, question_type: str, names: tuple[str, str], *, sessions: int, turns: int, pool: int
) -> dict[str, Any]:
    """Question ``index`` in the release's schema; ``names`` = (the person asked about, the one the
    evidence talks about): the same person, except in an abstention question."""
    asked, said = names
    abstention = asked != said
    rng = random.Random(f"{seed}:question:{index}")
    core = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:8]
    question_id = f"{core}_abs" if abstention else core
    n_evidence = EVIDENCE_SESSIONS.get(question_type, 1)
    moments = [FIRST_DAY + timedelta(days=rng.randrange(0, 240))]
    for _ in range(sessions - 1):
        moments.append(moments[-1] + timedelta(days=rng.randint(1, 6), minutes=rng.randrange(0, 600)))
    asked_at = moments[-1] + timedelta(days=rng.randint(1, 10), minutes=rng.randrange(0, 600))
    places = sorted(rng.sample(range(sessions), n_evidence))
    drafted = draft(rng, question_type, said, asked, [moments[p] for p in places], turns)
    others = [p for p in range(sessions) if p not in places]
    decoys = sorted(rng.sample(others, min(DECOY_SESSIONS, len(others) - 1)))
    fillers = iter(rng.sample(range(pool), len(others) - len(decoys)))
    evidence = dict(zip(places, drafted.sessions, strict=True))
    ids: list[str] = []
    contents: list[list[Turn]] = []
    for position in range(sessions):
        if position in evidence:
            ids.append(f"answer_{core}_{places.index(position) + 1}")
            contents.append(list(evidence[position]))
        elif position in decoys:
            ids.append(f"decoy_{core}_{decoys.index(position) + 1}")
            contents.append(list(decoy_session(rng, asked, drafted.question, turns)))
        else:
            filler = next(fillers)
            ids.append(f"filler_{filler:04d}")
            contents.append(list(filler_session(seed, filler, turns)))
    answer = drafted.answer
    if abstention:
        answer = f"The information is not enough: the user said this of {said}, never of {asked}."
    return {
        "question_id": question_id,
        "question_type": question_type,
        "question": drafted.question,
        "answer": answer,
        "question_date": release_date(asked_at),
        "haystack_session_ids": ids,
        "haystack_dates": [release_date(m) for m in moments],
        "haystack_sessions": contents,
        "answer_session_ids": [ids[p] for p in places],
        "membench_keys": {"require": [] if abstention else list(drafted.require), "forbid": []},
    }


def plan(per_type: int, abstention: int) -> list[str]:
    """The question type of each question, in file order: ``per_type`` of each type, then the
    abstention questions' types in turn."""
    answerable = [t for t in TYPES for _ in range(per_type)]
    return answerable + [ABSTENTION_TYPES[i % len(ABSTENTION_TYPES)] for i in range(abstention)]


def records(
    *, per_type: int, abstention: int, sessions: int, turns: int, pool: int, seed: int
) -> list[dict[str, Any]]:
    """Every question of the data set, in file order."""
    check_options(per_type, abstention, sessions, turns, pool)
    names = list(vocab.ANCHORS)
    random.Random(f"{seed}:anchors").shuffle(names)
    out = []
    types = plan(per_type, abstention)
    answerable = per_type * len(TYPES)
    for index, question_type in enumerate(types):
        # an abstention question's near miss is a person of its own, after every asked person.
        asked = names[index]
        said = asked if index < answerable else names[len(types) + index - answerable]
        out.append(
            question_record(
                seed, index, question_type, (asked, said), sessions=sessions, turns=turns, pool=pool
            )
        )
    return out


def check_options(per_type: int, abstention: int, sessions: int, turns: int, pool: int) -> None:
    """Refuse options the data cannot be written for, before anything is written."""
    if per_type < 1:
        raise ConfigError(
            f"per_type must be at least 1 (task-averaged accuracy needs every type), got {per_type}"
        )
    if abstention < 0:
        raise ConfigError(f"abstention must be 0 or more questions, got {abstention}")
    people = len(TYPES) * per_type + 2 * abstention
    if people > len(vocab.ANCHORS):
        raise ConfigError(
            f"{per_type} questions per type and {abstention} abstention questions need {people} people, "
            f"but the builder has {len(vocab.ANCHORS)} names: ask for fewer"
        )
    if sessions < 3:
        raise ConfigError(f"sessions must be at least 3 (two evidence sessions and filler), got {sessions}")
    if turns < 2 or turns % 2:
        raise ConfigError(f"turns must be an even number of at least 2 (user, assistant, ...), got {turns}")
    if pool < sessions:
        raise ConfigError(f"the filler pool ({pool}) must hold at least sessions ({sessions}) sessions")


def build_longmemeval(
    path: Path,
    *,
    per_type: int = 4,
    abstention: int = 5,
    sessions: int = 9,
    turns: int = 4,
    pool: int = 40,
    seed: int = 0,
) -> Path:
    """Write the data set to ``path`` (a temporary file renamed into place) and return ``path``."""
    data = records(
        per_type=per_type, abstention=abstention, sessions=sessions, turns=turns, pool=pool, seed=seed
    )
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m membench_builders.longmemeval",
        description="Write offline LongMemEval data in the official file's schema.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    parser.add_argument("--per-type", type=int, default=4, help="questions of each of the six types")
    parser.add_argument("--abstention", type=int, default=5, help="abstention (_abs) questions")
    parser.add_argument("--sessions", type=int, default=9, help="sessions per haystack")
    parser.add_argument("--turns", type=int, default=4, help="turns per session")
    parser.add_argument("--pool", type=int, default=40, help="filler sessions shared by all haystacks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        out = build_longmemeval(
            args.out,
            per_type=args.per_type,
            abstention=args.abstention,
            sessions=args.sessions,
            turns=args.turns,
            pool=args.pool,
            seed=args.seed,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
