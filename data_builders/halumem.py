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

    python -m data_builders.halumem --out data/halumem.jsonl --users 3 --sessions 6
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError

#: Bump whenever a change alters what is written for some options: it names the built file, so data
#: written by an older builder is rebuilt instead of silently reused.
BUILDER_VERSION = "2"

# ---------------------------------------------------------------- vocabulary
# Values never contain one another as whole-word phrases, and none of the fixed sentences below uses
# one, so a phrase found in a text was put there by the story (tests check both).
# fmt: off
FEMALE_NAMES = (
    "Amara", "Celine", "Elif", "Greta", "Ines", "Keiko", "Maren", "Odette", "Rosalind", "Talia",
    "Vera", "Ximena", "Zofia", "Brigid", "Delphine", "Fiora", "Halima", "Jolene", "Leocadia", "Nerys",
)
MALE_NAMES = (
    "Bastian", "Dario", "Farid", "Hugo", "Jonas", "Lorenzo", "Nikhil", "Pavel", "Soren", "Umar",
    "Wendell", "Yusuf", "Anselm", "Cormac", "Emeric", "Gideon", "Ivo", "Kasimir", "Matthias", "Tobias",
)
LAST_NAMES = (
    "Achterberg", "Brennan", "Castellano", "Dimitriou", "Eriksen", "Fairweather", "Gallagher", "Hollis",
    "Ivanova", "Jaramillo", "Kowalczyk", "Lindqvist", "Moreau", "Nakamura", "Okonkwo", "Pellegrini",
    "Quintero", "Rasmussen", "Szabo", "Thorne", "Urquhart", "Vasquez", "Whitcombe", "Yamamoto",
    "Zielinski", "Abernathy", "Bellamy", "Delacroix", "Esposito", "Ferreira",
)
CITIES = (
    "Lisbon", "Porto", "Valencia", "Seville", "Bordeaux", "Lyon", "Marseille", "Antwerp", "Rotterdam",
    "Utrecht", "Hamburg", "Leipzig", "Dresden", "Salzburg", "Innsbruck", "Ljubljana", "Zagreb", "Krakow",
    "Gdansk", "Vilnius", "Tallinn", "Helsinki", "Bergen", "Gothenburg", "Aarhus", "Edinburgh", "Glasgow",
    "Dublin", "Galway", "Bristol", "Montreal", "Vancouver", "Halifax", "Boston", "Denver", "Austin",
    "Portland", "Seattle", "Melbourne", "Auckland",
)
JOBS = (
    "architect", "pharmacist", "veterinarian", "data analyst", "librarian", "civil engineer",
    "graphic designer", "physiotherapist", "translator", "electrician", "journalist", "accountant",
    "software developer", "marine biologist", "urban planner", "speech therapist", "photographer",
    "museum curator", "paramedic", "sommelier", "carpenter", "surveyor", "social worker", "dietitian",
    "optometrist", "geologist", "cartographer", "flight attendant", "sound engineer", "midwife",
)
EMPLOYERS = (
    "Northwind Labs", "Bluefin Logistics", "Harbor & Vale", "Crestline Health", "Lumen Analytics",
    "Redwood Civic Trust", "Saltmarsh Press", "Ironbark Studios", "Kestrel Aviation", "Meridian Bank",
    "Quarry Lane Books", "Pinecrest Clinic", "Silverline Transit", "Tidewater Energy",
    "Orchard Hill School", "Copperleaf Design", "Granite Peak Partners", "Foxglove Pharmacy",
    "Highmoor Archives", "Larkspur Media", "Mosswood Architects", "Nimbus Software", "Oakhaven Museum",
    "Riverside Veterinary Group", "Stonegate Insurance", "Thistle & Co", "Windward Surveys",
    "Yellowpine Consulting", "Zephyr Robotics", "Alder Street Studio",
)
HOBBIES = (
    "rock climbing", "birdwatching", "pottery", "chess", "salsa dancing", "trail running",
    "watercolour painting", "woodworking", "kayaking", "beekeeping", "astronomy", "origami", "fencing",
    "knitting", "calligraphy", "sailing", "archery", "gardening", "cycling", "scuba diving",
    "ice skating", "bonsai", "geocaching", "juggling", "orienteering", "mosaic making", "table tennis",
    "fly fishing", "tango", "bouldering",
)
FOODS = (
    "ramen", "paella", "lentil soup", "pad thai", "moussaka", "pierogi", "bibimbap", "falafel", "risotto",
    "ceviche", "goulash", "shakshuka", "dumplings", "lasagne", "tagine", "pho", "jambalaya", "gnocchi",
    "biryani", "empanadas", "sushi", "enchiladas", "katsu curry", "borscht", "tacos", "ratatouille",
    "laksa", "poutine", "arancini", "bouillabaisse",
)
PETS = (
    "beagle", "tabby cat", "parrot", "rabbit", "tortoise", "ferret", "hamster", "border collie",
    "cockatiel", "guinea pig", "corgi", "chinchilla",
)
PET_NAMES = (
    "Biscuit", "Pepper", "Juniper", "Waffles", "Clementine", "Nugget", "Mochi", "Pickle", "Ziggy",
    "Marbles", "Pumpkin", "Sprout", "Noodle", "Comet", "Bramble", "Pixel", "Gizmo", "Maple", "Rascal",
    "Tinsel", "Domino", "Cricket", "Pretzel", "Whiskers", "Fudge", "Luna", "Bingo", "Sherlock",
    "Quill", "Saffron",
)
EMOTIONS = (
    "excited", "nervous", "relieved", "proud", "hopeful", "overwhelmed", "grateful", "anxious",
    "thrilled", "restless", "optimistic", "homesick", "cheerful", "uneasy", "elated",
)
# fmt: on
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: (what the user did, the same in the infinitive, the phrase that names the event)
EVENTS = (
    ("ran a half marathon", "run a half marathon", "half marathon"),
    ("went to a jazz festival", "go to a jazz festival", "jazz festival"),
    ("took a glassblowing workshop", "take a glassblowing workshop", "glassblowing workshop"),
    ("volunteered at a beach clean-up", "volunteer at a beach clean-up", "beach clean-up"),
    ("attended a friend's wedding", "attend a friend's wedding", "wedding"),
    ("saw an opera", "see an opera", "opera"),
    ("joined a charity bike ride", "join a charity bike ride", "charity bike ride"),
    ("visited a lantern festival", "visit a lantern festival", "lantern festival"),
    ("went on a hot-air balloon ride", "go on a hot-air balloon ride", "hot-air balloon ride"),
    ("played in a pub quiz", "play in a pub quiz", "pub quiz"),
    ("gave a talk at a conference", "give a talk at a conference", "conference"),
    ("went to a film premiere", "go to a film premiere", "film premiere"),
    ("hiked a coastal trail", "hike a coastal trail", "coastal trail"),
    ("took a cooking class", "take a cooking class", "cooking class"),
    ("toured a botanical garden", "tour a botanical garden", "botanical garden"),
    ("attended a robotics expo", "attend a robotics expo", "robotics expo"),
)
BOUNDARY_QUESTIONS = (
    "What is the name of {name}'s dentist?",
    "What brand of car does {name} drive?",
    "How much rent does {name} pay each month?",
    "What was the name of {name}'s primary school?",
    "What is {name}'s blood type?",
    "Which airline did {name} fly with most recently?",
    "What is the name of {name}'s landlord?",
    "What size shoes does {name} wear?",
)
UNKNOWN_ANSWER = "Unknown; not provided by the user."

