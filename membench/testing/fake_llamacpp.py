"""A stand-in for ``membench.llm.llamacpp_child``: the fake OpenAI server behind the same child protocol.

``python -m membench.testing.fake_llamacpp MODEL.gguf`` behaves as the real child does, minus the
model: it reads the file's GGUF header as llama.cpp does first (magic, version, tensor and metadata
counts) and, when that header is damaged, fails as xllamacpp fails (llama.cpp's log line on stderr,
then ``RuntimeError: Failed to init server``); otherwise it serves ``FakeOpenAIServer`` (echo replies)
on 127.0.0.1 until its stdin closes. Tests point ``membench.llm.llamacpp.BACKEND`` at ``FAKE_BACKEND``
so the server's whole lifecycle is exercised without the 100 MB model or the ``xllamacpp`` wheel.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from pathlib import Path

from membench.llm.llamacpp import GGUF_MAGIC, Backend
from membench.llm.llamacpp_child import Start, serve
from membench.testing.openai_server import FakeOpenAIServer

FAKE_BACKEND = Backend((sys.executable, "-m", "membench.testing.fake_llamacpp"), requires=None)
#: magic, then version (uint32), tensor count and metadata count (uint64 each), little-endian.
_HEADER = struct.Struct("<4sIQQ")
_VERSIONS = (1, 2, 3)


def gguf_header(version: int = 3) -> bytes:
    """The first bytes of a GGUF file with no tensors and no metadata: what the fake loads."""
    return _HEADER.pack(GGUF_MAGIC, version, 0, 0)


def fake_server(path: str) -> Start:
    def start() -> tuple[str, Callable[[], None]]:
        head = Path(path).read_bytes()[: _HEADER.size]
        if len(head) < _HEADER.size or _HEADER.unpack(head)[1] not in _VERSIONS:
            print(f"E srv    load_model: failed to load model, '{path}'", file=sys.stderr, flush=True)
            raise RuntimeError("Failed to init server, please check the input params.")
        server = FakeOpenAIServer(models=(Path(path).name,)).start()
        return server.base_url, server.stop

    return start


if __name__ == "__main__":
    sys.exit(serve(fake_server(sys.argv[1])))
