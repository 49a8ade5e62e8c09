"""The extractive reader, and the text helpers it shares with other offline components."""

from __future__ import annotations

import asyncio

import pytest

from membench.core.errors import ConfigError
from membench.core.text import STOPWORDS, content_tokens, normalize, split_sentences, tokens
from membench.core.types import Memory, Probe
from membench.readers.extractive import ABSTAIN, DEFAULT_THRESHOLD, ExtractiveReader


def _memories(*texts: str) -> list[Memory]:
    return [Memory(text=text) for text in texts]


def _extract(question: str, *texts: str, threshold: float = DEFAULT_THRESHOLD) -> str:
    return ExtractiveReader(threshold).extract(question, _memories(*texts))


# ---------------------------------------------------------------- text helpers


def test_tokens_are_lower_case_alphanumeric_runs() -> None:
    assert tokens("The user's dog_name is REX, 3 yrs.") == [
        "the",
        "user",
        "s",
        "dog",
        "name",
        "is",
        "rex",
        "3",
        "yrs",
    ]
    assert normalize("  Rex,   the  BEAGLE! ") == "rex the beagle"


def test_content_tokens_drop_stopwords_and_contraction_fragments() -> None:
    assert content_tokens("What is the name of the user's dog?") == ["name", "user", "dog"]
    assert {"may", "won"}.isdisjoint(STOPWORDS)


def test_split_sentences_on_punctuation_semicolons_and_lines() -> None:
    text = 'I like tea. He said "no." Then; we left!\nok\n\n  next? yes'
    assert split_sentences(text) == ["I like tea.", 'He said "no."', "Then", "we left!", "ok", "next?", "yes"]
    assert split_sentences("version 2.5 shipped") == ["version 2.5 shipped"]


# ---------------------------------------------------------------- choosing the sentence


def test_picks_the_sentence_that_answers() -> None:
    answer = _extract(
        "Where does the user's sister live?",
        "user: I adopted a beagle named Biscuit. He is two years old.",
        "user: I visit my parents often. My sister Ana lives in Lisbon; she teaches math.",
    )
    assert answer == "My sister Ana lives in Lisbon"


def test_rarer_words_outweigh_common_ones() -> None:
    # "work" is in two memories, "hospital" in one: the hospital sentence wins though ranked last.
    answer = _extract(
        "Which hospital does the user work at?",
        "user: I work from home on Fridays.",
        "user: Work has been busy.",
        "user: I joined Mercy Hospital in May.",
    )
    assert answer == "I joined Mercy Hospital in May."


def test_earlier_ranked_memory_wins_a_tie() -> None:
    answer = _extract("What pet does the user have?", "user: I have a pet cat.", "user: I have a pet dog.")
    assert answer == "I have a pet cat."


def test_users_statement_beats_assistant_distractor_with_same_overlap() -> None:
    question = "Which city does the user's sister live in?"
    distractor = "assistant: Your sister lives in Porto, a lovely city."
    fact = "user: My sister lives in Lisbon, a sunny city."
    assert _extract(question, distractor, fact) == "My sister lives in Lisbon, a sunny city."
    assert _extract(question, f"{distractor}\n{fact}") == "My sister lives in Lisbon, a sunny city."


def test_unprefixed_memory_counts_as_the_users() -> None:
    answer = _extract(
        "Which city does the user's sister live in?",
        "assistant: Your sister lives in Porto.",
        "User's sister lives in Lisbon.",
    )
    assert answer == "User's sister lives in Lisbon."


def test_speaker_carries_over_to_following_lines() -> None:
    answer = _extract(
        "Which city does the user's sister live in?",
        "assistant: A guess:\nYour sister lives in Porto.",
        "user: My sister lives in Lisbon.",
    )
    assert answer == "My sister lives in Lisbon."


# ---------------------------------------------------------------- abstaining


def test_abstains_on_unrelated_question() -> None:
    assert _extract("What is the capital of Peru?", "user: I adopted a beagle named Biscuit.") == ABSTAIN


def test_abstains_without_memories_or_content_words() -> None:
    assert _extract("Where does the user's sister live?") == ABSTAIN
    assert _extract("What is it?", "user: It is what it is.") == ABSTAIN


def test_threshold_decides_between_partial_answer_and_abstention() -> None:
    question = "Which hospital did the user's brother visit in Boston?"
    memory = "user: My brother got a new bike."
    # One of five content words (hospital, user, brother, visit, boston): coverage 0.2.
    assert _extract(question, memory, threshold=0.2) == "My brother got a new bike."
    assert _extract(question, memory) == ABSTAIN
    assert _extract("What is the capital of Peru?", "user: I like maps.", threshold=0.0) == ABSTAIN


def test_rejects_threshold_outside_unit_interval() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        ExtractiveReader(1.5)


def test_answer_reads_the_probe_question_and_costs_nothing() -> None:
    reader = ExtractiveReader()
    probe = Probe(
        probe_id="p1",
        episode_id="e1",
        after_session=0,
        kind="qa",
        mode="answer",
        question="What is the dog's name?",
    )
    result = asyncio.run(reader.answer(probe, _memories("user: Our dog's name is Biscuit.")))
    assert result.text == "Our dog's name is Biscuit."
    assert result.usage == {}
    assert reader.identity() == {"name": "extractive", "version": "v1", "threshold": DEFAULT_THRESHOLD}
