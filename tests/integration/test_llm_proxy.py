"""LLMProxy answering the real openai SDK, through a real LLMClient (litellm) to FakeOpenAIServer.

The chain under test is the one a library pointed at ``llm_endpoint()`` uses: openai SDK -> proxy on the
run's loop -> membench's LLMClient (cache, retries) -> litellm -> the loopback fake. Then the proxy alone
against a recording fake LLM (how a request maps onto ``LLM.complete`` and back, HTTP framing, shutdown);
the response cache's handling of tool calls, which cached replies rely on; and the fake server's tool
and json_schema dialects, which answer only as OpenAI could.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import socket
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from membench.core.errors import LLMError
from membench.core.types import Usage
from membench.llm.cache import ResponseCache
from membench.llm.client import LLMClient
from membench.llm.proxy import LLM_ERROR_STATUS, LLM_ERROR_TYPE, LLMProxy, llm_error_of, run_in_own_thread
from membench.llm.retry import RetryPolicy, no_wait
from membench.llm.types import LLMResponse
from membench.testing.openai_server import (
    FakeOpenAIServer,
    FunctionCall,
    ToolCallsReply,
    UnanswerableRequest,
    json_schema_of,
    message_text,
    schema_violations,
)

MODEL = "openai/fake-model"
SECRET = "sk-membench-proxy-0123456789abcdef"
REMEMBER = {
    "type": "function",
    "function": {
        "name": "remember",
        "description": "Store one fact about the user.",
        "parameters": {
            "type": "object",
            "properties": {"fact": {"type": "string"}},
            "required": ["fact"],
        },
    },
}


class Person(BaseModel):
    name: str
    city: str


def responder(request: dict[str, Any]) -> str | ToolCallsReply:
    """Tool calls when tools are offered (and no tool result came back yet), the schema's object when
    one is asked for, else what the model was told, echoed."""
    messages = request["messages"]
    if request.get("tools") and messages[-1]["role"] != "tool":
        return ToolCallsReply([FunctionCall("remember", {"fact": message_text(messages[-1]["content"])})])
    if messages[-1]["role"] == "tool":
        return f"Stored: {messages[-1]['content']}"
    schema = json_schema_of(request)
    if schema is not None:
        return json.dumps({key: "Ana" if key == "name" else "Lisbon" for key in schema["properties"]})
    return f"Echo: {message_text(messages[-1]['content'])}"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder) as srv:
        yield srv


def through_proxy(
    server: FakeOpenAIServer,
    scenario: Callable[[openai.AsyncOpenAI, LLMProxy], Awaitable[None]],
    *,
    cache: ResponseCache | None = None,
    attempts: int = 6,
) -> None:
    """Run ``scenario`` with an SDK client on a proxy serving an LLMClient of ``server``, on one loop."""

    async def main() -> None:
        llm = LLMClient(
            MODEL,
            role="system",
            api_base=server.base_url,
            cache=cache,
            retry=RetryPolicy(max_attempts=attempts, sleep=no_wait),
        )
        proxy = LLMProxy(llm)
        client = openai.AsyncOpenAI(base_url=await proxy.start(), api_key=proxy.token)
        try:
            await scenario(client, proxy)
        finally:
            await client.close()
            await proxy.close()

    asyncio.run(main())


def chat_bodies(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path == "/v1/chat/completions"]


def test_content_reply_is_a_real_chat_completion(server: FakeOpenAIServer) -> None:
    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        parts = [{"type": "text", "text": "Where does"}, {"type": "text", "text": "Ana live?"}]
        reply = await client.chat.completions.create(
            model="ignored-by-the-proxy",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": parts}],
            max_completion_tokens=16,
            n=1,
        )
        assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
        (choice,) = reply.choices
        assert (choice.message.content, choice.finish_reason) == ("Echo: Where does Ana live?", "stop")
        assert choice.message.tool_calls is None
        assert reply.model == "fake-model", "the model that answered, as the provider named it"
        assert reply.usage is not None
        assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (
            6,
            5,
            11,
        )
        usage = proxy.take_usage()
        assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (1, 6, 5)
        assert proxy.take_usage().calls == 0, "take_usage resets"

    through_proxy(server, scenario)
    (body,) = chat_bodies(server)
    assert body["model"] == "fake-model" and body["max_tokens"] == 16
    assert body["temperature"] == 0.0, "unset, a library gets membench's reproducible 0.0"
    assert body["messages"][1]["content"][1] == {"type": "text", "text": "Ana live?"}


def test_json_schema_structured_output_parses_in_the_sdk(server: FakeOpenAIServer) -> None:
    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        reply = await client.chat.completions.parse(
            model="m", messages=[{"role": "user", "content": "Who is she?"}], response_format=Person
        )
        assert reply.choices[0].message.parsed == Person(name="Ana", city="Lisbon")

    through_proxy(server, scenario)
    (body,) = chat_bodies(server)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True


def test_a_multi_turn_tool_flow_passes_through(server: FakeOpenAIServer) -> None:
    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        asked: list[Any] = [{"role": "user", "content": "I adopted a beagle."}]
        first = await client.chat.completions.create(
            model="m", messages=asked, tools=[REMEMBER], tool_choice="required"
        )
        (choice,) = first.choices
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        (call,) = choice.message.tool_calls or []
        assert call.type == "function" and call.function.name == "remember"
        assert json.loads(call.function.arguments) == {"fact": "I adopted a beagle."}
        asked += [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "saved"},
        ]
        second = await client.chat.completions.create(model="m", messages=asked, tools=[REMEMBER])
        assert second.choices[0].message.content == "Stored: saved"
        assert proxy.take_usage().calls == 2

    through_proxy(server, scenario)
    first, second = chat_bodies(server)
    assert first["tools"] == [REMEMBER] and first["tool_choice"] == "required"
    assistant, tool = second["messages"][1:]
    assert assistant["tool_calls"][0]["function"]["name"] == "remember"
    assert tool == {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": "saved"}


def test_a_repeated_tool_call_request_is_a_cache_hit_with_its_calls(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    cache = ResponseCache(tmp_path / "llm.sqlite")

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        messages: list[Any] = [{"role": "user", "content": "My sister lives in Madrid."}]
        fresh = await client.chat.completions.create(model="m", messages=messages, tools=[REMEMBER])
        again = await client.chat.completions.create(model="m", messages=messages, tools=[REMEMBER])
        other_tools = {**REMEMBER, "function": {**REMEMBER["function"], "name": "note"}}
        with pytest.raises(openai.APIStatusError):  # other tools are another request: the fake refuses it
            await client.chat.completions.create(model="m", messages=messages, tools=[other_tools])
        assert again.choices[0].finish_reason == "tool_calls"
        assert again.choices[0].message.model_dump() == fresh.choices[0].message.model_dump()
        usage = proxy.take_usage()
        assert (usage.calls, usage.cached_calls) == (2, 1)

    through_proxy(server, scenario, cache=cache)
    assert len(chat_bodies(server)) == 2, "the identical request never reached the provider"
    assert cache.stats()["hits"] == 1


def test_a_failure_of_membenchs_client_is_one_unretried_error(server: FakeOpenAIServer) -> None:
    server.add_faults(*[("status", 503, {}, f"overloaded for key {SECRET}")] * 10)

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        error = info.value
        assert error.status_code == LLM_ERROR_STATUS
        assert error.response.headers["x-should-retry"] == "false"
        assert isinstance(error.body, dict) and error.body["type"] == LLM_ERROR_TYPE
        assert (error.body["code"], error.body["attempts"]) == ("transient", 2)
        assert SECRET not in json.dumps(error.body) and "overloaded for key" in error.body["message"]
        assert llm_error_of(RuntimeError("a library's own failure")) is None
        mapped = llm_error_of(_wrapped(error))
        assert mapped is not None and (mapped.kind, mapped.attempts) == ("transient", 2)
        assert str(mapped).startswith("transient: gave up after 2 attempts")
        assert proxy.take_usage().calls == 0

    through_proxy(server, scenario, attempts=2)
    assert server.total_requests == 2, "membench's two attempts, and no retry by the SDK (max_retries=2)"


def _wrapped(error: BaseException) -> BaseException:
    try:
        raise RuntimeError("the library's own error") from error
    except RuntimeError as wrapper:
        return wrapper


@pytest.mark.parametrize(
    ("extra", "named"),
    [({"stream": True}, "does not stream"), ({"seed": 3}, "seed"), ({"n": 2}, "n")],
)
def test_requests_it_cannot_answer_faithfully_are_refused_at_once(
    server: FakeOpenAIServer, extra: dict[str, Any], named: str
) -> None:
    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        with pytest.raises(openai.BadRequestError, match=named):
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], **extra
            )

    through_proxy(server, scenario)
    assert server.total_requests == 0


def test_keep_alive_framing_and_routes_over_raw_http(server: FakeOpenAIServer) -> None:
    """Four requests on one kept-alive connection: an unknown route, a wrong method, models, chat."""

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        host, port = proxy.base_url.removeprefix("http://").split("/")[0].split(":")
        answers = await run_in_own_thread(_raw_exchange, host, int(port), proxy.token)
        assert [status for status, _ in answers] == [404, 405, 200, 200]
        assert answers[0][1]["error"]["type"] == "not_found_error"
        assert answers[2][1]["data"][0]["id"] == MODEL
        assert answers[3][1]["choices"][0]["message"]["content"] == "Echo: over raw HTTP"
        assert proxy.take_usage().calls == 1

    through_proxy(server, scenario)


#: more blocking callers at once than the loop's default executor has threads (min(32, cores + 4)).
CALLERS = min(32, (os.cpu_count() or 1) + 4) + 2


@pytest.mark.timeout(120)  # a deadlock would otherwise hang until the suite's timeout
def test_more_blocking_callers_than_the_default_executor_has_threads(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Sync SDK clients in threads of their own: the proxy's path (the cache is read in the default
    executor) still has threads, where callers waiting in ``asyncio.to_thread`` would take them all."""

    def ask(base_url: str, key: str, i: int) -> str:
        with openai.OpenAI(base_url=base_url, api_key=key) as sync:
            reply = sync.chat.completions.create(model="m", messages=[{"role": "user", "content": f"q{i}"}])
        return str(reply.choices[0].message.content)

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        replies = await asyncio.gather(
            *(run_in_own_thread(ask, proxy.base_url, proxy.token, i) for i in range(CALLERS))
        )
        assert replies == [f"Echo: q{i}" for i in range(CALLERS)]
        assert proxy.take_usage().calls == CALLERS

    through_proxy(server, scenario, cache=ResponseCache(tmp_path / "llm.sqlite"))


