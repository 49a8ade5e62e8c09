"""The two transports of LLMClient against FakeOpenAIServer: the openai SDK (OpenAI-compatible endpoints)
and litellm (every other provider; ``hosted_vllm/`` is one litellm sends in OpenAI's format, so the
same fake answers both). Same request on the wire, same reply read back, same retries and errors, and
a run that only calls OpenAI-compatible endpoints never imports litellm."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import LLMError
from membench.llm import openai_sdk
from membench.llm.cache import ResponseCache
from membench.llm.client import LLMClient
from membench.llm.retry import RetryPolicy
from membench.llm.types import LLMResponse
from membench.testing.openai_server import FakeOpenAIServer, FunctionCall, ToolCallsReply

FAKE_KEY = "sk-membench-fake-0123456789abcdef"
SDK_MODEL = "openai/fake-model"
LITELLM_MODEL = "hosted_vllm/fake-model"
ASK = [{"role": "user", "content": "Where does Ana live these days?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a fact up.",
            "parameters": {"type": "object", "properties": {"who": {"type": "string"}}},
        },
    }
]
TOY = Path(__file__).parents[1] / "fixtures" / "toy_plugin.py"


class Waits:
    """A retry ``sleep`` that returns at once and remembers the waits asked of it."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


def make(model: str, server: FakeOpenAIServer, waits: Waits | None = None, **kwargs: Any) -> LLMClient:
    policy = RetryPolicy(sleep=waits or Waits())
    return LLMClient(model, role="reader", api_base=server.base_url, api_key=FAKE_KEY, retry=policy, **kwargs)


def complete(llm: LLMClient, **kwargs: Any) -> LLMResponse:
    return asyncio.run(llm.complete(ASK, **kwargs))


def test_the_dispatch_openai_compatible_models_take_the_sdk(tmp_path: Path) -> None:
    assert LLMClient(SDK_MODEL, role="reader").openai_compatible
    assert LLMClient(SDK_MODEL, role="reader", api_base="http://10.0.0.5:8000/v1").openai_compatible
    for model in (LITELLM_MODEL, "anthropic/claude-3-5-sonnet-20241022", "gemini/gemini-1.5-flash"):
        assert not LLMClient(model, role="judge").openai_compatible, model


def test_a_reply_with_tool_calls_and_usage_is_the_same_through_both_paths() -> None:
    def responder(request: dict[str, Any]) -> ToolCallsReply:
        return ToolCallsReply([FunctionCall("lookup", {"who": "Ana"})], content="Looking it up.")

    replies: dict[str, LLMResponse] = {}
    bodies: dict[str, dict[str, Any]] = {}
    with FakeOpenAIServer(responder) as server:
        for model in (SDK_MODEL, LITELLM_MODEL):
            server.reset_counters()
            llm = make(model, server, default_params={"seed": 7}, timeout_s=20)
            replies[model] = complete(llm, max_tokens=40, temperature=0.3, tools=TOOLS, tool_choice="auto")
            (request,) = server.requests
            bodies[model] = request.body
            assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
            assert llm.usage().calls == 1 and llm.usage().prompt_tokens == replies[model].usage.prompt_tokens
    sdk, via_litellm = replies[SDK_MODEL], replies[LITELLM_MODEL]
    assert sdk.text == via_litellm.text == "Looking it up."
    assert sdk.tool_calls == via_litellm.tool_calls
    assert [call["function"] for call in sdk.tool_calls] == [
        {"name": "lookup", "arguments": '{"who": "Ana"}'}
    ]
    assert sdk.usage == via_litellm.usage and sdk.usage.prompt_tokens == 6 and sdk.usage.cost_usd == 0.0
    assert sdk.raw["finish_reason"] == via_litellm.raw["finish_reason"] == "tool_calls"
    wanted = {"seed": 7, "max_tokens": 40, "temperature": 0.3, "tools": TOOLS, "tool_choice": "auto"}
    for body in bodies.values():
        assert {key: body.get(key) for key in wanted} == wanted
        assert body["model"] == "fake-model" and body["messages"] == ASK


