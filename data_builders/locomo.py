"""Offline LoCoMo data in the official ``locomo10.json`` schema, seeded, with machine-checkable keys.

LoCoMo's conversations were written by LLM agents and checked by people; this builder writes small
two-person conversations from templates instead (``locomo_vocab.py``), in the same schema, so the task
runs with no download and no model. Each conversation has ``sessions`` sessions of ``turns`` turns,
a few days or weeks apart, speaker A on even turns; some filler turns share an image (``img_url``,
``blip_caption``, ``query``, as the original). Each speaker states five facts on turns drawn at
random (their two hobbies in different sessions), and ``decoys`` turns per fact type that repeat a
fact's words without its answer ("My dog was at the vet again."), so retrieving by the question's
words must rank the fact's turn above them; every conversation asks twelve questions in
the file's five categories, one of categories 1-4 per speaker and four adversarial:

- category 4, single-hop: the name of a speaker's pet;
- category 2, temporal: when a speaker attended an event (the turn states the date);
- category 1, multi-hop: a speaker's two hobbies, stated in two sessions (answer "a, b");
- category 3, open-domain: which weekend activity a speaker would enjoy ("<activity>; <reason>");
- category 5, adversarial: one speaker asked about the other's pet or event (``adversarial_answer``
  holds the other's value; the right answer declines).

Every item has ``evidence``
dialog ids and, beside the official fields, ``membench_keys`` (``require``: the phrases a right
answer states; ``abstain``: true for adversarial items), read by the rule judge. The same options
write byte-identical files: conversation ``i`` draws from its own seed, so growing ``conversations``
keeps the first ones as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError
from membench_builders import locomo_vocab as vocab

BUILDER_VERSION = "1"
#: the facts each speaker states.
FACTS = ("pet", "event", "hobby_1", "hobby_2", "activity")
MAX_CONVERSATIONS = len(vocab.NAMES) // 2
IMAGE_SHARE = 0.15


@dataclass(frozen=True)
class _Speaker:
    name: str
    kind: str
    pet: str
    event: str
    hobbies: tuple[str, str]
    activity: str


@dataclass(frozen=True)
class _Turn:
    speaker: str
    text: str
    #: a turn that states one of the speaker's facts (the next turn replies to it).
    fact: bool = False
    image: tuple[str, str] | None = None


def check_options(conversations: int, sessions: int, turns: int, decoys: int) -> None:
    """Refuse options no file can be written for, before anything is touched."""
    if not 1 <= conversations <= MAX_CONVERSATIONS:
        raise ConfigError(f"conversations must be between 1 and {MAX_CONVERSATIONS}, got {conversations}")
    if sessions < 2:
        raise ConfigError(f"sessions must be at least 2 (multi-hop facts span two), got {sessions}")
    if decoys < 0:
        raise ConfigError(f"decoys must be 0 or more per fact type, got {decoys}")
    needed = len(FACTS) + decoys * len(vocab.DECOYS)
    if turns < 2 or sessions * (turns // 2) < needed:
        raise ConfigError(
            f"turns must be at least 2 and leave each speaker {needed} turns over the sessions "
            f"({len(FACTS)} facts and {decoys} decoys for each of {len(vocab.DECOYS)} fact types), "
            f"got {turns} turns x {sessions} sessions"
        )


def _speakers(rng: random.Random, index: int) -> tuple[_Speaker, _Speaker]:
    names = vocab.NAMES[2 * index], vocab.NAMES[2 * index + 1]
    kinds = rng.sample(vocab.PET_KINDS, 2)
    pets = rng.sample(vocab.PET_NAMES, 2)
    events = rng.sample(vocab.EVENTS, 2)
    hobbies = rng.sample(vocab.HOBBIES, 4)
    activities = rng.sample(vocab.ACTIVITIES, 2)
    a, b = (
        _Speaker(names[i], kinds[i], pets[i], events[i], (hobbies[2 * i], hobbies[2 * i + 1]), activities[i])
        for i in (0, 1)
    )
    return a, b


def _slots(
    rng: random.Random, speaker: int, sessions: int, turns: int
) -> tuple[dict[str, tuple[int, int]], list[tuple[int, int]]]:
    """The (session, turn) of each fact of speaker 0 (even turns) or 1 (odd turns), the two hobbies
    in two sessions; and the speaker's other turns, in a random order."""
    free = [(s, t) for s in range(sessions) for t in range(speaker, turns, 2)]
    rng.shuffle(free)
    chosen: dict[str, tuple[int, int]] = {}
    for fact in FACTS:
        other = chosen.get("hobby_1") if fact == "hobby_2" else None
        place = next(p for p in free if p not in chosen.values() and (other is None or p[0] != other[0]))
        chosen[fact] = place
    return chosen, [p for p in free if p not in chosen.values()]