def test_run_in_own_thread_returns_raises_and_keeps_the_context() -> None:
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")

    async def scenario() -> None:
        marker.set("caller's")
        assert await run_in_own_thread(lambda suffix: marker.get() + suffix, " value") == "caller's value"
        with pytest.raises(KeyError, match="missing"):
            await run_in_own_thread({}.__getitem__, "missing")

    asyncio.run(scenario())


def _with_key(request: bytes, token: str) -> bytes:
    """``request`` with the proxy's key in a header after its request line."""
    line, _, rest = request.partition(b"\r\n")
    return line + f"\r\nAuthorization: Bearer {token}\r\n".encode() + rest


def _raw_exchange(host: str, port: int, token: str) -> list[tuple[int, Any]]:
    """Four requests on one socket; the last asks to close, so reading to the end ends the exchange."""
    chat = json.dumps({"model": "m", "messages": [{"role": "user", "content": "over raw HTTP"}]}).encode()
    requests = [
        b"GET /v1/embeddings HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + f"Content-Type: application/json\r\nContent-Length: {len(chat)}\r\n\r\n".encode()
        + chat,
    ]
    answers = []
    with socket.create_connection((host, port), timeout=30) as sock, sock.makefile("rb") as stream:
        for request in requests:
            sock.sendall(_with_key(request, token))
            status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline().strip()) != b"":
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            answers.append((status, json.loads(stream.read(int(headers["content-length"])))))
        assert stream.read() == b"", "the proxy closed the connection after 'Connection: close'"
    return answers


