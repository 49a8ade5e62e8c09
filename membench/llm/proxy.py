"""LLMProxy: membench's LLM client behind a loopback OpenAI-compatible URL, for libraries that take a URL.

Some memory libraries cannot be handed a client object: they build their own OpenAI (or LangChain)
client from a base URL. Pointed at this proxy, every call they make is answered by the system's ``llm``
(``membench.llm.client.LLMClient``), so it is cached, retried with our policy, held to the endpoint's
connection limit and counted under the ``system`` role like every other LLM call of a run.

Why it is built the way it is:

* It runs on the caller's asyncio loop (``asyncio.start_server``), not in a thread of its own: the
  LLMClient, its connection pools (one semaphore per loop and endpoint) and litellm's sessions live on
  that loop. Libraries call it from worker threads (``asyncio.to_thread``) or from other processes
  (an out-of-process system's worker); HTTP makes both safe, and the loop is free while they wait.
* Minimal HTTP/1.1, standard library only: keep-alive, bodies by Content-Length (what the openai SDK
  and httpx send), 127.0.0.1 and a free port. Chunked uploads are refused with 411.
* ``POST /v1/chat/completions`` (non-streaming) and ``GET /v1/models``; anything else is a 404 JSON error
  in OpenAI's error shape, so a library misconfigured to call another API fails with a clear message.
* The request is mapped to ``LLM.complete``: messages as they are (string or content-part contents,
  assistant ``tool_calls``, ``tool`` messages), ``response_format``, ``temperature``, ``max_tokens`` or
  ``max_completion_tokens``, ``tools`` and ``tool_choice``. ``model`` is ignored: the proxy serves one
  model, the system's. A missing ``temperature`` is membench's 0.0, not OpenAI's 1.0, so a library that
  leaves it unset still gets reproducible, cacheable answers. Any other field that would change the
  answer is refused (400, naming it) unless it has the value that changes nothing (``n=1``), because
  dropping it silently would answer a different request than the library made.
* A failure of membench's client (an ``LLMError``, already retried by our policy) is answered with 424
  Failed Dependency and ``x-should-retry: false``. The openai SDK obeys that header before looking at
  the status, and no client retries a 424 by status (they retry 408, 409, 429 and 5xx), so attempts
  never multiply: a rate limit retried six times by us is not retried again by the library. The body is
  OpenAI's error object with ``type: membench_llm_error``, ``code`` the error kind and the scrubbed
  message; ``llm_error_of`` turns the library's exception back into that ``LLMError`` for the record.
* A blocking library call that talks to the proxy should not wait in the loop's default executor
  (``asyncio.to_thread``): the proxy's own path needs that executor (the response cache is read in it,
  litellm uses it), and callers waiting there could take every thread of it. The runner sizes the
  executor beyond its episode workers, which covers its own runs; ``run_in_own_thread`` gives such a
  call a thread of its own, which holds however the adapter is driven (a test, a script).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import http
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from membench.core.errors import LLMError
from membench.core.types import Usage
from membench.llm.env import known_secrets, scrub
from membench.llm.types import LLM, LLMResponse

#: ``error.type`` of a failure of membench's LLM client, as the proxy answers it.
LLM_ERROR_TYPE = "membench_llm_error"
#: the status of such a failure: no client retries it (see the module docstring).
LLM_ERROR_STATUS = 424
#: request headers (and the request line) may not exceed this; bodies are limited apart.
_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 64 * 1024 * 1024
#: fields about how the caller keeps its books, not about the answer: accepted and not passed on.
_IGNORED = frozenset(
    {"model", "user", "metadata", "store", "service_tier", "stream_options", "prompt_cache_key"}
)
#: fields membench's LLM cannot carry, accepted at the values that change nothing (null is unset).
_NEUTRAL: Mapping[str, tuple[Any, ...]] = {
    "stream": (False,),
    "n": (1,),
    "parallel_tool_calls": (True,),
    "logprobs": (False,),
    "top_p": (1,),
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "stop": ([],),
    "logit_bias": ({},),
}
_MAPPED = frozenset(
    {
        "messages",
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "response_format",
        "tools",
        "tool_choice",
    }
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


class _Refused(Exception):
    """A request the proxy answers with an error status instead of asking the LLM."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", *, allow: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.allow = allow


