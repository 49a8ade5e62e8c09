"""The turn-match reader: the question's speaker, every asked word, time order, and declining."""

from __future__ import annotations

from membench.core.types import Memory
from membench_tasks.locomo.reader import NOT_MENTIONED, TurnMatchReader

READ = TurnMatchReader().read


def turn(text: str, position: int, timestamp: str = "2023-05-01T10:00:00") -> Memory:
    """A turn as the baselines store it: role, then the loader's speaker prefix."""
    return Memory(text=f"user: {text}", session_id="s", position=position, timestamp=timestamp)


def test_the_answer_is_what_the_questions_speaker_said_with_every_asked_word() -> None:
    memories = [
        turn("Tomas: My cat is named Mochi.", 3),
        turn("Ines: My dog is named Biscuit. It loves the park.", 1),
        turn("Ines: The dog park was busy.", 2),  # holds "dog" but says nothing of a name
    ]
    assert (
        READ("What is the name of Ines's dog?", memories) == "My dog is named Biscuit, The dog park was busy"
    )
    assert READ("What is the name of Tomas's cat?", memories) == "My cat is named Mochi"


def test_asked_about_what_the_other_speaker_said_it_declines() -> None:
    memories = [turn("Ines: My dog is named Biscuit.", 0), turn("Tomas: What a lovely dog!", 1)]
    assert READ("What is the name of Tomas's parrot?", memories) == NOT_MENTIONED
    assert READ("When did Tomas attend the pottery workshop?", memories) == NOT_MENTIONED


def test_every_asked_word_must_be_there_by_stem() -> None:
    memories = [turn("Ines: One of my hobbies is chess.", 0), turn("Ines: I played chess today.", 1)]
    assert READ("What hobbies does Ines have?", memories) == "One of my hobbies is chess"
    assert READ("When did Ines attend the chess club?", memories) == NOT_MENTIONED


def test_sentences_come_in_the_order_they_were_said_each_once() -> None:
    memories = [
        turn("Ines: Another of my hobbies is knitting.", 7, "2023-06-01T09:00:00"),
        turn("Ines: One of my hobbies is chess.", 2, "2023-05-01T09:00:00"),
        turn("Ines: One of my hobbies is chess.", 2, "2023-05-01T09:00:00"),
    ]
    assert READ("What hobbies does Ines have?", memories) == (
        "One of my hobbies is chess, Another of my hobbies is knitting"
    )


def test_memories_without_a_speaker_need_the_name_in_their_text() -> None:
    extracted = [Memory(text="Ines has a dog named Biscuit"), Memory(text="Has a dog named Rex")]
    assert READ("What is the name of Ines's dog?", extracted) == "Ines has a dog named Biscuit"


def test_nothing_to_read_or_nothing_asked_declines() -> None:
    assert READ("What is the name of Ines's dog?", []) == NOT_MENTIONED
    assert READ("What is it?", [turn("Ines: It is a dog.", 0)]) == NOT_MENTIONED
