"""Drive every system through the same episodes, in the same order, and never lose a result.

Stages per episode (dataset order inside an episode, episodes concurrently up to ``max_episodes``):
reset → for each session: ingest → the probes due after it (predict → judge → append a record).
A run directory is named by a hash of what decides the results, so the same command resumes it
(``running/rundir.py`` keeps it: the same rules as ``membench score``'s).

Answer probes are answered by the run's one reader, the same for every system; with the ``system``
reader (``--reader system``), by each worker's own system instance, which must declare it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.core.config import RunConfig
from membench.core.errors import ConfigError
from membench.core.identity import RunIdentity, limit_selection, run_id_for, sha256_hex
from membench.core.records import (
    INGESTS,
    RECORDS,
    JsonlAppender,
    latest_records,
    read_records,
    write_manifest,
)
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
from membench.running.display import Display
from membench.running.failures import FailureStreak, failure_of
from membench.running.rundir import (
    Status,
    cache_stats,
    error_info,
    final_manifest,
    finished_probes,
    now,
    readable_for_resume,
    starting_manifest,
)
from membench.systems.base import MemorySystem

if TYPE_CHECKING:
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
        #: why the run stopped early, once ``run`` returned a failed run (its caller shows it).
        self.stopped: RunStopped | None = None

    async def run(self, run_dir: Path, identity: RunIdentity, previous: Manifest | None) -> Manifest:
        # Each episode worker may hold a thread waiting on this loop (a blocking library call whose LLM
        # requests this loop serves: mem0's extraction, the LLM endpoint); the loop's own work (cache
        # reads, litellm) needs threads too. The default pool (cores + 4) would deadlock past that.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=self.config.max_episodes + 8, thread_name_prefix="membench")
        )
        run_id = run_id_for(identity)
        moved = readable_for_resume(run_dir, self.config.repair)
        done = finished_probes(run_dir, self.config.retry_errors)
        pending = {
            eid: [p for p in probes if p.probe_id not in done]
            for eid, probes in self.plan.probes_by_episode.items()
        }
        todo = [e for e in self.plan.episodes if pending[e.episode_id]]
        started = time.monotonic()
        manifest = starting_manifest(run_id, identity, previous)
        write_manifest(run_dir, manifest)
        records_out = JsonlAppender(run_dir / RECORDS)
        ingests_out = JsonlAppender(run_dir / INGESTS)
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
        # A system's first reset loads its library and models (mem0: about 10 s), with no probe done.
        self.display.message(f"loading system {self.c.system_name} ...")
        systems = [self.c.make_system(run_dir / "state" / f"worker-{i}") for i in range(workers)]
        status: Status = "interrupted"
        stopped: RunStopped | None = None
        try:
            await _all_or_none(
                [self._worker(s, queue, pending, run_id, records_out, ingests_out) for s in systems]
            )
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
            records_out.close()
            ingests_out.close()
            manifest = final_manifest(
                manifest,
                latest_records(read_records(run_dir)),
                status=status,
                planned={
                    e.episode_id: [p.probe_id for p in self.plan.probes_by_episode[e.episode_id]]
                    for e in self.plan.episodes
                },
                episodes_planned=len(self.plan.episodes),
                usage=merge_usage(manifest.usage, self.usage),
                cache=cache_stats(self.c.llm_clients),
                wall_time_s=manifest.wall_time_s + time.monotonic() - started,
            )
            write_manifest(run_dir, manifest)
        self.stopped = stopped
        return manifest

    async def _worker(
        self,
        system: MemorySystem,
        queue: asyncio.Queue[Episode],
        pending: dict[str, list[Probe]],
        run_id: str,
        records_out: JsonlAppender,
        ingests_out: JsonlAppender,
    ) -> None:
        reader = self._reader_for(system)
        while not queue.empty():
            episode = queue.get_nowait()
            await self._episode(
                system, reader, episode, pending[episode.episode_id], run_id, records_out, ingests_out
            )
            records_out.sync()
            ingests_out.sync()
            self.display.episode_done()

    def _reader_for(self, system: MemorySystem) -> Reader:
        """The run's reader as one episode worker's system needs it (``Reader.bound_to``)."""
        return self.c.reader.bound_to(system)

    async def _episode(
        self,
        system: MemorySystem,
        reader: Reader,
        episode: Episode,
        probes: list[Probe],
        run_id: str,
        records_out: JsonlAppender,
        ingests_out: JsonlAppender,
    ) -> None:
        """Re-ingest from the start (a system cannot restore a cut state), then run the pending probes.

        An ingest failure fails the episode's probes, each recorded with it, and counts once; when it
        fills the streak, the run stops after those records are written, so the error summary and a
        resume see the episode that stopped it."""
        due: dict[int, list[Probe]] = {}
        for probe in probes:
            due.setdefault(probe.after_session, []).append(probe)
        # A first pass ingests every session (add time is measured over all of them); a resumed episode
        # stops after the last session that still has a pending probe.
        complete_ingest = len(probes) == len(self.plan.probes_by_episode[episode.episode_id])
        last_needed = len(episode.sessions) - 1 if complete_ingest else max(due)
        ingest_error: ErrorInfo | None = None
        stop: RunStopped | None = None
        try:
            await system.reset(episode)
        except ConfigError:
            raise  # the system cannot run as configured (a worker of another system, a bad option)
        except Exception as exc:
            ingest_error = error_info("ingest", exc)
            stop = self._count(ingest_error)
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
                usage = system.take_usage()
                self._add_usage(usage)
                ingests_out.append(
                    IngestRecord(
                        run_id=run_id,
                        episode_id=episode.episode_id,
                        session_index=index,
                        session_id=session.session_id,
                        latency_s=added - t0,
                        index_wait_s=settled - added,
                        ok=ingest_error is None,
                        error=ingest_error,
                        usage=usage,
                        completed_at=now(),
                    )
                )
                if ingest_error is not None:
                    stop = self._count(ingest_error)  # one failure for the episode, not one per probe
            for probe in due.get(index, []):
                record = await self._probe(system, reader, episode, probe, run_id, ingest_error)
                records_out.append(record)
                self.display.probe_done(record.status == "error", record.usage)
                failure = failure_of(record)
                if failure is None:
                    self.streak.succeeded()
                elif ingest_error is None:  # an episode's ingest failure counts once, above
                    self._failed(failure)
        if stop is not None:
            raise stop

    async def _probe(
        self,
        system: MemorySystem,
        reader: Reader,
        episode: Episode,
        probe: Probe,
        run_id: str,
        ingest_error: ErrorInfo | None,
    ) -> Record:
        prediction: Prediction | None = None
        score: Score | None = None
        error = ingest_error
        if error is None:
            prediction, error = await self._predict(system, reader, episode, probe)
        if error is None and prediction is not None:
            t0 = time.perf_counter()
            try:
                score = await self.c.judge.score(probe, prediction, episode)
            except Exception as exc:
                error = error_info("judge", exc)
            prediction.latency_s["judge"] = time.perf_counter() - t0
        usage = merge_usage(prediction.usage if prediction else {}, score.usage if score else {})
        self._add_usage(usage)
        return Record(
            run_id=run_id,
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

    async def _predict(
        self, system: MemorySystem, reader: Reader, episode: Episode, probe: Probe
    ) -> tuple[Prediction | None, ErrorInfo | None]:
        prediction = Prediction()
        t0 = time.perf_counter()
        try:
            if probe.mode == "session_memories":
                prediction.memories = await system.session_memories(episode.sessions[probe.after_session])
                prediction.latency_s["session_memories"] = time.perf_counter() - t0
            else:
                prediction.memories = await system.retrieve(probe.query or probe.question, probe.top_k)
                prediction.latency_s["retrieve"] = time.perf_counter() - t0
        except Exception as exc:
            return None, error_info("system", exc)
        finally:
            prediction.usage = merge_usage(prediction.usage, system.take_usage())
        if probe.mode == "answer":
            t0 = time.perf_counter()
            try:
                answer = await reader.answer(probe, prediction.memories)
            except Exception as exc:
                return prediction, error_info("reader", exc)
            prediction.answer = answer.text
            prediction.usage = merge_usage(prediction.usage, answer.usage)
            prediction.latency_s["answer"] = time.perf_counter() - t0
        return prediction, None

    def _add_usage(self, usage: UsageByRole) -> None:
        self.usage = merge_usage(self.usage, usage)

    def _failed(self, error: ErrorInfo) -> None:
        """Count a failure (after its record is written); stop the run when the streak is full.

        A probe the judge gave no verdict is a failure too (``failures.failure_of``): a judge whose
        endpoint is down, or whose model ignores the format, stops the run as a failing reader does.
        """
        stop = self._count(error)
        if stop is not None:
            raise stop

    def _count(self, error: ErrorInfo) -> RunStopped | None:
        """Count a failure; the stop to raise when the streak is full (now, or once the records it
        fails are written)."""
        return RunStopped(self.streak.count, error) if self.streak.failed(error) else None


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
