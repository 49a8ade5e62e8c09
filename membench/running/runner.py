"""Drive every system through the same episodes, in the same order, and never lose a result.

Stages per episode (dataset order inside an episode, episodes concurrently up to ``max_episodes``):
reset → for each session: ingest → the probes due after it (predict → judge → append a record).
A run directory is named by a hash of what decides the results, so the same command resumes it
(``running/rundir.py`` keeps it: the same rules as ``membench score``'s).

Answer probes are answered by the run's one reader, the same for every system; with the ``system``
reader (``--reader system``), by each worker's own system instance, which must declare it answers.

The probes due after one session overlap, up to ``max_probes``: nothing changes the memory until the
last of them is done (the next session is ingested after it). The system's calls overlap too when it
declares ``concurrent_retrieval``; otherwise they take turns on the instance, in probe order (the
system reader's answer in the same turn as its probe's retrieval), while the shared reader and the
judge of those probes still overlap. Records are appended in probe order, whatever finishes first, and
the failure streak counts them in that order, so the records, the counts and where a run stops are
those of a run one probe at a time (``--max-probes 1``). A stop cancels the probes after the one that
filled the streak and discards what they did: no record, and their reader's and judge's usage is not
counted (with the LLM cache on, a resume pays nothing for those replies). The system's usage is taken
after each probe's calls when they take turns; when they overlap no probe's usage can be told apart,
so what the system reports during a batch goes to the batch's last record, or to the record that
stops the run. The system's total is exact for a run that is not stopped; a stop drops the usage of
all it cancels, the other episode workers' batches in flight included.

The manifest's counts come from a tally of the records, read once at the start and kept as they are
appended, never from reading records.jsonl back at the end.

One episode's logic (``EpisodeRunner``) hands what it makes, in order, to an ``EpisodeSink``, which
counts the failure streak over it and passes it on: here to the run's ``RunWriter``, the run
directory's one writer. With ``RunConfig.executor`` "ray" the same logic runs in Ray actors
(``running/ray_executor.py``) and the sink calls it made are replayed into this process's sink, so
the records, the streak and the stops are the same on either executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from membench.core.config import RunConfig
from membench.core.errors import ConfigError
from membench.core.identity import RunIdentity, limit_selection, run_id_for, sha256_hex
from membench.core.records import INGESTS, JsonlAppender, RecordAppender, write_manifest
from membench.core.task import Task
from membench.core.types import (
    Dataset,
    Episode,
    ErrorInfo,
    IngestRecord,
    Manifest,
    Prediction,
    Probe,
    Record,
    Score,
    UsageByRole,
    merge_usage,
)
from membench.judges.base import Judge
from membench.readers.base import Reader
from membench.running.contributions import RunContributions
from membench.running.display import Display
from membench.running.failures import FailureStreak, failure_of
from membench.running.rundir import (
    ProbeTally,
    Status,
    cache_stats,
    error_info,
    final_manifest,
    now,
    readable_for_resume,
    starting_manifest,
)
from membench.systems.base import MemorySystem

if TYPE_CHECKING:
    import pandas as pd

    from membench.llm.client import LLMClient


@dataclass
class RunPlan:
    """What a run will do, before it does it (also what ``--dry-run`` prints)."""

    dataset: Dataset
    episodes: list[Episode]
    probes_by_episode: dict[str, list[Probe]]
    skipped_probes: dict[str, int] = field(default_factory=dict)


@dataclass
class Components:
    """The resolved pieces of a run: one task, one reader, one judge, a way to make system instances."""

    task: Task
    reader: Reader
    judge: Judge
    make_system: Callable[[Path], MemorySystem]
    system_name: str
    #: the system's class and the options it is built with (``-S`` with ``--system-llm`` folded in).
    system_cls: type[MemorySystem]
    system_options: dict[str, str]
    llm_clients: list[LLMClient] = field(default_factory=list)
    #: the system's own one-line description (its mode, for mem0), printed with the results.
    system_description: str = ""


def plan_run(
    task: Task, dataset: Dataset, system_cls: type[MemorySystem], limit: int | None, seed: int
) -> RunPlan:
    """Select episodes (seeded, order-independent) and the probes this system can answer."""
    chosen = limit_selection([e.episode_id for e in dataset.episodes], limit, seed)
    episodes = [e for e in dataset.episodes if e.episode_id in chosen]
    by_episode = dataset.probes_by_episode()
    skipped: dict[str, int] = {}
    probes: dict[str, list[Probe]] = {}
    for episode in episodes:
        kept = []
        for probe in by_episode[episode.episode_id]:
            if probe.mode == "session_memories" and not system_cls.capabilities.session_memories:
                skipped[probe.kind] = skipped.get(probe.kind, 0) + 1
                continue
            kept.append(probe)
        probes[episode.episode_id] = kept
    return RunPlan(dataset, episodes, probes, skipped)


def run_identity(
    config: RunConfig, components: Components, dataset: Dataset, probe_system: MemorySystem
) -> RunIdentity:
    """Everything that decides the results, and nothing that does not (paths, concurrency, display)."""
    return {
        "task": components.task.identity(),
        "dataset": {"fingerprint": dataset.fingerprint, "name": dataset.name},
        "system": probe_system.identity(),
        "reader": components.reader.identity(),
        "judge": components.judge.identity(),
        "seed": config.seed,
        "limit": config.limit,
    }


class RunStopped(Exception):
    """Raised by an episode worker when failures of one kind reached ``max_consecutive_errors``."""

    def __init__(self, count: int, error: ErrorInfo) -> None:
        self.count = count
        self.error = error
        super().__init__("\n".join(self.paragraphs()))

    def paragraphs(self) -> tuple[str, str]:
        """What the screen says, one paragraph per line for the caller to wrap at its width: how many
        failed in a row, where, of what type, the message; then how to go on."""
        said = (
            f"stopped: {self.count} failures in a row at the {self.error.stage} stage "
            f"({self.error.type}): {self.error.message[:300]}"
        )
        advice = (
            "fix the cause, then run the same command to resume (add --retry-errors to redo the "
            "failed probes; --max-consecutive-errors 0 never stops)"
        )
        return said, advice


class Runner:
    def __init__(self, config: RunConfig, components: Components, plan: RunPlan, display: Display) -> None:
        self.config = config
        self.c = components
        self.plan = plan
        self.display = display
        self.usage: UsageByRole = {}
        self.streak = FailureStreak(config.max_consecutive_errors)
        #: the latest status of every probe with a record, seeded from the run directory by ``run``.
        self.tally = ProbeTally()
        #: the run's metric contributions, taken as its episodes end; made by ``run``.
        self.contributions: RunContributions | None = None
        #: why the run stopped early, once ``run`` returned a failed run (its caller shows it).
        self.stopped: RunStopped | None = None
        #: the LLM cache's hits and misses in other processes (Ray actors), added to this process's.
        self.remote_cache: dict[str, int] = {"hits": 0, "misses": 0}
        self.episodes = EpisodeRunner(components, planned_counts(plan), config.max_probes)

    async def run(self, run_dir: Path, identity: RunIdentity, previous: Manifest | None) -> Manifest:
        # Each episode worker may hold a thread waiting on this loop (a blocking library call whose LLM
        # requests this loop serves: mem0's extraction, the LLM endpoint); the loop's own work (cache
        # reads, litellm) needs threads too. The default pool (cores + 4) would deadlock past that.
        # Each probe in flight may hold one more (a hosted system's search request).
        threads = self.config.max_episodes * self.config.max_probes + 8
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="membench")
        )
        run_id = run_id_for(identity)
        moved, self.tally = readable_for_resume(run_dir, self.config.repair)
        done = self.tally.finished(self.config.retry_errors)
        pending = {
            eid: [p for p in probes if p.probe_id not in done]
            for eid, probes in self.plan.probes_by_episode.items()
        }
        todo = [e for e in self.plan.episodes if pending[e.episode_id]]
        started = time.monotonic()
        manifest = starting_manifest(run_id, identity, previous)
        write_manifest(run_dir, manifest)
        # A run begun afresh takes its contributions as it goes; a resumed one's summary reads it back.
        contributions = RunContributions(self.c.task, fresh=previous is None and not len(self.tally))
        self.contributions = contributions
        writer = RunWriter(
            RecordAppender(run_dir), JsonlAppender(run_dir / INGESTS), self.tally, contributions, self.display
        )
        queue: asyncio.Queue[Episode] = asyncio.Queue()
        for episode in todo:
            queue.put_nowait(episode)
        total_pending = sum(len(pending[e.episode_id]) for e in todo)
        resumed = f" (resuming: {len(done)} probes already done)" if previous is not None else ""
        if moved:
            resumed += f" ({moved} unreadable lines moved aside)"
        self.display.start(
            f"{identity['task']['name']} × {self.c.system_name}{resumed}", len(todo), total_pending
        )
        workers = min(self.config.max_episodes, len(todo)) or 1
        on_ray = self.config.executor == "ray"
        # A system's first reset loads its library and models (mem0: about 10 s), with no probe done.
        self.display.message(f"loading system {self.c.system_name} ...")
        systems = [] if on_ray else [self.c.make_system(worker_dir(run_dir, i)) for i in range(workers)]
        status: Status = "interrupted"
        stopped: RunStopped | None = None
        try:
            if on_ray:
                from membench.running.ray_executor import run_on_ray

                await run_on_ray(self, todo, pending, run_id, run_dir, workers, writer)
            else:
                await _all_or_none([self._worker(s, queue, pending, run_id, writer) for s in systems])
            status = "complete"
        except RunStopped as stop:
            # Not "complete": the records so far are kept, and the same command resumes the run.
            status, stopped = "failed", stop
        except ConfigError:
            status = "failed"
            raise
        finally:
            self.display.stop()
            for system in systems:
                await _close_quietly(system)
            writer.close()
            self.usage = merge_usage(self.usage, writer.usage)
            cache = cache_stats(self.c.llm_clients)
            manifest = final_manifest(
                manifest,
                self.tally,
                status=status,
                planned={
                    e.episode_id: [p.probe_id for p in self.plan.probes_by_episode[e.episode_id]]
                    for e in self.plan.episodes
                },
                episodes_planned=len(self.plan.episodes),
                usage=merge_usage(manifest.usage, self.usage),
                cache={key: cache[key] + self.remote_cache.get(key, 0) for key in cache},
                wall_time_s=manifest.wall_time_s + time.monotonic() - started,
            )
            write_manifest(run_dir, manifest)
        self.stopped = stopped
        return manifest

    def contributions_table(self) -> pd.DataFrame | None:
        """The run's contributions table for its summary, or None when the summary must read the
        run back (``RunContributions.table``)."""
        return self.contributions.table() if self.contributions is not None else None

    async def _worker(
        self,
        system: MemorySystem,
        queue: asyncio.Queue[Episode],
        pending: dict[str, list[Probe]],
        run_id: str,
        writer: RunWriter,
    ) -> None:
        worker = self.episodes.worker(system)
        while not queue.empty():
            episode = queue.get_nowait()
            sink = EpisodeSink(self.streak, writer)
            await self.episodes.run(worker, episode, pending[episode.episode_id], run_id, sink)
            writer.episode_done(episode.episode_id)


def worker_dir(run_dir: Path, index: int) -> Path:
    """The working folder of episode worker ``index``'s system instance (a fresh Ray actor taking a
    dead one's place reuses it: every episode starts with a reset)."""
    return run_dir / "state" / f"worker-{index}"


