"""A seeded prose generator: the offline "book" that SORT items are cut from when no text is given.

SORT needs running text whose sentences mark where segments may start, and whose passages are
distinct enough that a segment can be told apart from the rest of its excerpt. Book-SORT uses Project
Gutenberg novels; this module writes a plain story-like text instead, so the default data needs
nothing from the network and carries no licence question. Sentences are drawn from templates over a
fixed vocabulary (people, places, objects, actions, weather, times), with the end marks the SORT
sentence rule looks at (``.``, ``?``, ``!``, ``;``) and the titles it must not split on (``Mr.``,
``Mrs.``, ``Dr.``). A template's slots are filled independently, so two passages rarely share more
than a few words in a row, while the words themselves recur, as in real prose.

The same ``words`` and ``seed`` give the same text, byte for byte.
"""

from __future__ import annotations

import random

# fmt: off
PEOPLE = (
    "Ada", "Bruno", "Clara", "Dmitri", "Elena", "Felix", "Greta", "Hector", "Ines", "Jonah", "Kira",
    "Lucas", "Mira", "Nolan", "Olga", "Pablo", "Quinn", "Rosa", "Silas", "Tamsin", "Ulric", "Vera",
    "Wade", "Yara", "Zeno",
)
TITLED = ("Mr. Hale", "Mrs. Orr", "Dr. Finch", "Mr. Lowe", "Mrs. Pryce", "Dr. Quill")
PLACES = (
    "the harbour", "the old mill", "the library", "the orchard", "the station", "the bridge",
    "the market", "the chapel", "the lighthouse", "the bakery", "the greenhouse", "the ferry",
    "the schoolhouse", "the boathouse", "the vineyard", "the tannery", "the observatory", "the inn",
)
OBJECTS = (
    "a brass key", "a torn map", "a sealed letter", "a wooden box", "a silver watch", "a blue lantern",
    "a ledger", "a bundle of rope", "a cracked mirror", "a jar of honey", "a small compass",
    "a wool scarf", "a pocket knife", "a basket of pears", "a violin case", "a stack of coins",
    "a faded photograph", "a ship's bell",
)
ACTIONS = (
    "carried", "hid", "opened", "examined", "mended", "polished", "buried", "wrapped", "counted",
    "lost", "found", "sold", "traded", "painted", "returned", "studied", "weighed", "sketched",
)
MOTIONS = (
    "walked to", "hurried to", "rode to", "wandered past", "crept into", "rowed toward", "climbed to",
    "drove past", "returned to", "waited near",
)
FEELINGS = (
    "uneasy", "cheerful", "curious", "tired", "restless", "hopeful", "puzzled", "calm", "anxious", "proud",
)
TIMES = (
    "At dawn", "Before noon", "Late that evening", "After supper", "On the second morning",
    "Just before the storm", "Around midnight", "Early on Sunday", "By the afternoon", "Later that week",
)
WEATHER = (
    "rain drummed on the roofs", "a cold wind came off the water", "fog hung over the fields",
    "the sun broke through the clouds", "snow settled on the hedges", "thunder rolled in the hills",
    "the air smelled of smoke", "the river rose after the rain",
)
# fmt: on

SENTENCES_PER_PARAGRAPH = (3, 7)


def _person(rng: random.Random) -> str:
    return rng.choice(TITLED) if rng.random() < 0.15 else rng.choice(PEOPLE)


def _two_people(rng: random.Random) -> tuple[str, str]:
    first = _person(rng)
    second = _person(rng)
    while second == first:
        second = _person(rng)
    return first, second


def sentence(rng: random.Random) -> str:
    """One sentence with its end mark; templates vary in length (about 6 to 25 words)."""
    a, b = _two_people(rng)
    kind = rng.randrange(9)
    if kind == 0:
        return f"{rng.choice(TIMES)}, {a} {rng.choice(MOTIONS)} {rng.choice(PLACES)}."
    if kind == 1:
        return f"{a} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} while {b} watched from {rng.choice(PLACES)}."
    if kind == 2:
        return f"Had {a} really {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} at {rng.choice(PLACES)}?"
    if kind == 3:
        return f"Outside, {rng.choice(WEATHER)}; {a} felt {rng.choice(FEELINGS)}."
    if kind == 4:
        return (
            f"{a} told {b} about {rng.choice(OBJECTS)}, and {b} promised to bring it to "
            f"{rng.choice(PLACES)} {rng.choice(TIMES).lower()}."
        )
    if kind == 5:
        feeling = rng.choice(FEELINGS)
        article = "an" if feeling[0] in "aeiou" else "a"
        return f"What {article} {feeling} day it had been for {a}!"
    if kind == 6:
        return (
            f"When {a} {rng.choice(MOTIONS)} {rng.choice(PLACES)}, {b} had already "
            f"{rng.choice(ACTIONS)} {rng.choice(OBJECTS)} and gone home {rng.choice(FEELINGS)}."
        )
    if kind == 7:
        return f"{a} and {b} argued about {rng.choice(OBJECTS)} until {rng.choice(WEATHER)}."
    return (
        f"Nobody at {rng.choice(PLACES)} had seen {rng.choice(OBJECTS)} since {a} {rng.choice(MOTIONS)} it."
    )


def generate_text(words: int, seed: int = 0) -> str:
    """Paragraphs of generated prose, at least ``words`` words long, ending at a sentence end."""
    if words <= 0:
        raise ValueError(f"words must be positive, got {words}")
    rng = random.Random(seed)
    paragraphs: list[str] = []
    count = 0
    while count < words:
        sentences = [sentence(rng) for _ in range(rng.randint(*SENTENCES_PER_PARAGRAPH))]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return "\n\n".join(paragraphs) + "\n"