@dataclass
class _Request:
    method: str
    path: str
    keep_alive: bool
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class LLMProxy:
    """An OpenAI-compatible endpoint on ``127.0.0.1`` answered by ``llm``; see the module docstring."""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._usage = Usage()
        self._base_url = ""
        #: the key a client must send (``Authorization: Bearer``): any process on this machine can reach
        #: a loopback port, and none but the system's library may spend the run's LLM budget.
        self.token = f"membench-{secrets.token_urlsafe(18)}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` once started."""
        if self._server is None:
            raise RuntimeError("LLMProxy is not started")
        return self._base_url

    async def start(self) -> str:
        """Listen on a free loopback port of the running loop; the base URL a client is given."""
        if self._server is not None:
            raise RuntimeError("LLMProxy already started")
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_HEAD_LIMIT)
        port = self._server.sockets[0].getsockname()[1]
        self._base_url = f"http://127.0.0.1:{port}/v1"
        return self._base_url

    async def close(self) -> None:
        """Stop listening and drop open connections (a call in flight is cancelled)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    def take_usage(self) -> Usage:
        """Usage of the calls answered since the last call (or the start), and start counting again."""
        with self._lock:
            usage, self._usage = self._usage, Usage()
        return usage

    # ------------------------------------------------------------ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _Refused as exc:  # unreadable framing: answer once, then drop the connection
                    await _write(writer, exc.status, _error_body(str(exc), exc.kind), {}, keep_alive=False)
                    return
                if request is None:
                    return
                status, payload, headers = await self._answer(request)
                await _write(writer, status, payload, headers, keep_alive=request.keep_alive)
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the client went away
        except asyncio.CancelledError:
            # ``close`` (or the loop's end) cancels open connections; ending the task normally keeps
            # asyncio's connection callback from reporting the cancellation as an unhandled error.
            return
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):  # closing a socket the peer already reset
                await writer.wait_closed()

    async def _answer(self, request: _Request) -> tuple[int, dict[str, Any], dict[str, str]]:
        route = request.path.split("?", 1)[0].rstrip("/")
        try:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                raise _Refused(
                    401, "the membench LLM proxy needs its own key (LLMEndpoint.api_key)", "invalid_api_key"
                )
            if route == "/v1/models":
                _allow(request, "GET")
                return 200, self._models(), {}
            if route == "/v1/chat/completions":
                _allow(request, "POST")
                return 200, await self._chat(_json_object(request.body)), {}
            raise _Refused(
                404,
                f"the membench LLM proxy has no route {request.method} {route or '/'}; "
                "it serves POST /v1/chat/completions and GET /v1/models",
                "not_found_error",
            )
        except _Refused as exc:
            return exc.status, _error_body(str(exc), exc.kind), {"Allow": exc.allow} if exc.allow else {}
        except LLMError as exc:
            return LLM_ERROR_STATUS, _llm_error_body(exc), {"x-should-retry": "false"}
        except Exception as exc:  # a bug of ours or of a fake LLM: the library fails at once, not retries
            message = scrub(f"membench LLM proxy error: {type(exc).__name__}: {exc}", known_secrets())
            logger.error("%s", message)  # scrubbed, and no traceback: its frames could hold a key
            return 500, _error_body(message, "server_error"), {"x-should-retry": "false"}

    def _models(self) -> dict[str, Any]:
        model = str(self.llm.identity().get("model") or "membench")
        return {
            "object": "list",
            "data": [{"id": model, "object": "model", "created": 0, "owned_by": "membench"}],
        }

    # ------------------------------------------------------------ chat completions

    async def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("stream"):
            raise _Refused(400, "the membench LLM proxy does not stream; send stream=false")
        _check_fields(body)
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
        ):
            raise _Refused(400, "'messages' must be a non-empty list of objects with a 'role'")
        temperature = body.get("temperature")
        if temperature is not None and not _is_number(temperature):
            raise _Refused(400, f"'temperature' must be a number, got {temperature!r}")
        response_format = _optional(body, "response_format", dict)
        response = await self.llm.complete(
            messages,
            max_tokens=_max_tokens(body),
            temperature=0.0 if temperature is None else float(temperature),
            response_format=response_format,
            tools=_optional(body, "tools", list),
            tool_choice=_optional(body, "tool_choice", (str, dict)),
            usable=_json_reply if (response_format or {}).get("type") in _JSON_FORMATS else None,
        )
        with self._lock:
            self._usage = self._usage.add(response.usage)
        return _completion(response, str(body.get("model") or ""))


#: response formats that ask for JSON: a reply that is not JSON is never cached (see ``_json_reply``).
_JSON_FORMATS = ("json_object", "json_schema")


def _json_reply(text: str) -> bool:
    """Whether a reply asked to be JSON is JSON (inside a code fence too, as libraries accept it).

    The proxy cannot know what a library will make of a reply; it can know that one asked for JSON and
    not given JSON is unusable, so it is not cached: a re-run asks the model again instead of replaying
    the failure (membench's own callers pass stricter checks of their formats)."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _completion(response: LLMResponse, requested_model: str) -> dict[str, Any]:
    """The ``chat.completion`` object OpenAI would send for ``response``."""
    message: dict[str, Any] = {"role": "assistant", "content": response.text or None, "refusal": None}
    if response.tool_calls:
        message["tool_calls"] = response.tool_calls
    elif not response.text:
        message["content"] = ""
    finish_reason = response.raw.get("finish_reason")
    if not isinstance(finish_reason, str):
        finish_reason = "tool_calls" if response.tool_calls else "stop"
    usage = response.usage
    return {
        "id": f"chatcmpl-membench-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(response.raw.get("model") or requested_model),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
    }


def _check_fields(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - _MAPPED - _IGNORED - set(_NEUTRAL))
    changed = sorted(
        k for k, allowed in _NEUTRAL.items() if body.get(k) is not None and body[k] not in allowed
    )
    if unknown or changed:
        raise _Refused(
            400,
            f"the membench LLM proxy cannot pass {', '.join(unknown + changed)} to membench's LLM client; "
            "it maps messages, temperature, max_tokens, max_completion_tokens, response_format, tools "
            "and tool_choice",
        )


def _max_tokens(body: dict[str, Any]) -> int | None:
    values = {body[k] for k in ("max_tokens", "max_completion_tokens") if body.get(k) is not None}
    if len(values) > 1:
        raise _Refused(400, "max_tokens and max_completion_tokens disagree")
    value = values.pop() if values else None
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise _Refused(400, f"max_tokens must be a positive integer, got {value!r}")
    return value


def _optional(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise _Refused(400, f"{key!r} has the wrong type: {type(value).__name__}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _allow(request: _Request, method: str) -> None:
    if request.method != method:
        raise _Refused(405, f"{request.path} takes {method}, not {request.method}", allow=method)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Refused(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise _Refused(400, "the request body is not a JSON object")
    return body


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _llm_error_body(exc: LLMError) -> dict[str, Any]:
    detail = scrub(str(exc).removeprefix(f"{exc.kind}: "), known_secrets())
    message = f"membench's LLM client failed ({exc.kind}, {exc.attempts} attempt(s); not retried): {detail}"
    return {
        "error": {
            "message": message,
            "type": LLM_ERROR_TYPE,
            "param": None,
            "code": exc.kind,
            "attempts": exc.attempts,
            "detail": detail,
        }
    }


def llm_error_of(exc: BaseException) -> LLMError | None:
    """The ``LLMError`` behind a library's exception for a call the proxy failed, or None.

    Looks through the exception and its causes for an ``LLMError`` or for an API error whose body is the
    proxy's (the openai SDK keeps the ``error`` object as ``body``), so the record keeps the kind and
    attempts of membench's own client instead of a generic library error.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, LLMError):
            return current
        body = getattr(current, "body", None)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body = body["error"]
        if isinstance(body, dict) and body.get("type") == LLM_ERROR_TYPE:
            attempts = body.get("attempts")
            return LLMError(
                str(body.get("code") or "fatal"),
                str(body.get("detail") or body.get("message") or ""),
                attempts if isinstance(attempts, int) else 1,
            )
        current = current.__cause__ or current.__context__
    return None


def openai_error_kind(exc: BaseException | None) -> str:
    """The ``LLMError`` kind of an openai SDK exception (litellm's subclass them): whether waiting or a
    retry could help. For a library's own call that never reached membench's client; anything else
    (None: no openai error underneath) is fatal."""
    import openai

    if isinstance(exc, openai.RateLimitError):
        return "rate_limit"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, (openai.APIConnectionError, openai.InternalServerError)):
        return "transient"
    return "fatal"


async def run_in_own_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a new thread, awaited: ``asyncio.to_thread`` for a call that may call
    the proxy (see the module docstring). The context is copied, as ``to_thread`` does."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(outcome: Callable[[], object]) -> None:
        if not done.done():  # the awaiting task may have been cancelled meanwhile
            outcome()

    def run() -> None:
        try:
            outcome = functools.partial(done.set_result, context.run(fn, *args, **kwargs))
        except BaseException as exc:
            outcome = functools.partial(done.set_exception, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed while the call ran: nobody awaits it
            loop.call_soon_threadsafe(settle, outcome)

    name = f"membench-llm-caller-{getattr(fn, '__name__', 'call')}"
    threading.Thread(target=run, name=name, daemon=True).start()
    return await done


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """The next request on the connection, or None when the client closed it between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _Refused(400, "the connection closed inside a request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _Refused(431, "request headers too large") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _Refused(400, f"not an HTTP/1.x request line: {lines[0][:100]!r}")
    method, path, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise _Refused(411, "the membench LLM proxy needs a Content-Length, not a chunked body")
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        raise _Refused(400, "Content-Length is not a number") from None
    if not 0 <= length <= _BODY_LIMIT:
        raise _Refused(413, f"request bodies are limited to {_BODY_LIMIT} bytes")
    body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return _Request(method, path, keep_alive, body, headers)


async def _write(
    writer: asyncio.StreamWriter,
    status: int,
    payload: dict[str, Any],
    headers: Mapping[str, str],
    *,
    keep_alive: bool,
) -> None:
    data = json.dumps(payload).encode()
    lines = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
    await writer.drain()
