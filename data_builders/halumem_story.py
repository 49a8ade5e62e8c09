"""One HaluMem user's life, told session by session: the rounds of each session, the memory points
they state and the questions asked after them.

A persona states facts in the first session; each later session is a chapter (a move, a pet, a new
job...) that updates a fact, adds one, or introduces a friend, and the assistant slips in false values
the user never confirms (distractors). ``Story`` keeps the word pools that make the builder's
guarantees hold (see ``membench_builders.halumem``); every draw comes from the one ``rng`` in a fixed
order, so a seed always tells the same story.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from membench_builders.halumem_vocab import (
    ACKS,
    BOUNDARY_QUESTIONS,
    CITIES,
    DISTRACTOR_TEMPLATES,
    EMOTIONS,
    EMPLOYERS,
    EVENTS,
    FEMALE_NAMES,
    FILLER_ASSISTANT,
    FILLER_USER,
    FOODS,
    FREE_TIME,
    GREETINGS,
    HOBBIES,
    JOBS,
    LAST_NAMES,
    MALE_NAMES,
    PET_NAMES,
    PETS,
    SUBJECTS,
    UNKNOWN_ANSWER,
    WEEKDAYS,
)

PERSONA, EVENT, RELATIONSHIP = "Persona Memory", "Event Memory", "Relationship Memory"
QUESTION_DIFFICULTY = {
    "Basic Fact Recall": "easy",
    "Memory Boundary": "easy",
    "Memory Conflict": "medium",
    "Dynamic Update": "medium",
    "Generalization & Application": "medium",
    "Multi-hop Inference": "hard",
}
SECONDARY_IMPORTANCE = (0.25, 0.5, 0.75)
#: the slots the assistant lies about, and the values a lie can use.
FALSIFIABLE = {"city": CITIES, "job": JOBS, "hobby": HOBBIES, "food": FOODS}
DISTRACTOR_SLOTS = tuple(FALSIFIABLE)
#: chapters after the first session, cycled; "friend" sessions carry no questions (the real quirk).
CHAPTERS = ("move", "pet", "job", "taste", "friend", "event", "hobby")
#: the first session states this many facts, one per round.
FIRST_SESSION_FACTS = 6
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def fmt_date(moment: datetime) -> str:
    """A date as questions write it: "April 10, 2026"."""
    return f"{MONTH_NAMES[moment.month - 1]} {moment.day}, {moment.year}"


def fmt_month(moment: datetime) -> str:
    return f"{MONTH_NAMES[moment.month - 1]} {moment.year}"


@dataclass
class _Point:
    content: str
    memory_type: str
    source: str
    subject: list[str]
    required: list[str]
    stale: list[str] = field(default_factory=list)
    originals: list[str] = field(default_factory=list)

    def to_json(self, index: int, timestamp: str, rng: random.Random) -> dict[str, Any]:
        point: dict[str, Any] = {
            "index": index,
            "memory_content": self.content,
            "memory_type": self.memory_type,
            "memory_source": self.source,
            "is_update": "True" if self.originals else "False",
            "original_memories": self.originals,
            "timestamp": timestamp,
        }
        if self.source == "system":
            point["importance"] = 1.0
        elif self.source == "secondary":
            point["importance"] = rng.choice(SECONDARY_IMPORTANCE)
        point["membench_keys"] = {"subject": self.subject, "required": self.required, "stale": self.stale}
        return point


@dataclass
class _Question:
    kind: str
    question: str
    answer: str
    evidence: list[_Point]
    required: list[str]
    reject: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "evidence": [{"memory_content": p.content, "memory_type": p.memory_type} for p in self.evidence],
            "difficulty": QUESTION_DIFFICULTY[self.kind],
            "question_type": self.kind,
            "membench_keys": {
                "required": self.required,
                "reject": self.reject,
                "unknown": self.kind == "Memory Boundary",
            },
        }


@dataclass
class Round:
    """One user message and the assistant's reply, with the memory points the round states."""

    user: str
    assistant: str
    points: list[_Point] = field(default_factory=list)


@dataclass
class _Slot:
    """A fact that can change: its current phrases, the point stating them, every superseded phrase."""

    values: list[str]
    point: _Point
    history: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    def reject(self) -> list[str]:
        """Phrases that, without the current value, mark an answer about this slot as wrong."""
        wrong = [v for v in (*self.history, *self.false) if v not in self.values]
        return list(dict.fromkeys(wrong))


