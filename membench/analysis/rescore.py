"""Re-judging: a finished run's predictions scored again by another judge, as a new run.

The memory system and the reader are never touched: each record's stored prediction is scored by the
new judge. The result is a run directory of its own, next to the original, whose identity is the
original's with the judge replaced and a ``rescored_from`` entry (the source run id and its judge), so
``compare`` and ``report`` treat it like any other run, and two judges of one run can be compared on
exactly the same predictions. The original directory is only read.

What is kept from the source run: predictions, system and reader errors (a probe the system failed has
nothing to judge, so its error is carried over), ingest timings. What is redone: every verdict. A judge
failure is recorded as an error, never as a wrong answer. Records are appended and flushed one by one,
so an interrupted rescore resumes where it stopped when the same command is run again. The source is
read in either form (memories inline, or by reference in its memories.jsonl: ``read_records`` resolves
them); the new run holds its memories inline, each record a line that reads back as written.

The dataset is loaded again through the task (built data comes from a seeded builder; official data
from ``-T data=PATH``) and its fingerprint must equal the one in the source manifest; every probe's
input hash must equal the one in its record. The run directory follows the same rules as a run's
(``running/rundir.py``); the two judges' agreement (``analysis/agreement.py``) is written beside it. An LLM
judge goes through ``LLMClient`` and the response cache, so judging the same predictions again costs no
call.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from membench.analysis.agreement import AGREEMENT, Agreement, agreement_json, judge_agreement
from membench.analysis.runs import LoadedRun, load_run
from membench.core.config import LLMSpec
from membench.core.errors import ConfigError, DataError
from membench.core.identity import RunIdentity, run_id_for, sha256_hex
from membench.core.records import (
    INGESTS,
    RECORDS,
    RecordAppender,
    dump_json,
    read_latest_records,
    write_atomic,
    write_manifest,
)
from membench.core.task import Task
from membench.core.types import Dataset, Episode, Manifest, Probe, Record, merge_usage
from membench.registry import Registry
from membench.running.components import build_judge, make_llm_client
from membench.running.rundir import (
    Status,
    cache_stats,
    error_info,
    final_manifest,
    finished_probes,
    now,
    open_run_dir,
    run_dir_name,
    starting_manifest,
)

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.client import LLMClient


@dataclass(frozen=True)
class RescoreConfig:
    run_dir: Path
    judge: str
    judge_llm: LLMSpec | None = None
    #: task options over the source run's, e.g. {"data": PATH} where official data now lives.
    task_options: dict[str, str] = field(default_factory=dict)
    data_dir: Path = Path("data")
    plugins: tuple[str, ...] = ()
    max_connections: int = 8
    retry_errors: bool = False
    fresh: bool = False
    use_cache: bool = True
    cache_path: Path | None = None
    n_boot: int = 2000
    seed: int = 0


@dataclass
class RescoreOutcome:
    source: LoadedRun
    run_dir: Path
    manifest: Manifest
    agreement: Agreement
    judge: Judge
    llm_used: bool


# ---------------------------------------------------------------- setting up


def _load_dataset(config: RescoreConfig, source: LoadedRun, registry: Registry) -> tuple[Task, Dataset]:
    """The source run's task and data, rebuilt; refused unless the fingerprint is the manifest's."""
    task_identity = source.manifest.identity["task"]
    task_cls = registry.get("task", source.task_name)
    task = task_cls(
        {**task_identity.get("options", {}), **config.task_options}, config.data_dir / source.task_name
    )
    dataset = task.load()
    expected = source.dataset_fingerprint
    if dataset.fingerprint != expected:
        raise ConfigError(
            f"{source.run_dir} was run on data with fingerprint {expected}, but the data loaded now "
            f"({dataset.source}) has {dataset.fingerprint}; "
            "point -T data=PATH (or --data-dir) at the run's data"
        )
    return task, dataset


def _make_judge(
    config: RescoreConfig, task: Task, dataset: Dataset, registry: Registry
) -> tuple[Judge, LLMClient | None]:
    llm = None
    if config.judge_llm is not None:
        llm = make_llm_client(
            config.judge_llm,
            "judge",
            use_cache=config.use_cache,
            cache_path=config.cache_path,
            max_connections=config.max_connections,
        )
    judge = build_judge(task, registry, config.judge, llm)
    task.check_judge(judge, dataset)
    return judge, llm


def rescored_identity(source: LoadedRun, judge: Judge) -> RunIdentity:
    """The source identity with the judge replaced, and where it was rescored from."""
    old_judge = source.identity["judge"]
    if judge.identity() == old_judge:
        raise ConfigError(f"{source.run_dir} was judged by {judge.name} already; choose another judge")
    identity = source.identity.copy()
    identity["judge"] = judge.identity()
    identity["rescored_from"] = {"run_id": source.manifest.run_id, "judge": old_judge}
    return identity


def _rescore_dir(source: LoadedRun, identity: RunIdentity) -> Path:
    """Beside the source run, named like any run by its identity (never the source's own directory)."""
    run_dir = source.run_dir.parent / run_dir_name(identity, source.system)
    if run_dir.resolve() == source.run_dir.resolve():
        raise ConfigError(f"{run_dir}: a rescore may not be written over its source run")
    return run_dir


# ---------------------------------------------------------------- rescoring


def rescore(config: RescoreConfig) -> RescoreOutcome:
    """Judge the source run's predictions with ``config.judge`` into a new run directory."""
    from membench.core.env import apply_offline_env

    apply_offline_env()
    registry = Registry(list(config.plugins))
    source = load_run(config.run_dir, registry, whole=True)  # its predictions are copied, memories too
    if not source.complete:
        raise ConfigError(
            f"{source.run_dir} is {source.manifest.status}, not complete: finish it with membench run first"
        )
    task, dataset = _load_dataset(config, source, registry)
    judge, llm = _make_judge(config, task, dataset, registry)
    identity = rescored_identity(source, judge)
    run_dir = _rescore_dir(source, identity)
    work = _Rescorer(source, dataset, judge, run_dir, config)
    for record in source.records:  # every probe checked before anything is written or archived
        work.inputs(record)
    with open_run_dir(run_dir, identity, fresh=config.fresh) as previous:
        manifest = asyncio.run(work.run(identity, previous, llm))
        rescored = load_run(run_dir, registry)
        agreement = judge_agreement(source, rescored, n_boot=config.n_boot, seed=config.seed)
        write_atomic(run_dir / AGREEMENT, dump_json(agreement_json(agreement)))
    return RescoreOutcome(source, run_dir, manifest, agreement, judge, llm is not None)


class _Rescorer:
    """Scores the pending source records with a bounded pool of workers, appending each new record."""

    def __init__(
        self, source: LoadedRun, dataset: Dataset, judge: Judge, run_dir: Path, config: RescoreConfig
    ) -> None:
        self.source = source
        self.judge = judge
        self.run_dir = run_dir
        self.config = config
        self.probes = {p.probe_id: p for p in dataset.probes}
        self.episodes = {e.episode_id: e for e in dataset.episodes}

    async def run(self, identity: RunIdentity, previous: Manifest | None, llm: LLMClient | None) -> Manifest:
        run_id = run_id_for(identity)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not (self.run_dir / INGESTS).exists():
            ingests = [i.model_copy(update={"run_id": run_id}) for i in self.source.ingests]
            write_atomic(self.run_dir / INGESTS, "".join(i.model_dump_json() + "\n" for i in ingests))
        done = finished_probes(self.run_dir, self.config.retry_errors)
        pending = [r for r in self.source.records if r.probe_id not in done]
        started = time.monotonic()
        manifest = starting_manifest(run_id, identity, previous)
        write_manifest(self.run_dir, manifest)
        out = RecordAppender(self.run_dir)  # memories by reference, as ``membench run`` writes them
        status: Status = "interrupted"
        try:
            queue: asyncio.Queue[Record] = asyncio.Queue()
            for record in pending:
                queue.put_nowait(record)
            workers = max(1, min(self.config.max_connections, len(pending)))
            await asyncio.gather(*(self._worker(queue, out, run_id) for _ in range(workers)))
            status = "complete"
        finally:
            out.close()
            manifest = self._final(manifest, status, started, llm)
            write_manifest(self.run_dir, manifest)
        return manifest

    async def _worker(self, queue: asyncio.Queue[Record], out: RecordAppender, run_id: str) -> None:
        while not queue.empty():
            record = queue.get_nowait()
            out.append(await self._rescore(record, run_id))

    def inputs(self, record: Record) -> tuple[Probe, Episode]:
        """The probe and episode a source record answered; an error when the data loaded now differs."""
        where = self.source.run_dir / RECORDS
        probe = self.probes.get(record.probe_id)
        if probe is None or record.episode_id not in self.episodes:
            raise DataError(where, None, "probe_id", f"{record.probe_id} is not in the data loaded now")
        if sha256_hex(probe.model_dump(mode="json"))[:16] != record.input_hash:
            raise DataError(
                where, None, "input_hash", f"probe {record.probe_id} differs from the one the run answered"
            )
        return probe, self.episodes[record.episode_id]

    async def _rescore(self, record: Record, run_id: str) -> Record:
        probe, episode = self.inputs(record)
        stamp = {"run_id": run_id, "completed_at": now()}
        judgeable = record.prediction is not None and (record.error is None or record.error.stage == "judge")
        if not judgeable or record.prediction is None:
            # Nothing to judge: the system or reader failed, and that error stands in the new run too.
            return record.model_copy(update={**stamp, "score": None})
        prediction = record.prediction.model_copy(deep=True)
        score, error = None, None
        t0 = time.perf_counter()
        try:
            score = await self.judge.score(probe, prediction, episode)
        except Exception as exc:
            error = error_info("judge", exc)
        prediction.latency_s["judge"] = time.perf_counter() - t0
        usage = merge_usage(prediction.usage, score.usage if score else {})
        return record.model_copy(
            update={**stamp, "prediction": prediction, "score": score, "error": error, "usage": usage}
        )

    def _final(self, manifest: Manifest, status: Status, started: float, llm: LLMClient | None) -> Manifest:
        """The planned probes are the source's; usage is recomputed from the records on disk (the
        source's ingests, then every record's, which carries its prediction's and the new verdict's)."""
        final = read_latest_records(self.run_dir)
        planned: dict[str, list[str]] = {}
        for record in self.source.records:
            planned.setdefault(record.episode_id, []).append(record.probe_id)
        return final_manifest(
            manifest,
            final,
            status=status,
            planned=planned,
            episodes_planned=self.source.manifest.counts.episodes_planned,
            usage=merge_usage(*(i.usage for i in self.source.ingests), *(r.usage for r in final)),
            cache=cache_stats([llm] if llm is not None else []),
            wall_time_s=manifest.wall_time_s + time.monotonic() - started,
        )
