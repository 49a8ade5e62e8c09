"""Seeded offline HaluMem data, written in the official release's schema.

The official HaluMem files cannot be downloaded on machines that reach only package registries, and
their licence (CC-BY-NC-ND-4.0) forbids shipping them. This builder writes files shaped exactly like
``HaluMem-Medium.jsonl`` / ``HaluMem-Long.jsonl`` (string booleans, sessions without a ``questions``
key, distractors without ``importance``, Long's noise sessions out of time order), so the loader,
the runner and every judge are exercised on the real format. The story behind each user is simple
but coherent: a persona states facts, later changes some of them (update points whose superseded
value the user stated in an earlier session), and the assistant slips in false variants the user
never confirms (distractors). Every memory point and question also carries ``membench_keys``, phrases
a rule judge can check exactly; the official tools ignore the extra field.

Guarantees the tests rely on: the same arguments give byte-identical files; every non-distractor
point's required phrases occur in a user turn of its session; a distractor's false value occurs in
no user turn of its user; an update's stale value was stated by the user in an earlier session, in
the turn that stated its original memory, and that turn names one of the update's subject phrases
(so a rule judge can tell a stored stale statement from an unrelated mention of the old value).

    python -m membench_builders.halumem --out data/halumem.jsonl --users 3 --sessions 6
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError
from membench.core.records import write_atomic
from membench_builders.halumem_story import FIRST_SESSION_FACTS, Round, Story
from membench_builders.halumem_vocab import (
    FILLER_ASSISTANT,
    FILLER_USER,
    NOISE_ELEMENTS,
    NOISE_TRIVIA,
    NOISE_UNITS,
)

#: Bump whenever a change alters what is written for some options: it names the built file, so data
#: written by an older builder is rebuilt instead of silently reused.
BUILDER_VERSION = "2"

#: the first session states its facts one per round, so it needs at least this many rounds.
MIN_TURNS = FIRST_SESSION_FACTS
MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: bytes the written file takes per dialogue round, about: measured from this builder's output (400 to
#: 600 for real sessions, with their memory points and questions; noise rounds take less).
BYTES_PER_ROUND = 500
#: the largest file the builder writes. It holds every user in memory first, so a file much larger
#: than this could not be built on an ordinary machine; a size beyond it is refused before any work.
MAX_BUILT_BYTES = 2 * 10**9
NOISE_SOURCE = "stage6_3_supplement"
NOISE_TITLE = "Pure_QA_Session"


def fmt_time(moment: datetime) -> str:
    """The official "%b %d, %Y, %H:%M:%S" format, with English month names whatever the locale."""
    return f"{MONTH_ABBREVIATIONS[moment.month - 1]} {moment:%d, %Y, %H:%M:%S}"


def parse_time(stamp: str) -> datetime:
    """The inverse of ``fmt_time``, locale-independent like it."""
    month, rest = stamp.split(" ", 1)
    return datetime.strptime(f"{MONTH_ABBREVIATIONS.index(month) + 1} {rest}", "%m %d, %Y, %H:%M:%S")


# ---------------------------------------------------------------- sessions and users


def _session_times(rng: random.Random, sessions: int, turns: int) -> list[list[datetime]]:
    """Round timestamps per session: rounds minutes apart, sessions days apart, always increasing."""
    start = datetime(2025, 1, 1, 8) + timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 600))
    times: list[list[datetime]] = []
    for _ in range(sessions):
        moment, rounds = start, []
        for _ in range(turns):
            rounds.append(moment)
            moment += timedelta(seconds=rng.randint(40, 300))
        times.append(rounds)
        start = rounds[-1] + timedelta(days=rng.randint(3, 30), minutes=rng.randint(0, 600))
    return times


def _message(role: str, content: str, timestamp: str, turn: int) -> dict[str, Any]:
    return {"role": role, "content": content, "timestamp": timestamp, "dialogue_turn": turn}


def _token_length(dialogue: list[dict[str, Any]]) -> int:
    """Whitespace tokens of the dialogue's contents (the official count uses tiktoken; this is offline)."""
    return sum(len(message["content"].split()) for message in dialogue)