def _dates(rng: random.Random, sessions: int) -> list[datetime]:
    day = datetime(2023, 1, 2) + timedelta(days=rng.randrange(200))
    out = []
    for _ in range(sessions):
        out.append(day.replace(hour=rng.randrange(8, 22), minute=rng.randrange(60)))
        day += timedelta(days=rng.randrange(4, 21))
    return out


def date_time_text(when: datetime) -> str:
    """The original's session date format: "1:56 pm on 8 May, 2023"."""
    hour = when.hour % 12 or 12
    return f"{hour}:{when.minute:02d} {'am' if when.hour < 12 else 'pm'} on {when.day} {when:%B}, {when.year}"


def day_text(when: date) -> str:
    """A date as answers give it: "7 May 2023"."""
    return f"{when.day} {when:%B} {when.year}"


def conversation_json(seed: int, index: int, sessions: int, turns: int, decoys: int) -> dict[str, Any]:
    """Conversation ``index``: its sessions and its twelve QA items, in the official schema."""
    rng = random.Random(f"locomo-{seed}-{index}")
    speakers = _speakers(rng, index)
    dates = _dates(rng, sessions)
    event_days: list[date] = []
    grid: list[list[_Turn | None]] = [[None] * turns for _ in range(sessions)]
    places: list[dict[str, tuple[int, int]]] = []
    for i, who in enumerate(speakers):
        slots, rest = _slots(rng, i, sessions, turns)
        places.append(slots)
        event_days.append((dates[slots["event"][0]] - timedelta(days=rng.randrange(1, 7))).date())
        texts = {
            "pet": vocab.PET_TURN.format(kind=who.kind, pet=who.pet),
            "event": vocab.EVENT_TURN.format(date=day_text(event_days[i]), event=who.event),
            "hobby_1": vocab.HOBBY_TURNS[0].format(hobby=who.hobbies[0]),
            "hobby_2": vocab.HOBBY_TURNS[1].format(hobby=who.hobbies[1]),
            "activity": vocab.ACTIVITY_TURN.format(activity=who.activity),
        }
        for fact, (s, t) in slots.items():
            grid[s][t] = _Turn(who.name, texts[fact], fact=True)
        kinds = [kind for kind in vocab.DECOYS for _ in range(decoys)]
        for kind, (s, t) in zip(kinds, rest, strict=False):
            text = rng.choice(vocab.DECOYS[kind]).format(kind=who.kind, event=who.event)
            grid[s][t] = _Turn(who.name, text, fact=True)
    conversation: dict[str, Any] = {"speaker_a": speakers[0].name, "speaker_b": speakers[1].name}
    for s in range(sessions):
        rows = []
        for t in range(turns):
            turn = grid[s][t] or _filler(rng, speakers[t % 2].name, previous=grid[s][t - 1] if t else None)
            grid[s][t] = turn
            row: dict[str, Any] = {"speaker": turn.speaker, "dia_id": f"D{s + 1}:{t + 1}", "text": turn.text}
            if turn.image is not None:
                url = f"https://example.invalid/{s + 1}-{t + 1}.jpg"
                row |= {"img_url": [url], "blip_caption": turn.image[0], "query": turn.image[1]}
            rows.append(row)
        conversation[f"session_{s + 1}_date_time"] = date_time_text(dates[s])
        conversation[f"session_{s + 1}"] = rows
    qa = [item for i in (0, 1) for item in _own_items(speakers[i], places[i], event_days[i])]
    qa += [
        item
        for i in (0, 1)
        for item in _adversarial_items(speakers[i], speakers[1 - i], places[i], event_days[i])
    ]
    return {"sample_id": f"conv-built-{index + 1}", "conversation": conversation, "qa": qa}


