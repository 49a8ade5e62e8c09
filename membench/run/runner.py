"""Drive every system through the same episodes, in the same order, and never lose a result.

Stages per episode (dataset order inside an episode, episodes concurrently up to ``max_episodes``):
reset → for each session: ingest → the probes due after it (predict → judge → append a record).
A run directory is named by a hash of what decides the results, so the same command resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from membench import __version__
from membench.core.config import RunConfig
from membench.core.errors import IdentityMismatch, LLMError
from membench.core.identity import identity_differences, limit_selection, run_id_for, sha256_hex
from membench.core.records import (
    INGESTS,
    RECORDS,
    JsonlAppender,
    latest_records,
    read_manifest,
    read_records,
    write_manifest,
)
from membench.core.task import Task
from membench.core.types import (
    Counts,
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
from membench.run.display import Display
from membench.systems.base import MemorySystem


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def error_info(stage: str, exc: BaseException) -> ErrorInfo:
    attempts = exc.attempts if isinstance(exc, LLMError) else 1
    return ErrorInfo(stage=stage, type=type(exc).__name__, message=str(exc)[:2000], attempts=attempts)  # type: ignore[arg-type]


@dataclass
class RunPlan:
    """What a run will do, before it does it (also what ``--dry-run`` prints)."""

    dataset: Dataset
    episodes: list[Episode]
    probes_by_episode: dict[str, list[Probe]]
    skipped_probes: dict[str, int] = field(default_factory=dict)

    @property
    def probe_count(self) -> int:
        return sum(len(p) for p in self.probes_by_episode.values())


@dataclass
class Components:
    """The resolved pieces of a run: one task, one reader, one judge, a way to make system instances."""

    task: Task
    reader: Reader
    judge: Judge
    make_system: Callable[[Path], MemorySystem]
    system_name: str
    llm_clients: list[Any] = field(default_factory=list)
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
) -> dict[str, Any]:
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


def prepare_run_dir(
    config: RunConfig, identity: dict[str, Any], system_name: str
) -> tuple[Path, Manifest | None]:
    """Find or create the run directory; refuse one that belongs to a different configuration."""
    run_id = run_id_for(identity)
    run_dir = (
        config.run_dir or config.results_dir / "runs" / f"{identity['task']['name']}__{system_name}__{run_id}"
    )
    existing = read_manifest(run_dir)
    if existing is not None and config.fresh:
        archive = run_dir.with_name(f"{run_dir.name}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        shutil.move(str(run_dir), archive)
        existing = None
    if existing is not None and existing.identity != identity:
        diffs = "; ".join(identity_differences(existing.identity, identity))
        raise IdentityMismatch(
            f"{run_dir} holds a run with a different configuration ({diffs}); "
            "use --fresh to start over there (the old run is archived) or choose another --run-dir"
        )
    return run_dir, existing


def finished_probes(run_dir: Path, retry_errors: bool) -> set[str]:
    """Probe ids a (re)started run skips: every recorded one, or only the scored ones with retry_errors."""
    prior = latest_records(read_records(run_dir))
    return {r.probe_id for r in prior if r.status == "scored" or not retry_errors}


def starting_manifest(run_id: str, identity: dict[str, Any], previous: Manifest | None) -> Manifest:
    """The manifest a run starts (or resumes) with: creation time, usage, resumes and wall time carried."""
    return Manifest(
        run_id=run_id,
        identity=identity,
        status="running",
        created_at=previous.created_at if previous else now(),
        updated_at=now(),
        membench_version=__version__,
        python_version=platform.python_version(),
        usage=previous.usage if previous else {},
        resumes=(previous.resumes + 1) if previous else 0,
        wall_time_s=previous.wall_time_s if previous else 0.0,
    )


class Runner:
    def __init__(self, config: RunConfig, components: Components, plan: RunPlan, display: Display) -> None:
        self.config = config
        self.c = components
        self.plan = plan
        self.display = display
        self.usage: UsageByRole = {}
        self.errors = 0
        self.scored = 0

    async def run(self, run_dir: Path, identity: dict[str, Any], previous: Manifest | None) -> Manifest:
        run_id = run_id_for(identity)
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
        self.display.start(
            f"{identity['task']['name']} × {self.c.system_name}{resumed}", len(todo), total_pending
        )
        workers = min(self.config.max_episodes, len(todo)) or 1
        systems = [self.c.make_system(run_dir / "state" / f"worker-{i}") for i in range(workers)]
        status = "interrupted"
        try:
            await asyncio.gather(
                *(self._worker(s, queue, pending, run_id, records_out, ingests_out) for s in systems)
            )
            status = "complete"
        finally:
            self.display.stop()
            for system in systems:
                await _close_quietly(system)
            records_out.close()
            ingests_out.close()
            final = latest_records(read_records(run_dir))
            manifest = manifest.model_copy(
                update={
                    "status": status,
                    "updated_at": now(),
                    "usage": merge_usage(manifest.usage, self.usage),
                    "wall_time_s": manifest.wall_time_s + time.monotonic() - started,
                    "counts": Counts(
                        episodes_planned=len(self.plan.episodes),
                        episodes_done=sum(
                            1
                            for e in self.plan.episodes
                            if {p.probe_id for p in self.plan.probes_by_episode[e.episode_id]}
                            <= {r.probe_id for r in final}
                        ),
                        probes_planned=self.plan.probe_count,
                        probes_scored=sum(1 for r in final if r.status == "scored"),
                        probes_errored=sum(1 for r in final if r.status == "error"),
                    ),
                    "cache": _cache_stats(self.c.llm_clients),
                }
            )
            write_manifest(run_dir, manifest)
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
        while not queue.empty():
            episode = queue.get_nowait()
            await self._episode(
                system, episode, pending[episode.episode_id], run_id, records_out, ingests_out
            )
            records_out.sync()
            ingests_out.sync()
            self.display.episode_done()

    async def _episode(
        self,
        system: MemorySystem,
        episode: Episode,
        probes: list[Probe],
        run_id: str,
        records_out: JsonlAppender,
        ingests_out: JsonlAppender,
    ) -> None:
        """Re-ingest from the start (a system cannot restore a cut state), then run the pending probes."""
        due: dict[int, list[Probe]] = {}
        for probe in probes:
            due.setdefault(probe.after_session, []).append(probe)
        # A first pass ingests every session (add time is measured over all of them); a resumed episode
        # stops after the last session that still has a pending probe.
        complete_ingest = len(probes) == len(self.plan.probes_by_episode[episode.episode_id])
        last_needed = len(episode.sessions) - 1 if complete_ingest else max(due)
        ingest_error: ErrorInfo | None = None
        try:
            await system.reset(episode)
        except Exception as exc:
            ingest_error = error_info("ingest", exc)
        for index, session in enumerate(episode.sessions[: last_needed + 1]):
            if ingest_error is None:
                t0 = time.perf_counter()
                try:
                    await system.ingest(session)
                except Exception as exc:
                    ingest_error = error_info("ingest", exc)
                usage = system.take_usage()
                self._add_usage(usage)
                ingests_out.append(
                    IngestRecord(
                        run_id=run_id,
                        episode_id=episode.episode_id,
                        session_index=index,
                        session_id=session.session_id,
                        latency_s=time.perf_counter() - t0,
                        ok=ingest_error is None,
                        error=ingest_error,
                        usage=usage,
                        completed_at=now(),
                    )
                )
            for probe in due.get(index, []):
                record = await self._probe(system, episode, probe, run_id, ingest_error)
                records_out.append(record)
                self.display.probe_done(record.status == "error", record.usage)

    async def _probe(
        self,
        system: MemorySystem,
        episode: Episode,
        probe: Probe,
        run_id: str,
        ingest_error: ErrorInfo | None,
    ) -> Record:
        prediction: Prediction | None = None
        score: Score | None = None
        error = ingest_error
        if error is None:
            prediction, error = await self._predict(system, episode, probe)
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
        self, system: MemorySystem, episode: Episode, probe: Probe
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
                answer = await self.c.reader.answer(probe, prediction.memories)
            except Exception as exc:
                return prediction, error_info("reader", exc)
            prediction.answer = answer.text
            prediction.usage = merge_usage(prediction.usage, answer.usage)
            prediction.latency_s["answer"] = time.perf_counter() - t0
        return prediction, None

    def _add_usage(self, usage: UsageByRole) -> None:
        self.usage = merge_usage(self.usage, usage)


async def _close_quietly(system: MemorySystem) -> None:
    with contextlib.suppress(Exception):  # closing must never hide the run's own outcome
        await system.close()


def _cache_stats(clients: list[Any]) -> dict[str, int]:
    hits = misses = 0
    seen: set[int] = set()
    for client in clients:
        cache = getattr(client, "cache", None)
        if cache is None or id(cache) in seen:
            continue
        seen.add(id(cache))
        stats = cache.stats()
        hits += stats.get("hits", 0)
        misses += stats.get("misses", 0)
    return {"hits": hits, "misses": misses}
