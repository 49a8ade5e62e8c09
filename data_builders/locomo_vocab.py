"""Word lists and templates of the offline LoCoMo builder (``locomo.py``): all ours.

Every fact template repeats the words its question asks about, and no filler line, reply or image
caption uses any of them (nor a pet kind, event, hobby or activity word), so a reader that looks for
the asked words in what the question's speaker said finds the evidence, the speaker's decoys
(``DECOYS``: the same words without the answer) and nothing else. The two speakers of a conversation
draw different pet kinds and events, which is what makes the adversarial questions (one speaker asked
about the other's fact) answerable only by declining.
"""

from __future__ import annotations

NAMES = (
    "Ines", "Tomas", "Aiko", "Bram", "Nadia", "Oskar", "Priya", "Lucas", "Marta", "Emeka",
    "Sofia", "Henrik", "Leila", "Mateo", "Yuki", "Fergus", "Amara", "Dario", "Greta", "Kofi",
)  # fmt: skip
PET_KINDS = ("dog", "cat", "parrot", "rabbit", "hamster", "tortoise")
PET_NAMES = ("Biscuit", "Mochi", "Pepper", "Juniper", "Waffles", "Clementine", "Tofu", "Rusty")
EVENTS = (
    "pottery workshop", "jazz concert", "charity run", "book signing",
    "cooking class", "film festival", "science fair", "wine tasting",
)  # fmt: skip
HOBBIES = (
    "painting", "chess", "knitting", "gardening", "birdwatching",
    "woodworking", "calligraphy", "rock climbing", "photography", "origami",
)  # fmt: skip
ACTIVITIES = ("kayaking", "hiking", "cycling", "sailing", "swimming", "camping")

# Fact turns and their questions ({who}: the speaker the question is about).
PET_TURN = "My {kind} is named {pet}."
PET_QUESTION = "What is the name of {who}'s {kind}?"
EVENT_TURN = "On {date} I attended a {event}."
EVENT_QUESTION = "When did {who} attend the {event}?"
HOBBY_TURNS = ("One of my hobbies is {hobby}.", "Another of my hobbies is {hobby}.")
HOBBY_QUESTION = "What hobbies does {who} have?"
ACTIVITY_TURN = "The weekend activity I enjoy most is {activity}."
ACTIVITY_QUESTION = "Which weekend activity would {who} likely enjoy?"
ACTIVITY_ANSWER = "{activity}; {who} enjoys it most of all on weekends"

# Decoys: the speaker again, with the words a question about the fact asks for but not its answer, so a
# memory that retrieves by those words must still rank the fact's turn among them. By fact type.
DECOYS = {
    "pet": (
        "My {kind} was at the vet again.",
        "I bought a new toy for my {kind}.",
        "My {kind} slept all afternoon.",
    ),
    "event": ("I attended the {event} with an old friend.", "The {event} I attended was crowded."),
    "hobby": ("My hobbies keep me busy these days.", "I spend most evenings on my hobbies."),
    "activity": ("I enjoy planning a new weekend activity.", "A weekend activity I enjoy clears my head."),
}

FILLER = (
    "Work has been really busy lately.",
    "I tried a new soup recipe last night.",
    "The weather here turned cold again.",
    "I finally finished that long novel.",
    "My neighbours are renovating their kitchen.",
    "I have been sleeping much better this month.",
    "Traffic on the way home was terrible today.",
    "I reorganised my whole apartment.",
    "My brother called to catch up yesterday.",
    "I started drinking more water every day.",
)
REPLIES = (
    "That sounds great!",
    "Oh, I love hearing that.",
    "How did that go for you?",
    "Tell me more about it.",
    "That must have been fun.",
    "Wow, good for you!",
)
#: images a filler turn may share: (BLIP-style caption, the search query the original records).
IMAGES = (
    ("a photo of a sunset over a quiet harbour", "sunset harbour"),
    ("a photo of a bowl of soup on a wooden table", "bowl of soup"),
    ("a photo of a city street at night", "city street night"),
    ("a photo of mountains covered in snow", "snowy mountains"),
)