def planned_counts(plan: RunPlan) -> dict[str, int]:
    """How many probes the plan has per episode: an episode run with all of them ingests every session."""
    return {eid: len(probes) for eid, probes in plan.probes_by_episode.items()}


class RecordOut(Protocol):
    """Where an episode's sink passes each record once it is counted."""

    def ingest(self, record: IngestRecord) -> None: ...

    def probe(self, record: Record) -> None: ...


class RunWriter:
    """The run directory's one writer: appends each record, flushed, its memories by reference
    (``RecordAppender``: each distinct memory once per episode in memories.jsonl, before the record),
    and keeps the run's tally, usage and display; ``episode_done`` makes an episode's records and
    memories durable. What it writes also goes to the run's ``RunContributions``, which takes each
    episode's metric contributions when it is done (the summary then reads nothing back)."""

    def __init__(
        self,
        records_out: RecordAppender,
        ingests_out: JsonlAppender,
        tally: ProbeTally,
        contributions: RunContributions,
        display: Display,
    ) -> None:
        self.records_out = records_out
        self.ingests_out = ingests_out
        self.tally = tally
        self.contributions = contributions
        self.display = display
        self.usage: UsageByRole = {}

    def ingest(self, record: IngestRecord) -> None:
        self.usage = merge_usage(self.usage, record.usage)
        self.ingests_out.append(record)
        self.contributions.ingest(record)

    def probe(self, record: Record) -> None:
        memories = self.records_out.append(record)
        self.tally.add(record)
        self.contributions.probe(record, memories)
        self.usage = merge_usage(self.usage, record.usage)
        self.display.probe_done(record.status == "error", record.usage)

    def episode_done(self, episode_id: str) -> None:
        self.records_out.sync()
        self.records_out.episode_done(episode_id)
        self.ingests_out.sync()
        self.contributions.episode_done(episode_id)
        self.display.episode_done()

    def close(self) -> None:
        self.records_out.close()
        self.ingests_out.close()


