"""``--executor ray``: each episode worker a Ray actor, this process still the run directory's one writer.

An actor (``EpisodeActor``) builds its own system instance from the run's ``RunConfig``, as
``running/components.py`` builds one (plugins are imported from their paths, so on a cluster of
several machines every path must exist on each), and runs the episodes it is sent with the runner's
own episode logic (``runner.EpisodeRunner``), resetting its system between them as a local worker
does. It returns a whole episode at once: the calls the logic made on its ``EpisodeSink`` (ingest
records, failures, probe records with their usage), which the driver replays, in order, into its own
sink over the run's ``RunWriter``. So the driver appends every record, keeps the tally, the usage,
the display and the failure streak, and writes the manifest, exactly as on the local executor:
resume, the run directory's lock and every guarantee are unchanged.

A worker that dies mid-episode (killed, out of memory, its node lost) has written nothing for that
episode: the driver starts a fresh actor in its place and sends it the episode again, so nothing is
lost and nothing is duplicated. An episode that loses its worker ``MAX_LOSSES`` times stops the run
("failed", resumable), as a streak of failures does.

The failure streak is the driver's. An actor counts one of its own over each episode only to end a
failing episode early (an endpoint that went down); the driver, replaying the same calls from a
streak at least as long, stops at that point or before it, and drops the calls after its stop, as
the local executor cancels the probes after the one that filled the streak. One difference: the
system usage a concurrent-retrieval system reports after that stop, within the same batch, is dropped
with them.

The LLM cache is shared through its file: every actor opens the run's cache path (SQLite in WAL mode
with a busy timeout, safe for several processes on one machine). On a cluster of several machines,
``--data-dir`` and the plugins' files must be at the same path on every node (a shared filesystem),
but the cache must not be: SQLite's WAL mode needs every process on one host, and a network
filesystem's locks are not to be trusted. Each node then keeps its own cache (the default path, on
its local disk), so a re-run asks again only what another node cached; merging the nodes' files is
not built. Relative paths are made absolute here before they are sent.

Limits are per actor: ``--max-probes`` and ``--max-connections`` (an actor's LLM clients are its
own, so N actors may keep N × max-connections requests open to one endpoint). Progress moves one
episode at a time, as each comes back.

``ray`` is imported only here, only for ``executor="ray"``; without ``--ray-address`` (or
``RAY_ADDRESS``) a local cluster is started on loopback, with Ray's usage statistics off, and kept
for the rest of the process (a sweep's runs share it; ``ray.shutdown()`` ends it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.core.config import RunConfig
from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError
from membench.core.types import Episode, ErrorInfo, IngestRecord, Probe, Record, UsageByRole
from membench.running.failures import FailureStreak
from membench.running.rundir import cache_stats
from membench.running.runner import (
    EpisodeSink,
    RunStopped,
    RunWriter,
    _close_quietly,
    worker_dir,
)
from membench.systems.oracle import OracleSystem

if TYPE_CHECKING:
    from membench.running.runner import EpisodeRunner, EpisodeWorker, Runner

#: times one episode (or one actor's start) may lose its worker before the run stops.
MAX_LOSSES = 3


@dataclass(frozen=True)
class Ingested:
    record: IngestRecord

    def apply(self, sink: EpisodeSink) -> None:
        sink.ingest(self.record)


@dataclass(frozen=True)
class Failed:
    error: ErrorInfo

    def apply(self, sink: EpisodeSink) -> None:
        sink.failure(self.error)


@dataclass(frozen=True)
class Probed:
    record: Record
    counts: bool
    system_usage: UsageByRole | None
    last: bool

    def apply(self, sink: EpisodeSink) -> None:
        sink.probe(self.record, counts=self.counts, system_usage=self.system_usage, last=self.last)


#: one call an episode's logic made on its sink.
SinkCall = Ingested | Failed | Probed


class _Nowhere:
    """An actor's records go back to the driver in its ``SinkCall``s, not to a file."""

    def ingest(self, record: IngestRecord) -> None:
        pass

    def probe(self, record: Record) -> None:
        pass


