"""The worker side: run one membench adapter in this process and answer the protocol on stdio.

Started by ``client.WorkerSystem`` with the interpreter of the system's own environment. Standard
output carries protocol lines only, so before anything is imported the real stdout is set aside and
file descriptor 1 is pointed at standard error: a library that prints cannot corrupt the channel.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import resource
import sys
from typing import IO, Any

from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError
from membench.systems.worker.protocol import PROTOCOL_VERSION, decode, encode, error_payload

#: set by tests (and by anyone who wants the same guarantee): the worker refuses every connection
#: that leaves the machine, as the test suite's own guard does in its process.
LOOPBACK_ONLY_VAR = "MEMBENCH_LOOPBACK_ONLY"
#: the worker's last log line starts so, followed by its peak resident memory.
PEAK_RSS_PREFIX = "membench worker: peak RSS"


def _protocol_out() -> IO[bytes]:
    """The real standard output for protocol lines; fd 1 and ``sys.stdout`` go to stderr from here on."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine: the one rule of both network guards,
    the worker's below and the test suite's (tests/conftest.py)."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_off_machine(event: str, args: tuple[Any, ...]) -> None:
    """An audit hook: a connection to, or a name lookup of, anything off this machine raises before
    it is made."""
    if event == "socket.connect":
        address = args[1]
        if not (isinstance(address, tuple) and address):
            return  # a Unix socket path
        target: Any = address
        host = str(address[0])
    elif event == "socket.getaddrinfo":
        if args[0] is None:
            return
        target = host = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    else:
        return
    if not is_loopback_host(host):
        refusal = f"membench worker: {target!r} is off this machine (loopback only)"
        print(refusal, file=sys.stderr)  # into worker.log: a library may swallow the exception
        raise ConnectionRefusedError(refusal)


class Server:
    """One system, one event loop, one request at a time (the parent waits for each response)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.system: Any = None

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        call_id = request.get("id")
        try:
            method, params = str(request.get("method")), request.get("params") or {}
            result = self.loop.run_until_complete(self._dispatch(method, params))
        except Exception as exc:
            return {"id": call_id, "error": error_payload(exc), "usage": self._usage()}
        return {"id": call_id, "result": result, "usage": self._usage()}

    def _usage(self) -> dict[str, Any]:
        if self.system is None:
            return {}
        return {role: usage.model_dump() for role, usage in self.system.take_usage().items()}

    async def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        from membench.core.types import Episode, Session

        if method == "start":
            return self._start(params)
        if self.system is None:
            raise ConfigError(f"the worker was sent '{method}' before 'start'")
        if method == "reset":
            await self.system.reset(Episode.model_validate(params["episode"]))
        elif method == "ingest":
            await self.system.ingest(Session.model_validate(params["session"]))
        elif method == "settle":
            await self.system.settle()
        elif method == "retrieve":
            found = await self.system.retrieve(str(params["query"]), int(params["k"]))
            return [m.model_dump(mode="json") for m in found]
        elif method == "session_memories":
            found = await self.system.session_memories(Session.model_validate(params["session"]))
            return [m.model_dump(mode="json") for m in found]
        elif method == "answer":
            return str(await self.system.answer(str(params["question"]), int(params["k"])))
        elif method == "close":
            await self.system.close()
        else:
            raise ConfigError(f"the worker does not know the method '{method}'")
        return None

    def _start(self, params: dict[str, Any]) -> dict[str, Any]:
        from pathlib import Path

        from membench.core.plugins import import_object
        from membench.systems.base import LLMEndpoint, MemorySystem

        cls = import_object(str(params["system"]))
        if not (isinstance(cls, type) and issubclass(cls, MemorySystem)):
            raise ConfigError(f"{params['system']} is not a MemorySystem subclass")
        workdir = Path(str(params["workdir"]))
        workdir.mkdir(parents=True, exist_ok=True)
        self.system = cls(dict(params.get("options") or {}), workdir)
        endpoint = params.get("llm_endpoint")
        if endpoint:
            self.system.use_llm_endpoint(LLMEndpoint(**endpoint))
        caps = cls.capabilities
        return {
            "protocol": PROTOCOL_VERSION,
            "name": cls.name,
            "capabilities": {"session_memories": caps.session_memories, "answers": caps.answers},
        }


def main() -> int:
    out = _protocol_out()
    apply_offline_env()
    if os.environ.get(LOOPBACK_ONLY_VAR) == "1":
        sys.addaudithook(refuse_off_machine)
    server = Server()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = decode(line)
        response = server.handle(request)
        out.write(encode(response))
        if request.get("method") == "close":
            break
    # For benchmarks: a worker's memory is its own, not its parent's (BENCHMARKS.md reads this line).
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{PEAK_RSS_PREFIX} {peak_mb:.0f} MB", file=sys.stderr)
    return 0
