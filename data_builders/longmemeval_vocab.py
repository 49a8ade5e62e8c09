"""Word lists and sentence templates of the offline LongMemEval builder (``longmemeval.py``).

Every question is about one person of ``ANCHORS`` (each used once in a data set), so only its
evidence names it; filler talks about ``FILLER_NAMES``, who never appear in a question. Templates
state the fact with the words the question asks with ("the job of my cousin Lena" / "What is the job
of my cousin Lena?"), so an offline reader that matches the question's words finds it, and a
retriever must still tell it from filler that states the same attribute of another person.
"""

from __future__ import annotations

from dataclasses import dataclass

ANCHORS: tuple[str, ...] = (
    "Lena", "Marco", "Ines", "Tomas", "Priya", "Omar", "Greta", "Hugo", "Yara", "Felix", "Noor", "Anton",
    "Sofia", "Rafael", "Mira", "Jonas", "Aiko", "Pavel", "Leila", "Stefan", "Amara", "Bruno", "Chloe",
    "Dario", "Elif", "Farid", "Gemma", "Henrik", "Ilse", "Jasper", "Kenji", "Lucia", "Mateo", "Nadia",
    "Oskar", "Paloma", "Quentin", "Rosa", "Samir", "Tamsin", "Ugo", "Vera", "Wendell", "Ximena",
    "Yusuf", "Zora", "Albin", "Beatriz", "Cyril", "Dagny", "Emil", "Fiona", "Gustav", "Hana", "Ivo",
    "Junia", "Kasimir", "Linnea", "Magnus", "Nerea", "Otto", "Petra", "Rolf", "Selma", "Teodor",
    "Ulla", "Viggo", "Wilma",
)  # fmt: skip
FILLER_NAMES: tuple[str, ...] = (
    "Arjun", "Bettina", "Carlo", "Delia", "Enzo", "Flora", "Gideon", "Hilde", "Idris", "Josefine",
    "Karim", "Liesel", "Milo", "Nina", "Orla", "Piet",
)  # fmt: skip
RELATIONS: tuple[str, ...] = ("cousin", "neighbour", "colleague", "friend", "flatmate", "teammate")


@dataclass(frozen=True)
class Template:
    """How a fact is said and asked. ``{rel}``, ``{name}`` and ``{value}`` are filled in; ``values``
    are what the fact can be. ``update`` is the later statement of a knowledge-update fact."""

    statement: str
    question: str
    values: tuple[str, ...]
    update: str = ""


