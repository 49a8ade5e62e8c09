"""LLMClient (``openai/`` models: the openai SDK path) against FakeOpenAIServer on loopback, with zero-wait
retries."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, LLMError
from membench.llm.cache import ResponseCache
from membench.llm.client import LOCAL_PLACEHOLDER_KEY, LLMClient
from membench.llm.retry import RetryPolicy
from membench.llm.types import LLMResponse
from membench.testing.openai_server import (
    FakeOpenAIServer,
    echo_responder,
    hashed_embedding,
    mem0_responder,
)

FAKE_KEY = "sk-membench-fake-0123456789abcdef"
MODEL = "openai/fake-model"
HELLO = [{"role": "user", "content": "Where does Ana live these days?"}]
#: a hang far longer than any safety net below: a client (or stop) that waited for it fails the test.
HUNG_S = 120
#: how long to wait for an event before calling it missing; only a guard against hanging forever.
SAFETY_NET_S = 30


class Recorder:
    """A retry ``sleep`` that returns at once and remembers the waits asked of it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Answers:
    """An echoing responder that remembers its answers: the server calls it only once a delay is over,
    so a request cut off in its hang never shows up here."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, request: dict[str, Any]) -> str:
        self.texts.append(echo_responder(request))
        return self.texts[-1]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def fake_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    return FAKE_KEY


def client(
    server: FakeOpenAIServer, sleep: Recorder | None = None, *, max_attempts: int = 6, **kwargs: Any
) -> LLMClient:
    policy = RetryPolicy(max_attempts=max_attempts, sleep=sleep or Recorder())
    return LLMClient(
        kwargs.pop("model", MODEL), role="reader", api_base=server.base_url, retry=policy, **kwargs
    )


def complete(llm: LLMClient, messages: list[dict[str, str]] = HELLO, **kwargs: Any) -> LLMResponse:
    return asyncio.run(llm.complete(messages, **kwargs))


def test_happy_path_text_usage_and_key_handling(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "llm.sqlite")
    llm = client(server, cache=cache, default_params={"seed": 7})
    response = complete(llm, max_tokens=32)

    assert response.text == "Echo: Where does Ana live these days?"
    assert not response.cached
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (6, 7)
    assert llm.usage().calls == 1 and llm.usage().prompt_tokens == 6
    assert response.usage.cost_usd == 0.0  # litellm has no price for an unknown model

    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert (
        request.body["seed"] == 7 and request.body["max_tokens"] == 32 and request.body["temperature"] == 0.0
    )

    assert FAKE_KEY not in json.dumps(llm.identity())
    assert llm.identity() == {"model": MODEL, "api_base": server.base_url, "params": {"seed": 7}}
    cache.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("llm.sqlite"))
    assert b"Echo: Where does Ana live" in stored  # the row is there...
    assert FAKE_KEY.encode() not in stored  # ...and the key is not


def test_provider_errors_echoing_the_key_are_scrubbed(server: FakeOpenAIServer) -> None:
    server.add_faults(("status", 401, {}, f"Incorrect API key provided: {FAKE_KEY}."))
    with pytest.raises(LLMError) as info:
        complete(client(server))
    assert info.value.kind == "fatal" and info.value.attempts == 1
    assert "Incorrect API key provided" in str(info.value)
    assert FAKE_KEY not in str(info.value) and FAKE_KEY not in repr(info.value.args)


def test_cache_hit_makes_no_request(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "llm.sqlite")
    llm = client(server, cache=cache)
    first = complete(llm)
    second = complete(llm)
    assert server.total_requests == 1
    assert second.cached and second.text == first.text
    assert second.usage.prompt_tokens == first.usage.prompt_tokens
    assert (second.usage.calls, second.usage.cached_calls, second.usage.cost_usd) == (1, 1, 0.0)
    assert (llm.usage().calls, llm.usage().cached_calls) == (2, 1)
    assert cache.stats() == {"hits": 1, "misses": 1}


def test_a_reply_its_caller_cannot_use_is_not_cached(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """The caller's parse decides what is stored: an unusable reply reaches the model again next time."""
    replies = iter(["no answer here", "Answer: Lisbon"])
    server.responder = lambda request: next(replies)
    cache = ResponseCache(tmp_path / "llm.sqlite")
    llm = client(server, cache=cache)

    def usable(text: str) -> bool:
        return text.startswith("Answer:")

    assert complete(llm, usable=usable).text == "no answer here"
    assert len(cache) == 0
    assert complete(llm, usable=usable).text == "Answer: Lisbon"
    assert server.total_requests == 2
    again = complete(llm, usable=usable)
    assert again.cached and again.text == "Answer: Lisbon" and server.total_requests == 2