def test_response_format_reaches_the_server_through_the_sdk() -> None:
    with FakeOpenAIServer(lambda request: '{"city": "Porto"}') as server:
        response = complete(make(SDK_MODEL, server), response_format={"type": "json_object"})
        assert server.requests[0].body["response_format"] == {"type": "json_object"}
    assert json.loads(response.text) == {"city": "Porto"}


def test_the_cache_key_does_not_depend_on_the_path(tmp_path: Path) -> None:
    """Keys are pinned: a cache filled before the openai SDK path existed still hits."""
    llm = LLMClient(SDK_MODEL, role="reader", api_base="http://127.0.0.1:9/v1", default_params={"seed": 7})
    request = llm.request(ASK, max_tokens=32, response_format={"type": "json_object"})
    assert ResponseCache.key(request) == "2c0a3e9a672c654bde1a58de3fb1557501c72632bbe7dd3a5d981871bbbefaf5"
    cache = ResponseCache(tmp_path / "llm.sqlite")
    with FakeOpenAIServer() as server:
        first = complete(make(SDK_MODEL, server, cache=cache))
        again = complete(make(SDK_MODEL, server, cache=cache, timeout_s=5, max_connections=2))
        assert server.total_requests == 1
    assert again.cached and again.text == first.text


def test_a_503_is_retried_honouring_retry_after() -> None:
    waits = Waits()
    with FakeOpenAIServer(faults=[("status", 503, {"Retry-After": "3"})]) as server:
        response = complete(make(SDK_MODEL, server, waits))
        assert server.total_requests == 2
    assert response.text.startswith("Echo:") and waits.asked == [3.0]


def test_a_401_is_fatal_at_once_with_the_key_scrubbed() -> None:
    waits = Waits()
    with FakeOpenAIServer(faults=[("status", 401, {}, f"Incorrect API key provided: {FAKE_KEY}.")]) as server:
        with pytest.raises(LLMError) as info:
            complete(make(SDK_MODEL, server, waits))
        assert server.total_requests == 1
    assert (info.value.kind, info.value.attempts, waits.asked) == ("fatal", 1, [])
    assert str(info.value) == "fatal: AuthenticationError: Error code: 401 - Incorrect API key provided: ***."


def test_a_refused_connection_says_so() -> None:
    with FakeOpenAIServer() as server:
        dead = make(SDK_MODEL, server)  # nothing listens on its port once the server stops
    with pytest.raises(LLMError) as info:
        asyncio.run(dead.complete(ASK))
    assert (info.value.kind, info.value.attempts) == ("transient", 6)
    assert str(info.value).endswith("last: APIConnectionError: Connection error.")


def test_a_web_page_for_a_reply_is_malformed_and_retried() -> None:
    waits = Waits()
    with FakeOpenAIServer(faults=[("html",)]) as server:
        response = complete(make(SDK_MODEL, server, waits))
        assert server.total_requests == 2, "asked again, as a reply that did not parse"
    assert response.text.startswith("Echo:") and len(waits.asked) == 1
    with FakeOpenAIServer(faults=[("html",)] * 6) as server, pytest.raises(LLMError) as info:
        complete(make(SDK_MODEL, server, Waits()))
    assert (info.value.kind, info.value.attempts) == ("transient", 6)
    assert "not JSON: '<html><body>Please sign in</body></html>'" in str(info.value)


def test_openai_api_base_in_the_environment_is_honoured_as_litellm_honoured_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
        asyncio.run(LLMClient(SDK_MODEL, role="reader").ping())
        (asked,) = server.requests
    assert asked.headers["authorization"] == f"Bearer {FAKE_KEY}", "the key went to that endpoint"


def test_ping_answers_through_the_sdk() -> None:
    with FakeOpenAIServer() as server:
        llm = make(SDK_MODEL, server)
        asyncio.run(llm.ping())
        assert server.requests[0].body["max_tokens"] == 1
    assert llm.usage().calls == 0