#: single-session-user: a fact the user states about a person.
USER_FACTS: tuple[Template, ...] = (
    Template("My {rel} {name} has a {value} as a pet.", "What pet does my {rel} {name} have?",
             ("parrot", "tortoise", "ferret", "rabbit", "hamster", "goldfish", "gecko", "canary")),
    Template("The job of my {rel} {name} is {value}.", "What is the job of my {rel} {name}?",
             ("nurse", "architect", "pilot", "baker", "librarian", "chemist", "carpenter", "florist")),
    Template("My {rel} {name} has a home in {value}.", "Where is the home of my {rel} {name}?",
             ("Porto", "Ghent", "Tallinn", "Bergen", "Lyon", "Krakow", "Turin", "Aarhus")),
)  # fmt: skip
#: single-session-assistant: the user asks for a suggestion and the assistant gives one.
ASSISTANT_FACTS: tuple[Template, ...] = (
    Template("Can you suggest a {rel} for my trip with {name}?",
             "In our chat about my trip with {name}, which {rel} did you suggest?",
             ("Copper Kettle", "Blue Fig", "Old Mill", "Harbour Lantern", "Juniper House", "Red Door")),
)  # fmt: skip
#: what an assistant-fact template's ``{rel}`` is: the kind of place suggested.
PLACES: tuple[str, ...] = ("hotel", "restaurant", "bakery", "bookshop", "cafe")
#: the assistant's answer to an assistant-fact request.
ASSISTANT_ANSWER = "For your trip with {name}, a good {rel} is the {value}."
#: single-session-preference: a preference the question's suggestion must respect.
PREFERENCES: tuple[Template, ...] = (
    Template("For a dinner with {name}, I always want a {value} recipe.",
             "Can you suggest a recipe for my dinner with {name}?",
             ("vegetarian", "spicy", "seafood", "dairy free", "low salt", "one pot")),
    Template("For a weekend with {name}, I always book a {value} hotel.",
             "Can you suggest a hotel for my weekend with {name}?",
             ("quiet", "seaside", "pet friendly", "mountain", "family run", "budget")),
)  # fmt: skip
PREFERENCE_RUBRIC = (
    "The user would prefer suggestions that respect what they said for {name}: a {value} choice."
)
#: multi-session: one item of a list in each of two sessions.
LIST_FACTS: tuple[Template, ...] = (
    Template("One of the gifts I got for {name} is a {value}.", "Which gifts have I got for {name}?",
             ("scarf", "teapot", "kite", "puzzle", "lantern", "notebook", "compass", "candle")),
    Template("One of the books I lent to {name} is {value}.", "Which books have I lent to {name}?",
             ("The Salt Road", "Winter Orchard", "Glass Harbour", "The Quiet Engine", "North of Noon",
              "Paper Tides")),
)  # fmt: skip
#: knowledge-update: a fact stated, then changed in a later session.
UPDATES: tuple[Template, ...] = (
    Template("The gym I go to with {name} is {value}.", "Which gym do I currently go to with {name}?",
             ("Iron Works", "Peak Fitness", "Harbour Gym", "Summit Club", "Core Studio", "Lift House"),
             update="The gym I go to with {name} is now {value}."),
    Template("My running route with {name} is {value}.", "What is my current running route with {name}?",
             ("the river loop", "the park trail", "the harbour path", "the hill circuit", "the canal run"),
             update="My running route with {name} is now {value}."),
)  # fmt: skip
#: temporal-reasoning: a dated event the question asks the date of.
DATED_FACTS: tuple[Template, ...] = (
    Template(
        "The start date of my {rel} course with {name} was {value}.",
        "What was the start date of my {rel} course with {name}?",
        (),
    ),
)
#: what a dated fact's ``{rel}`` is: the course.
COURSES: tuple[str, ...] = ("pottery", "salsa", "sailing", "photography", "climbing", "Italian")
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: decoys: the question's person mentioned in passing, with none of the facts asked about.
DECOYS: tuple[str, ...] = (
    "I had lunch with {name} on Friday.",
    "{name} and I watched a film last night.",
    "By the way, {name} says hello.",
    "I ran into {name} at the market this morning.",
    "{name} called me about the weather.",
)
#: chit-chat that fills sessions; no names, so it never answers a question.
USER_CHAT: tuple[str, ...] = (
    "Could you help me plan meals for the week?",
    "What is a good way to keep basil fresh?",
    "I need a short stretching routine for the morning.",
    "How do I remove a coffee stain from a shirt?",
    "Can you explain how compound interest works?",
    "What should I pack for a rainy hike?",
    "Any tips for falling asleep faster?",
    "How often should I water a snake plant?",
    "Give me an idea for a quick lunch.",
    "How do I write a polite follow-up email?",
)
ASSISTANT_CHAT: tuple[str, ...] = (
    "Sure, here is a simple plan with three easy dinners.",
    "Wrap it loosely in a damp towel and keep it out of the fridge.",
    "Try five minutes of gentle neck, back and hamstring stretches.",
    "Blot it with cold water and a little dish soap before washing.",
    "Interest is added to the balance, so later interest grows on it too.",
    "Bring a light waterproof layer, spare socks and a snack.",
    "Keep a regular bedtime and dim the lights an hour before.",
    "Water it every two to three weeks, when the soil is dry.",
    "A wrap with hummus, greens and roasted peppers is quick.",
    "Keep it short, thank them, and ask one clear question.",
)
