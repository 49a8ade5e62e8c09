"""LLMClient: one model behind one endpoint, as the reader, the judges and LLM-backed systems use it.

A call goes: cache lookup → our retry policy → a connection slot of the endpoint's shared pool →
one HTTP request, with the transport's own retries off. The transport depends on the model:

* OpenAI-compatible endpoints (``openai/NAME`` models, with or without an ``api_base``: OpenAI, vLLM,
  llama.cpp, Ollama's ``/v1``, the loopback fake; and ``llamacpp/PATH.gguf`` servers) go through the
  openai SDK (``membench.llm.openai_sdk``): under a third of litellm's CPU per call, no litellm import.
* Every other provider (``anthropic/``, ``gemini/``, ``hosted_vllm/``, ...) goes through
  ``litellm.acompletion``, which translates its dialect; there an ``api_base`` is that provider's.

Both paths send the same request (``request`` below is also the cache key's material, whatever the
path) and read the same reply: text, tool calls, usage. Cost is computed once per response: litellm's
own figure on its path (the ``response_cost`` it already computed); on the SDK path, $0 for a
loopback or local server, else the prompt, cached-prompt and completion tokens at the model's price
in litellm's table, read without importing litellm (``openai_sdk.Price``; $0 for a model it does
not price as OpenAI's). Usage (tokens, cost, cached calls) is summed per client, so each role
(system, reader, judge) reports its own.

Neither library is imported at import time (the CLI must stay fast): ``warm`` (``warm_up`` for a run's
clients) imports the one a client needs before a run's event loop starts; a call that finds it not
imported yet imports it in a thread, never on the loop.

API keys come from the argument or from the provider's usual environment variable (read by the
openai SDK or litellm); they are passed to them and to nothing else: not to ``identity``, the cache
key, error messages or logs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import weakref
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from membench.core.errors import ConfigError
from membench.core.types import Usage
from membench.llm import llamacpp, openai_sdk
from membench.llm.cache import ResponseCache, public_url
from membench.llm.env import known_secrets, load_litellm, loaded_litellm
from membench.llm.retry import MalformedResponse, RetryPolicy
from membench.llm.types import LLMResponse, Message, ToolCall

#: Request fields that ``complete`` or the client itself set; ``default_params`` may not override them.
_RESERVED_PARAMS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "max_tokens",
        "response_format",
        "api_base",
        "base_url",
        "api_key",
        "timeout",
        "num_retries",
        "max_retries",
        "stream",
        "tools",
        "tool_choice",
    }
)
#: Sent to keyless OpenAI-compatible servers on loopback (vLLM, llama.cpp, our test server): the
#: openai SDK refuses to send a request without some key. mem0's openai clients get the same one.
LOCAL_PLACEHOLDER_KEY = "membench-no-key"

# Connection pools: one semaphore per (event loop, endpoint), shared by every client of that endpoint
# in that loop, so a reader and a judge on the same account share its connection limit.
_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[int, asyncio.Semaphore]]] = (
    weakref.WeakKeyDictionary()
)


def endpoint_of(model: str, api_base: str | None) -> str:
    """What a connection limit applies to: the base URL, else the provider named in the model."""
    if api_base:
        return public_url(api_base) or api_base
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    return f"provider:{provider}"


def _pool(endpoint: str, size: int) -> asyncio.Semaphore:
    pools = _POOLS.setdefault(asyncio.get_running_loop(), {})
    if endpoint not in pools:
        pools[endpoint] = (size, asyncio.Semaphore(size))
    existing, semaphore = pools[endpoint]
    if existing != size:
        raise ConfigError(
            f"two LLM clients of endpoint {endpoint} ask for different connection limits "
            f"({existing} and {size}); give them the same max_connections"
        )
    return semaphore


def _is_loopback(api_base: str | None) -> bool:
    host = urlsplit(api_base).hostname if api_base else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reply_of(response: Any) -> tuple[str, list[ToolCall]]:
    """The reply's text and tool calls (OpenAI's shape); a reply with neither is malformed.

    A reply that only calls tools has no content (OpenAI sends null), so its text is empty.
    """
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise MalformedResponse("the response has no choices")
    message = choices[0].message
    calls = [_tool_call(call) for call in getattr(message, "tool_calls", None) or []]
    content = getattr(message, "content", None)
    text = content if isinstance(content, str) and content.strip() else ""
    if not text and not calls:
        raise MalformedResponse("the response has empty content and no tool calls")
    return text, calls


def _tool_call(call: Any) -> ToolCall:
    """A tool-call object (the openai SDK's or litellm's) as the plain dict OpenAI sends (and the
    cache stores)."""
    function = call.function
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": function.name, "arguments": function.arguments or ""},
    }


class LLMClient:
    """Chat completions from ``model`` (a litellm model name such as ``openai/gpt-4o-mini``, or
    ``llamacpp/PATH.gguf``)."""

    def __init__(
        self,
        model: str,
        *,
        role: str,
        api_base: str | None = None,
        api_key: str | None = None,
        cache: ResponseCache | None = None,
        max_connections: int = 8,
        timeout_s: float = 60,
        retry: RetryPolicy | None = None,
        default_params: dict[str, Any] | None = None,
    ) -> None:
        if max_connections < 1:
            raise ConfigError("max_connections must be at least 1")
        clashing = sorted(set(default_params or {}) & _RESERVED_PARAMS)
        if clashing:
            raise ConfigError(
                f"default_params may not set {', '.join(clashing)}: pass them to LLMClient or complete()"
            )
        # A llamacpp/PATH.gguf model is served by a server membench starts on first use
        # (membench.llm.llamacpp): it is named by its file's content, never by that server's port.
        self.local = llamacpp.gguf_model(model) if llamacpp.is_llamacpp(model) else None
        #: beside ``model`` in identity() and the cache key: what pins a local model's file ({} if none).
        self._local_identity = self.local.identity() if self.local is not None else {}
        if self.local is not None:
            if api_base:
                raise ConfigError(f"{model}: membench serves llamacpp/ models itself; drop its api base")
            model, api_key = self.local.model, LOCAL_PLACEHOLDER_KEY
            # As many requests at once as the server decodes (one queued inside it would spend its
            # timeout waiting), and time enough for a CPU model's long prompt.
            max_connections = min(max_connections, self.local.settings.parallel)
            timeout_s = max(timeout_s, llamacpp.REQUEST_TIMEOUT_S)
        self.model = model
        self.role = role
        self.api_base = api_base.rstrip("/") if api_base else None
        if api_key is None and _is_loopback(api_base) and model.startswith("openai/"):
            api_key = os.environ.get("OPENAI_API_KEY") or LOCAL_PLACEHOLDER_KEY
        self._api_key = api_key
        self.cache = cache
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.default_params = dict(sorted((default_params or {}).items()))
        self.endpoint = (
            f"llamacpp:{self.local.path}" if self.local is not None else endpoint_of(model, self.api_base)
        )
        #: whether calls go through the openai SDK; else through litellm (see the module docstring).
        self.openai_compatible = self.local is not None or openai_sdk.serves(model)
        # Priced now, before any event loop: the first lookup reads litellm's price table (0.1 s).
        free = not self.openai_compatible or self.local is not None or _is_loopback(self.api_base)
        self._price = openai_sdk.FREE if free else openai_sdk.price_of(openai_sdk.wire_name(model))
        self._usage = Usage()

    def warm(self) -> None:
        """Import what this client's calls need (the openai SDK, or litellm: seconds), so that it
        happens before a run's event loop starts instead of stalling it inside the first call."""
        if self.openai_compatible:
            openai_sdk.load()
        else:
            load_litellm()

    def identity(self) -> dict[str, Any]:
        """What decides this client's answers (part of a run's identity). Never the key."""
        return {
            "model": self.model,
            "api_base": public_url(self.api_base),
            "params": dict(self.default_params),
            **self._local_identity,
        }

    def usage(self) -> Usage:
        """Cumulative usage of every response this client returned."""
        return self._usage

    def request(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The output-deciding request ``complete`` would send: also the material of its cache key.

        Fields a call leaves unset are left out, so a request without tools has the key it had before
        tools existed here.
        """
        request: dict[str, Any] = {
            **self.default_params,
            "model": self.model,
            "api_base": public_url(self.api_base),
            **self._local_identity,
            "messages": messages,
            "temperature": temperature,
        }
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if response_format is not None:
            request["response_format"] = response_format
        if tools is not None:
            request["tools"] = tools
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
        return request

    async def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: dict[str, Any] | None = None,
        usable: Callable[[str], bool] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> LLMResponse:
        """The model's answer, from the cache when this exact request was answered before.

        ``usable`` is the caller's parse as a yes/no: a reply it rejects is returned (the caller
        re-asks or records the error) but never stored, and a stored one it rejects is not served, so
        a retry of that request reaches the model again.

        Raises ``membench.core.errors.LLMError`` when the call fails for good (its ``kind`` and
        ``attempts`` say how). A cache hit's usage keeps the tokens of the stored answer (the same
        on every run) but costs nothing, since nothing was paid this time. ``tools`` and
        ``tool_choice`` go to the model as OpenAI defines them; a hit returns the stored tool calls.
        """
        request = self.request(
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            response_format=response_format,
            tools=tools,
            tool_choice=tool_choice,
        )
        key = ResponseCache.key(request) if self.cache is not None else ""
        if self.cache is not None:
            hit = await asyncio.to_thread(self.cache.get, key, usable)
            if hit is not None:
                usage = hit.usage.model_copy(update={"calls": 1, "cached_calls": 1, "cost_usd": 0.0})
                return self._count(replace(hit, usage=usage))

        pool = _pool(self.endpoint, self.max_connections)
        outcome = await self.retry.run(
            lambda: self._attempt(request, pool), secrets=lambda: known_secrets(self._api_key)
        )
        response = outcome.value
        if self.cache is not None and (usable is None or usable(response.text)):
            await asyncio.to_thread(self.cache.put, key, response, model=self.model)
        return self._count(response)

    def _count(self, response: LLMResponse) -> LLMResponse:
        self._usage = self._usage.add(response.usage)
        return response

    async def _attempt(self, request: dict[str, Any], pool: asyncio.Semaphore) -> LLMResponse:
        """One HTTP call, holding one connection slot of the endpoint's pool for its duration only."""
        kwargs = {k: v for k, v in request.items() if k != "api_base" and k not in self._local_identity}
        if self.openai_compatible:
            response, cost = await self._through_sdk(kwargs, pool)
        else:
            response, cost = await self._through_litellm(kwargs, pool)
        text, tool_calls = _reply_of(response)
        usage = Usage(
            calls=1,
            prompt_tokens=int(getattr(response.usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(response.usage, "completion_tokens", 0) or 0),
            cost_usd=cost,
        )
        raw = {
            "id": getattr(response, "id", None),
            "model": getattr(response, "model", None),
            "finish_reason": getattr(response.choices[0], "finish_reason", None),
        }
        return LLMResponse(text=text, usage=usage, cached=False, raw=raw, tool_calls=tool_calls)

    async def _through_sdk(self, kwargs: dict[str, Any], pool: asyncio.Semaphore) -> tuple[Any, float]:
        base_url = self.api_base
        model = self.model
        if self.local is not None:
            model = self.local.litellm_model
            base_url = llamacpp.running_url(self.local) or await asyncio.to_thread(
                llamacpp.server_url, self.local
            )
        kwargs["model"] = openai_sdk.wire_name(model)
        async with pool:
            response = await openai_sdk.complete(
                kwargs,
                base_url=base_url,
                api_key=self._api_key,
                max_connections=self.max_connections,
                timeout_s=self.timeout_s,
            )
        return response, self._price.cost(response)

    async def _through_litellm(self, kwargs: dict[str, Any], pool: asyncio.Semaphore) -> tuple[Any, float]:
        litellm = loaded_litellm()
        if litellm is None:  # not warmed before the run: imported off the loop
            litellm = await asyncio.to_thread(load_litellm)
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        async with pool:
            response = await litellm.acompletion(**kwargs, timeout=self.timeout_s, num_retries=0)
        return response, _litellm_cost(response)

    #: what ``ping`` asks (a fake LLM of tests may recognise it).
    ping_message = "Reply with OK."

    async def ping(self, *, timeout_s: float = 15.0, attempts: int = 2) -> None:
        """One 1-token completion, to learn before a run starts whether this endpoint answers at all.

        An unreachable endpoint otherwise costs every probe the whole retry budget (minutes) and ends
        as a run of errors. The ping goes past the cache both ways (a stored answer proves nothing
        about the endpoint, and a check is no answer worth keeping), is not counted in ``usage`` (it is
        no part of the run), and makes ``attempts`` quick tries, each cut at ``timeout_s`` (a local
        llama.cpp model is not cut: starting its server is loading the model). A reply without text
        still proves the endpoint answered. Raises ``LLMError`` as ``complete`` does.
        """
        request = self.request([{"role": "user", "content": self.ping_message}], max_tokens=1)
        pool = _pool(self.endpoint, self.max_connections)
        quick = replace(self.retry, max_attempts=attempts, max_delay_s=0.5, max_total_wait_s=1.0)
        limit = None if self.local is not None else timeout_s

        async def attempt() -> None:
            try:
                await asyncio.wait_for(self._attempt(request, pool), limit)
            except MalformedResponse:
                return
            except TimeoutError:
                raise TimeoutError(f"no reply within {timeout_s:g}s") from None

        await quick.run(attempt, secrets=lambda: known_secrets(self._api_key))


def warm_up(clients: Iterable[LLMClient]) -> None:
    """``warm`` every client: what a run calls before its event loop starts."""
    for client in clients:
        client.warm()


def _litellm_cost(response: Any) -> float:
    """The USD cost litellm already computed for ``response`` (None for local or unpriced models)."""
    hidden = getattr(response, "_hidden_params", None) or {}
    try:
        return float(hidden.get("response_cost") or 0.0)
    except (TypeError, ValueError):
        return 0.0