def test_cache_misses_on_other_temperature_or_messages(server: FakeOpenAIServer, tmp_path: Path) -> None:
    llm = client(server, cache=ResponseCache(tmp_path / "llm.sqlite"))
    complete(llm)
    assert not complete(llm, temperature=0.5).cached
    assert not complete(llm, [{"role": "user", "content": "Where does Bo live?"}]).cached
    assert server.total_requests == 3


def test_transport_settings_do_not_change_the_cache_key(server: FakeOpenAIServer, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "llm.sqlite")
    complete(client(server, cache=cache, timeout_s=30))
    again = complete(client(server, cache=cache, timeout_s=5, max_attempts=2))
    assert again.cached and server.total_requests == 1


def test_rate_limit_waits_exactly_retry_after(server: FakeOpenAIServer) -> None:
    sleep = Recorder()
    server.add_faults(("status", 429, {"Retry-After": "2"}))
    response = complete(client(server, sleep))
    assert response.text.startswith("Echo:")
    assert sleep.waits == [2.0] and server.total_requests == 2


def test_server_error_then_success_is_retried(server: FakeOpenAIServer) -> None:
    sleep = Recorder()
    server.add_faults(("status", 500))
    assert server.pending_faults == 1
    assert complete(client(server, sleep)).text.startswith("Echo:")
    assert server.total_requests == 2 and len(sleep.waits) == 1 and server.pending_faults == 0


def test_an_unreachable_endpoint_is_transient() -> None:
    with FakeOpenAIServer() as srv:
        dead = srv.base_url  # nothing listens on this port once the server is stopped
    llm = LLMClient(MODEL, role="reader", api_base=dead, retry=RetryPolicy(max_attempts=2, sleep=Recorder()))
    with pytest.raises(LLMError) as info:
        complete(llm)
    assert (info.value.kind, info.value.attempts) == ("transient", 2)


def test_response_format_reaches_the_server(server: FakeOpenAIServer) -> None:
    server.responder = mem0_responder
    messages = [{"role": "user", "content": "## New Messages\nuser: I live in Porto.\n# Output:"}]
    response = complete(client(server), messages, response_format={"type": "json_object"})
    assert server.requests[0].body["response_format"] == {"type": "json_object"}
    assert json.loads(response.text)["memory"][0]["text"] == "I live in Porto."


def test_server_error_forever_gives_up_after_max_attempts(server: FakeOpenAIServer) -> None:
    server.add_faults(*[("status", 500)] * 10)
    with pytest.raises(LLMError) as info:
        complete(client(server, max_attempts=4))
    assert (info.value.kind, info.value.attempts, server.total_requests) == ("transient", 4, 4)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_fatal_and_not_retried(server: FakeOpenAIServer, status: int) -> None:
    sleep = Recorder()
    server.add_faults(("status", status))
    with pytest.raises(LLMError) as info:
        complete(client(server, sleep))
    assert (info.value.kind, info.value.attempts, server.total_requests, sleep.waits) == ("fatal", 1, 1, [])


def test_a_hang_past_the_timeout_is_retried(server: FakeOpenAIServer) -> None:
    sleep, answers = Recorder(), Answers()
    server.responder = answers
    server.add_faults(("delay", HUNG_S))
    response = complete(client(server, sleep, timeout_s=0.5))
    assert response.text.startswith("Echo:")
    assert server.total_requests == 2 and len(sleep.waits) == 1
    assert answers.texts == [response.text], "the retry answered; the hung request is still unanswered"


def test_a_hang_every_time_ends_as_a_timeout_error(server: FakeOpenAIServer) -> None:
    server.add_faults(("delay", 5), ("delay", 5))
    with pytest.raises(LLMError) as info:
        complete(client(server, timeout_s=0.3, max_attempts=2))
    assert (info.value.kind, info.value.attempts) == ("timeout", 2)


def test_a_malformed_body_is_retried(server: FakeOpenAIServer) -> None:
    server.add_faults(("malformed",))
    assert complete(client(server)).text.startswith("Echo:")
    assert server.total_requests == 2


