"""membench's worker protocol: how the runner drives a memory system living in another process.

A worker is any program that reads requests on its standard input and writes responses on its
standard output, one JSON object per line (UTF-8), in order: the parent sends one request and waits
for its response before the next. Anything the worker wants to say to a person goes to standard error
(membench keeps it in the worker's log and shows its last lines if the worker dies). Version 1:

    request   {"id": 7, "method": "retrieve", "params": {"query": "...", "k": 10}}
    response  {"id": 7, "result": [{"text": "...", "score": 0.8}], "usage": {}}
    failure   {"id": 7, "error": {"type": "KeyError", "message": "...", "kind": "error"}}

Methods and their params → result:

    start            {"system", "options", "workdir", "llm_endpoint"} → {"protocol": 1, "name",
                     "capabilities": {"session_memories": bool, "answers": bool}}  (always first)
    reset            {"episode": Episode}            → null   (forget everything; a new episode)
    ingest           {"session": Session}            → null
    settle           {}                              → null   (return once ingested data is searchable)
    retrieve         {"query": str, "k": int}        → [Memory]  (best first)
    session_memories {"session": Session}            → [Memory]  (only if declared)
    answer           {"question": str, "k": int}     → str       (only if declared)
    close            {}                              → null, then the worker exits

Episode, Session and Memory are the JSON forms of ``membench.core.types`` (a Memory needs only
``text``; ``score``, ``session_id``, ``timestamp`` and ``metadata`` are optional). ``usage`` (optional)
is the LLM usage of the call by role, as ``membench.core.types.Usage`` fields: calls the worker made
itself, never those sent to ``llm_endpoint`` (membench counts those where it serves them). ``kind``
says what failed: ``config`` (a bad option or a missing library: the run stops), ``not_supported``,
``llm:<rate_limit|transient|timeout|fatal>`` (an LLM call failed for good; ``attempts`` may say how
many tries it took), or ``error``.
``llm_endpoint`` is null or ``{"base_url", "model", "api_key"}``: an OpenAI-compatible URL on loopback,
served by the parent, that the system's library should send its LLM calls to.
"""

from __future__ import annotations

import json
from typing import Any

from membench.core.errors import ConfigError, LLMError, MembenchError, NotSupported

PROTOCOL_VERSION = 1
METHODS = ("start", "reset", "ingest", "settle", "retrieve", "session_memories", "answer", "close")


class WorkerError(MembenchError):
    """A worker reported a failure of the system it runs (the system's own exception, by type)."""

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        super().__init__(f"{type_name}: {message}")


class WorkerCrashed(MembenchError):
    """The worker process died, or broke the protocol; its episode cannot go on."""


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line. ``ensure_ascii`` keeps the line free of raw line separators."""
    return (json.dumps(message, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def decode(line: bytes) -> dict[str, Any]:
    """A protocol line as a dict, or WorkerCrashed saying what was wrong with it."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkerCrashed(f"the worker wrote a line that is not JSON ({exc}): {line[:200]!r}") from None
    if not isinstance(message, dict):
        raise WorkerCrashed(f"the worker wrote a JSON line that is not an object: {line[:200]!r}")
    return message


def error_payload(exc: BaseException) -> dict[str, Any]:
    """How a worker reports ``exc``: its type, message and kind (see the module docstring)."""
    if isinstance(exc, ConfigError):
        kind = "config"
    elif isinstance(exc, NotSupported):
        kind = "not_supported"
    elif isinstance(exc, LLMError):
        kind = f"llm:{exc.kind}"
    else:
        kind = "error"
    payload: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc), "kind": kind}
    if isinstance(exc, LLMError):
        payload["attempts"] = exc.attempts
    return payload


def raise_reported(error: Any) -> None:
    """Raise, in the parent, the exception a worker's ``error`` payload stands for."""
    if not isinstance(error, dict):
        raise WorkerCrashed(f"the worker sent an error that is not an object: {error!r}")
    kind = str(error.get("kind", "error"))
    message = str(error.get("message", ""))
    type_name = str(error.get("type", "Error"))
    if kind == "config":
        raise ConfigError(message)
    if kind == "not_supported":
        raise NotSupported(message)
    if kind.startswith("llm:"):
        llm_kind = kind.split(":", 1)[1]
        prefix = f"{llm_kind}: "
        text = message[len(prefix) :] if message.startswith(prefix) else message
        raise LLMError(llm_kind, text, attempts=int(error.get("attempts", 1)))
    raise WorkerError(type_name, message)
