"""The retry policy: classification, Retry-After, backoff bounds, budgets, and key scrubbing."""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import random
from collections.abc import Awaitable, Callable

import pytest

from membench.core.errors import LLMError
from membench.llm.env import known_secrets, scrub
from membench.llm.retry import MalformedResponse, RetryPolicy, classify, described, retry_after_s


class _Response:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers


class StatusError(Exception):
    """Shaped like an SDK error: a status code and the HTTP response."""

    def __init__(self, status: int, headers: dict[str, str] | None = None, message: str = "") -> None:
        super().__init__(message or f"HTTP {status}")
        self.status_code = status
        self.response = _Response(status, headers or {})


class RateLimitError(Exception):
    """Named like litellm's, without a status code: the name alone must classify it."""


class ContextWindowExceededError(StatusError):
    pass


class Timeout(StatusError):
    """litellm's Timeout has status 408 and subclasses APIConnectionError."""


class Recorder:
    """A ``sleep`` that returns at once and remembers what it was asked."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def failing(*errors: BaseException, result: str = "ok") -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call that raises ``errors`` in turn and then returns ``result``; also its call counter."""
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return result

    return call, calls


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (StatusError(429), "rate_limit"),
        (RateLimitError("slow down"), "rate_limit"),
        (StatusError(500), "transient"),
        (StatusError(503), "transient"),
        (StatusError(409), "transient"),
        (StatusError(408), "timeout"),
        (Timeout(408), "timeout"),
        (TimeoutError(), "timeout"),
        (ConnectionResetError(), "transient"),
        (MalformedResponse("empty content"), "transient"),
        (StatusError(400), "fatal"),
        (StatusError(401), "fatal"),
        (StatusError(403), "fatal"),
        (StatusError(404), "fatal"),
        (ContextWindowExceededError(400), "fatal"),
        (ValueError("a bug"), "fatal"),
    ],
)
def test_classify(exc: BaseException, kind: str) -> None:
    assert classify(exc) == kind


def test_retry_after_in_seconds_milliseconds_and_http_dates() -> None:
    assert retry_after_s(StatusError(429, {"Retry-After": "7"})) == 7.0
    assert retry_after_s(StatusError(429, {"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_s(StatusError(429, {"Retry-After": date}), now=now) == pytest.approx(30.0)
    assert retry_after_s(StatusError(429, {"Retry-After": "soon"})) is None
    assert retry_after_s(StatusError(429)) is None


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=10.0, rng=random.Random(0))
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 10.0)]:
        waits = [policy.backoff_s(attempt, StatusError(500)) for _ in range(200)]
        assert min(waits) >= 0.0 and max(waits) <= ceiling
        assert max(waits) > 0.8 * ceiling  # jitter spreads over the whole range
    assert policy.backoff_s(1, StatusError(429, {"Retry-After": "4"})) == 4.0
    assert policy.backoff_s(1, StatusError(429, {"Retry-After": "600"})) == 10.0


def test_transient_failures_are_retried_and_waits_recorded() -> None:
    sleep = Recorder()
    call, calls = failing(StatusError(500), StatusError(429, {"Retry-After": "3"}))
    outcome = asyncio.run(RetryPolicy(sleep=sleep, rng=random.Random(1)).run(call))
    assert (outcome.value, outcome.attempts, calls[0]) == ("ok", 3, 3)
    assert len(sleep.waits) == 2 and sleep.waits[1] == 3.0
    assert outcome.waited_s == pytest.approx(sum(sleep.waits))


def test_fatal_errors_are_not_retried() -> None:
    sleep = Recorder()
    call, calls = failing(StatusError(401))
    with pytest.raises(LLMError) as info:
        asyncio.run(RetryPolicy(sleep=sleep).run(call))
    assert (info.value.kind, info.value.attempts, calls[0], sleep.waits) == ("fatal", 1, 1, [])


def test_gives_up_after_max_attempts_with_the_last_kind() -> None:
    sleep = Recorder()
    call, calls = failing(*[StatusError(503)] * 10)
    with pytest.raises(LLMError) as info:
        asyncio.run(RetryPolicy(max_attempts=4, sleep=sleep).run(call))
    assert (info.value.kind, info.value.attempts, calls[0], len(sleep.waits)) == ("transient", 4, 4, 3)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_gives_up_when_the_total_wait_budget_would_be_exceeded() -> None:
    sleep = Recorder()
    call, calls = failing(*[StatusError(429, {"Retry-After": "40"})] * 10)
    with pytest.raises(LLMError, match="budget") as info:
        asyncio.run(RetryPolicy(max_total_wait_s=100, sleep=sleep).run(call))
    assert info.value.kind == "rate_limit"
    assert sleep.waits == [40.0, 40.0] and calls[0] == 3