class EpisodeSink:
    """One episode's results, in the order its logic makes them: counts the failure streak over them
    and passes each on to ``out``, raising ``RunStopped`` where the streak fills.

    The streak is the run's (shared by its episodes) or, in a Ray actor, one of the episode's own:
    there it only ends a failing episode early, and the driver's sink, given the same calls, decides.
    """

    def __init__(self, streak: FailureStreak, out: RecordOut) -> None:
        self.streak = streak
        self.out = out
        self._stop: RunStopped | None = None
        #: the system's usage of the current batch when it is taken per batch (``_Turns.batch_usage``).
        self._system_usage: UsageByRole = {}

    def ingest(self, record: IngestRecord) -> None:
        self.out.ingest(record)

    def failure(self, error: ErrorInfo) -> None:
        """The episode's reset or an ingest failed: one failure for the episode, not one per probe.
        A stop it makes waits for the records it fails (``end_episode``), so the error summary and a
        resume see the episode that stopped the run."""
        stop = self._count(error)
        if self._stop is None:
            self._stop = stop

    def probe(self, record: Record, *, counts: bool, system_usage: UsageByRole | None, last: bool) -> None:
        """Count ``record``'s failure, if any (unless ``counts`` is False: its episode's ingest failure
        counted once), pass it on; then stop the run if its failure filled the streak.

        A probe the judge gave no verdict is a failure too (``failures.failure_of``): a judge whose
        endpoint is down, or whose model ignores the format, stops the run as a failing reader does.
        ``system_usage`` (the system's usage since the previous record, when taken per batch) is
        gathered and carried by the batch's ``last`` record, or by the one that stops the run.
        """
        failure = failure_of(record)
        stop: RunStopped | None = None
        if failure is None:
            self.streak.succeeded()
        elif counts:
            stop = self._count(failure)
        if system_usage is not None:
            self._system_usage = merge_usage(self._system_usage, system_usage)
            if last or stop is not None:
                _add_system_usage(record, self._system_usage)
                self._system_usage = {}
        self.out.probe(record)
        if stop is not None:
            raise stop

    def end_episode(self) -> None:
        """Raise the stop an ingest failure made, now that its records are out."""
        if self._stop is not None:
            raise self._stop

    def _count(self, error: ErrorInfo) -> RunStopped | None:
        return RunStopped(self.streak.count, error) if self.streak.failed(error) else None


