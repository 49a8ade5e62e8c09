"""The endpoint check: before the first episode, one cheap request to every LLM endpoint a run calls.

An unreachable endpoint used to cost every probe the whole retry budget (4 minutes for 27 probes)
and end as a "complete" run of errors whose cause was only inside records.jsonl. Each distinct model
and endpoint gets one ``LLMClient.ping`` (two quick tries, never cached), all at once, so the answer
comes within seconds and before anything is written; a failure names the roles, the model, the
endpoint (never a key: URLs go through ``public_url``) and the cause.

A local ``llamacpp/`` model is not pinged (``remote_clients``): starting its server is its own check
(a missing or damaged file fails loudly, naming it), and a ping would load the model that a run
answered from the cache never needs.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from membench.core.errors import LLMError, MembenchError
from membench.llm.cache import public_url

if TYPE_CHECKING:
    from membench.llm.client import LLMClient


@dataclass(frozen=True)
class EndpointFailure:
    """One model at one endpoint that did not answer the check, and which roles of the run use it."""

    roles: tuple[str, ...]
    model: str
    endpoint: str
    cause: str

    def line(self) -> str:
        roles = " and ".join(self.roles)
        return (
            f"{roles} LLM {self.model} at {self.endpoint} failed the endpoint check, so nothing "
            f"was run (--no-check skips it): {self.cause}"
        )


class EndpointCheckFailed(MembenchError):
    """At least one endpoint did not answer; the message has one line per failure."""

    def __init__(self, failures: Sequence[EndpointFailure]) -> None:
        self.failures = tuple(failures)
        super().__init__("\n".join(failure.line() for failure in self.failures))


def where(client: LLMClient) -> str:
    """The endpoint as a person reads it: the base URL without credentials, else the provider's own
    (or the local model's file)."""
    if client.api_base:
        return public_url(client.api_base) or client.api_base
    provider = client.endpoint.removeprefix("provider:")
    return f"{provider}'s default endpoint" if provider != client.endpoint else client.endpoint


def remote_clients(clients: Sequence[LLMClient]) -> list[LLMClient]:
    """The clients whose endpoint the check pings: all but local ``llamacpp/`` models."""
    return [client for client in clients if client.local is None]


def check_endpoints(clients: Sequence[LLMClient]) -> None:
    """Ping every distinct (model, endpoint) of ``clients`` at once; raise ``EndpointCheckFailed``
    naming each that did not answer. Roles sharing a model and endpoint share its one request."""
    from membench.llm.client import warm_up

    warm_up(clients)  # the LLM libraries' imports, before the loop the pings share
    groups: dict[tuple[str, str | None], list[LLMClient]] = {}
    for client in clients:
        groups.setdefault((client.model, client.api_base), []).append(client)

    async def ping_all() -> list[str | None]:
        return list(await asyncio.gather(*(_cause(members[0]) for members in groups.values())))

    with warnings.catch_warnings():
        # litellm leaves a coroutine in the default executor when a call fails; the loop closing right
        # after the ping drops it, and Python's warning about it would bury the one line that matters.
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        causes = asyncio.run(ping_all()) if groups else []
    failures = [
        EndpointFailure(tuple(c.role for c in members), members[0].model, where(members[0]), cause)
        for members, cause in zip(groups.values(), causes, strict=True)
        if cause is not None
    ]
    if failures:
        raise EndpointCheckFailed(failures)


async def _cause(client: LLMClient) -> str | None:
    """Why ``client``'s endpoint did not answer its ping, or None when it did."""
    try:
        await client.ping()
    except LLMError as exc:
        return str(exc)
    return None
