"""The openai SDK path of ``LLMClient``: OpenAI-compatible endpoints called without litellm.

OpenAI itself, vLLM, llama.cpp, Ollama's ``/v1`` and membench's loopback fake all speak OpenAI's chat
completions, and for them litellm only adds cost: seconds of import and 2.5-3× the CPU per request
of the openai SDK (issue 17). So ``openai/NAME`` models and ``llamacpp/`` local servers are called with
``openai.AsyncOpenAI``; litellm stays for the providers whose dialect it translates (anthropic/,
gemini/, ...), where a base URL means that provider's own API, not OpenAI's.

* One ``AsyncOpenAI`` per (event loop, base URL, key), reused by every call and every client of that
  triple: its connection pool is what keeps connections alive between calls. Its own retries are
  off (membench's ``RetryPolicy`` retries, and must see every attempt) and its pool holds
  ``max_connections`` (membench's per-endpoint semaphore bounds the requests in flight). A client is
  made in a thread on first use (its SSL setup takes a tenth of a second the loop need not wait), and
  the clients of a loop are closed when ``asyncio.run`` shuts the loop down, through an async
  generator the loop finalises, so no connection is left for the garbage collector to warn about.
* The request is posted as it is, with the SDK's ``client.post("/chat/completions", body=...,
  cast_to=ChatCompletion)`` (its way to call any endpoint): the body litellm sent for ``openai/``
  models, fields the SDK's signature does not name included (``default_params`` such as ``top_k`` for
  vLLM), parsed into the SDK's ``ChatCompletion``. The typed ``chat.completions.create`` would first
  walk every message against its TypedDicts, for plain dicts: 0.5-1 ms of the 3.4 ms of CPU a call
  took here.
* The transport is the SDK's default (httpx). Its aiohttp client would spend less CPU at 64
  connections (httpx's pool checks every pooled connection for each request), but it reports a
  refused connection as a connect timeout, and "timed out" for a closed port misleads.
* A 200 whose body is not the JSON of a completion is ``MalformedResponse`` (retried, as litellm's
  mapping of it was); every other SDK error reaches ``retry.classify`` as it is: its class names
  (``APIConnectionError``, ``APITimeoutError``, ``RateLimitError``, ...) and ``status_code`` are
  what classify reads, and its message (``Error code: 401 - Incorrect API key ...``) says the cause.
* Cost is priced once, from the SDK's usage, by ``Price``: loopback and local servers cost nothing;
  otherwise the model's per-token prices come from litellm's own price table, read as a JSON file
  from litellm's package folder without importing litellm (once per process, when a client of a
  non-local endpoint is made, which is before the run), so a run and its cost do not need litellm.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.llm.retry import MalformedResponse

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion

#: the prefix of models this path serves; what follows is the name the endpoint is asked for.
PREFIX = "openai/"
#: litellm's price table, shipped in its package (the file litellm reads offline).
_PRICE_FILE = "model_prices_and_context_window_backup.json"

_ClientKey = tuple[str | None, str | None]
_Clients = dict[_ClientKey, "asyncio.Future[AsyncOpenAI]"]
# Per loop: its clients (futures: the first call makes one in a thread, the calls that arrive meanwhile
# wait for that one), and the async generator that closes them when the loop shuts down (kept here
# because a loop holds its async generators only weakly).
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[_Clients, AsyncIterator[None]]] = (
    weakref.WeakKeyDictionary()
)


def serves(model: str) -> bool:
    """Whether ``model`` goes through the openai SDK (``openai/NAME``); ``llamacpp/`` models are
    served by membench's own OpenAI-compatible server and take this path too (``LLMClient``)."""
    return model.startswith(PREFIX)


def wire_name(model: str) -> str:
    """The model name the endpoint is asked for: ``openai/gpt-4o-mini`` → ``gpt-4o-mini``."""
    return model.removeprefix(PREFIX)


def load() -> None:
    """Import the SDK (about a second): before a run, or in a thread, never inside a coroutine."""
    import openai  # noqa: F401  (the import is the point)


