"""``llamacpp/PATH.gguf`` models: llama.cpp serving a local file on loopback for as long as membench runs.

``--llm llamacpp/models/x.gguf`` (and ``--judge-llm``, ``--system-llm``) needs no server of the user's:
the first request starts one child process serving the file with llama.cpp's OpenAI-compatible server
(the ``xllamacpp`` wheel, ``pip install 'membench[llamacpp]'``), on 127.0.0.1 and a port it picks, and
every role naming the same file shares it. ``LLMClient`` sends the requests there as ``openai/<file
name>``. Why it is built the way it is:

* A child process, not the library in membench's own process: it can be stopped for certain (closing a
  pipe, then a signal), and a crash of llama.cpp cannot take the run down with it.
* The child lives only as long as its stdin pipe: it exits when the pipe closes, which happens when we
  stop it and also when membench dies in a way no ``atexit`` sees (``kill -9``), so no server is left
  behind. ``stop_servers`` (registered with ``atexit``, and called when a run ends) closes them all.
* It starts on the first request (membench's endpoint check before a run is one), not when the client
  is built: building a client to read a run's identity loads no model, nor does a call answered from
  the cache. A file that is missing or is not GGUF is refused when the client is built, naming it. A
  server that fails to start (a damaged model), is not answering ``GET /v1/models`` within the
  timeout, or dies while serving is an error naming the file and quoting the server's last log lines;
  the failure is remembered, so later requests fail at once instead of loading the model again.
* What decides the answers is the file's content and the server's settings, not where it is served:
  the identity is the file name, size and sha256 (computed once per process) and the settings below,
  never the port. The thread count is among them because llama.cpp's greedy answers can differ with it.
* The client sends a server only as many requests at once as it decodes (``parallel``): a request
  queued inside llama.cpp would spend its timeout waiting.

Settings (environment variables, read when the client is built): ``MEMBENCH_LLAMACPP_CTX`` context
size in tokens (default 8192, shared by the parallel slots), ``MEMBENCH_LLAMACPP_THREADS`` CPU threads
(default: the cores this process may use; on a machine busy with other work, 1 can be several times
faster), ``MEMBENCH_LLAMACPP_PARALLEL`` requests decoded together (default 1: each answer is computed
alone, as on every other run), and ``MEMBENCH_LLAMACPP_START_TIMEOUT`` seconds to wait for the server
to answer (default 120).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from membench.core.errors import ConfigError

PREFIX = "llamacpp/"
INSTALL_HINT = "llamacpp/ models need: pip install 'membench[llamacpp]'"
#: the first four bytes of every GGUF file.
GGUF_MAGIC = b"GGUF"
START_TIMEOUT_ENV = "MEMBENCH_LLAMACPP_START_TIMEOUT"
CTX_ENV = "MEMBENCH_LLAMACPP_CTX"
THREADS_ENV = "MEMBENCH_LLAMACPP_THREADS"
PARALLEL_ENV = "MEMBENCH_LLAMACPP_PARALLEL"
DEFAULT_CTX = 8192
DEFAULT_PARALLEL = 1
#: a request's timeout at least: a CPU model can take minutes over one long prompt, and the timeout
#: is there to catch a hung server, not a slow one.
REQUEST_TIMEOUT_S = 600.0
_DEFAULT_START_TIMEOUT_S = 120.0
#: how long a child may take to exit after its pipe closes, then after SIGTERM, before SIGKILL.
_EXIT_GRACE_S = 10.0
#: the server's own log lines quoted in an error.
_LOG_TAIL_LINES = 8


@dataclass(frozen=True)
class Backend:
    """The command that serves one GGUF file (the file's path is appended), and the package it needs.

    The command speaks the protocol of ``membench.llm.llamacpp_child.serve``. Tests swap in a fake
    that serves ``membench.testing.openai_server`` behind the same protocol.
    """

    command: tuple[str, ...]
    requires: str | None


BACKEND = Backend((sys.executable, "-m", "membench.llm.llamacpp_child"), requires="xllamacpp")


@dataclass(frozen=True)
class ServerSettings:
    """How llama.cpp serves a file; passed to the child in its environment, under the same names."""

    ctx: int
    threads: int
    parallel: int

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(
            ctx=_whole(CTX_ENV, DEFAULT_CTX),
            threads=_whole(THREADS_ENV, len(os.sched_getaffinity(0))),
            parallel=_whole(PARALLEL_ENV, DEFAULT_PARALLEL),
        )

    def environ(self) -> dict[str, str]:
        return {CTX_ENV: str(self.ctx), THREADS_ENV: str(self.threads), PARALLEL_ENV: str(self.parallel)}


def _whole(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class GGUFModel:
    """A local model file and how it is served, as run identities and cache keys name them: by the
    file's content, never by the port."""

    path: Path
    size: int
    sha256: str
    settings: ServerSettings

    @property
    def model(self) -> str:
        """The model's name in identities and on screen: ``llamacpp/<file name>``."""
        return PREFIX + self.path.name

    @property
    def litellm_model(self) -> str:
        """What litellm is asked for: any name works, llama.cpp serves its one model."""
        return "openai/" + self.path.name

    def identity(self) -> dict[str, Any]:
        """What pins the answers, beside ``model`` in ``LLMClient.identity`` and in its cache key."""
        return {
            "gguf": {"file": self.path.name, "bytes": self.size, "sha256": self.sha256},
            "llamacpp": asdict(self.settings),
        }


def is_llamacpp(model: str) -> bool:
    return model.startswith(PREFIX)


# (resolved path, size, mtime_ns) -> sha256: hashing 100 MB takes a fraction of a second, once.
_DIGESTS: dict[tuple[Path, int, int], str] = {}


def gguf_model(model: str, backend: Backend | None = None) -> GGUFModel:
    """The file ``model`` (``llamacpp/PATH``) names, checked: it exists, is GGUF, and can be served."""
    backend = backend or BACKEND
    raw = model[len(PREFIX) :]
    if not raw:
        raise ConfigError(f"{model}: name the model file, e.g. llamacpp/models/model.gguf")
    path = Path(raw).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"{model}: no such model file: {path}")
    with path.open("rb") as handle:
        magic = handle.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise ConfigError(f"{model}: {path} is not a GGUF model file (it does not start with 'GGUF')")
    if backend.requires and importlib.util.find_spec(backend.requires) is None:
        raise ConfigError(INSTALL_HINT)
    stat = path.stat()
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return GGUFModel(path, stat.st_size, _DIGESTS[key], ServerSettings.from_env())


