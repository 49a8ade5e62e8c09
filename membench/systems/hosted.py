"""What the adapters of hosted services and self-run servers (Zep, Supermemory, Memobase, Letta) share.

Each of them names its episodes so that a resumed run finds what it left, hands the service times it
can read, waits for indexing the service does on its own, and turns the SDK's failures into one-line
errors that never quote the key. The rules for those live here once; what each SDK raises, and how
each adapter words its errors, stays in the adapter.

Only the standard library and membench's own modules are imported: naming a system imports its
adapter, and that must stay cheap.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from membench.core.errors import ConfigError, MembenchError
from membench.core.urls import public_url
from membench.llm.env import known_secrets, scrub

#: the HaluMem release's time format (``Dec 15, 2025, 06:11:23``); ISO 8601 is read as it is.
HALUMEM_LAYOUTS = ("%b %d, %Y, %H:%M:%S",)
#: the first wait between two polls of a service's indexing, and the longest one.
FIRST_POLL_S = 0.05
MAX_POLL_S = 2.0
#: the HTTP statuses that mean the service refused the key: a ``refused`` failure (``Endpoint.failure``).
REFUSED_STATUSES = frozenset({401, 403})
#: the longest message an error keeps: a service's error body can be a whole HTML page.
_MAX_MESSAGE = 1000

#: what failed in a request. Only two kinds decide anything (see ``Endpoint.failure``).
FailureKind = Literal["refused", "unreachable", "timeout", "status", "other"]


class ServiceError(MembenchError):
    """A hosted service or a self-run server failed a request, or failed (or did not finish) its own
    processing of what was sent: recorded as that episode's error, unlike a ConfigError."""


# ---------------------------------------------------------------- names and times


def namespace_prefix(workdir: Path, system: str) -> str:
    """A random prefix kept beside the run's worker folders (``state/``): the same for every worker,
    episode and resume of this run, so a resumed episode, whichever worker takes it, finds (and deletes)
    what its interrupted attempt left at the service; and never the same for two runs, or two machines
    running the same configuration against one account. The first worker to ask writes it."""
    path = workdir.parent / f"{system}-namespace-prefix"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x") as out:  # exclusive: two workers starting at once agree on one prefix
            out.write(secrets.token_hex(6))
    except FileExistsError:
        pass
    return path.read_text().strip()


def episode_name(prefix: str, episode_id: str, *, unsafe: re.Pattern[str], keep: int) -> str:
    """The service-side name of an episode: ``membench-<prefix>-<episode id>-<hash>``, readable in the
    service's console, with the characters the service refuses (``unsafe``) replaced and the id cut to
    ``keep`` characters; the hash of the whole id keeps two ids that differ only there apart."""
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:8]
    return f"membench-{prefix}-{unsafe.sub('_', episode_id)[:keep]}-{digest}"


def parse_time(value: str | None, layouts: Iterable[str] = HALUMEM_LAYOUTS) -> datetime | None:
    """``value`` as a datetime (naive when it names no zone), read as ISO 8601 or one of ``layouts``;
    None when it is absent or unreadable: a dataset's free-form time ("day three") is no error, the
    service is then given no time and uses its own."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    for layout in layouts:
        try:
            return datetime.strptime(value, layout)
        except ValueError:
            continue
    return None


def rfc3339(value: str | None) -> str | None:
    """``value`` as the RFC 3339 time the hosted APIs take (``2024-03-08T10:00:00Z``; a time without a
    zone is taken as UTC), or None when ``parse_time`` cannot read it."""
    moment = parse_time(value)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- options


def service_url(system: str, value: str, *, what: str = "an http(s) URL") -> str:
    """``value`` without its trailing slash; a ConfigError (quoting it without credentials) unless it
    is an http(s) URL with a host, so a mistyped ``-S base_url`` fails before the first episode."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{system}: base_url must be {what}, got {public_url(value)!r}")
    return value.rstrip("/")