# ---------------------------------------------------------------- the proxy alone, on a recording LLM

TOOL = {"type": "function", "function": {"name": "remember", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "remember", "arguments": '{"fact": "x"}'}}


class RecordingLLM:
    """Answers every call with ``reply`` (or raises it), keeping the arguments of each call."""

    def __init__(self, reply: LLMResponse | Exception) -> None:
        self.reply = reply
        self.calls: list[dict[str, Any]] = []

    async def complete(self, messages: list[dict[str, Any]], **kwargs: Any) -> LLMResponse:
        self.calls.append({"messages": messages, **kwargs})
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply

    def identity(self) -> dict[str, Any]:
        return {"model": "openai/recorded"}


TEXT = LLMResponse(text="Lisbon", usage=Usage(calls=1, prompt_tokens=9, completion_tokens=1), raw={})


def serve(llm: RecordingLLM, scenario: Callable[[openai.AsyncOpenAI, LLMProxy], Awaitable[None]]) -> None:
    async def main() -> None:
        proxy = LLMProxy(llm)
        client = openai.AsyncOpenAI(base_url=await proxy.start(), api_key=proxy.token)
        try:
            await scenario(client, proxy)
        finally:
            await client.close()
            await proxy.close()

    asyncio.run(main())


def test_every_mapped_field_reaches_complete_as_given() -> None:
    llm = RecordingLLM(TEXT)
    conversation: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": "Remember this."}]},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "done"},
    ]

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        await client.chat.completions.create(
            model="any",
            messages=conversation,
            max_tokens=7,
            temperature=0.3,
            response_format={"type": "json_object"},
            tools=[TOOL],  # type: ignore[list-item]
            tool_choice={"type": "function", "function": {"name": "remember"}},
            user="someone",
            stream=False,
        )
        await client.chat.completions.create(
            model="any", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=5
        )

    serve(llm, scenario)
    first, second = llm.calls
    # asked for JSON, a reply that is no JSON is never cached (fenced JSON is JSON, as libraries read it)
    usable = first.pop("usable")
    assert usable('{"a": 1}') and usable('```json\n{"a": 1}\n```') and not usable("Sure! Here it is")
    assert second.pop("usable") is None
    assert first == {
        "messages": conversation,
        "max_tokens": 7,
        "temperature": 0.3,
        "response_format": {"type": "json_object"},
        "tools": [TOOL],
        "tool_choice": {"type": "function", "function": {"name": "remember"}},
    }
    assert (second["max_tokens"], second["temperature"], second["tools"]) == (5, 0.0, None)


