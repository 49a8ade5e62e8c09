"""The child process that serves one GGUF file with llama.cpp, for ``llamacpp/`` models.

``membench.llm.llamacpp`` runs ``python -m membench.llm.llamacpp_child MODEL.gguf``; nobody else
should. The protocol (``serve``) is small so that a stand-in can speak it too: start the server on
127.0.0.1 and a free port, print one JSON line, ``{"base_url": "http://127.0.0.1:PORT/v1"}`` or
``{"error": "..."}``, then serve until stdin reaches its end (membench closed the pipe, or died), stop
the server and exit. llama.cpp's log goes to stderr, which membench keeps and quotes on failure; after
the announcement stdout goes there too, since membench reads no more of it (a pipe nobody reads fills
up, and the server's next print would block it).

The server is the ``xllamacpp`` wheel's llama.cpp server (continuous batching, OpenAI-compatible
chat completions), configured from the ``MEMBENCH_LLAMACPP_*`` variables described in
``membench.llm.llamacpp``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

from membench.llm.llamacpp import ServerSettings

STDOUT, STDERR = 1, 2  # the file descriptors, whatever ``sys.stdout`` is
#: starts a server; returns its base URL and the function that stops it.
Start = Callable[[], tuple[str, Callable[[], None]]]


def serve(start: Start) -> int:
    """Run the protocol around ``start``: announce, wait for the parent's pipe to close, stop."""
    try:
        base_url, stop = start()
    except Exception as exc:  # whatever llama.cpp raises, the parent gets it as one line
        _announce({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _announce({"base_url": base_url})
    os.dup2(STDERR, STDOUT)  # whatever prints to stdout from now on (llama.cpp, a library) is logged
    try:
        sys.stdin.buffer.read()  # returns at end of file
    finally:
        stop()
    return 0


def _announce(message: dict[str, str]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def xllamacpp_server(path: str) -> Start:
    """``start`` for the xllamacpp wheel's server on ``path``."""

    def start() -> tuple[str, Callable[[], None]]:
        import xllamacpp

        settings = ServerSettings.from_env()  # as membench resolved them, in this process's environment
        params = xllamacpp.CommonParams()
        params.model.path = path
        params.n_ctx = settings.ctx
        params.n_parallel = settings.parallel
        for cpu in (params.cpuparams, params.cpuparams_batch):
            cpu.n_threads = settings.threads
            cpu.poll = 0  # wait for work asleep, not spinning: spinning threads starve on a busy machine
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # llama.cpp picks a free port and reports it in listening_address
        params.ui = False
        # Every prompt evaluated whole: reusing a cached prefix changes greedy answers (measured on
        # SmolLM2), so a request would answer differently after another one than alone.
        params.cache_prompt = False
        server = [xllamacpp.Server(params)]
        base_url = server[0].listening_address.rstrip("/") + "/v1"
        return base_url, server.clear  # dropping the last reference stops llama.cpp's server

    return start


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m membench.llm.llamacpp_child MODEL.gguf", file=sys.stderr)
        return 2
    return serve(xllamacpp_server(args[0]))


if __name__ == "__main__":
    sys.exit(main())
