"""The parent's side of the worker protocol: a MemorySystem whose every verb is a request to a worker.

Two kinds of system run this way. A built-in adapter whose libraries conflict with membench's declares
``environment = "NAME"``; the runner then drives ``worker_class_for(thatclass)``, which starts
``python -m membench.systems.worker`` with that environment's interpreter and has it build the adapter
there. A system written in another language subclasses ``WorkerSystem`` and sets ``command``: any
program that speaks the protocol (``protocol``'s docstring is its whole specification).

A worker that dies (a segfault, the OOM killer, an exception outside the protocol) fails the call in
flight and every later call of the same episode at once, naming the exit status and quoting the last
lines of its log; the next ``reset`` starts a fresh worker, so the run goes on with the next episode
and a re-run (``--retry-errors``) redoes the lost one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from membench.core.errors import ConfigError
from membench.core.types import Episode, Memory, Session, Usage, UsageByRole, merge_usage
from membench.llm.env import known_secrets, scrub
from membench.llm.types import LLM
from membench.systems.base import MemorySystem
from membench.systems.worker.protocol import (
    PROTOCOL_VERSION,
    WorkerCrashed,
    decode,
    encode,
    raise_reported,
)

#: the largest protocol line read (a whole episode goes out in one ``reset``; memories come back in one).
_LINE_LIMIT = 1 << 28
#: how long a closing worker may take to exit before it is killed.
_CLOSE_GRACE_S = 10.0
LOG_NAME = "worker.log"
#: written to the log before each worker starts: a death notice quotes only the current worker's lines.
SPAWN_MARK = "--- membench: starting worker:"


class WorkerSystem(MemorySystem):
    """A memory system in a worker process. Subclass and set ``command`` for a program of your own;
    built-in adapters with an ``environment`` get a subclass from ``worker_class_for``."""

    #: the worker's command line (a system in another language); empty: membench's own worker.
    command: ClassVar[tuple[str, ...]] = ()
    #: the adapter the worker builds (``module:Class`` or ``file.py:Class``); for membench's own worker.
    target: ClassVar[str] = ""
    #: the interpreter membench's own worker runs in; None: the environment's.
    python: ClassVar[Path | None] = None

    #: how long one call may take before the worker is taken for hung, killed, and its episode lost.
    call_timeout_s: ClassVar[float] = 3600.0

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        # MemorySystem's, not the adapter's: the adapter's own __init__ checks or loads its libraries,
        # which exist only in its environment; it runs there, in the worker. (Attributes here are named
        # _worker_*: the class derives from the adapter, whose own names must not clash with them.)
        MemorySystem.__init__(self, options, workdir, llm)
        self._worker_process: asyncio.subprocess.Process | None = None
        self._worker_dead: str | None = None  # why the current episode's worker cannot go on
        self._worker_usage: UsageByRole = {}
        self._worker_next_id = 0
        self._worker_lock = asyncio.Lock()
        self._worker_launch = self._command_line()  # fails here, before any work, if the env is missing

    def _command_line(self) -> list[str]:
        if self.command:
            return list(self.command)
        if self.python is not None:
            return [str(self.python), "-m", "membench.systems.worker"]
        from membench.systems.envs import env_status

        status = env_status(str(self.environment))
        problem = status.problem()
        if problem is not None:
            raise ConfigError(f"system '{self.name}' runs in its own environment, and {problem}")
        return [str(status.python), "-m", "membench.systems.worker"]

    def identity(self) -> dict[str, Any]:
        """The adapter's own identity, with what decides the worker's code: the versions its
        environment pins, or, for a program of your own, its command and the hash of its files."""
        identity = super().identity()
        if self.command:
            identity["worker"] = _command_identity(self.command)
        elif self.environment and self.python is None:
            from membench.systems.envs import pinned_packages

            identity["environment"] = {
                "name": self.environment,
                "packages": pinned_packages(self.environment),
            }
        return identity

    def describe(self) -> str:
        """The adapter's own line, and where it runs (its environment, or the worker's command)."""
        if self.command:
            where = Path(self.command[0]).name
        elif self.python is not None:
            where = self.python.name
        else:
            where = str(self.environment)
        return f"{super().describe()} [worker: {where}]"

    # ------------------------------------------------------------ the verbs

    async def reset(self, episode: Episode) -> None:
        if self._worker_dead is not None or self._worker_process is None:
            await self._stop()
            await self._spawn()
        await self._call("reset", {"episode": episode.model_dump(mode="json")})

    async def ingest(self, session: Session) -> None:
        await self._call("ingest", {"session": session.model_dump(mode="json")})

    async def settle(self) -> None:
        await self._call("settle", {})

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        return _memories(await self._call("retrieve", {"query": query, "k": k}))

    async def session_memories(self, session: Session) -> list[Memory]:
        return _memories(await self._call("session_memories", {"session": session.model_dump(mode="json")}))

    async def answer(self, question: str, k: int) -> str:
        return str(await self._call("answer", {"question": question, "k": k}))

    def take_usage(self) -> UsageByRole:
        """What the worker reported, and the calls served by the LLM endpoint: MemorySystem's own count
        (the adapter's ``take_usage`` belongs to the worker's side, not to this stand-in)."""
        usage, self._worker_usage = self._worker_usage, {}
        return merge_usage(usage, MemorySystem.take_usage(self))

    async def close(self) -> None:
        if self._worker_process is not None and self._worker_dead is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._call("close", {}), _CLOSE_GRACE_S)
        await self._stop()

    # ------------------------------------------------------------ the process

    async def _spawn(self) -> None:
        """Start a worker and have it build the system; any failure here stops the run (ConfigError):
        the next episode's worker would fail the same way."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if not self.command:
            env["PYTHONPATH"] = str(_package_link(self.workdir))
        env["PYTHONUNBUFFERED"] = "1"
        log_path = self.workdir / LOG_NAME
        with log_path.open("ab") as log:
            log.write(f"{SPAWN_MARK} {' '.join(self._worker_launch)}\n".encode())
            log.flush()
            try:
                self._worker_process = await asyncio.create_subprocess_exec(
                    *self._worker_launch,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                    env=env,
                    limit=_LINE_LIMIT,
                    start_new_session=True,  # Ctrl-C reaches membench, which closes its workers cleanly
                )
            except OSError as exc:
                raise ConfigError(
                    f"system '{self.name}': cannot start its worker {self._worker_launch[0]}: {exc}"
                ) from exc
        self._worker_dead = None
        try:
            endpoint = await self.llm_endpoint() if self.llm is not None else None
            started = await self._call(
                "start",
                {
                    "system": self.target,
                    "options": self.options,
                    "workdir": str(self.workdir / "system"),
                    "llm_endpoint": endpoint.__dict__ if endpoint is not None else None,
                },
            )
            self._check_start(started)
        except Exception as exc:
            await self._stop()
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"system '{self.name}': its worker could not start: {exc}") from exc

    def _check_start(self, started: Any) -> None:
        """The worker must be the system the run was planned for: its name and capabilities."""
        if not isinstance(started, dict) or started.get("protocol") != PROTOCOL_VERSION:
            raise ConfigError(
                f"system '{self.name}': its worker speaks protocol {started!r}, not {PROTOCOL_VERSION}"
            )
        if started.get("name") != self.name:
            raise ConfigError(f"system '{self.name}': its worker says it is {started.get('name')!r}")
        caps = started.get("capabilities") or {}
        declared = {
            "session_memories": self.capabilities.session_memories,
            "answers": self.capabilities.answers,
        }
        reported = {key: bool(caps.get(key, False)) for key in declared}
        if reported != declared:
            raise ConfigError(
                f"system '{self.name}': its worker reports capabilities {reported}, but the class declares "
                f"{declared}"
            )

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        async with self._worker_lock:
            if self._worker_dead is not None:
                raise WorkerCrashed(f"{self._worker_dead} (earlier in this episode)")
            process = self._worker_process
            if process is None or process.stdin is None or process.stdout is None:
                raise WorkerCrashed(f"system '{self.name}': no worker is running (reset starts one)")
            self._worker_next_id += 1
            call_id = self._worker_next_id
            try:
                process.stdin.write(encode({"id": call_id, "method": method, "params": params}))
                await process.stdin.drain()
                line = await asyncio.wait_for(process.stdout.readline(), self.call_timeout_s)
            except TimeoutError:
                self._worker_dead = await self._death_notice(
                    process, method, f"no answer within {self.call_timeout_s:.0f} s: killed"
                )
                raise WorkerCrashed(self._worker_dead) from None
            except (BrokenPipeError, ConnectionResetError, ValueError):  # ValueError: a line past the limit
                line = b""
            if not line:
                self._worker_dead = await self._death_notice(process, method)
                raise WorkerCrashed(self._worker_dead)
            try:
                response = decode(line)
                if response.get("id") != call_id:
                    raise WorkerCrashed(f"its worker answered request {response.get('id')} to {call_id}")
            except WorkerCrashed as exc:
                self._worker_dead = f"system '{self.name}': {exc}"
                raise WorkerCrashed(self._worker_dead) from None
            self._worker_usage = merge_usage(self._worker_usage, _usage(response.get("usage")))
            if "error" in response:
                raise_reported(response["error"])
            return response.get("result")

    async def _death_notice(
        self, process: asyncio.subprocess.Process, method: str, cause: str | None = None
    ) -> str:
        """Why the worker cannot go on, with the last lines of its log; a worker still running after
        its channel broke (or a hung one) is killed first, so none outlives its episode."""
        if cause is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 5.0)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            status = cause or "its channel broke while it ran: killed"
        elif process.returncode >= 0:
            status = f"exit status {process.returncode}"
        else:
            status = f"signal {-process.returncode}"
        tail = _log_tail(self.workdir / LOG_NAME, 5)
        verb = "failed" if cause else "died"
        notice = f"the worker of system '{self.name}' {verb} during {method} ({status})"
        if tail:
            notice += f"; the last lines of {self.workdir / LOG_NAME}:\n{tail}"
        return scrub(notice, known_secrets())

    async def _stop(self) -> None:
        process, self._worker_process = self._worker_process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), _CLOSE_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def worker_class_for(adapter: type[MemorySystem], python: Path | None = None) -> type[WorkerSystem]:
    """A WorkerSystem that runs ``adapter`` out of process: in ``adapter.environment``, or under
    ``python``, an interpreter that has what it needs (benchmarks and tests run an in-process adapter
    this way, to measure the channel).

    The class derives from both: WorkerSystem's verbs come first and go to the worker; everything else
    is the adapter's own: its name, capabilities and options, and its ``identity`` and ``describe``,
    which therefore must read only options and constants (never import the adapter's library), as
    they run here, outside its environment.
    """
    attributes: dict[str, Any] = {
        "target": _import_spec(adapter),
        "python": python,
        "__doc__": f"{adapter.name}, run in a worker process.",
        "__module__": __name__,
    }
    return type(f"{adapter.__name__}InWorker", (WorkerSystem, adapter), attributes)