def _build_session(story: Story, index: int, times: list[datetime]) -> dict[str, Any]:
    rng = story.rng
    content, questions = story.chapter(index)
    slots = sorted(rng.sample(range(len(times)), len(content)))
    by_slot = dict(zip(slots, content, strict=True))
    fillers = itertools.cycle(rng.sample(FILLER_USER, len(FILLER_USER)))  # no repeats in a short session
    dialogue: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for turn, moment in enumerate(times):
        stamp = fmt_time(moment)
        round_ = by_slot.get(turn) or Round(next(fillers), rng.choice(FILLER_ASSISTANT))
        dialogue += [
            _message("user", round_.user, stamp, turn),
            _message("assistant", round_.assistant, stamp, turn),
        ]
        points += [p.to_json(len(points) + k + 1, stamp, rng) for k, p in enumerate(round_.points)]
    session: dict[str, Any] = {
        "start_time": fmt_time(times[0]),
        "end_time": fmt_time(times[-1]),
        "memory_points_count": len(points),
        "memory_points": points,
        "dialogue_turn_num": len(times),
        "dialogue": dialogue,
        "dialogue_token_length": _token_length(dialogue),
    }
    if questions is not None:
        session["questions"] = [q.to_json() for q in questions]
        session["question_count"] = len(questions)
    return session


def _build_user(rng: random.Random, sessions: int, turns: int) -> dict[str, Any]:
    user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    times = _session_times(rng, sessions, turns)
    story = Story(rng, [rounds[-1] for rounds in times])
    built = [_build_session(story, i, times[i]) for i in range(sessions)]
    return {
        "uuid": user_id,
        "persona_info": story.profile,
        "sessions": built,
        "total_dialogue_token_length": sum(s["dialogue_token_length"] for s in built),
        "total_question_count": sum(s.get("question_count", 0) for s in built),
        "token_cost": {},
    }


# ---------------------------------------------------------------- the Long variant's noise


def _noise_round(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice(NOISE_TRIVIA)
    if kind == 1:
        element, symbol = rng.choice(NOISE_ELEMENTS)
        return (
            f"What is the chemical symbol for {element}?",
            f"The chemical symbol for {element} is {symbol}.",
        )
    if kind == 2:
        small, big, factor = rng.choice(NOISE_UNITS)
        count = rng.randint(2, 12)
        return (
            f"How many {small} are there in {count} {big}?",
            f"There are {count * factor} {small} in {count} {big}.",
        )
    a, b = rng.randint(12, 99), rng.randint(3, 29)
    return f"What is {a} multiplied by {b}?", f"{a} multiplied by {b} is {a * b}."


def _reindex(session: dict[str, Any]) -> None:
    for position, message in enumerate(session["dialogue"]):
        message["dialogue_turn"] = position // 2
    session["dialogue_turn_num"] = len(session["dialogue"]) // 2
    session["dialogue_token_length"] = _token_length(session["dialogue"])


def _add_noise(rng: random.Random, user: dict[str, Any], noise_sessions: int, turns: int) -> None:
    """Long: noise rounds inside real sessions, then generated noise sessions between sessions.

    A noise session's time is drawn from a randomly chosen gap between real sessions, not the gap it
    is inserted into, as in the official Long file, so the sessions are not in time order.
    """
    real: list[dict[str, Any]] = user["sessions"]
    for session in real:
        for _ in range(rng.randint(1, 2)):
            dialogue = session["dialogue"]
            at = 2 * rng.randint(0, len(dialogue) // 2)
            stamp = dialogue[at - 1]["timestamp"] if at else dialogue[0]["timestamp"]
            question, answer = _noise_round(rng)
            dialogue[at:at] = [_message("user", question, stamp, 0), _message("assistant", answer, stamp, 0)]
        _reindex(session)
    gaps = [(real[i]["end_time"], real[i + 1]["start_time"]) for i in range(len(real) - 1)]
    ordered = list(real)
    for _ in range(noise_sessions):
        stamp = _random_time_in(rng, rng.choice(gaps)) if gaps else real[-1]["end_time"]
        dialogue = []
        for turn in range(turns):
            question, answer = _noise_round(rng)
            dialogue += [_message("user", question, stamp, turn), _message("assistant", answer, stamp, turn)]
        session = {
            "start_time": stamp,
            "end_time": stamp,
            "title": NOISE_TITLE,
            "memory_points_count": 0,
            "memory_points": [],
            "dialogue_turn_num": turns,
            "dialogue_token_length": _token_length(dialogue),
            "dialogue": dialogue,
            "questions": [],
            "question_count": 0,
            "is_generated_qa_session": True,
            "generation_source": NOISE_SOURCE,
        }
        ordered.insert(rng.randint(1, len(ordered) - 1) if len(ordered) > 1 else 1, session)
    for position, session in enumerate(ordered):
        session["session_id"] = position
    user["sessions"] = ordered
    user["total_dialogue_token_length"] = sum(s["dialogue_token_length"] for s in ordered)


def _random_time_in(rng: random.Random, gap: tuple[str, str]) -> str:
    start, end = (parse_time(stamp) for stamp in gap)
    return fmt_time(start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds()))))