def positive_seconds(system: str, option: str, value: str) -> float:
    """A bound on a wait, in seconds: finite and positive, since an endless wait on a stuck service
    would hang the whole run."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{system}: {option} must be a positive number of seconds, got {value!r}")
    return seconds


def without_options(identity: dict[str, Any], operational: Iterable[str]) -> dict[str, Any]:
    """``identity`` without the options that only change how long membench waits: raising a timeout
    for a resumed run must not make it a different run."""
    dropped = set(operational)
    return {**identity, "options": {k: v for k, v in identity["options"].items() if k not in dropped}}


# ---------------------------------------------------------------- waiting


async def poll_until(
    done: Callable[[], Awaitable[bool]],
    *,
    timeout_s: float,
    timed_out: Callable[[], Exception],
    first_wait_s: float = FIRST_POLL_S,
    max_wait_s: float = MAX_POLL_S,
) -> None:
    """Await ``done()`` until it says True, and raise ``timed_out()`` once ``timeout_s`` is spent.

    Services index what they were sent in the background, and ``settle`` must not return before a
    probe can find it. The first poll is at once (small sessions are often done), then after
    ``first_wait_s``, doubling up to ``max_wait_s`` (sparing the service while a long one runs), and
    never past the deadline. ``done`` raises itself when the service reports a failure.
    """
    deadline = time.monotonic() + timeout_s
    wait = first_wait_s
    while True:
        finished = await done()
        remaining = deadline - time.monotonic()
        if finished:
            return
        if remaining <= 0:
            raise timed_out()
        await asyncio.sleep(min(wait, remaining))
        wait = min(wait * 2, max_wait_s)


# ---------------------------------------------------------------- calls and their failures


@dataclass(frozen=True)
class Endpoint:
    """The service an adapter calls, as its errors may name it: ``system`` starts every message,
    ``base_url`` is quoted only without credentials (``url``), ``key_env`` holds the key.

    ``self_hosted``: a server the user runs (Memobase, Letta), not a hosted service (Zep,
    Supermemory). A refused connection to the first means it is not running where ``-S base_url``
    says, which the user must fix before any episode can run; to the second, that the service or the
    network failed, an error of that episode like any other.
    """

    system: str
    base_url: str
    key_env: str
    self_hosted: bool

    @property
    def url(self) -> str:
        return public_url(self.base_url) or ""

    def scrub(self, text: str) -> str:
        """``text`` without the key, a password in ``base_url`` or anything shaped like a credential,
        and cut short: SDK errors quote requests, headers and bodies, and errors are recorded."""
        hidden = known_secrets(os.environ.get(self.key_env), urlsplit(self.base_url).password)
        return scrub(text, hidden)[:_MAX_MESSAGE]

    def failure(self, kind: FailureKind, message: str) -> MembenchError:
        """The error for a failed request, worded by the adapter (``message``, after ``system: ``).

        A refused key is the user's configuration (a ConfigError, which stops the run), as is a
        self-run server that does not answer; anything else is a ServiceError of the episode.
        """
        text = self.scrub(f"{self.system}: {message}")
        if kind == "refused" or (kind == "unreachable" and self.self_hosted):
            return ConfigError(text)
        return ServiceError(text)


async def call_in_thread(
    call: Callable[[], Any],
    as_error: Callable[[Exception], MembenchError | None],
    missing: Callable[[Exception], bool] | None = None,
) -> Any:
    """Run a blocking SDK call in a thread (the runner's event loop serves other episodes meanwhile).

    A failure becomes ``as_error``'s error, raised without the original chained to it, since the
    original quotes the request and its headers; when ``as_error`` says None, the original is raised.
    A failure that ``missing`` recognises (a 404 when deleting what may be gone) returns None, and
    membench's own errors pass through as they are.
    """
    try:
        return await asyncio.to_thread(call)
    except MembenchError:
        raise
    except Exception as exc:
        if missing is not None and missing(exc):
            return None
        error = as_error(exc)
        if error is None:
            raise
        raise error from None