@dataclass(frozen=True)
class EpisodeWorker:
    """One episode worker's system instance, the reader as it needs it, and how its probes take turns."""

    system: MemorySystem
    reader: Reader
    turns: _Turns


class EpisodeRunner:
    """The stages of one episode, the same on every executor: reset, then for each session ingest and
    the probes due after it, every result handed in order to an ``EpisodeSink``."""

    def __init__(self, components: Components, planned: dict[str, int], max_probes: int) -> None:
        self.c = components
        #: probes planned per episode (``planned_counts``).
        self.planned = planned
        self.max_probes = max_probes

    def worker(self, system: MemorySystem) -> EpisodeWorker:
        """``system`` with the run's reader as it needs it (``Reader.bound_to``) and its turns."""
        reader = self.c.reader.bound_to(system)
        return EpisodeWorker(system, reader, _Turns.of(system, reader is not self.c.reader, self.max_probes))

    async def run(
        self, worker: EpisodeWorker, episode: Episode, probes: list[Probe], run_id: str, sink: EpisodeSink
    ) -> None:
        """Re-ingest from the start (a system cannot restore a cut state), then run the pending probes.

        An ingest failure fails the episode's probes, each recorded with it, and counts once
        (``EpisodeSink.failure``)."""
        system = worker.system
        due: dict[int, list[Probe]] = {}
        for probe in probes:
            due.setdefault(probe.after_session, []).append(probe)
        # A first pass ingests every session (add time is measured over all of them); a resumed episode
        # stops after the last session that still has a pending probe.
        complete_ingest = len(probes) == self.planned[episode.episode_id]
        last_needed = len(episode.sessions) - 1 if complete_ingest else max(due)
        ingest_error: ErrorInfo | None = None
        try:
            await system.reset(episode)
        except ConfigError:
            raise  # the system cannot run as configured (a worker of another system, a bad option)
        except Exception as exc:
            ingest_error = error_info("ingest", exc)
            sink.failure(ingest_error)
        for index, session in enumerate(episode.sessions[: last_needed + 1]):
            if ingest_error is None:
                t0 = time.perf_counter()
                added: float | None = None  # when ingest returned; settle's wait is timed apart
                try:
                    await system.ingest(session)
                    added = time.perf_counter()
                    await system.settle()
                except Exception as exc:
                    ingest_error = error_info("ingest", exc)
                settled = time.perf_counter()
                added = settled if added is None else added
                sink.ingest(
                    IngestRecord(
                        run_id=run_id,
                        episode_id=episode.episode_id,
                        session_index=index,
                        session_id=session.session_id,
                        latency_s=added - t0,
                        index_wait_s=settled - added,
                        ok=ingest_error is None,
                        error=ingest_error,
                        usage=system.take_usage(),
                        completed_at=now(),
                    )
                )
                if ingest_error is not None:
                    sink.failure(ingest_error)
            if index in due:
                batch = _Batch(worker.system, worker.reader, worker.turns, episode, run_id, ingest_error)
                await self._batch(batch, due[index], sink)
        sink.end_episode()

    async def _batch(self, batch: _Batch, probes: list[Probe], sink: EpisodeSink) -> None:
        """Run the probes due after one session, ``max_probes`` in flight, and hand their records to
        ``sink`` in probe order as the earliest is done; a stop cancels the ones after it (see the
        module's docstring)."""
        upcoming = iter(probes)
        window: deque[asyncio.Task[Record]] = deque()

        def start(count: int) -> None:
            for probe in itertools.islice(upcoming, count):
                window.append(asyncio.ensure_future(self._probe(batch, probe)))

        start(self.max_probes)
        try:
            while window:
                record = await window[0]
                window.popleft()
                start(1)  # a task only runs at the next await: a stop below cancels it unstarted
                system_usage = batch.system.take_usage() if batch.turns.batch_usage else None
                sink.probe(
                    record, counts=batch.ingest_error is None, system_usage=system_usage, last=not window
                )
        finally:
            for task in window:
                task.cancel()
            await asyncio.gather(*window, return_exceptions=True)

    async def _probe(self, batch: _Batch, probe: Probe) -> Record:
        episode = batch.episode
        prediction: Prediction | None = None
        score: Score | None = None
        usage: UsageByRole = {}
        error = batch.ingest_error
        if error is None:
            prediction, error = await self._predict(batch, probe)
            usage = prediction.usage
            if error is not None and error.stage == "system":
                prediction = None  # no prediction, but the usage the failed call reported is counted
        if error is None and prediction is not None:
            t0 = time.perf_counter()
            try:
                score = await self.c.judge.score(probe, prediction, episode)
            except Exception as exc:
                error = error_info("judge", exc)
            prediction.latency_s["judge"] = time.perf_counter() - t0
        usage = merge_usage(usage, score.usage if score else {})
        return Record(
            run_id=batch.run_id,
            task=self.c.task.name,
            task_version=self.c.task.version,
            system=self.c.system_name,
            episode_id=probe.episode_id,
            probe_id=probe.probe_id,
            after_session=probe.after_session,
            kind=probe.kind,
            labels=probe.labels,
            input_hash=sha256_hex(probe.model_dump(mode="json"))[:16],
            prediction=prediction,
            score=score,
            error=error,
            usage=usage,
            completed_at=now(),
        )

    async def _predict(self, batch: _Batch, probe: Probe) -> tuple[Prediction, ErrorInfo | None]:
        """The system's memories for ``probe`` and, for an answer probe, the reader's answer (or the
        first stage's error); the system's calls in its turn (``_Turns``)."""
        async with batch.turns.system:
            prediction, error = await self._recall(batch, probe)
            if batch.turns.reader_uses_system and error is None:
                return await self._answer(batch.reader, probe, prediction)
        if error is not None:
            return prediction, error
        return await self._answer(batch.reader, probe, prediction)

    async def _recall(self, batch: _Batch, probe: Probe) -> tuple[Prediction, ErrorInfo | None]:
        system = batch.system
        prediction = Prediction()
        t0 = time.perf_counter()
        try:
            if probe.mode == "session_memories":
                session = batch.episode.sessions[probe.after_session]
                prediction.memories = await system.session_memories(session)
                prediction.latency_s["session_memories"] = time.perf_counter() - t0
            else:
                prediction.memories = await system.retrieve(probe.query or probe.question, probe.top_k)
                prediction.latency_s["retrieve"] = time.perf_counter() - t0
        except Exception as exc:
            return prediction, error_info("system", exc)
        finally:
            if not batch.turns.batch_usage:
                prediction.usage = merge_usage(prediction.usage, system.take_usage())
        return prediction, None

    async def _answer(
        self, reader: Reader, probe: Probe, prediction: Prediction
    ) -> tuple[Prediction, ErrorInfo | None]:
        if probe.mode != "answer":
            return prediction, None
        t0 = time.perf_counter()
        try:
            answer = await reader.answer(probe, prediction.memories)
        except Exception as exc:
            return prediction, error_info("reader", exc)
        prediction.answer = answer.text
        prediction.usage = merge_usage(prediction.usage, answer.usage)
        prediction.latency_s["answer"] = time.perf_counter() - t0
        return prediction, None