def test_tool_call_replies_finish_reasons_and_usage_map_back() -> None:
    usage = Usage(calls=1, cached_calls=1, prompt_tokens=30, completion_tokens=4)
    llm = RecordingLLM(LLMResponse(text="", usage=usage, tool_calls=[CALL], raw={"finish_reason": "length"}))

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        reply = await client.chat.completions.create(
            model="asked",
            messages=[{"role": "user", "content": "hi"}],
            tools=[TOOL],  # type: ignore[list-item]
        )
        (choice,) = reply.choices
        assert choice.message.content is None and choice.finish_reason == "length", "upstream's reason"
        assert [call.model_dump() for call in choice.message.tool_calls or []] == [CALL]
        assert reply.model == "asked", "no upstream model name: the one asked for"
        assert reply.usage is not None and reply.usage.total_tokens == 34
        llm.reply = LLMResponse(text="", usage=usage, tool_calls=[CALL])
        again = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert again.choices[0].finish_reason == "tool_calls"
        assert proxy.take_usage() == Usage(calls=2, cached_calls=2, prompt_tokens=60, completion_tokens=8)

    serve(llm, scenario)


def test_models_lists_the_served_model() -> None:
    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        models = await client.models.list()
        assert [m.id for m in models.data] == ["openai/recorded"]

    serve(RecordingLLM(TEXT), scenario)