def test_empty_content_is_transient(server: FakeOpenAIServer, tmp_path: Path) -> None:
    replies = iter(["", "   ", "Lisbon"])
    server.responder = lambda request: next(replies)
    cache = ResponseCache(tmp_path / "llm.sqlite")
    response = complete(client(server, cache=cache))
    assert response.text == "Lisbon" and server.total_requests == 3
    assert len(cache) == 1  # only the good answer was stored

    server.responder = lambda request: ""
    with pytest.raises(LLMError) as info:
        complete(client(server, max_attempts=3), [{"role": "user", "content": "other"}])
    assert (info.value.kind, info.value.attempts) == ("transient", 3)


def test_connection_limit_is_respected() -> None:
    async def six_calls(llm: LLMClient) -> None:
        await asyncio.gather(*(llm.complete([{"role": "user", "content": f"q{i}"}]) for i in range(6)))

    with FakeOpenAIServer(latency_s=0.2) as srv:
        asyncio.run(six_calls(client(srv, max_connections=2)))
        assert srv.total_requests == 6 and srv.max_in_flight == 2  # hence at least 3 rounds
        srv.reset_counters()
        asyncio.run(six_calls(client(srv, max_connections=6)))
        assert (
            srv.total_requests == 6 and srv.max_in_flight > 2
        )  # the limit, not the server, capped the first


def test_clients_of_one_endpoint_share_one_pool() -> None:
    async def both(reader: LLMClient, judge: LLMClient) -> None:
        calls = [
            c.complete([{"role": "user", "content": f"q{i}"}]) for i in range(3) for c in (reader, judge)
        ]
        await asyncio.gather(*calls)

    with FakeOpenAIServer(latency_s=0.2) as srv:
        policy = RetryPolicy(sleep=Recorder())
        reader = LLMClient(MODEL, role="reader", api_base=srv.base_url, max_connections=2, retry=policy)
        judge = LLMClient(MODEL, role="judge", api_base=srv.base_url + "/", max_connections=2, retry=policy)
        asyncio.run(both(reader, judge))
        assert srv.total_requests == 6 and srv.max_in_flight == 2
        assert reader.usage().calls == judge.usage().calls == 3

        async def one_each(first: LLMClient, second: LLMClient) -> None:
            await first.complete(HELLO)
            await second.complete(HELLO)

        other = LLMClient(MODEL, role="judge", api_base=srv.base_url, max_connections=5, retry=policy)
        with pytest.raises(ConfigError, match="connection limits"):
            asyncio.run(one_each(reader, other))


def test_the_server_handles_32_concurrent_requests() -> None:
    async def many(llm: LLMClient) -> list[LLMResponse]:
        return await asyncio.gather(
            *(llm.complete([{"role": "user", "content": f"q{i}"}]) for i in range(32))
        )

    with FakeOpenAIServer(latency_s=0.5) as srv:
        responses = asyncio.run(many(client(srv, max_connections=32)))
        assert [r.text for r in responses] == [f"Echo: q{i}" for i in range(32)]
        assert srv.max_in_flight == 32