FILLER_USER = (
    "The weather has been all over the place this week, bright one hour and grey the next.",
    "I finally caught up on sleep last night, which felt wonderful.",
    "My inbox piled up again, but I'm trying not to let it get to me.",
    "I rearranged the furniture in the living room over the weekend.",
    "Do you have any tips for staying focused on a long afternoon?",
    "I've been trying to drink more water and go to bed a bit earlier.",
    "A neighbour lent me a novel and I can't put it down.",
    "The train was late again this morning, so I listened to a podcast while I waited.",
    "I spent the evening sorting old photos into albums.",
    "I'm thinking about repainting the hallway in a softer colour.",
    "Some days I just want a quiet evening with a cup of tea.",
    "I tried a new route on my morning walk and found a lovely little park.",
)
FILLER_ASSISTANT = (
    "That sounds like a nice change of pace. Small routines like that can make a big difference.",
    "I hear you. Taking things one step at a time usually helps.",
    "That's a good idea. Is there anything I can help you plan around it?",
    "It sounds like you're taking good care of yourself, which matters a lot.",
    "Thanks for telling me. Let me know how it goes!",
)
ACKS = (
    "Thank you for sharing that with me; I'll keep it in mind.",
    "That's great to know. How are you feeling about it overall?",
    "Got it! That sounds like an important part of your life.",
    "That's lovely to hear. Tell me more whenever you like.",
)