class LlamaCppServer:
    """One child process serving one GGUF file; ``start`` returns its OpenAI-compatible base URL."""

    def __init__(self, model: GGUFModel, backend: Backend) -> None:
        self.model = model
        self.backend = backend
        self.base_url: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def serving(self) -> bool:
        """Started, and its process still running."""
        return self.base_url is not None and self._process is not None and self._process.poll() is None

    def exited(self) -> ConfigError:
        """The error for a server that died while serving (killed, out of memory), with its last log."""
        code = self._process.poll() if self._process is not None else None
        error = ConfigError(
            f"{self._name()}: the server exited (code {code}) while serving{self._log_tail()}"
        )
        self.stop(wait_for_exit=False)
        return error

    def start(self, timeout_s: float) -> str:
        """Start the child and wait until it answers; on any failure the child is gone and the error
        names the file."""
        # The log lives as long as the server (stop closes it), not a with block.
        self._log = tempfile.TemporaryFile(prefix="membench-llamacpp-")  # noqa: SIM115
        self._process = subprocess.Popen(
            [*self.backend.command, str(self.model.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, **self.model.settings.environ()},
            start_new_session=True,  # a Ctrl-C reaches membench, which stops the server itself
        )
        deadline = time.monotonic() + timeout_s
        try:
            base_url = self._announced(deadline, timeout_s)
            _wait_answering(base_url, deadline)
        except ConfigError as exc:
            self.stop(wait_for_exit=False)  # it is hung or gone: no reason to wait for it
            raise ConfigError(f"{self._name()}: {exc}") from None
        self.base_url = base_url
        return base_url

    def stop(self, wait_for_exit: bool = True) -> None:
        """Close the child's pipe (it exits), then signal it if it does not (at once unless
        ``wait_for_exit``); idempotent."""
        process, self._process, self.base_url = self._process, None, None
        if process is not None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            polite = [lambda: None] if wait_for_exit else []
            for signal_it in (*polite, process.terminate, process.kill):
                signal_it()
                try:
                    process.wait(_EXIT_GRACE_S)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _announced(self, deadline: float, timeout_s: float) -> str:
        """The base URL the child prints once its server listens; its error if it could not start."""
        process = self._process
        assert process is not None and process.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ConfigError(
                f"the server did not start within {timeout_s:g}s (set {START_TIMEOUT_ENV}){self._log_tail()}"
            ) from None
        if not line:  # the child exited without a word: it could not even run
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_EXIT_GRACE_S)
            raise ConfigError(
                f"the server exited (code {process.poll()}) before it was ready{self._log_tail()}"
            )
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            message = None
        if isinstance(message, dict) and isinstance(message.get("base_url"), str):
            return str(message["base_url"]).rstrip("/")
        cause = message.get("error") if isinstance(message, dict) else None
        said = cause or f"it printed {line[:200]!r} instead of its address"
        raise ConfigError(f"could not start the server: {said}{self._log_tail()}")

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = [line for line in self._log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        tail = lines[-_LOG_TAIL_LINES:]
        return "; its last log lines:\n  " + "\n  ".join(tail) if tail else ""

    def _name(self) -> str:
        return f"{self.model.model} ({self.model.path})"


def _wait_answering(base_url: str, deadline: float) -> None:
    """Return once ``GET {base_url}/models`` answers 200; the server listens but may still be loading."""
    import urllib.error
    import urllib.request

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
    last = "no answer"
    while True:
        try:
            with direct.open(f"{base_url}/models", timeout=5) as reply:
                if reply.status == 200:
                    return
                last = f"HTTP {reply.status}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            raise ConfigError(f"the server at {base_url} did not answer within the timeout: {last}")
        time.sleep(0.1)


def _timeout_s() -> float:
    value = os.environ.get(START_TIMEOUT_ENV, "")
    try:
        return float(value) if value else _DEFAULT_START_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"{START_TIMEOUT_ENV} must be a number of seconds, got {value!r}") from None