def test_one_sdk_client_per_loop_endpoint_and_key_closed_with_the_loop() -> None:
    async def calls(*clients: LLMClient) -> list[Any]:
        await asyncio.gather(
            *(c.complete([{"role": "user", "content": f"q{i}"}]) for i, c in enumerate(clients))
        )
        (entry,) = openai_sdk._CLIENTS.values()
        return [made.result() for made in entry[0].values()]

    with FakeOpenAIServer() as server:
        reader, judge = make(SDK_MODEL, server), make(SDK_MODEL, server)
        other_key = LLMClient(
            SDK_MODEL, role="system", api_base=server.base_url, api_key="sk-other-key-987654"
        )
        sdk_clients = asyncio.run(calls(reader, judge, reader, other_key))
        assert server.total_requests == 4
    assert len(sdk_clients) == 2, "reader and judge share one client; another key has its own"
    assert all(client.is_closed() for client in sdk_clients)
    assert not openai_sdk._CLIENTS, "asyncio.run's shutdown closed and forgot them"


def test_a_call_cancelled_while_its_client_is_made_leaves_the_client_to_the_next() -> None:
    async def cancel_then_call(llm: LLMClient) -> LLMResponse:
        first = asyncio.ensure_future(llm.complete(ASK))
        await asyncio.sleep(0)  # it starts, and waits for the client being made in a thread
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await llm.complete(ASK)

    with FakeOpenAIServer() as server:
        response = asyncio.run(cancel_then_call(make(SDK_MODEL, server)))
        assert server.total_requests == 1
    assert response.text.startswith("Echo:")


def test_a_model_openai_prices_costs_what_litellm_would_charge() -> None:
    litellm = pytest.importorskip("litellm")
    price = openai_sdk.price_of("gpt-4o-mini")
    expected = sum(litellm.cost_per_token(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=500))
    assert price.input * 1000 + price.output * 500 == pytest.approx(expected)
    assert openai_sdk.price_of("fake-model") == openai_sdk.FREE
    assert openai_sdk.price_of("claude-3-5-sonnet-20241022") == openai_sdk.FREE, "not OpenAI's model"


RUN_WITHOUT_LITELLM = """
import sys
from pathlib import Path
from membench.api import run
from membench.core.config import LLMSpec
from membench.running.display import NullDisplay
from membench.testing.configs import tiny_run_config
toy, root, url = sys.argv[1:4]
config = tiny_run_config(
    Path(root), "toy", "keyword", plugins=(f"{toy}:ToyTask", f"{toy}:KeywordSystem"),
    reader_llm=LLMSpec("openai/fake-model", url), check_endpoints=True,
)
outcome = run(config, NullDisplay())
print(outcome.manifest.status, "litellm" in sys.modules, "openai" in sys.modules)
"""


def test_a_run_with_only_openai_compatible_endpoints_never_imports_litellm(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        result = subprocess.run(
            [sys.executable, "-c", RUN_WITHOUT_LITELLM, str(TOY), str(tmp_path), server.base_url],
            capture_output=True,
            text=True,
            check=False,
            env={**_env(), "OPENAI_API_KEY": FAKE_KEY},
        )
        answered = server.path_counts.get("/v1/chat/completions", 0)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["complete", "False", "True"]
    assert answered > 1, "the endpoint check and the reader's calls reached the server"


WARM = """
import sys
from membench.llm.client import LLMClient, warm_up
warm_up([LLMClient(sys.argv[1], role="reader")])
print("litellm" in sys.modules, "openai" in sys.modules)
"""


@pytest.mark.parametrize(
    ("model", "imported"), [(SDK_MODEL, ["False", "True"]), (LITELLM_MODEL, ["True", "True"])]
)
def test_warm_up_imports_only_what_the_clients_need(model: str, imported: list[str]) -> None:
    """litellm imports openai itself; the SDK path never imports litellm."""
    result = subprocess.run(
        [sys.executable, "-c", WARM, model], capture_output=True, text=True, check=True, env=_env()
    )
    assert result.stdout.split() == imported


def _env() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "OPENAI_BASE_URL"}