@pytest.mark.parametrize(
    ("failure", "error", "status"),
    [
        (LLMError("rate_limit", "gave up after 6 attempts", 6), openai.APIStatusError, 424),
        (ValueError("a bug"), openai.InternalServerError, 500),
    ],
)
def test_failures_are_answered_once_and_never_retried_by_the_sdk(
    failure: Exception, error: type[openai.APIStatusError], status: int
) -> None:
    llm = RecordingLLM(failure)

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        with pytest.raises(error) as info:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == status
        assert str(failure).split(": ")[-1] in info.value.message

    serve(llm, scenario)
    assert len(llm.calls) == 1, "the SDK (max_retries=2) obeyed x-should-retry: false"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"content": "no role"}]}, "non-empty list"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": "warm"}, "temperature"),
        (
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "max_completion_tokens": 6},
            "disagree",
        ),
        ({"messages": [{"role": "user", "content": "hi"}], "tools": {"not": "a list"}}, "wrong type"),
        ({"messages": [{"role": "user", "content": "hi"}], "functions": []}, "functions"),
    ],
)
def test_malformed_requests_are_400s_that_reach_no_llm(body: dict[str, Any], why: str) -> None:
    llm = RecordingLLM(TEXT)

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        with pytest.raises(openai.BadRequestError, match=why):
            await client.post("/chat/completions", cast_to=object, body=body)

    serve(llm, scenario)
    assert llm.calls == []


async def _exchange(proxy: LLMProxy, raw: bytes) -> tuple[int, bytes]:
    host, port = proxy.base_url.removeprefix("http://").split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(_with_key(raw, proxy.token))
    await writer.drain()
    answer = await reader.read()  # these answers close the connection
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\n{no}", 400),
        (b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: 2\r\n\r\n[]", 400),
        (b"BREW /pot\r\n\r\n", 400),
    ],
)
def test_framing_errors_get_a_json_error_and_a_closed_connection(raw: bytes, status: int) -> None:
    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        got, body = await _exchange(proxy, raw)
        assert got == status and "message" in json.loads(body)["error"]

    serve(RecordingLLM(TEXT), scenario)


def test_close_ends_idle_and_busy_connections_and_start_is_once() -> None:
    class Hanging(RecordingLLM):
        async def complete(self, messages: list[dict[str, Any]], **kwargs: Any) -> LLMResponse:
            self.calls.append({"messages": messages})
            await asyncio.Event().wait()  # never answers: close() must not wait for it
            raise AssertionError("unreachable")

    async def main() -> None:
        proxy = LLMProxy(Hanging(TEXT))
        with pytest.raises(RuntimeError, match="not started"):
            proxy.base_url  # noqa: B018
        base_url = await proxy.start()
        with pytest.raises(RuntimeError, match="already started"):
            await proxy.start()
        idle = openai.AsyncOpenAI(base_url=base_url, api_key=proxy.token, max_retries=0)
        await idle.models.list()  # leaves a kept-alive connection open
        busy = asyncio.create_task(
            openai.AsyncOpenAI(base_url=base_url, api_key=proxy.token, max_retries=0).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
        )
        while not proxy.llm.calls:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        await proxy.close()
        with pytest.raises(openai.APIConnectionError):
            await busy
        await proxy.close()  # idempotent
        await idle.close()

    asyncio.run(main())


# ---------------------------------------------------------------- the response cache under tool calls
# (beside the proxy, whose replies these are: a cached reply must come back with its tool calls)

REQUEST: dict[str, Any] = {
    "model": "openai/m",
    "messages": [{"role": "user", "content": "hi"}],
    "temperature": 0.0,
}


def test_tools_and_tool_choice_are_part_of_the_key_and_absent_ones_change_nothing() -> None:
    with_tools = {**REQUEST, "tools": [TOOL]}
    assert ResponseCache.key(with_tools) != ResponseCache.key(REQUEST)
    assert ResponseCache.key({**with_tools, "tool_choice": "required"}) != ResponseCache.key(with_tools)
    client = LLMClient("openai/m", role="system")
    assert set(client.request(REQUEST["messages"])) == {"model", "api_base", "messages", "temperature"}, (
        "a request without tools keeps the key it had before tools were passed on"
    )