def _filler(rng: random.Random, speaker: str, previous: _Turn | None) -> _Turn:
    """A turn that states nothing asked about: a reply to a fact, or small talk (maybe with an image)."""
    if previous is not None and previous.fact:
        return _Turn(speaker, rng.choice(vocab.REPLIES))
    image = rng.choice(vocab.IMAGES) if rng.random() < IMAGE_SHARE else None
    return _Turn(speaker, rng.choice(vocab.FILLER), image=image)


def _dia(place: tuple[int, int]) -> str:
    return f"D{place[0] + 1}:{place[1] + 1}"


def _item(
    question: str, answer: str, evidence: list[str], category: int, require: list[str]
) -> dict[str, Any]:
    return {
        "question": question,
        "answer": answer,
        "evidence": evidence,
        "category": category,
        "membench_keys": {"require": require, "abstain": False},
    }


def _own_items(who: _Speaker, places: dict[str, tuple[int, int]], event_day: date) -> list[dict[str, Any]]:
    """The speaker's four questions about their own facts (categories 4, 2, 1 and 3)."""
    day = day_text(event_day)
    pet = vocab.PET_QUESTION.format(who=who.name, kind=who.kind)
    event = vocab.EVENT_QUESTION.format(who=who.name, event=who.event)
    hobbies = vocab.HOBBY_QUESTION.format(who=who.name)
    activity = vocab.ACTIVITY_QUESTION.format(who=who.name)
    reason = vocab.ACTIVITY_ANSWER.format(activity=who.activity, who=who.name)
    where = {fact: _dia(place) for fact, place in places.items()}
    return [
        _item(pet, who.pet, [where["pet"]], 4, [who.pet]),
        _item(event, day, [where["event"]], 2, [day]),
        _item(hobbies, ", ".join(who.hobbies), [where["hobby_1"], where["hobby_2"]], 1, list(who.hobbies)),
        _item(activity, reason, [where["activity"]], 3, [who.activity]),
    ]


def _adversarial_items(
    owner: _Speaker, asked: _Speaker, places: dict[str, tuple[int, int]], event_day: date
) -> list[dict[str, Any]]:
    """The owner's pet and event, asked of the other speaker (category 5): the right answer declines."""
    pet = vocab.PET_QUESTION.format(who=asked.name, kind=owner.kind)
    event = vocab.EVENT_QUESTION.format(who=asked.name, event=owner.event)
    baits = [(pet, owner.pet, places["pet"]), (event, day_text(event_day), places["event"])]
    return [
        {
            "question": question,
            "adversarial_answer": bait,
            "evidence": [_dia(place)],
            "category": 5,
            "membench_keys": {"require": [], "abstain": True},
        }
        for question, bait, place in baits
    ]


def build_locomo(
    path: Path, *, conversations: int = 4, sessions: int = 6, turns: int = 10, decoys: int = 2, seed: int = 0
) -> Path:
    """Write the file at ``path`` (replacing an older one whole, never leaving half of one); returns it."""
    check_options(conversations, sessions, turns, decoys)
    samples = [conversation_json(seed, i, sessions, turns, decoys) for i in range(conversations)]
    text = json.dumps(samples, ensure_ascii=False, indent=1) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m membench_builders.locomo",
        description="Write offline LoCoMo data in the official schema.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=6, help="sessions per conversation")
    parser.add_argument("--turns", type=int, default=10, help="turns per session")
    parser.add_argument("--decoys", type=int, default=2, help="decoy turns per fact type and speaker")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        out = build_locomo(
            args.out,
            conversations=args.conversations,
            sessions=args.sessions,
            turns=args.turns,
            decoys=args.decoys,
            seed=args.seed,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