# ---------------------------------------------------------------- entry points


def estimated_bytes(users: int, sessions: int, turns: int, noise: int = 0) -> int:
    """About how large the built file is: rounds (real and noise sessions) times ``BYTES_PER_ROUND``."""
    return users * (sessions + noise) * turns * BYTES_PER_ROUND


def check_size(users: int, sessions: int, turns: int, noise: int = 0) -> None:
    """Refuse, naming the estimate, a size whose file would exceed ``MAX_BUILT_BYTES``."""
    estimate = estimated_bytes(users, sessions, turns, noise)
    if estimate > MAX_BUILT_BYTES:
        raise ConfigError(
            f"users={users}, sessions={sessions}, turns={turns}, noise={noise} would write about "
            f"{estimate / 1e9:,.1f} GB, over the builder's limit of {MAX_BUILT_BYTES / 1e9:,.0f} GB; "
            "choose fewer users, sessions or turns"
        )


def build_halumem(
    out_path: Path,
    *,
    users: int = 3,
    sessions: int = 6,
    turns: int = 8,
    noise: int = 0,
    variant: str = "medium",
    seed: int = 0,
) -> Path:
    """Write a seeded HaluMem-style JSONL file (one line per user) to ``out_path``; returns the path.

    ``turns`` is the number of rounds (a user and an assistant message) per real session; ``noise``
    the number of generated noise sessions per user, only in the Long variant, which also inserts one
    or two noise rounds into every real session. The Medium content of a seed is the same in both
    variants: noise is drawn after all users are built.
    """
    if variant not in ("medium", "long"):
        raise ConfigError(f"variant must be medium or long, got '{variant}'")
    if users < 1 or sessions < 1:
        raise ConfigError(f"users and sessions must be at least 1, got users={users} sessions={sessions}")
    if turns < MIN_TURNS:
        raise ConfigError(
            f"turns must be at least {MIN_TURNS} (the first session states six facts), got {turns}"
        )
    if noise < 0 or (noise and variant != "long"):
        raise ConfigError(f"noise sessions ({noise}) need variant=long and a count of 0 or more")
    check_size(users, sessions, turns, noise)
    rng = random.Random(seed)
    built = [_build_user(rng, sessions, turns) for _ in range(users)]
    if variant == "long":
        for user in built:
            _add_noise(rng, user, noise, turns)
    write_atomic(out_path, "".join(json.dumps(user, ensure_ascii=False) + "\n" for user in built))
    return out_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m membench_builders.halumem",
        description="Write seeded offline HaluMem data in the official schema (plus membench_keys).",
    )
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=6, help="real sessions per user")
    parser.add_argument(
        "--turns", type=int, default=8, help=f"rounds per real session (at least {MIN_TURNS})"
    )
    parser.add_argument("--noise", type=int, default=0, help="noise sessions per user (long variant only)")
    parser.add_argument("--variant", choices=("medium", "long"), default="medium")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        path = build_halumem(
            args.out,
            users=args.users,
            sessions=args.sessions,
            turns=args.turns,
            noise=args.noise,
            variant=args.variant,
            seed=args.seed,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
