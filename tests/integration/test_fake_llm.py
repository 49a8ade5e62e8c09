"""The shared fake LLM: it answers each of membench's prompts exactly as the prompt asks, in a form the
real parsers accept, and refuses loudly what it cannot answer as the real model would."""

from __future__ import annotations

import asyncio
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from membench.core.errors import LLMError
from membench.core.types import Memory
from membench.llm.client import LLMClient
from membench.readers.llm import LLMReader, parse_answer
from membench.testing import FakeLLM, Prompt, RawReply, UnknownPrompt
from membench.testing.fake_llm import FREE_TEXT, recognise
from membench_tasks.episodic import judges as episodic
from membench_tasks.halumem import judge_llm as halumem

INPUTS: dict[str, dict[str, Any]] = {
    "integrity": {"point": "Ana lives in Lisbon.", "memories": ["Ana moved to Lisbon."]},
    "accuracy": {
        "transcript": "user: I moved to Lisbon.",
        "points": ["Ana lives in Lisbon."],
        "memory": "M1",
    },
    "update": {
        "original_memories": ["Ana lives in Porto."],
        "new_memory": "Ana lives in Lisbon.",
        "memories": [],
    },
    "qa": {"question": "Where?", "reference": "Lisbon.", "evidence": [], "answer": "Unknown"},
}
SPECS = {
    "integrity": halumem.INTEGRITY,
    "accuracy": halumem.ACCURACY,
    "update": halumem.UPDATE,
    "qa": halumem.QA,
}
VERDICTS: dict[str, dict[str, object]] = {
    "integrity": {"score": 1},
    "accuracy": {"score": 0, "included": False},
    "update": {"label": "other"},
    "qa": {"label": "hallucination"},
}


def render(folder: Path, version: str, **inputs: Any) -> str:
    """A prompt rendered from its template file with the settings the judges use."""
    env = Environment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.get_template(f"{version}.j2").render(**inputs)


def halumem_prompt(judgment: str) -> str:
    return render(halumem.PROMPTS_DIR, halumem.TEMPLATES[judgment], **INPUTS[judgment])


def episodic_prompt(gold: list[str]) -> str:
    """The episodic judge's prompt for a date question over ``gold``."""
    inputs = {"kind": "dates", "question": "When?", "ordered": True, "answer": "?"}
    return render(episodic.PROMPTS_DIR, episodic.TEMPLATE, gold=gold, **inputs)


def chat(*contents: str) -> dict[str, Any]:
    """A request as a judge sends it: the prompt, then (on a re-ask) its bad reply and the reminder."""
    messages = [{"role": "user", "content": contents[0]}]
    for reminder in contents[1:]:
        messages += [{"role": "assistant", "content": "not json"}, {"role": "user", "content": reminder}]
    return {"model": "judge", "messages": messages}


@pytest.mark.parametrize("judgment", list(INPUTS))
def test_each_halumem_judgment_gets_the_verdict_chosen_in_the_form_its_parser_accepts(judgment: str) -> None:
    fake = FakeLLM(**{judgment: VERDICTS[judgment]})
    reminder = render(halumem.PROMPTS_DIR, halumem.TEMPLATES["reminder"], problem="no JSON")
    for request in (chat(halumem_prompt(judgment)), chat(halumem_prompt(judgment), reminder)):
        verdict = halumem.parse_verdict(fake(request), SPECS[judgment])
        assert verdict == {"reason": FREE_TEXT, **VERDICTS[judgment]}
    assert [(p.kind, p.retry) for p in fake.prompts] == [(judgment, False), (judgment, True)]


def test_a_verdict_can_follow_the_prompt_and_a_raw_reply_ignores_it() -> None:
    fake = FakeLLM(
        accuracy=lambda prompt: {
            "score": 2 if prompt.section("Candidate memory") == "M1" else 0,
            "included": True,
        },
        qa=RawReply("I think it is fine."),
    )
    assert halumem.parse_verdict(fake(chat(halumem_prompt("accuracy"))), halumem.ACCURACY)["score"] == 2
    assert fake(chat(halumem_prompt("qa"))) == "I think it is fine."


@pytest.mark.parametrize(
    ("verdict", "refusal"),
    [
        ({"accuracy_score": 2, "included": True}, "asks for ['included', 'reason', 'score'], not for"),
        ({"score": 2}, "asks for 'included' (<true or false>), not given"),
        ({"score": 3, "included": True}, "allows <0, 1 or 2> as 'score', not 3"),
        ({"score": True, "included": True}, "allows <0, 1 or 2> as 'score', not True"),
    ],
)
def test_a_verdict_the_prompt_does_not_ask_for_is_refused(verdict: dict[str, object], refusal: str) -> None:
    """Issue 9's fake answered ``accuracy_score``: the shared fake refuses instead of answering it."""
    fake = FakeLLM(accuracy=verdict)
    with pytest.raises(UnknownPrompt, match=re.escape(refusal)):
        fake(chat(halumem_prompt("accuracy")))
    assert len(fake.refused) == 1 and fake.prompts == []


def test_the_episodic_judge_gets_one_score_per_ground_truth_item_in_order() -> None:
    gold = ["March 2, 2024", "May 1, 2024", "June 9, 2024"]
    prompt = episodic_prompt(gold)
    fake = FakeLLM(episodic=lambda prompt, item: {"March 2, 2024": 1, "May 1, 2024": 0.5}.get(item, 0))
    identified, scores, order = episodic.parse_reply(fake(chat(prompt)), gold)
    assert scores == {"March 2, 2024": 1.0, "May 1, 2024": 0.5, "June 9, 2024": 0.0}
    assert identified == order == ["March 2, 2024", "May 1, 2024"]
    assert episodic.parse_reply(FakeLLM()(chat(episodic_prompt([]))), []) == ([], {}, [])
    with pytest.raises(UnknownPrompt, match="allows item scores"):
        FakeLLM(episodic=0.7)(chat(prompt))


def test_the_reader_gets_the_answer_line_its_prompt_asks_for() -> None:
    reader = LLMReader(LLMClient("openai/reader", role="reader"))
    prompt = reader.prompt("Where does Ana live?", [Memory(text="Ana moved to Lisbon.")])
    fake = FakeLLM(answer=lambda prompt: prompt.section("Question").removesuffix("?").split()[-1])
    assert parse_answer(fake(chat(prompt))) == "live"
    retry = (resources.files("membench.readers") / "prompts" / "answer-v2.retry.j2").read_text("utf-8")
    assert recognise(chat(prompt, retry.strip())) == Prompt("reader", prompt, "judge", retry=True)


def test_an_unknown_prompt_is_refused_at_once_and_fails_the_test_on_exit() -> None:
    fake = FakeLLM()
    with pytest.raises(AssertionError, match="the fake LLM refused requests"), fake.serve() as server:
        client = LLMClient("openai/fake-model", role="judge", api_base=server.base_url)
        with pytest.raises(LLMError) as failed:
            asyncio.run(client.complete([{"role": "user", "content": "Summarise this book."}]))
        assert failed.value.kind == "fatal" and failed.value.attempts == 1, "a 400: not retried"
    assert fake.refused == ["no membench prompt matches this message: 'Summarise this book.'"]