async def complete(
    request: dict[str, Any],
    *,
    base_url: str | None,
    api_key: str | None,
    max_connections: int,
    timeout_s: float,
) -> ChatCompletion:
    """One chat completion of ``request`` (OpenAI's body, ``model`` the wire name), no retries."""
    client = await _client(base_url, api_key, max_connections)  # imports the SDK off the loop
    from openai.types.chat import ChatCompletion

    try:
        reply = await client.post(
            "/chat/completions", body=request, cast_to=ChatCompletion, options={"timeout": timeout_s}
        )
    except json.JSONDecodeError as exc:
        raise MalformedResponse(f"the response body is not JSON: {exc}") from None
    except Exception as exc:
        if type(exc).__name__ == "APIResponseValidationError":
            raise MalformedResponse(f"the response is not a chat completion: {exc}") from None
        raise
    if not isinstance(reply, ChatCompletion):  # a 200 that is not JSON (an HTML page): the SDK's text
        raise MalformedResponse(f"the response is not JSON: {str(reply)[:200]!r}")
    return reply


async def _client(base_url: str | None, api_key: str | None, max_connections: int) -> AsyncOpenAI:
    loop = asyncio.get_running_loop()
    if loop not in _CLIENTS:
        clients: _Clients = {}
        closer = _close_at_shutdown(loop, clients)
        _CLIENTS[loop] = (clients, closer)
        await anext(closer)  # started, so the loop finalises it at shutdown (it runs to its yield)
    clients = _CLIENTS[loop][0]
    key = (base_url, api_key)
    if key not in clients:
        # In a thread: the SDK's import (when not warmed) and its HTTP client's SSL setup take time
        # that every other call on the loop would wait through.
        made = asyncio.to_thread(_new_client, base_url, api_key, max_connections)
        clients[key] = asyncio.ensure_future(made)
    # Shielded: a waiter cancelled meanwhile (a ping's time limit) must not cancel the shared future.
    return await asyncio.shield(clients[key])


def _new_client(base_url: str | None, api_key: str | None, max_connections: int) -> AsyncOpenAI:
    import openai

    # The SDK's own HTTP library's Limits (httpx or httpx2, by SDK version), sized to our limit.
    limits_type = type(openai.DEFAULT_CONNECTION_LIMITS)
    limits = limits_type(max_connections=max_connections, max_keepalive_connections=max_connections)
    return openai.AsyncOpenAI(
        # The SDK reads OPENAI_BASE_URL; litellm, which served openai/ models before, also read
        # OPENAI_API_BASE: a proxy set that way must not be bypassed, with the key, for OpenAI's own.
        base_url=base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE") or None,
        api_key=api_key,
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(limits=limits),
    )


async def _close_at_shutdown(loop: asyncio.AbstractEventLoop, clients: _Clients) -> AsyncIterator[None]:
    """Closes ``loop``'s clients when the loop shuts its async generators down (``asyncio.run`` does),
    and forgets them: the generator holds its loop, so the entry would keep a finished loop alive."""
    try:
        yield
    finally:
        _CLIENTS.pop(loop, None)
        for made in clients.values():
            if made.done() and not made.cancelled() and made.exception() is None:
                await made.result().close()


@dataclass(frozen=True)
class Price:
    """USD per token of one model, as litellm's table has it (0.0 where it has none)."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float = 0.0

    def cost(self, response: ChatCompletion) -> float:
        """What OpenAI bills for ``response``: prompt tokens, those served from its prompt cache at
        their own price, and completion tokens (reasoning tokens are among them)."""
        usage = response.usage
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        cached = int(getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0) or 0)
        return (prompt - cached) * self.input + cached * self.cached_input + completion * self.output


FREE = Price()


def price_of(model: str) -> Price:
    """The per-token price of OpenAI's ``model`` (a wire name such as ``gpt-4o-mini``) in litellm's
    table, or ``FREE`` for a model it does not price as OpenAI's (a local or self-hosted model)."""
    entry = _price_table().get(model)
    if not isinstance(entry, dict) or entry.get("litellm_provider") != "openai":
        return FREE
    input_cost = float(entry.get("input_cost_per_token") or 0.0)
    return Price(
        input=input_cost,
        output=float(entry.get("output_cost_per_token") or 0.0),
        cached_input=float(entry.get("cache_read_input_token_cost") or input_cost),
    )


@cache
def _price_table() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")  # finds the package folder; does not import it
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / _PRICE_FILE
        if path.is_file():
            table = json.loads(path.read_bytes())
            return table if isinstance(table, dict) else {}
    return {}