def test_a_tool_call_reply_round_trips_and_an_empty_one_is_refused(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "llm.sqlite")
    reply = LLMResponse(text="", usage=Usage(calls=1, completion_tokens=4), tool_calls=[CALL])
    cache.put("k", reply)
    hit = cache.get("k")
    assert hit is not None and (hit.text, hit.tool_calls, hit.cached) == ("", [CALL], True)
    with pytest.raises(ValueError, match="empty"):
        cache.put("e", LLMResponse(text=" ", usage=Usage()))
    cache.close()


def test_a_cache_file_from_before_tool_calls_keeps_its_replies(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, created_at REAL NOT NULL,"
            " text TEXT NOT NULL, usage TEXT NOT NULL, raw TEXT NOT NULL)"
        )
        old.execute(
            "INSERT INTO responses VALUES ('k', 'm', 0, 'Lisbon', ?, '{}')", (Usage().model_dump_json(),)
        )
    cache = ResponseCache(path)
    hit = cache.get("k")
    assert hit is not None and (hit.text, hit.tool_calls) == ("Lisbon", [])
    cache.put("t", LLMResponse(text="", usage=Usage(), tool_calls=[CALL]))
    assert (cache.get("t") or TEXT).tool_calls == [CALL]
    cache.close()
    reopened = ResponseCache(path)
    assert reopened.get("t") is not None, "reopening finds the column there"
    reopened.close()


# ---------------------------------------------------------------- the fake's dialects


@pytest.mark.parametrize(
    ("request_fields", "reply", "why"),
    [
        ({}, ToolCallsReply([FunctionCall("remember", {"fact": "x"})]), "offers none"),
        ({"tools": [REMEMBER]}, ToolCallsReply([FunctionCall("forget", {})]), "offers"),
        (
            {"tools": [REMEMBER], "tool_choice": "none"},
            ToolCallsReply([FunctionCall("remember", {})]),
            "none",
        ),
        ({"tools": [REMEMBER], "tool_choice": "required"}, "plain text", "requires a tool call"),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "P", "strict": True, "schema": Person.model_json_schema()},
                }
            },
            '{"name": "Ana"}',
            "missing 'city'",
        ),
    ],
)
def test_the_fake_refuses_replies_openai_could_not_send(
    request_fields: dict[str, Any], reply: str | ToolCallsReply, why: str
) -> None:
    with FakeOpenAIServer(lambda request: reply) as fake:
        llm = LLMClient(MODEL, role="system", api_base=fake.base_url, retry=RetryPolicy(sleep=no_wait))
        with pytest.raises(Exception, match=why):
            asyncio.run(
                llm.complete(
                    [{"role": "user", "content": "hi"}],
                    tools=request_fields.get("tools"),
                    tool_choice=request_fields.get("tool_choice"),
                    response_format=request_fields.get("response_format"),
                )
            )
        assert fake.total_requests == 1, "answered 400: not retried"


def test_schema_violations_cover_strict_structured_output() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["items", "note"],
        "additionalProperties": False,
        "$defs": {"Item": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}},
    }
    assert schema_violations({"items": [{"n": 1}], "note": None}, schema) == []
    assert schema_violations({"items": [{"n": True}], "note": 3, "x": 1}, schema) == [
        "$: unexpected 'x'",
        "$.items[0].n: expected integer, got bool",
        "$.note: matches none of its anyOf schemas",
    ]
    with pytest.raises(UnanswerableRequest):
        json_schema_of({"response_format": {"type": "json_schema", "json_schema": {"name": "P"}}})


def test_a_client_without_the_proxys_key_is_refused_and_nothing_is_asked() -> None:
    """Any process on the machine can reach a loopback port; only the system's library holds the key."""
    llm = RecordingLLM(TEXT)

    async def scenario(client: openai.AsyncOpenAI, proxy: LLMProxy) -> None:
        stranger = openai.AsyncOpenAI(base_url=proxy.base_url, api_key="guessed", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await stranger.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        await stranger.close()
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    serve(llm, scenario)
    assert len(llm.calls) == 1, "only the call with the proxy's key reached the LLM"