def _import_spec(cls: type) -> str:
    """How the worker imports ``cls``: by module when membench's own (the worker's PYTHONPATH holds
    membench), else by the file that defines it (a plugin given as a path)."""
    if cls.__module__.startswith("membench."):
        return f"{cls.__module__}:{cls.__qualname__}"
    return f"{inspect.getfile(cls)}:{cls.__qualname__}"


def _package_link(workdir: Path) -> Path:
    """A folder holding only a link named ``membench`` to this membench: the worker's PYTHONPATH. The
    system's environment does not install membench (its dependencies would clash), and putting the
    folder that holds membench on the path could bring a whole site-packages along."""
    folder = workdir / "pythonpath"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "membench"
    target = Path(sys.modules["membench"].__file__ or "").resolve().parent
    if not (link.is_symlink() and link.resolve() == target):
        link.unlink(missing_ok=True)
        link.symlink_to(target, target_is_directory=True)
    return folder


def _memories(result: Any) -> list[Memory]:
    if not isinstance(result, list):
        raise WorkerCrashed(f"the worker returned {type(result).__name__} where a list of memories belongs")
    return [Memory.model_validate(item) for item in result]


def _usage(raw: Any) -> UsageByRole:
    if not isinstance(raw, dict):
        return {}
    return {str(role): Usage.model_validate(value) for role, value in raw.items()}


def _log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines the current worker wrote (the log is kept across respawns)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    own = text.rsplit(SPAWN_MARK, 1)[-1].split("\n", 1)[-1]
    return "\n".join(own.splitlines()[-lines:])


def _command_identity(command: tuple[str, ...]) -> dict[str, Any]:
    """A program's identity: its command's words (file names, not paths) and the hash of the files it
    names, so an edited worker is another run, while the same worker elsewhere is the same one."""
    digest = hashlib.sha256()
    for word in command[1:]:
        path = Path(word)
        if path.is_file():
            digest.update(path.read_bytes())
    return {"command": [Path(word).name for word in command], "sha256": digest.hexdigest()[:16]}