@dataclass(frozen=True)
class _Turns:
    """How the probes in flight in one episode worker share its system instance.

    ``system`` is held around a probe's system calls: a lock (first come, first served, so the instance
    sees the calls in probe order) unless the system declares ``concurrent_retrieval``. A reader that
    answers through the instance (the system reader: ``Reader.bound_to`` gave another reader) answers
    in the same turn. ``batch_usage``: the system's calls of several probes overlap, so its usage is
    taken once per batch.
    """

    system: contextlib.AbstractAsyncContextManager[Any]
    reader_uses_system: bool
    batch_usage: bool

    @classmethod
    def of(cls, system: MemorySystem, reader_uses_system: bool, max_probes: int) -> _Turns:
        overlap = system.concurrent_retrieval and max_probes > 1
        turn: contextlib.AbstractAsyncContextManager[Any] = (
            contextlib.nullcontext() if overlap else asyncio.Lock()
        )
        return cls(turn, reader_uses_system, overlap)


@dataclass(frozen=True)
class _Batch:
    """What the probes due after one session share: the worker's system, reader and turns, the episode,
    and the episode's ingest failure (which every probe's record then carries)."""

    system: MemorySystem
    reader: Reader
    turns: _Turns
    episode: Episode
    run_id: str
    ingest_error: ErrorInfo | None


def _add_system_usage(record: Record, usage: UsageByRole) -> None:
    """Count ``usage`` of the system in ``record`` and its prediction (``membench score`` re-sums a
    record's usage from its prediction's)."""
    if not usage:
        return
    if record.prediction is not None:
        record.prediction.usage = merge_usage(record.prediction.usage, usage)
    record.usage = merge_usage(record.usage, usage)


async def _all_or_none(workers: list[Coroutine[Any, Any, None]]) -> None:
    """Run the episode workers; when one fails (a ConfigError), cancel the others and wait for them
    before re-raising, so no system is closed under a worker still using it (a closed system's errors
    would be recorded as its episode's)."""
    tasks = [asyncio.ensure_future(worker) for worker in workers]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # re-raises the first failure
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _close_quietly(system: MemorySystem) -> None:
    with contextlib.suppress(Exception):  # closing must never hide the run's own outcome
        await system.close()
    with contextlib.suppress(Exception):
        await system.release_llm_endpoint()