def test_known_models_are_priced_and_cache_hits_cost_nothing(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenAI's default endpoint (no api_base), which the SDK's OPENAI_BASE_URL sends to the fake: a
    model OpenAI prices costs its tokens at litellm's prices; the same model on loopback costs $0."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    policy = RetryPolicy(sleep=Recorder())
    cache = ResponseCache(tmp_path / "llm.sqlite")
    llm = LLMClient("openai/gpt-4o-mini", role="reader", retry=policy, cache=cache)
    paid = complete(llm)
    free = complete(llm)
    assert (paid.usage.prompt_tokens, paid.usage.completion_tokens) == (6, 7)
    assert paid.usage.cost_usd == pytest.approx(6 * 0.15e-6 + 7 * 0.6e-6)  # gpt-4o-mini's $/token
    assert free.cached and free.usage.cost_usd == 0.0
    assert llm.usage().cost_usd == paid.usage.cost_usd
    local = complete(client(server, model="openai/gpt-4o-mini"))
    assert not local.cached and local.usage.cost_usd == 0.0


def test_default_params_may_not_override_what_the_client_sets(server: FakeOpenAIServer) -> None:
    with pytest.raises(ConfigError, match="api_key"):
        LLMClient(MODEL, role="judge", api_base=server.base_url, default_params={"api_key": "x"})


def test_a_keyless_local_server_gets_a_placeholder_key(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    complete(client(server))
    assert server.requests[0].headers["authorization"] == f"Bearer {LOCAL_PLACEHOLDER_KEY}"


def test_importing_the_client_imports_neither_litellm_nor_the_openai_sdk() -> None:
    code = (
        "import sys, membench.llm.client, membench.readers.llm;"
        "print([name for name in ('litellm', 'openai') if name in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- the test server's other endpoints


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return json.loads(reply.read())


def test_embeddings_are_deterministic_in_floats_and_base64(server: FakeOpenAIServer) -> None:
    url = server.base_url + "/embeddings"
    floats = _post(url, {"model": "fake-emb", "input": ["a beagle named Max", "a beagle named Max"]})
    first, second = (d["embedding"] for d in floats["data"])
    assert first == second == hashed_embedding("a beagle named Max", 16)
    assert sum(v * v for v in first) == pytest.approx(1.0)
    packed = _post(url, {"model": "fake-emb", "input": "a beagle named Max", "encoding_format": "base64"})
    decoded = struct.unpack("<16f", base64.b64decode(packed["data"][0]["embedding"]))
    assert decoded == pytest.approx(first)
    assert len(_post(url, {"model": "fake-emb", "input": "x", "dimensions": 8})["data"][0]["embedding"]) == 8
    close = hashed_embedding("Max is a beagle", 64)
    far = hashed_embedding("quarterly tax filing deadline", 64)
    query = hashed_embedding("beagle Max", 64)
    assert sum(a * b for a, b in zip(query, close, strict=True)) > sum(
        a * b for a, b in zip(query, far, strict=True)
    )


def test_models_endpoint_and_path_counts(server: FakeOpenAIServer) -> None:
    with urllib.request.urlopen(server.base_url + "/models", timeout=5) as reply:
        assert [m["id"] for m in json.loads(reply.read())["data"]] == ["fake-model"]
    _post(f"http://127.0.0.1:{server.port}/chat/completions", {"model": "m", "messages": HELLO})
    assert server.path_counts == {"/v1/models": 1, "/chat/completions": 1}


def test_each_request_keeps_when_it_arrived_on_the_machine_wide_clock(server: FakeOpenAIServer) -> None:
    before = time.monotonic()
    for _ in range(2):
        _post(f"{server.base_url}/chat/completions", {"model": "m", "messages": HELLO})
    after = time.monotonic()
    first, second = (r.received_at for r in server.requests)
    assert before <= first <= second <= after


def test_mem0_responder_speaks_both_extraction_formats() -> None:
    additive = {
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": "Extract memories. Sole operation is ADD."},
            {
                "role": "user",
                "content": "## Last k Messages\nuser: old line\n## New Messages\n"
                "user: I adopted a beagle named Max.\nassistant: Congrats!\nuser: He is two years old.\n"
                "## Current Date\n2024-05-01\n# Output:",
            },
        ],
    }
    memory = json.loads(mem0_responder(additive))["memory"]
    assert [m["text"] for m in memory] == ["I adopted a beagle named Max.", "He is two years old."]
    assert all(m["attributed_to"] == "user" and m["id"] == str(i) for i, m in enumerate(memory))
    facts_prompt = {
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": 'Return JSON with a key "facts".'},
            {"role": "user", "content": "Input:\nuser: My sister lives in Porto.\nassistant: Nice."},
        ],
    }
    assert json.loads(mem0_responder(facts_prompt)) == {"facts": ["My sister lives in Porto."]}
    assert mem0_responder({"messages": HELLO}) == "Echo: Where does Ana live these days?"


def test_stop_is_prompt_even_with_a_hung_request_and_open_connections() -> None:
    answers = Answers()
    srv = FakeOpenAIServer(answers, faults=[("delay", HUNG_S)]).start()
    errors: list[BaseException] = []

    def hung() -> None:
        try:
            _post(srv.base_url + "/chat/completions", {"model": "m", "messages": HELLO})
        except BaseException as exc:  # the connection is closed under it at stop
            errors.append(exc)

    thread = threading.Thread(target=hung)
    thread.start()
    deadline = time.monotonic() + SAFETY_NET_S  # the wait for the request to arrive, not an assertion
    while srv.total_requests == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.total_requests == 1, "the hung request never reached the server"
    stopper = threading.Thread(target=srv.stop)
    stopper.start()
    stopper.join(timeout=SAFETY_NET_S)
    thread.join(timeout=SAFETY_NET_S)
    # Safety nets far below the hang: had stop() waited for the delay, both would still be alive.
    assert not stopper.is_alive() and not thread.is_alive(), "stop() waited for the hung request"
    assert answers.texts == [], "the hung request was cut off, never answered"
    assert len(errors) == 1


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        FakeOpenAIServer(faults=[("explode",)])
    with pytest.raises(ValueError, match="status fault"):
        FakeOpenAIServer(faults=[("status", "429")])