class RecordingSink(EpisodeSink):
    """An actor's sink: keeps every call, as it was made, for the driver to replay; counts a streak of
    the episode's own (which only ends a failing episode early)."""

    def __init__(self, limit: int) -> None:
        super().__init__(FailureStreak(limit), _Nowhere())
        self.calls: list[SinkCall] = []

    def ingest(self, record: IngestRecord) -> None:
        self.calls.append(Ingested(record))
        super().ingest(record)

    def failure(self, error: ErrorInfo) -> None:
        self.calls.append(Failed(error))
        super().failure(error)

    def probe(self, record: Record, *, counts: bool, system_usage: UsageByRole | None, last: bool) -> None:
        # A copy: the sink may add the batch's system usage to the record it is given.
        self.calls.append(Probed(record.model_copy(deep=True), counts, system_usage, last))
        super().probe(record, counts=counts, system_usage=system_usage, last=last)


@dataclass(frozen=True)
class EpisodeOutcome:
    """What an actor returns for one episode: its sink calls, the LLM cache's hits and misses in it,
    and the ConfigError that ended it (the system cannot run as configured), if any."""

    calls: list[SinkCall]
    cache: dict[str, int]
    error: ConfigError | None = None


class EpisodeActor:
    """A Ray actor's state: one system instance, built from the run's config by ``start``."""

    def __init__(
        self, config: RunConfig, planned: dict[str, int], workdir: Path, evidence: dict[str, list[str]] | None
    ) -> None:
        self.config = config
        self.planned = planned
        self.workdir = workdir
        self.evidence = evidence
        self.clients: Sequence[Any] = ()
        self.episodes: EpisodeRunner | None = None
        self.worker: EpisodeWorker | None = None

    async def start(self) -> ConfigError | None:
        """Build the components and the system, as the driver's ``prepare`` does; a ConfigError is
        returned, for the driver to raise as the local executor would."""
        from membench.core.env import apply_offline_env
        from membench.registry import Registry
        from membench.running.components import _hand_evidence, build_components
        from membench.running.runner import EpisodeRunner

        apply_offline_env()
        # As the driver's loop: threads for blocking library calls, one per probe in flight and some.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=self.config.max_probes + 8, thread_name_prefix="membench")
        )
        try:
            components = build_components(self.config, Registry(list(self.config.plugins)))
            if self.evidence is not None:
                _hand_evidence(components, self.evidence)
            self.episodes = EpisodeRunner(components, self.planned, self.config.max_probes)
            self.worker = self.episodes.worker(components.make_system(self.workdir))
        except ConfigError as exc:
            return exc
        self.clients = components.llm_clients
        if self.clients:
            from membench.llm.client import warm_up

            warm_up(self.clients)  # the LLM library's import, here rather than in the first episode
        return None

    async def run(self, episode: Episode, probes: list[Probe], run_id: str) -> EpisodeOutcome:
        assert self.episodes is not None and self.worker is not None, "start() first"
        sink = RecordingSink(self.config.max_consecutive_errors)
        before = cache_stats(self.clients)
        error: ConfigError | None = None
        try:
            await self.episodes.run(self.worker, episode, probes, run_id, sink)
        except RunStopped:
            pass  # the driver finds the stop again in the calls (see the module's docstring)
        except ConfigError as exc:
            error = exc
        after = cache_stats(self.clients)
        return EpisodeOutcome(sink.calls, {key: after[key] - before[key] for key in after}, error)

    async def close(self) -> None:
        if self.worker is not None:
            await _close_quietly(self.worker.system)


def for_workers(config: RunConfig) -> RunConfig:
    """``config`` as an actor needs it: every path absolute (an actor's working directory is not the
    driver's on another node), no display, no endpoint check (the driver made it)."""
    from membench.llm.cache import default_cache_path

    def absolute(spec: str) -> str:
        path, sep, name = spec.partition(":")
        return f"{Path(path).resolve()}{sep}{name}" if path.endswith(".py") else spec

    return replace(
        config,
        results_dir=config.results_dir.resolve(),
        data_dir=config.data_dir.resolve(),
        run_dir=config.run_dir.resolve() if config.run_dir else None,
        cache_path=(config.cache_path or default_cache_path()).resolve(),
        plugins=tuple(absolute(spec) for spec in config.plugins),
        display="none",
        check_endpoints=False,
    )


