"""A SQLite cache of LLM responses, keyed on what decides the output.

Re-scoring a run or iterating on a report re-asks the judge and the reader the same questions; with
this cache those calls cost nothing and give the same answers. The key is a sha256 over canonical
JSON of the model, the endpoint, the messages and every generation parameter; transport settings
(timeouts, retries, connection limits) and credentials are left out, so changing a timeout keeps
the cache warm and no key is ever written to disk. Only successful responses are stored, and only
replies their caller could use: a caller that says how it parses (``usable``) gets an unparseable
reply neither stored nor served, so ``--retry-errors`` asks the model again instead of replaying the
reply that made the error.

One connection guarded by a lock serves every thread; WAL mode lets several processes (parallel
runs) share the file. Callers in asyncio should run ``get``/``put`` in a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from membench.core.errors import OutputParseError
from membench.core.types import Usage
from membench.core.urls import public_url
from membench.llm.types import LLMResponse

#: Bump when the key's ingredients or the stored format change: old rows then simply miss.
KEY_VERSION = 1
#: Request fields that change how a call travels, not what it answers.
TRANSPORT_KEYS = frozenset(
    {
        "api_key",
        "timeout",
        "request_timeout",
        "stream_timeout",
        "num_retries",
        "max_retries",
        "max_connections",
        "extra_headers",
        "headers",
    }
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    created_at REAL NOT NULL,
    text TEXT NOT NULL,
    usage TEXT NOT NULL,
    raw TEXT NOT NULL,
    tool_calls TEXT NOT NULL DEFAULT '[]'
)
"""


def parsed_by(parse: Callable[[str], object]) -> Callable[[str], bool]:
    """``usable`` for a caller whose parse raises ``OutputParseError`` on a reply it cannot use."""

    def usable(text: str) -> bool:
        try:
            parse(text)
        except OutputParseError:
            return False
        return True

    return usable


def default_cache_path() -> Path:
    """``$MEMBENCH_CACHE_DIR/llm.sqlite``, else ``~/.cache/membench/llm.sqlite``."""
    root = os.environ.get("MEMBENCH_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "membench"
    return base / "llm.sqlite"


class ResponseCache:
    """Successful LLM responses on disk, with hit and miss counts for the run summary."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL is durable at checkpoints and does not fsync every put; a lost tail of the
        # cache after a power cut only means a few calls are made again.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)
        self._add_tool_calls_column()

    def _add_tool_calls_column(self) -> None:
        """Give a cache file made before tool calls were cached their column (its rows have none).

        Adding a column keeps every stored reply: their keys did not change, since a request without
        tools has the key it always had. Two processes may race to add it; the loser finds it added.
        """
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(responses)")}
        if "tool_calls" in columns:
            return
        try:
            self._conn.execute("ALTER TABLE responses ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]'")
        except sqlite3.OperationalError:
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(responses)")}
            if "tool_calls" not in columns:
                raise

    @staticmethod
    def key(request: Mapping[str, Any]) -> str:
        """sha256 of the canonical JSON of ``request`` minus transport settings and credentials.

        ``api_base`` stays in (without credentials): a generic model name such as ``openai/x`` names
        a different model on every endpoint. So do ``tools`` and ``tool_choice`` when the request
        has them: the same messages with other tools ask for other calls.
        """
        material = {k: v for k, v in request.items() if k not in TRANSPORT_KEYS}
        if "api_base" in material:
            material["api_base"] = public_url(material["api_base"])
        material["_v"] = KEY_VERSION
        canonical = json.dumps(
            material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def get(self, key: str, usable: Callable[[str], bool] | None = None) -> LLMResponse | None:
        """The stored response (``cached=True``), counting a hit or a miss.

        A stored reply that ``usable`` rejects is a miss (stored before its caller checked replies):
        the caller's next answer replaces it.
        """
        with self._lock:
            row = self._conn.execute(
                "SELECT text, usage, raw, tool_calls FROM responses WHERE key = ?", (key,)
            ).fetchone()
            if row is None or (usable is not None and not usable(row[0])):
                self._misses += 1
                return None
            self._hits += 1
        text, usage, raw, tool_calls = row
        return LLMResponse(
            text=text,
            usage=Usage.model_validate_json(usage),
            cached=True,
            raw=json.loads(raw),
            tool_calls=json.loads(tool_calls),
        )

    def put(self, key: str, response: LLMResponse, *, model: str = "") -> None:
        """Store a successful response; a later put for the same key replaces it."""
        if not response.text.strip() and not response.tool_calls:
            raise ValueError("refusing to cache an empty response")
        row = (
            key,
            model,
            time.time(),
            response.text,
            response.usage.model_dump_json(),
            json.dumps(response.raw),
            json.dumps(response.tool_calls),
        )
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (key, model, created_at, text, usage, raw, tool_calls)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self._hits, "misses": self._misses}

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
