"""What the integration tests of systems that run in their own environment (memos, amem, cognee) share.

Those tests cannot import one another (tests are not a package), so the pieces they all need live here,
once: the facts and episodes every adapter is tried on, the marks that skip a test where the system's
environment is not installed, and the driver that runs an adapter inside that environment under an
audit hook, so a test can see that nothing leaves the machine even where the worker's own guard is not
in force.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import membench
from membench.core.types import Episode, Session, Turn
from membench.systems.envs import EnvStatus

if TYPE_CHECKING:
    import pytest

DOG = "I adopted a beagle named Max last spring, he loves the beach."
SISTER = "My sister Clara lives in Lisbon and works as a marine biologist."
MARATHON = "I am training for the Berlin marathon in September."
RISOTTO = "My favourite dish is mushroom risotto."


def make_session(session_id: str, start: str, *turns: tuple[str, str]) -> Session:
    """A session from ``(role, content)`` pairs: the episodes below read as the chats they are."""
    return Session(session_id=session_id, start_time=start, turns=[Turn(role=r, content=c) for r, c in turns])


#: Three sessions a week apart, one fact each; the second opens with a system prompt, which an adapter
#: must not store as a memory.
FIRST = Episode(
    episode_id="ep 1",
    sessions=[
        make_session(
            "s1", "2024-03-01T10:00:00", ("user", DOG), ("assistant", "Congratulations on the dog!")
        ),
        make_session(
            "s2",
            "2024-03-08T10:00:00",
            ("system", "You are a helpful assistant."),
            ("user", SISTER),
            ("assistant", "Lisbon is a lovely city for that."),
        ),
        make_session(
            "s3", "2024-03-15T10:00:00", ("user", MARATHON), ("assistant", "Good luck with training!")
        ),
    ],
)
#: The next episode, sharing no fact with FIRST: after ``reset(SECOND)`` nothing of FIRST may come back.
SECOND = Episode(episode_id="ep 2", sessions=[make_session("t1", "2024-05-01T09:00:00", ("user", RISOTTO))])


def run_scenario(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a test's async scenario to its end: each test gets a fresh event loop, as a run does."""
    return asyncio.run(scenario())


def env_marks(status: EnvStatus, label: str) -> list[pytest.MarkDecorator]:
    """A module's ``pytestmark``: slow (a separate environment, seconds per test) and skipped, with the
    command that installs it, where ``status`` is not an installed environment."""
    import pytest  # here, not at the top: importing membench.testing must not need pytest

    problem = status.problem()
    return [pytest.mark.slow, pytest.mark.skipif(problem is not None, reason=f"{label}: {problem}")]


#: The opening of every in-environment driver. First an audit hook that records every connection and
#: name lookup that is not loopback (a refused one too) in ``off_machine``: an audit hook sees what a
#: library does below any socket patching, so a test need not trust the worker's guard. Then
#: the names every driver uses (``workdir`` is argv[1]), ``timed`` for a blocking step and ``measure``:
#: the steps a run repeats, timed the same way for every system so their costs compare.
DRIVER_PRELUDE = """
import asyncio, ipaddress, json, statistics, sys, time
from pathlib import Path

off_machine = []
def record(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
    elif event == "socket.getaddrinfo":
        host = str(args[0])
    else:
        return
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        off_machine.append(f"{event} {host}")
sys.addaudithook(record)

from membench.core.types import Episode, Session, Turn

workdir = Path(sys.argv[1])

def timed(step):
    started = time.perf_counter()
    step()
    return time.perf_counter() - started

async def measure(system, sessions, queries, k, probes):
    # Reset to an episode of sessions, ingest and settle each, search each query for k, then take the
    # top hit's session for each probe; closes the system. The times, the tops and what left the machine.
    started = time.perf_counter()
    await system.reset(Episode(episode_id="timing", sessions=sessions))
    reset_s = time.perf_counter() - started
    adds, settles, searches = [], [], []
    for one in sessions:
        started = time.perf_counter()
        await system.ingest(one)
        adds.append(time.perf_counter() - started)
        started = time.perf_counter()
        await system.settle()
        settles.append(time.perf_counter() - started)
    for query in queries:
        started = time.perf_counter()
        await system.retrieve(query, k)
        searches.append(time.perf_counter() - started)
    top = [(await system.retrieve(probe, 1))[0].session_id for probe in probes]
    await system.close()
    return {"reset_s": reset_s, "first_add_s": adds[0], "add_median_s": statistics.median(adds),
            "first_settle_s": settles[0], "settle_median_s": statistics.median(settles),
            "search_median_s": statistics.median(searches), "top": top, "off_machine": off_machine}
"""


def run_in_env(
    status: EnvStatus,
    driver: str,
    *args: str,
    root: Path,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``driver`` (after DRIVER_PRELUDE) with the environment's python, from ``root``, with ``args``.

    The environment does not install membench: as the worker does, PYTHONPATH is a folder
    (``root/pythonpath``) holding only a link to this membench. ``env`` adds variables (a HOME of the
    test's own, say). Returns the finished process; the test asserts on its exit and output.
    """
    link_dir = root / "pythonpath"
    link_dir.mkdir()
    (link_dir / "membench").symlink_to(Path(membench.__file__).parent, target_is_directory=True)
    return subprocess.run(
        [str(status.python), "-c", DRIVER_PRELUDE + driver, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(link_dir), **(env or {})},
        cwd=root,
        timeout=timeout,
        check=False,
    )