def connect(config: RunConfig, workers: int) -> Any:
    """``ray``, connected: to the running cluster of this process, else to ``--ray-address`` or
    ``RAY_ADDRESS``, else to a new local one on loopback with a logical CPU per worker."""
    apply_offline_env()  # Ray's usage statistics off, whoever calls this
    import ray

    if ray.is_initialized():
        return ray
    address = config.ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            logging_level=logging.WARNING,
            _node_ip_address="127.0.0.1",
        )
    return ray


async def run_on_ray(
    runner: Runner,
    todo: list[Episode],
    pending: dict[str, list[Probe]],
    run_id: str,
    run_dir: Path,
    workers: int,
    writer: RunWriter,
) -> None:
    """Run ``todo`` on ``workers`` actors, replaying each returned episode into ``writer``."""
    ray = connect(runner.config, workers)
    evidence = None
    if issubclass(runner.c.system_cls, OracleSystem):
        evidence = runner.c.task.evidence(runner.plan.dataset)
    actor_cls = ray.remote(max_restarts=0)(EpisodeActor)
    config = for_workers(runner.config)
    actors: dict[int, Any] = {}
    #: what each future in flight is: an actor's start (episode None) or an episode, by actor slot.
    flying: dict[asyncio.Future[Any], tuple[int, Episode | None]] = {}
    queue = deque(todo)
    losses: Counter[str] = Counter()

    def spawn(slot: int) -> None:
        actors[slot] = actor_cls.remote(config, runner.episodes.planned, worker_dir(run_dir, slot), evidence)
        flying[asyncio.wrap_future(actors[slot].start.remote().future())] = (slot, None)

    def dispatch(slot: int) -> None:
        if queue:
            episode = queue.popleft()
            call = actors[slot].run.remote(episode, pending[episode.episode_id], run_id)
            flying[asyncio.wrap_future(call.future())] = (slot, episode)

    for slot in range(workers):
        spawn(slot)
    try:
        while flying:
            done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                slot, episode = flying.pop(future)
                try:
                    result = future.result()
                except ray.exceptions.RayActorError as exc:
                    lost = episode.episode_id if episode is not None else f"start of worker {slot}"
                    losses[lost] += 1
                    if losses[lost] >= MAX_LOSSES:
                        message = f"{lost}: its Ray worker died {losses[lost]} times: {exc}"
                        error = ErrorInfo(stage="system", type=type(exc).__name__, message=message)
                        raise RunStopped(losses[lost], error) from exc
                    if episode is not None:
                        queue.appendleft(episode)  # it wrote nothing: a fresh actor runs it again
                    ray.kill(actors[slot])
                    spawn(slot)
                    continue
                except ray.exceptions.RayTaskError as exc:
                    raise exc.cause from None  # a bug in the actor's code: its own traceback
                if episode is None:
                    if result is not None:
                        raise result
                else:
                    _replay(runner, writer, episode.episode_id, result)
                dispatch(slot)
    finally:
        for future in flying:
            future.cancel()
        # A system's close (a worker process it started) gets a moment before its actor is killed.
        closing = [asyncio.wrap_future(actor.close.remote().future()) for actor in actors.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout=30)
        for actor in actors.values():
            ray.kill(actor)


def _replay(runner: Runner, writer: RunWriter, episode_id: str, outcome: EpisodeOutcome) -> None:
    """Make an actor's sink calls on the driver's sink, in order: the records are appended, counted
    and shown here; the run's streak may stop the run at any of them."""
    for key, value in outcome.cache.items():
        runner.remote_cache[key] = runner.remote_cache.get(key, 0) + value
    sink = EpisodeSink(runner.streak, writer)
    for call in outcome.calls:
        call.apply(sink)
    if outcome.error is not None:
        raise outcome.error
    sink.end_episode()
    writer.episode_done(episode_id)