@dataclass(frozen=True)
class _FirstFacts:
    """The values the user states in the first session."""

    city: str
    job: str
    employer: str
    hobby: str
    food: str
    sister: str
    friend_full: str


class Story:
    """One user's life, told session by session; keeps the word pools that make the guarantees hold.

    ``said`` holds values the user has stated (never used as false values), ``false`` values the
    assistant or a false-premise question asserted (never stated by the user, ever).
    """

    def __init__(self, rng: random.Random, dates: list[datetime]) -> None:
        self.rng = rng
        self.dates = dates
        self.said: dict[str, set[str]] = {}
        self.false: dict[str, set[str]] = {}
        female = rng.random() < 0.5
        self.first = self._take("first", FEMALE_NAMES if female else MALE_NAMES)
        self.name = f"{self.first} {self._take('last', LAST_NAMES)}"
        self.gender = "Female" if female else "Male"
        self.age = rng.randint(24, 58)
        self.profile = ""
        self.slots: dict[str, _Slot] = {}
        self.friend = ""
        self.friend_city = ""
        self.friend_point: _Point | None = None
        self.pets_adopted = 0

    # ------------------------------------------------------------ word pools

    def _take(self, pool: str, values: Sequence[str], avoid: Sequence[str] = ()) -> str:
        """A value the user may state: never a false one, preferably one not used before."""
        false = self.false.get(pool, set())
        options = [v for v in values if v not in false and v not in avoid]
        said = self.said.setdefault(pool, set())
        value = self.rng.choice([v for v in options if v not in said] or options)
        said.add(value)
        return value

    def _spare(self, slot: str) -> list[str]:
        said, false = self.said.get(slot, set()), self.false.get(slot, set())
        return [v for v in FALSIFIABLE[slot] if v not in said and v not in false]

    def _take_false(self, slot: str) -> str:
        """A value of ``slot`` the user has never stated, and now never will."""
        value = self.rng.choice(self._spare(slot))
        self.false.setdefault(slot, set()).add(value)
        self.slots[slot].false.append(value)
        return value

    def _can_falsify(self, slot: str) -> bool:
        """At most a third of a pool goes to false values, so values to state never run out."""
        return bool(self._spare(slot)) and len(self.false.get(slot, ())) < len(FALSIFIABLE[slot]) // 3

    def _person(self, firsts: Sequence[str]) -> tuple[str, str]:
        """(first name, full name) of someone in the user's life, never sharing the user's first name."""
        first = self._take("first", firsts, avoid=(self.first,))
        return first, f"{first} {self._take('last', LAST_NAMES)}"

    def _ack(self) -> str:
        return self.rng.choice(ACKS)

    def _set_slot(self, slot: str, values: list[str], point: _Point) -> _Slot:
        """Record a slot's new value; the previous value becomes history and the point's stale phrases."""
        previous = self.slots.get(slot)
        if previous is None:
            self.slots[slot] = _Slot(values, point)
        else:
            point.stale = list(previous.values)
            point.originals = [previous.point.content]
            self.slots[slot] = _Slot(values, point, [*previous.history, *previous.values], previous.false)
        return self.slots[slot]

    def _boundary(self, template: str | None = None) -> _Question:
        question = (template or self.rng.choice(BOUNDARY_QUESTIONS)).format(name=self.name)
        return _Question("Memory Boundary", question, UNKNOWN_ANSWER, [], [])

    # ------------------------------------------------------------ chapters

    def chapter(self, session: int) -> tuple[list[Round], list[_Question] | None]:
        """Content rounds and questions (None: no ``questions`` key) of session ``session``.

        Distractors are drawn first so that the session's own questions reject their false values.
        """
        if session == 0:
            return self._introduction()
        distractors = [self._distractor() for _ in range(self.rng.randint(1, 2))]
        kind = CHAPTERS[(session - 1) % len(CHAPTERS)]
        if kind == "pet" and self.pets_adopted == len(PETS):
            kind = "event"
        rounds, questions = getattr(self, f"_{kind}")(self.dates[session])
        for distractor in distractors:
            rounds.insert(self.rng.randint(0, len(rounds)), distractor)
        return rounds, questions

    def _introduction(self) -> tuple[list[Round], list[_Question] | None]:
        """The first session: the user introduces themselves, one fact per round, in a fixed order."""
        facts = self._first_facts()
        points = self._first_points(facts)
        self._remember_first_facts(facts, points)
        rounds = self._first_rounds(facts, points)
        return rounds, self._first_questions(facts, points)

    def _first_facts(self) -> _FirstFacts:
        """Draw the persona's values; the close friend becomes the story's current friend."""
        city = self._take("city", CITIES)
        job, employer = self._take("job", JOBS), self._take("employer", EMPLOYERS)
        hobby, food = self._take("hobby", HOBBIES), self._take("food", FOODS)
        sister, _ = self._person(FEMALE_NAMES)
        self.friend, friend_full = self._person(FEMALE_NAMES + MALE_NAMES)
        self.friend_city = self._take("city", CITIES)
        return _FirstFacts(city, job, employer, hobby, food, sister, friend_full)

    def _first_points(self, facts: _FirstFacts) -> dict[str, _Point]:
        """The memory point of each fact, by slot ("sister" and "friend" are relationships, not slots)."""
        n = self.name
        self.friend_point = _Point(
            f"{n}'s close friend {facts.friend_full} lives in {self.friend_city}.",
            RELATIONSHIP,
            "secondary",
            ["friend"],
            [self.friend, self.friend_city],
        )
        return {
            "city": _Point(f"{n} lives in {facts.city}.", PERSONA, "system", SUBJECTS["city"], [facts.city]),
            "job": _Point(
                f"{n} works as a {facts.job} at {facts.employer}.",
                PERSONA,
                "system",
                SUBJECTS["job"],
                [facts.job, facts.employer],
            ),
            "hobby": _Point(
                f"{n} enjoys {facts.hobby} in their free time.",
                PERSONA,
                "system",
                SUBJECTS["hobby"],
                [facts.hobby],
            ),
            "food": _Point(
                f"{n}'s favourite food is {facts.food}.", PERSONA, "system", SUBJECTS["food"], [facts.food]
            ),
            "sister": _Point(
                f"{n} has an older sister named {facts.sister}.",
                RELATIONSHIP,
                "secondary",
                ["sister"],
                [facts.sister],
            ),
            "friend": self.friend_point,
        }

    def _remember_first_facts(self, facts: _FirstFacts, points: dict[str, _Point]) -> None:
        """Open the changeable slots and write the persona profile the official files carry."""
        self._set_slot("city", [facts.city], points["city"])
        self._set_slot("job", [facts.job, facts.employer], points["job"])
        self._set_slot("hobby", [facts.hobby], points["hobby"])
        self._set_slot("food", [facts.food], points["food"])
        self.profile = (
            f"Name: {self.name}; Gender: {self.gender}; Age: {self.age}; "
            f"Occupation: {facts.job} at {facts.employer}; Location: {facts.city}; Hobby: {facts.hobby}; "
            f"Favourite food: {facts.food}"
        )

    def _first_rounds(self, facts: _FirstFacts, points: dict[str, _Point]) -> list[Round]:
        hello = self.rng.choice(GREETINGS)
        free_time = self.rng.choice(FREE_TIME)
        return [
            Round(hello.format(self.first, facts.city), self._ack(), [points["city"]]),
            Round(
                f"I work as a {facts.job} at {facts.employer}, which keeps me pretty busy.",
                self._ack(),
                [points["job"]],
            ),
            Round(free_time.format(facts.hobby), self._ack(), [points["hobby"]]),
            Round(f"My favourite food has always been {facts.food}.", self._ack(), [points["food"]]),
            Round(
                f"My older sister {facts.sister} is the first person I call when something big happens.",
                self._ack(),
                [points["sister"]],
            ),
            Round(
                f"My close friend {facts.friend_full} lives in {self.friend_city}; "
                "we talk almost every week.",
                self._ack(),
                [points["friend"]],
            ),
        ]

    def _first_questions(self, facts: _FirstFacts, points: dict[str, _Point]) -> list[_Question]:
        """A recall, a boundary, and a false-premise question on a job the user never had."""
        n = self.name
        false_job = self._take_false("job")
        return [
            _Question(
                "Basic Fact Recall",
                f"What is {n}'s favourite food?",
                f"{facts.food.capitalize()}.",
                [points["food"]],
                [facts.food],
            ),
            self._boundary(),
            _Question(
                "Memory Conflict",
                f"Why did {n} decide to become a {false_job}?",
                f"{n} is not a {false_job}; {n} works as a {facts.job} at {facts.employer}.",
                [points["job"]],
                [facts.job],
                self.slots["job"].reject(),
            ),
        ]

    def _move(self, when: datetime) -> tuple[list[Round], list[_Question] | None]:
        n, old = self.name, self.slots["city"].values[0]
        new = self._take("city", CITIES, avoid=(old,))
        update = _Point(f"{n} now lives in {new}.", PERSONA, "system", SUBJECTS["city"], [new])
        slot = self._set_slot("city", [new], update)
        emotion = self.rng.choice(EMOTIONS)
        feeling = _Point(
            f"{n} feels {emotion} about moving to {new}.", EVENT, "secondary", ["moving"], [emotion, new]
        )
        assert self.friend_point is not None  # every user gets a friend in the first session
        rounds = [
            Round(
                f"Big news: I moved from {old} to {new} last month, and I'm starting to settle in.",
                self._ack(),
                [update],
            ),
            Round(f"Honestly, I feel {emotion} about the move to {new}.", self._ack(), [feeling]),
        ]
        questions = [
            _Question(
                "Dynamic Update",
                f"Which city does {n} live in as of {fmt_date(when)}?",
                f"{new}.",
                [update],
                [new],
                slot.reject(),
            ),
            _Question(
                "Multi-hop Inference",
                f"{n} is planning a trip to visit their friend {self.friend}. "
                "Which city would they travel from, and to which city?",
                f"From {new} to {self.friend_city}.",
                [update, self.friend_point],
                [new, self.friend_city],
                slot.reject(),
            ),
        ]
        return rounds, questions

    def _pet(self, when: datetime) -> tuple[list[Round], list[_Question] | None]:
        n, city, hobby = self.name, self.slots["city"].values[0], self.slots["hobby"]
        pet, pet_name = self._take("pet", PETS), self._take("pet_name", PET_NAMES)
        self.pets_adopted += 1
        has = _Point(
            f"{n} has a {pet} named {pet_name}.", PERSONA, "system", ["pet", "named"], [pet, pet_name]
        )
        adopted = _Point(
            f"{n} adopted {pet_name} from an animal shelter in {city}.",
            EVENT,
            "secondary",
            ["adopted"],
            [pet_name, city],
        )
        said = f"Last weekend I adopted a {pet} from an animal shelter in {city}, and I named it {pet_name}."
        questions = [
            _Question(
                "Basic Fact Recall",
                f"What is the name of the {pet} that {n} adopted?",
                f"{pet_name}.",
                [has],
                [pet_name],
            ),
            _Question(
                "Generalization & Application",
                f"{n} has a free Saturday with nothing planned. Which activity would suit them best?",
                f"Something involving {hobby.values[0]}.",
                [hobby.point],
                list(hobby.values),
                hobby.reject(),
            ),
        ]
        return [Round(said, self._ack(), [has, adopted])], questions

    def _job(self, when: datetime) -> tuple[list[Round], list[_Question] | None]:
        n, (old_job, old_employer) = self.name, self.slots["job"].values
        job = self._take("job", JOBS, avoid=(old_job,))
        employer = self._take("employer", EMPLOYERS, avoid=(old_employer,))
        update = _Point(
            f"{n} now works as a {job} at {employer}.", PERSONA, "system", SUBJECTS["job"], [job, employer]
        )
        slot = self._set_slot("job", [job, employer], update)
        emotion = self.rng.choice(EMOTIONS)
        first_week = _Point(
            f"{n} felt {emotion} during the first week at {employer}.",
            EVENT,
            "secondary",
            ["first week"],
            [emotion, employer],
        )
        rounds = [
            Round(
                f"News on the work front: I left {old_employer} and now work as a {job} at {employer}.",
                self._ack(),
                [update],
            ),
            Round(f"My first week at {employer} left me feeling {emotion}.", self._ack(), [first_week]),
        ]
        questions = [
            _Question(
                "Dynamic Update",
                f"What is {n}'s job as of {fmt_date(when)}?",
                f"{job.capitalize()} at {employer}.",
                [update],
                [job, employer],
                slot.reject(),
            ),
            _Question(
                "Memory Conflict",
                f"Why did {n} decide to stay at {old_employer}?",
                f"{n} did not stay; {n} left {old_employer} and now works at {employer}.",
                [update],
                [employer],
                [old_employer],
            ),
        ]
        return rounds, questions

    def _taste(self, when: datetime) -> tuple[list[Round], list[_Question] | None]:
        n, old = self.name, self.slots["food"].values[0]
        food = self._take("food", FOODS, avoid=(old,))
        update = _Point(f"{n}'s favourite food is now {food}.", PERSONA, "system", SUBJECTS["food"], [food])
        slot = self._set_slot("food", [food], update)
        day = self.rng.choice(WEEKDAYS)
        habit = _Point(f"{n} cooks {food} at home every {day}.", EVENT, "secondary", ["cooks"], [food, day])
        rounds = [
            Round(
                f"My tastes have changed: these days my favourite food is {food}, not {old} any more.",
                self._ack(),
                [update],
            ),
            Round(f"I've even started cooking {food} at home every {day}.", self._ack(), [habit]),
        ]
        questions = [
            _Question(
                "Generalization & Application",
                f"{n} is choosing a restaurant for a birthday dinner. What dish would please them most?",
                f"A place that serves {food}.",
                [update],
                [food],
                slot.reject(),
            ),
            _Question(
                "Dynamic Update",
                f"What is {n}'s favourite food as of {fmt_date(when)}?",
                f"{food.capitalize()}.",
                [update],
                [food],
                slot.reject(),
            ),
        ]
        return rounds, questions

    def _friend(self, when: datetime) -> tuple[list[Round], list[_Question] | None]:
        n, hobby = self.name, self.slots["hobby"].values[0]
        self.friend, friend_full = self._person(FEMALE_NAMES + MALE_NAMES)
        self.friend_city = self._take("city", CITIES)
        self.friend_point = _Point(
            f"{n}'s friend {friend_full} lives in {self.friend_city}.",
            RELATIONSHIP,
            "secondary",
            ["friend"],
            [self.friend, self.friend_city],
        )
        emotion = self.rng.choice(EMOTIONS)
        feeling = _Point(
            f"{n} feels {emotion} when spending time with {self.friend}.",
            RELATIONSHIP,
            "secondary",
            ["spending time"],
            [emotion, self.friend],
        )
        rounds = [
            Round(
                f"I made a new friend at a {hobby} meetup: {friend_full}, who lives in {self.friend_city}.",
                self._ack(),
                [self.friend_point],
            ),
            Round(f"Spending time with {self.friend} makes me feel {emotion}.", self._ack(), [feeling]),
        ]
        return rounds, None

    def _event(self, when: datetime) -> tuple[list[Round], list[_Question] | None]:
        n, month = self.name, fmt_month(when)
        past, base, key = self.rng.choice(EVENTS)
        city = self._take("city", CITIES)
        event = _Point(f"{n} {past} in {city} in {month}.", EVENT, "secondary", [key], [key, city])
        emotion = self.rng.choice(EMOTIONS)
        feeling = _Point(f"{n} felt {emotion} after the {key}.", EVENT, "secondary", ["felt"], [emotion, key])
        rounds = [
            Round(f"Last weekend I {past} in {city}!", self._ack(), [event]),
            Round(f"The {key} left me feeling {emotion}.", self._ack(), [feeling]),
        ]
        questions = [
            _Question(
                "Basic Fact Recall", f"In which city did {n} {base} in {month}?", f"{city}.", [event], [city]
            ),
            self._boundary(f"How much did {{name}} pay to take part in the {key}?"),
        ]
        return rounds, questions

    def _hobby(self, when: datetime) -> tuple[list[Round], list[_Question] | None]:
        n, old = self.name, self.slots["hobby"].values[0]
        hobby = self._take("hobby", HOBBIES, avoid=(old,))
        update = _Point(
            f"{n} now enjoys {hobby} in their free time.", PERSONA, "system", SUBJECTS["hobby"], [hobby]
        )
        slot = self._set_slot("hobby", [hobby], update)
        said = f"I've given up {old}; these days all my free time goes into {hobby}."
        questions = [
            _Question(
                "Dynamic Update",
                f"What does {n} enjoy doing in their free time as of {fmt_date(when)}?",
                f"{hobby.capitalize()}.",
                [update],
                [hobby],
                slot.reject(),
            ),
            self._boundary(),
        ]
        return [Round(said, self._ack(), [update])], questions

    def _distractor(self) -> Round:
        """The assistant confidently asserts a false value; the user's turn ignores it."""
        slots = [slot for slot in DISTRACTOR_SLOTS if self._can_falsify(slot)]
        if not slots:
            return Round(self.rng.choice(FILLER_USER), self.rng.choice(FILLER_ASSISTANT))
        slot = self.rng.choice(slots)
        value = self._take_false(slot)
        assertion, content = DISTRACTOR_TEMPLATES[slot]
        point = _Point(content.format(self.name, value), PERSONA, "interference", SUBJECTS[slot], [value])
        return Round(self.rng.choice(FILLER_USER), assertion.format(value), [point])