# One server per model file per process, shared by every role and client naming that file.
_SERVERS: dict[GGUFModel, LlamaCppServer] = {}
# A start that failed, per file: raised again at once instead of loading the model for every probe.
_FAILED: dict[GGUFModel, ConfigError] = {}
_LOCK = threading.Lock()


def running_url(model: GGUFModel) -> str | None:
    """The base URL of ``model``'s server if it is up: the cheap check before ``server_url``."""
    server = _SERVERS.get(model)
    return server.base_url if server is not None and server.serving else None


def server_url(model: GGUFModel, backend: Backend | None = None) -> str:
    """``model``'s OpenAI-compatible base URL, starting its server on first use (blocking: call it in
    a thread from asyncio)."""
    with _LOCK:
        if model in _FAILED:
            raise _FAILED[model]
        server = _SERVERS.get(model)
        if server is not None and server.serving:
            return str(server.base_url)
        if server is not None:  # it died: a restart would likely die the same way, so say why, once
            _FAILED[model] = server.exited()
            del _SERVERS[model]
            raise _FAILED[model]
        server = LlamaCppServer(model, backend or BACKEND)
        try:
            url = server.start(_timeout_s())
        except ConfigError as exc:
            _FAILED[model] = exc
            raise
        _SERVERS[model] = server
        return url


def server_pids() -> dict[Path, int]:
    """The process id of each running server, by model file (what ``membench`` leaves running)."""
    return {model.path: server.pid for model, server in _SERVERS.items() if server.pid is not None}


def stop_servers() -> None:
    """Stop every server this process started, and forget failed starts (the file may be fixed)."""
    with _LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
        _FAILED.clear()
    for server in servers:
        server.stop()


atexit.register(stop_servers)
