"""One contract over every registered memory system: what the runner and the tasks rely on.

Each property is checked on real behaviour (real ingests, real retrievals, files on disk), so a new
adapter is tested by registering it. Two systems cannot meet every property by design, and each is
handled where it applies, with the reason, never skipped:

* ``no-memory`` stores nothing: it retrieves nothing and reports no session memories (the floor);
* ``full-context`` returns its whole history for any query: the runner's ``k`` does not apply to it.

One system shares a file between the workers of a run, beside (not under) its worker directory:
``dense`` keeps its embedding cache in the run's ``state/`` folder, so a resumed run embeds nothing
twice. That file is named in ``SHARED_BESIDE_WORKDIR``; anything else written outside fails.

mem0 loads its embedding model once per process (about 6 s on 2 cores); every later instance is built
in a tenth of a second, so each test builds its own and no state is shared between tests.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, NotSupported
from membench.core.types import Episode, Memory, Session, Turn
from membench.registry import Registry
from membench.systems.base import MemorySystem

#: builds the test's system in a folder, as a run would (the ``make`` fixture of conftest.py).
Make = Callable[[Path], MemorySystem]
#: the markers of tests/conftest.py: a system needing an extra is skipped, with its hint, without it.
EXTRA_MARKS: dict[str, pytest.MarkDecorator | tuple[pytest.MarkDecorator, ...]] = {
    "mem0": pytest.mark.needs_mem0,
    "dense": pytest.mark.needs_embedder,
    "langmem": (pytest.mark.needs_langmem, pytest.mark.needs_embedder),
    "zep": pytest.mark.needs_zep,
    "supermemory": pytest.mark.needs_supermemory,
    "memobase": pytest.mark.needs_memobase,
    "letta": pytest.mark.needs_letta,
}
SYSTEM_NAMES = [name for name, _ in Registry([]).names("system")]


def _marks(name: str) -> list[pytest.MarkDecorator]:
    """The extra a system needs; a system in its own environment starts a worker (its library's
    import, a model load) for each test, so its contract tests are slow ones (make test-slow)."""
    marks = EXTRA_MARKS.get(name, ())
    listed = list(marks) if isinstance(marks, tuple) else [marks]
    if Registry([]).get("system", name).environment:
        listed.append(pytest.mark.slow)
    return listed


SYSTEMS = [pytest.param(name, marks=_marks(name)) for name in SYSTEM_NAMES]

#: systems that store nothing by design: they retrieve nothing and report no session memories.
STORES_NOTHING = {"no-memory"}
#: systems that hand over their whole history for any query: ``k`` does not bound what they return.
RETURNS_EVERYTHING = {"full-context"}
#: files a system shares between the workers of a run, in the parent of its worker directory.
SHARED_BESIDE_WORKDIR = {
    "dense": ("embeddings.sqlite",),
    # the run's namespace at the service, the same for every worker (and every resume) of the run
    "zep": ("zep-namespace-prefix",),
    "supermemory": ("supermemory-namespace-prefix",),
}

#: one fact per session, each stated verbatim in one user turn, and a question that asks for it.
FACTS = {
    "s1": ("I adopted a beagle named Biscuit last spring.", "What is the name of my beagle?"),
    "s2": ("My sister Ana moved to Lisbon to study marine biology.", "Where did my sister Ana move?"),
    "s3": ("I am training for the Berlin marathon in September.", "Which marathon am I training for?"),
}
OTHER_FACT = ("My favourite dish is mushroom risotto with truffle oil.", "What is my favourite dish?")
#: what the oracle is handed as each session's evidence (Task.evidence in a run): its fact.
EVIDENCE = {sid: fact for sid, (fact, _) in {**FACTS, "t1": OTHER_FACT}.items()}
REPLY = {"s1": "What a lovely dog!", "s2": "Lisbon is a wonderful city.", "s3": "Good luck with it!"}


def _session(session_id: str, day: int, fact: str, reply: str) -> Session:
    start = f"2024-03-{day:02d}T10:00:00"
    turns = [
        Turn(role="user", content=fact, timestamp=start),
        Turn(role="assistant", content=reply, timestamp=f"2024-03-{day:02d}T10:00:05"),
    ]
    return Session(session_id=session_id, start_time=start, turns=turns)


EPISODE = Episode(
    episode_id="contract episode",
    sessions=[_session(sid, day, fact, REPLY[sid]) for day, (sid, (fact, _)) in enumerate(FACTS.items(), 1)],
)
OTHER_EPISODE = Episode(
    episode_id="contract other episode",
    sessions=[_session("t1", 20, OTHER_FACT[0], "That sounds delicious.")],
)


def _system_class(name: str) -> type[MemorySystem]:
    system_cls: type[MemorySystem] = Registry([]).get("system", name)
    return system_cls


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


async def _ingest(system: MemorySystem, episode: Episode) -> None:
    """As the runner does: reset, then each session ingested and settled (hosted systems index late)."""
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)
        await system.settle()


def _texts(memories: list[Memory]) -> str:
    return "\n".join(memory.text for memory in memories)


async def _stated(system: MemorySystem, fact: str, question: str, k: int = 3) -> bool:
    """Whether the top ``k`` memories for ``question`` hold ``fact`` word for word."""
    return fact in _texts(await system.retrieve(question, k))


@pytest.mark.parametrize("name", SYSTEMS)
def test_ingest_then_retrieve_finds_the_exact_phrase(name: str, tmp_path: Path, make: Make) -> None:
    system = make(tmp_path / "worker-0")

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        for fact, question in FACTS.values():
            if name in STORES_NOTHING:
                assert await system.retrieve(question, 3) == []
            else:
                assert await _stated(system, fact, question), f"{name} did not retrieve {fact!r}"
        await system.close()

    _run(scenario)


@pytest.mark.parametrize("name", SYSTEMS)
def test_retrieve_returns_at_most_k_memories(name: str, tmp_path: Path, make: Make) -> None:
    system = make(tmp_path / "worker-0")

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        question = FACTS["s1"][1]
        if name in RETURNS_EVERYTHING:
            every_turn = [turn.content for session in EPISODE.sessions for turn in session.turns]
            memories = await system.retrieve(question, 1)
            assert len(memories) == len(every_turn) and all(t in _texts(memories) for t in every_turn)
        else:
            assert len(await system.retrieve(question, 1)) <= 1
            assert len(await system.retrieve(question, 2)) <= 2
        await system.close()

    _run(scenario)


@pytest.mark.parametrize("name", SYSTEMS)
def test_reset_forgets_everything(name: str, tmp_path: Path, make: Make) -> None:
    system = make(tmp_path / "worker-0")

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        await system.reset(OTHER_EPISODE)
        for fact, question in FACTS.values():
            assert fact not in _texts(await system.retrieve(question, 10))
        if system.capabilities.session_memories:
            assert await system.session_memories(EPISODE.sessions[0]) == []
        await system.ingest(OTHER_EPISODE.sessions[0])
        await system.settle()
        remembered = await _stated(system, *OTHER_FACT)
        assert remembered is (name not in STORES_NOTHING), "the reset memory takes the next episode"
        await system.close()

    _run(scenario)


@pytest.mark.parametrize("name", SYSTEMS)
def test_episodes_on_two_workers_are_isolated(name: str, tmp_path: Path, make: Make) -> None:
    first = make(tmp_path / "worker-0")
    second = make(tmp_path / "worker-1")

    async def scenario() -> None:
        await _ingest(first, EPISODE)
        await _ingest(second, OTHER_EPISODE)
        assert OTHER_FACT[0] not in _texts(await first.retrieve(OTHER_FACT[1], 10))
        for fact, question in FACTS.values():
            assert fact not in _texts(await second.retrieve(question, 10))
        if name not in STORES_NOTHING:
            assert await _stated(second, *OTHER_FACT), "each worker keeps its own episode"
        await first.close()
        await second.close()

    _run(scenario)


@pytest.mark.parametrize("name", SYSTEMS)
def test_session_memories_are_that_sessions_content_only(name: str, tmp_path: Path, make: Make) -> None:
    system = make(tmp_path / "worker-0")

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        if not system.capabilities.session_memories:
            with pytest.raises(NotSupported):
                await system.session_memories(EPISODE.sessions[0])
            return
        for session in EPISODE.sessions:
            memories = await system.session_memories(session)
            if name in STORES_NOTHING:
                assert memories == []
                continue
            text = _texts(memories)
            assert FACTS[session.session_id][0] in text
            assert not any(fact in text for sid, (fact, _) in FACTS.items() if sid != session.session_id)
            assert {m.session_id for m in memories} <= {session.session_id, None}
        assert await system.session_memories(OTHER_EPISODE.sessions[0]) == [], "a session never ingested"
        await system.close()

    _run(scenario)


@pytest.fixture
def redirected_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Where a library writes when nobody told it where: home, caches, the working and temp dirs."""
    places = [tmp_path / "home", tmp_path / "cwd", tmp_path / "tmp"]
    for place in places:
        place.mkdir()
    monkeypatch.setenv("HOME", str(places[0]))
    for variable in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(places[1])
    monkeypatch.setenv("TMPDIR", str(places[2]))
    monkeypatch.setattr(tempfile, "tempdir", str(places[2]))
    return places