def test_error_messages_never_carry_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme-secret-value-123")
    leaky = StatusError(
        401,
        message="Incorrect key sk-live-abcdef123456; header Bearer tok-zzz999; "
        "also acme-secret-value-123 and pw-777777",
    )
    call, _ = failing(leaky)
    with pytest.raises(LLMError) as info:
        asyncio.run(RetryPolicy(sleep=Recorder()).run(call, secrets=lambda: known_secrets("pw-777777")))
    message = str(info.value)
    for secret in ("sk-live-abcdef123456", "tok-zzz999", "acme-secret-value-123", "pw-777777"):
        assert secret not in message
    assert "Incorrect key" in message and "***" in message


def test_the_secrets_are_gathered_only_for_a_failure() -> None:
    asked: list[int] = []

    def secrets() -> list[str]:
        asked.append(1)
        return ["pw-777777"]

    call, _ = failing(StatusError(503, message="busy, pw-777777"))
    outcome = asyncio.run(RetryPolicy(sleep=Recorder()).run(call, secrets=secrets))
    assert outcome.value == "ok" and outcome.attempts == 2
    assert asked == [1]  # the failed attempt's message was scrubbed; the success asked for nothing


def test_a_failure_to_gather_the_secrets_never_carries_the_provider_s_error() -> None:
    def secrets() -> list[str]:
        raise OSError("environment unreadable")

    call, _ = failing(StatusError(401, message="Incorrect key sk-live-abcdef123456"))
    with pytest.raises(OSError) as info:
        asyncio.run(RetryPolicy(sleep=Recorder()).run(call, secrets=secrets))
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_scrub_replaces_the_longest_secret_whole() -> None:
    assert scrub("key=abcdef-ghijkl", ["abcdef", "abcdef-ghijkl"]) == "key=***"


def test_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


class InternalServerError(Exception):
    """Named as litellm's, whose message repeats the class name twice before the cause."""


def test_a_message_names_its_class_once() -> None:
    """litellm's ``litellm.InternalServerError: InternalServerError: ...`` echo is cut down, so that the
    cause fits a terminal line; other messages keep their text."""
    echoed = InternalServerError(
        "litellm.InternalServerError: InternalServerError: OpenAIException - Connection error."
    )
    assert described(echoed) == "InternalServerError: OpenAIException - Connection error."
    assert described(ValueError("InternalServerError: not an echo")) == (
        "ValueError: InternalServerError: not an echo"
    )
    assert described(TimeoutError()) == "TimeoutError"


def _openai_error(name: str, status: int | None = None, headers: dict[str, str] | None = None) -> Exception:
    """One of the openai SDK's own exceptions, as its client raises them for a chat request."""
    openai = pytest.importorskip("openai")
    # The SDK's HTTP library (httpx or httpx2, by SDK version).
    http = importlib.import_module(type(openai.DEFAULT_CONNECTION_LIMITS).__module__.split(".")[0])
    request = http.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    cls: type[Exception] = getattr(openai, name)
    if status is None:
        return cls(request=request)  # type: ignore[call-arg]
    response = http.Response(status, headers=headers or {}, request=request)
    return cls(f"Error code: {status} - refused", response=response, body=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("APIConnectionError", None, "transient"),
        ("APITimeoutError", None, "timeout"),
        ("RateLimitError", 429, "rate_limit"),
        ("InternalServerError", 500, "transient"),
        ("InternalServerError", 503, "transient"),
        ("ConflictError", 409, "transient"),
        ("BadRequestError", 400, "fatal"),
        ("AuthenticationError", 401, "fatal"),
        ("PermissionDeniedError", 403, "fatal"),
        ("NotFoundError", 404, "fatal"),
        ("UnprocessableEntityError", 422, "fatal"),
    ],
)
def test_the_openai_sdks_errors_are_classified(name: str, status: int | None, kind: str) -> None:
    assert classify(_openai_error(name, status)) == kind


def test_the_openai_sdks_errors_carry_retry_after_and_read_well() -> None:
    limited = _openai_error("RateLimitError", 429, {"Retry-After": "2"})
    assert retry_after_s(limited) == 2.0
    assert described(limited) == "RateLimitError: Error code: 429 - refused"
    assert described(_openai_error("APIConnectionError")) == "APIConnectionError: Connection error."
    assert described(_openai_error("APITimeoutError")) == "APITimeoutError: Request timed out."
