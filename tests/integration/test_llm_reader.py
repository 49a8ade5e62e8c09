"""LLMReader through LLMClient and real litellm against FakeOpenAIServer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, OutputParseError
from membench.core.types import Memory, Probe
from membench.llm.cache import ResponseCache
from membench.llm.client import LLMClient
from membench.llm.retry import RetryPolicy, no_wait
from membench.readers.base import ReaderAnswer
from membench.readers.llm import LLMReader, parse_answer
from membench.testing.openai_server import FakeOpenAIServer, ReceivedRequest

PROBE = Probe(
    probe_id="p1",
    episode_id="e1",
    after_session=2,
    kind="fact",
    mode="answer",
    question="Where does Ana live?",
)
MEMORIES = [
    Memory(text="Ana moved to Lisbon in March.", session_id="s2", timestamp="2024-03-02"),
    Memory(text="Ana likes sardines.", session_id="s1"),
    Memory(text="Ana's brother is called Rui."),
]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def make_reader(
    server: FakeOpenAIServer, replies: list[str], cache: ResponseCache | None = None
) -> LLMReader:
    """A reader whose model answers ``replies`` in turn (the last one forever)."""
    queue = list(replies)
    server.responder = lambda request: queue.pop(0) if len(queue) > 1 else queue[0]
    llm = LLMClient(
        "openai/fake-model",
        role="reader",
        api_base=server.base_url,
        cache=cache,
        retry=RetryPolicy(sleep=no_wait),
    )
    return LLMReader(llm)


def ask(reader: LLMReader, memories: list[Memory] = MEMORIES) -> ReaderAnswer:
    return asyncio.run(reader.answer(PROBE, memories))


def prompt_of(request: ReceivedRequest) -> str:
    return str(request.body["messages"][0]["content"])


def test_answer_is_parsed_and_the_prompt_holds_the_memories(server: FakeOpenAIServer) -> None:
    answer = ask(make_reader(server, ["Answer: Lisbon"]))
    assert answer.text == "Lisbon"
    assert answer.usage["reader"].calls == 1 and answer.usage["reader"].prompt_tokens > 0

    (request,) = server.requests
    prompt = prompt_of(request)
    assert "[1] (2024-03-02, session s2) Ana moved to Lisbon in March." in prompt
    assert "[2] (session s1) Ana likes sardines." in prompt
    assert "[3] Ana's brother is called Rui." in prompt
    assert "Question: Where does Ana live?" in prompt
    assert "Unknown" in prompt
    assert request.body["temperature"] == 0.0 and request.body["max_tokens"] == 128


def test_empty_memories_are_said_so(server: FakeOpenAIServer) -> None:
    assert ask(make_reader(server, ["Answer: Unknown"]), []).text == "Unknown"
    assert "(no memories were retrieved)" in prompt_of(server.requests[0])


def test_an_empty_answer_is_asked_again_once(server: FakeOpenAIServer) -> None:
    answer = ask(make_reader(server, ["Answer:", "Answer: Lisbon"]))
    assert answer.text == "Lisbon"
    assert answer.usage["reader"].calls == 2
    follow_up = server.requests[1].body["messages"]
    assert [m["role"] for m in follow_up] == ["user", "assistant", "user"]
    assert follow_up[1]["content"] == "Answer:" and "no answer" in follow_up[2]["content"]


def test_two_empty_answers_raise_output_parse_error(server: FakeOpenAIServer, tmp_path: Path) -> None:
    # With a cache, the follow-up must still be a new request, not the cached empty reply again.
    reader = make_reader(server, ["**Answer:**"], cache=ResponseCache(tmp_path / "llm.sqlite"))
    with pytest.raises(OutputParseError, match="no answer"):
        ask(reader)
    assert server.path_counts == {"/v1/chat/completions": 2}


def test_a_reader_error_is_not_replayed_from_the_cache(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """Asked again (``--retry-errors``), the reader reaches the model: its empty replies were not stored."""
    cache = ResponseCache(tmp_path / "llm.sqlite")
    with pytest.raises(OutputParseError):
        ask(make_reader(server, ["**Answer:**"], cache=cache))
    assert len(cache) == 0
    assert ask(make_reader(server, ["Answer: Lisbon"], cache=cache)).text == "Lisbon"
    assert server.path_counts == {"/v1/chat/completions": 3}
    assert len(cache) == 1


def test_identity_names_the_template_and_the_llm_but_no_key(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-reader-test-key-000111")
    identity = make_reader(server, ["Answer: x"]).identity()
    assert identity["name"] == "llm" and identity["template"] == "answer-v2"
    assert identity["llm"]["model"] == "openai/fake-model"
    assert "sk-reader-test-key-000111" not in json.dumps(identity)


def test_unknown_template_is_a_config_error(server: FakeOpenAIServer) -> None:
    llm = LLMClient("openai/fake-model", role="reader", api_base=server.base_url)
    with pytest.raises(ConfigError, match="answer-v2"):
        LLMReader(llm, template="answer-v0")


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("Lisbon", "Lisbon"),
        ("  Answer: Lisbon \n", "Lisbon"),
        ("answer:Lisbon", "Lisbon"),
        ("**Answer:** Lisbon", "Lisbon"),
        ('Answer: "Lisbon"', "Lisbon"),
        ("Memory 1 says she moved.\nAnswer: Lisbon", "Lisbon"),
        ("The answer: Lisbon", "The answer: Lisbon"),
        ("Answer:", ""),
        ("Answer:   \n", ""),
    ],
)
def test_parse_answer(reply: str, answer: str) -> None:
    assert parse_answer(reply) == answer