@pytest.mark.parametrize("name", SYSTEMS)
def test_state_stays_under_the_given_directory(
    name: str, tmp_path: Path, redirected_defaults: list[Path], make: Make
) -> None:
    state = tmp_path / "state"
    workdir = state / "worker-0"
    system = make(workdir)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        await system.retrieve(FACTS["s2"][1], 3)
        if system.capabilities.session_memories:
            await system.session_memories(EPISODE.sessions[1])
        await system.close()

    _run(scenario)
    shared = SHARED_BESIDE_WORKDIR.get(name, ())
    outside = sorted(
        str(path.relative_to(tmp_path))
        for path in tmp_path.rglob("*")
        if path.is_file()
        and not path.is_relative_to(workdir)
        and not (path.parent == state and any(path.name.startswith(f) for f in shared))  # + -wal, -shm
    )
    assert outside == [], f"{name} wrote outside {workdir}"


@pytest.mark.parametrize("name", SYSTEMS)
def test_close_is_idempotent_and_frees_the_directory(name: str, tmp_path: Path, make: Make) -> None:
    workdir = tmp_path / "worker-0"
    system = make(workdir)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        assert await system.close() is None
        assert await system.close() is None
        # The next run's system in the same directory starts clean and works.
        again = make(workdir)
        await _ingest(again, OTHER_EPISODE)
        assert FACTS["s1"][0] not in _texts(await again.retrieve(FACTS["s1"][1], 10))
        assert await _stated(again, *OTHER_FACT) is (name not in STORES_NOTHING)
        await again.close()

    _run(scenario)


@pytest.mark.parametrize("name", [n for n in SYSTEM_NAMES if _system_class(n).install_hint])
def test_a_missing_library_is_refused_with_the_systems_install_hint(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs without the extras too: the check happens before anything is imported."""
    system_cls = _system_class(name)

    def nothing_installed(module: str, *args: Any) -> None:
        return None

    with monkeypatch.context() as patch:
        patch.setattr(importlib.util, "find_spec", nothing_installed)
        with pytest.raises(ConfigError, match=re.escape(system_cls.install_hint)):
            system_cls({}, tmp_path)


@pytest.mark.parametrize("name", SYSTEM_NAMES)
def test_a_system_that_calls_an_llm_says_how_often_for_the_dry_run(name: str) -> None:
    """A system with an ``llm`` option says how often it calls it; one whose server calls an LLM of
    its own (Memobase's extraction, a Letta agent) may say so too."""
    system_cls = _system_class(name)
    if "llm" in system_cls.default_options:
        assert system_cls.llm_calls_note
