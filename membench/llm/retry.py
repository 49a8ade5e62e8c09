"""Our retry policy for LLM calls: classify the failure, back off with jitter, honour Retry-After.

The transports' own retries (the openai SDK's, litellm's) are turned off so that every failed
attempt is visible here: we decide what is worth retrying (rate limits, server errors, timeouts,
answers we could not use), how long to wait (exponential backoff with full jitter, or exactly what
the server's Retry-After asks), and when to give up (attempts, a cap on one wait and on the total).
The final failure is an ``LLMError`` whose ``kind`` and ``attempts`` go into the record, and whose
message has no API key.

Classification reads ``status_code`` and the exception's class names rather than importing
litellm or openai, so this module stays cheap to import and to unit-test. The names are the openai
SDK's (``APIConnectionError``, ``APITimeoutError``, ``RateLimitError``, ``AuthenticationError``, ...),
which litellm's exceptions subclass, so both transports fail into the same kinds.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from membench.core.errors import LLMError
from membench.llm.env import scrub

T = TypeVar("T")
ErrorKind = Literal["rate_limit", "transient", "timeout", "fatal"]

_TIMEOUT_NAMES = frozenset(
    {"Timeout", "APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout"}
)
_CONNECTION_NAMES = frozenset(
    {"APIConnectionError", "ConnectError", "RemoteProtocolError", "ServerDisconnectedError"}
)
_FATAL_NAMES = frozenset(
    {"ContextWindowExceededError", "AuthenticationError", "BadRequestError", "PermissionDeniedError"}
)


class MalformedResponse(Exception):
    """The provider answered 200 but with nothing usable (no choices, empty content): worth a retry."""


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def described(exc: BaseException) -> str:
    """``"<class>: <message>"``, once: litellm's messages repeat the class (``"litellm.InternalServerError:
    InternalServerError: OpenAIException - Connection error."``), which would push the cause past the
    width of a terminal line and of the error summary's example."""
    name = type(exc).__name__
    echo = re.compile(rf"^(?:litellm\.)?{re.escape(name)}:\s*")
    text = str(exc)
    while echo.match(text):
        text = echo.sub("", text, count=1)
    return f"{name}: {text}" if text else name


def _status_code(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def classify(exc: BaseException) -> ErrorKind:
    """Which kind of failure ``exc`` is; unknown exceptions are fatal (a bug is not retried)."""
    if isinstance(exc, MalformedResponse):
        return "transient"
    names = _class_names(exc)
    if isinstance(exc, TimeoutError) or names & _TIMEOUT_NAMES:
        return "timeout"
    if "RateLimitError" in names:
        return "rate_limit"
    if names & _FATAL_NAMES:
        return "fatal"
    status = _status_code(exc)
    if status is not None:
        if status == 429:
            return "rate_limit"
        if status == 408:
            return "timeout"
        if status == 409 or status >= 500:
            return "transient"
        if 400 <= status < 500:
            return "fatal"
    if isinstance(exc, ConnectionError) or names & _CONNECTION_NAMES:
        return "transient"
    return "fatal"


def _headers(exc: BaseException) -> Mapping[str, Any]:
    """Response headers carried by the exception, with lower-case names."""
    for source in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "litellm_response_headers", None),
        getattr(exc, "headers", None),
    ):
        if source:
            return {str(k).lower(): v for k, v in dict(source).items()}
    return {}


def retry_after_s(exc: BaseException, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, or ``Retry-After`` in seconds or as
    an HTTP date), or None when it did not say."""
    headers = _headers(exc)
    if "retry-after-ms" in headers:
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000.0)
        except (TypeError, ValueError):
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A successful call and what it took: attempts made and seconds spent waiting between them."""

    value: T
    attempts: int
    waited_s: float


@dataclass
class RetryPolicy:
    """When to retry an LLM call and how long to wait.

    ``sleep`` is injectable so that tests (and only tests) can make waits instant while still
    seeing what was asked. Waits between attempts never hold a connection slot: the caller
    acquires its slot inside ``call``.
    """

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_total_wait_s: float = 300.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff_s(self, attempt: int, exc: BaseException) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        asked = retry_after_s(exc)
        if asked is not None:
            return min(asked, self.max_delay_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return self.rng.uniform(0.0, ceiling)

    async def run(
        self, call: Callable[[], Awaitable[T]], *, secrets: Callable[[], Iterable[str]] = tuple
    ) -> Outcome[T]:
        """Run ``call`` until it succeeds, fails fatally, or the attempts or wait budget run out.

        The raised ``LLMError`` deliberately drops the original exception (``from None``): provider
        exceptions can echo request details, and the error must never carry an API key. ``secrets``
        gives what to scrub from its message; it is asked only when a call fails (scanning the
        environment on every call was a tenth of a millisecond per request, on the event loop).
        """
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                value = await call()
            except Exception as exc:
                failure = exc
            else:
                return Outcome(value=value, attempts=attempt, waited_s=waited)
            # Out of the except block: nothing raised from here on (``secrets`` included) carries the
            # provider's exception as its context.
            kind = classify(failure)
            message = scrub(described(failure), secrets())
            if kind == "fatal":
                raise LLMError(kind, message, attempt) from None
            if attempt >= self.max_attempts:
                raise LLMError(kind, f"gave up after {attempt} attempts; last: {message}", attempt) from None
            wait = self.backoff_s(attempt, failure)
            if waited + wait > self.max_total_wait_s:
                raise LLMError(
                    kind,
                    f"gave up after {attempt} attempts: waiting {wait:.1f}s more would exceed the "
                    f"{self.max_total_wait_s:.0f}s retry budget; last: {message}",
                    attempt,
                ) from None
            del failure  # not held across the wait (its traceback holds the call's frames)
            await self.sleep(wait)
            waited += wait


async def no_wait(_seconds: float) -> None:
    """A ``RetryPolicy.sleep`` for tests: return at once."""