# Noise for the Long variant: generic trivia and arithmetic sharing no word with the vocabulary above.
NOISE_TRIVIA = (
    ("How many sides does a hexagon have?", "A hexagon has six sides."),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
    ("What gas do plants take in for photosynthesis?", "Plants take in carbon dioxide for photosynthesis."),
    ("How many bones are in the adult human body?", "The adult human body has 206 bones."),
    ("At what temperature does water boil at sea level?", "Water boils at 100 degrees Celsius at sea level."),
    ("What is the largest ocean on Earth?", "The Pacific is the largest ocean on Earth."),
    ("Who proposed the three laws of motion?", "Isaac Newton proposed the three laws of motion."),
    ("What is the hardest natural mineral?", "Diamond is the hardest natural mineral."),
    ("How many degrees are in a right angle?", "A right angle has 90 degrees."),
    (
        "What is the speed of light in a vacuum, roughly?",
        "Light travels at about 300,000 kilometres per second.",
    ),
)
NOISE_ELEMENTS = (
    ("gold", "Au"),
    ("iron", "Fe"),
    ("sodium", "Na"),
    ("silver", "Ag"),
    ("copper", "Cu"),
    ("tin", "Sn"),
)
NOISE_UNITS = (
    ("minutes", "hours", 60),
    ("seconds", "minutes", 60),
    ("centimetres", "metres", 100),
    ("grams", "kilograms", 1000),
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
#: phrases that say what a slot's memory is about (a related memory carrying a wrong value has them).
SUBJECTS = {
    "city": ["lives in", "live in", "living in", "moved to", "moved from", "based in"],
    "job": ["works as", "work as", "works at", "job"],
    "hobby": ["enjoys", "hobby", "free time"],
    "food": ["favourite food", "favorite food"],
}
#: the slots the assistant lies about, and the values a lie can use.
FALSIFIABLE = {"city": CITIES, "job": JOBS, "hobby": HOBBIES, "food": FOODS}
DISTRACTOR_SLOTS = tuple(FALSIFIABLE)
#: chapters after the first session, cycled; "friend" sessions carry no questions (the real quirk).
CHAPTERS = ("move", "pet", "job", "taste", "friend", "event", "hobby")
#: the first session states six facts, one per round, so it needs at least this many rounds.
MIN_TURNS = 6
MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
NOISE_SOURCE = "stage6_3_supplement"
NOISE_TITLE = "Pure_QA_Session"


def fmt_time(moment: datetime) -> str:
    """The official "%b %d, %Y, %H:%M:%S" format, with English month names whatever the locale."""
    return f"{MONTH_ABBREVIATIONS[moment.month - 1]} {moment:%d, %Y, %H:%M:%S}"


def parse_time(stamp: str) -> datetime:
    """The inverse of ``fmt_time``, locale-independent like it."""
    month, rest = stamp.split(" ", 1)
    return datetime.strptime(f"{MONTH_ABBREVIATIONS.index(month) + 1} {rest}", "%m %d, %Y, %H:%M:%S")


def fmt_date(moment: datetime) -> str:
    """A date as questions write it: "April 10, 2026"."""
    return f"{MONTH_NAMES[moment.month - 1]} {moment.day}, {moment.year}"


def fmt_month(moment: datetime) -> str:
    return f"{MONTH_NAMES[moment.month - 1]} {moment.year}"


# ---------------------------------------------------------------- story pieces


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
class _Round:
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


class _Story:
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

    def chapter(self, session: int) -> tuple[list[_Round], list[_Question] | None]:
        """Content rounds and questions (None: no ``questions`` key) of session ``session``.

        Distractors are drawn first so that the session's own questions reject their false values.
        """
        if session == 0:
            return self._init()
        distractors = [self._distractor() for _ in range(self.rng.randint(1, 2))]
        kind = CHAPTERS[(session - 1) % len(CHAPTERS)]
        if kind == "pet" and self.pets_adopted == len(PETS):
            kind = "event"
        rounds, questions = getattr(self, f"_{kind}")(self.dates[session])
        for distractor in distractors:
            rounds.insert(self.rng.randint(0, len(rounds)), distractor)
        return rounds, questions

    def _init(self) -> tuple[list[_Round], list[_Question] | None]:
        n, rng = self.name, self.rng
        city = self._take("city", CITIES)
        job, employer = self._take("job", JOBS), self._take("employer", EMPLOYERS)
        hobby, food = self._take("hobby", HOBBIES), self._take("food", FOODS)
        sister, _ = self._person(FEMALE_NAMES)
        self.friend, friend_full = self._person(FEMALE_NAMES + MALE_NAMES)
        self.friend_city = self._take("city", CITIES)
        p_city = _Point(f"{n} lives in {city}.", PERSONA, "system", SUBJECTS["city"], [city])
        p_job = _Point(
            f"{n} works as a {job} at {employer}.", PERSONA, "system", SUBJECTS["job"], [job, employer]
        )
        p_hobby = _Point(
            f"{n} enjoys {hobby} in their free time.", PERSONA, "system", SUBJECTS["hobby"], [hobby]
        )
        p_food = _Point(f"{n}'s favourite food is {food}.", PERSONA, "system", SUBJECTS["food"], [food])
        p_sister = _Point(
            f"{n} has an older sister named {sister}.", RELATIONSHIP, "secondary", ["sister"], [sister]
        )
        self.friend_point = _Point(
            f"{n}'s close friend {friend_full} lives in {self.friend_city}.",
            RELATIONSHIP,
            "secondary",
            ["friend"],
            [self.friend, self.friend_city],
        )
        self._set_slot("city", [city], p_city)
        job_slot = self._set_slot("job", [job, employer], p_job)
        self._set_slot("hobby", [hobby], p_hobby)
        self._set_slot("food", [food], p_food)
        self.profile = (
            f"Name: {n}; Gender: {self.gender}; Age: {self.age}; Occupation: {job} at {employer}; "
            f"Location: {city}; Hobby: {hobby}; Favourite food: {food}"
        )
        hello = rng.choice(
            ("Hi! I'm {}, and I live in {}.", "Hello there. Quick introduction: I'm {}, based in {}.")
        )
        free_time = rng.choice(
            ("In my free time I'm really into {}.", "Whenever I get some free time, I spend it on {}.")
        )
        rounds = [
            _Round(hello.format(self.first, city), self._ack(), [p_city]),
            _Round(f"I work as a {job} at {employer}, which keeps me pretty busy.", self._ack(), [p_job]),
            _Round(free_time.format(hobby), self._ack(), [p_hobby]),
            _Round(f"My favourite food has always been {food}.", self._ack(), [p_food]),
            _Round(
                f"My older sister {sister} is the first person I call when something big happens.",
                self._ack(),
                [p_sister],
            ),
            _Round(
                f"My close friend {friend_full} lives in {self.friend_city}; we talk almost every week.",
                self._ack(),
                [self.friend_point],
            ),
        ]
        false_job = self._take_false("job")
        questions = [
            _Question(
                "Basic Fact Recall",
                f"What is {n}'s favourite food?",
                f"{food.capitalize()}.",
                [p_food],
                [food],
            ),
            self._boundary(),
            _Question(
                "Memory Conflict",
                f"Why did {n} decide to become a {false_job}?",
                f"{n} is not a {false_job}; {n} works as a {job} at {employer}.",
                [p_job],
                [job],
                job_slot.reject(),
            ),
        ]
        return rounds, questions

    def _move(self, when: datetime) -> tuple[list[_Round], list[_Question] | None]:
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
            _Round(
                f"Big news: I moved from {old} to {new} last month, and I'm starting to settle in.",
                self._ack(),
                [update],
            ),
            _Round(f"Honestly, I feel {emotion} about the move to {new}.", self._ack(), [feeling]),
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

    def _pet(self, when: datetime) -> tuple[list[_Round], list[_Question] | None]:
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
        return [_Round(said, self._ack(), [has, adopted])], questions

    def _job(self, when: datetime) -> tuple[list[_Round], list[_Question] | None]:
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
            _Round(
                f"News on the work front: I left {old_employer} and now work as a {job} at {employer}.",
                self._ack(),
                [update],
            ),
            _Round(f"My first week at {employer} left me feeling {emotion}.", self._ack(), [first_week]),
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

    def _taste(self, when: datetime) -> tuple[list[_Round], list[_Question] | None]:
        n, old = self.name, self.slots["food"].values[0]
        food = self._take("food", FOODS, avoid=(old,))
        update = _Point(f"{n}'s favourite food is now {food}.", PERSONA, "system", SUBJECTS["food"], [food])
        slot = self._set_slot("food", [food], update)
        day = self.rng.choice(WEEKDAYS)
        habit = _Point(f"{n} cooks {food} at home every {day}.", EVENT, "secondary", ["cooks"], [food, day])
        rounds = [
            _Round(
                f"My tastes have changed: these days my favourite food is {food}, not {old} any more.",
                self._ack(),
                [update],
            ),
            _Round(f"I've even started cooking {food} at home every {day}.", self._ack(), [habit]),
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

    def _friend(self, when: datetime) -> tuple[list[_Round], list[_Question] | None]:
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
            _Round(
                f"I made a new friend at a {hobby} meetup: {friend_full}, who lives in {self.friend_city}.",
                self._ack(),
                [self.friend_point],
            ),
            _Round(f"Spending time with {self.friend} makes me feel {emotion}.", self._ack(), [feeling]),
        ]
        return rounds, None

    def _event(self, when: datetime) -> tuple[list[_Round], list[_Question] | None]:
        n, month = self.name, fmt_month(when)
        past, base, key = self.rng.choice(EVENTS)
        city = self._take("city", CITIES)
        event = _Point(f"{n} {past} in {city} in {month}.", EVENT, "secondary", [key], [key, city])
        emotion = self.rng.choice(EMOTIONS)
        feeling = _Point(f"{n} felt {emotion} after the {key}.", EVENT, "secondary", ["felt"], [emotion, key])
        rounds = [
            _Round(f"Last weekend I {past} in {city}!", self._ack(), [event]),
            _Round(f"The {key} left me feeling {emotion}.", self._ack(), [feeling]),
        ]
        questions = [
            _Question(
                "Basic Fact Recall", f"In which city did {n} {base} in {month}?", f"{city}.", [event], [city]
            ),
            self._boundary(f"How much did {{name}} pay to take part in the {key}?"),
        ]
        return rounds, questions

    def _hobby(self, when: datetime) -> tuple[list[_Round], list[_Question] | None]:
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
        return [_Round(said, self._ack(), [update])], questions

    def _distractor(self) -> _Round:
        """The assistant confidently asserts a false value; the user's turn ignores it."""
        slots = [slot for slot in DISTRACTOR_SLOTS if self._can_falsify(slot)]
        if not slots:
            return _Round(self.rng.choice(FILLER_USER), self.rng.choice(FILLER_ASSISTANT))
        slot = self.rng.choice(slots)
        value = self._take_false(slot)
        assertion, content = {
            "city": (
                "Since you live in {}, you must know the old town there really well.",
                "{} lives in {}.",
            ),
            "job": ("As a {}, you must be used to long and busy weeks.", "{} works as a {}."),
            "hobby": ("I remember how much you enjoy {} on quiet weekends.", "{} enjoys {}."),
            "food": ("You once told me {} is your absolute favourite food.", "{}'s favourite food is {}."),
        }[slot]
        point = _Point(content.format(self.name, value), PERSONA, "interference", SUBJECTS[slot], [value])
        return _Round(self.rng.choice(FILLER_USER), assertion.format(value), [point])


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


def _build_session(story: _Story, index: int, times: list[datetime]) -> dict[str, Any]:
    rng = story.rng
    content, questions = story.chapter(index)
    slots = sorted(rng.sample(range(len(times)), len(content)))
    by_slot = dict(zip(slots, content, strict=True))
    fillers = itertools.cycle(rng.sample(FILLER_USER, len(FILLER_USER)))  # no repeats in a short session
    dialogue: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for turn, moment in enumerate(times):
        stamp = fmt_time(moment)
        round_ = by_slot.get(turn) or _Round(next(fillers), rng.choice(FILLER_ASSISTANT))
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
    story = _Story(rng, [rounds[-1] for rounds in times])
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
    rng = random.Random(seed)
    built = [_build_user(rng, sessions, turns) for _ in range(users)]
    if variant == "long":
        for user in built:
            _add_noise(rng, user, noise, turns)
    text = "".join(json.dumps(user, ensure_ascii=False) + "\n" for user in built)
    _write_atomically(out_path, text.encode("utf-8"))
    return out_path


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it, so no reader sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_builders.halumem",
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
