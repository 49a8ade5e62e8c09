"""Dense retrieval over raw turns: the baseline a memory system has to beat to justify itself.

Every turn of every ingested session is one document (``"role: content"``), embedded with the local
MiniLM and searched by exact inner product over unit vectors (cosine similarity). Nothing is
summarised or extracted, so ``session_memories`` is the session's turns and provenance is exact.

Exact search is cheap at the scale of one episode (thousands of turns), so the default index is a
numpy matrix; ``index=faiss`` gives the same ranking through faiss's flat index. Vectors are cached
on disk beside the worker directories, so a resumed run does not embed its episodes again.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from membench.core.errors import ConfigError
from membench.core.types import Episode, Memory, Session
from membench.llm.types import LLM
from membench.systems.base import Capabilities, MemorySystem
from membench.systems.baselines import TurnLog
from membench.systems.embedding import (
    DEFAULT_EMBEDDER,
    DEFAULT_EMBEDDER_MODULE,
    EmbeddingCache,
    LocalEmbedder,
    load_local_embedder,
    local_model_path,
    model_fingerprint,
)

INDEXES = ("numpy", "faiss")
#: scores are rounded to this many decimals: identical texts must tie (and then go by position), but
#: float sums depend on where a row sits in memory, so unrounded they can differ in the last bits.
_SCORE_DECIMALS = 9
#: how far under the k-th best faiss score (float32) a candidate may be and still be re-scored exactly.
_FAISS_MARGIN = 1e-5


def _rank(vectors: np.ndarray, positions: np.ndarray, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best (position, score) pairs: score descending, then position ascending.

    Products of float32 values are exact in float64, so summing in float64 leaves an error far
    below the rounding, and a row's score does not depend on the rows around it.
    """
    scores = np.round(vectors.astype(np.float64) @ query.astype(np.float64), _SCORE_DECIMALS)
    order = np.lexsort((positions, -scores))[:k]
    return [(int(positions[i]), float(scores[i])) for i in order]


class _Index(Protocol):
    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(position, score) of the ``k`` best documents, as ``_rank`` orders them."""
        ...


class _NumpyIndex:
    """Exact inner product over a float32 matrix, grown one session at a time."""

    def __init__(self, dim: int) -> None:
        self._blocks: list[np.ndarray] = []
        self._matrix = np.zeros((0, dim), dtype=np.float32)

    def add(self, vectors: np.ndarray) -> None:
        self._blocks.append(vectors)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self._blocks:  # concatenate once per batch of ingests, not once per query
            self._matrix = np.concatenate([self._matrix, *self._blocks])
            self._blocks = []
        return _rank(self._matrix, np.arange(len(self._matrix)), query, k)


class _FaissIndex:
    """faiss ``IndexFlatIP`` finds the candidates; ``_rank`` orders them, so rankings match numpy's."""

    def __init__(self, dim: int) -> None:
        import faiss

        self._index = faiss.IndexFlatIP(dim)

    def add(self, vectors: np.ndarray) -> None:
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self._index.ntotal)
        if k == 0:
            return []
        row = np.ascontiguousarray(query[None, :], dtype=np.float32)
        scores, _ = self._index.search(row, k)
        # Everything scoring above just under the k-th best (range search keeps score > radius), so that
        # documents tied with it at the cut-off all compete.
        _, _, candidates = self._index.range_search(row, float(scores[0, k - 1]) - _FAISS_MARGIN)
        return _rank(self._index.reconstruct_batch(candidates), candidates, query, k)


class DenseSystem(MemorySystem):
    """The top ``k`` turns by cosine similarity to the query, best first, equal scores in order of position.

    Documents and their provenance are those of the bm25 baseline (``TurnLog``: text ``"role: content"``,
    ``position`` = the turn's index in the episode), so the two baselines differ only in the ranking.
    """

    name = "dense"
    concurrent_retrieval = True  # encode takes the embedder's lock; the index is only read
    capabilities = Capabilities(session_memories=True)
    default_options: ClassVar[Mapping[str, str]] = {"model": DEFAULT_EMBEDDER, "index": "numpy"}
    install_hint = "install a CPU build of torch first, then pip install 'membench[dense]'"
    modules = ("sentence_transformers", DEFAULT_EMBEDDER_MODULE)

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        packaged_model = (DEFAULT_EMBEDDER_MODULE,) if self.options["model"] == DEFAULT_EMBEDDER else ()
        self.require_modules("sentence_transformers", *packaged_model)
        if self.options["index"] not in INDEXES:
            raise ConfigError(
                f"dense: index must be one of {', '.join(INDEXES)}, got {self.options['index']!r}"
            )
        if self.options["index"] == "faiss" and importlib.util.find_spec("faiss") is None:
            raise ConfigError("dense: index=faiss needs faiss-cpu: pip install 'membench[dense]'")
        local_model_path(self.options["model"])  # a missing model fails here, before any episode runs
        #: shared by the workers of a run (their directories are siblings).
        self.cache_path = workdir.parent / "embeddings.sqlite"
        self._embedder: LocalEmbedder | None = None
        self._cache: EmbeddingCache | None = None
        self._index: _Index | None = None
        self._log = TurnLog()
        self._docs: list[Memory] = []

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "embedder": model_fingerprint(self.options["model"])}

    async def reset(self, episode: Episode) -> None:
        if self._embedder is None:
            self._embedder = await asyncio.to_thread(load_local_embedder, self.options["model"])
        if self._cache is None:
            self._cache = EmbeddingCache(self.cache_path)
        dim = self._embedder.dim
        self._index = _FaissIndex(dim) if self.options["index"] == "faiss" else _NumpyIndex(dim)
        self._log.clear()
        self._docs = []

    async def ingest(self, session: Session) -> None:
        embedder, cache, index = self._ready()
        self._log.add(session)
        new = self._log.all()[len(self._docs) :]
        vectors = await asyncio.to_thread(cache.embed, embedder, [doc.text for doc in new])
        index.add(vectors)
        self._docs.extend(new)

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        embedder, _, index = self._ready()
        if not self._docs or k <= 0:
            return []
        vector = (await asyncio.to_thread(embedder.encode, [query]))[0]
        return [self._docs[i].model_copy(update={"score": score}) for i, score in index.search(vector, k)]

    async def session_memories(self, session: Session) -> list[Memory]:
        """The turns of ``session`` as stored, oldest first (none if it was not ingested)."""
        return self._log.of_session(session.session_id)

    async def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def _ready(self) -> tuple[LocalEmbedder, EmbeddingCache, _Index]:
        if self._embedder is None or self._cache is None or self._index is None:
            raise RuntimeError("dense: reset(episode) must be called before ingest or retrieve")
        return self._embedder, self._cache, self._index
