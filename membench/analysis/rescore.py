"""``membench score``: judge a finished run's predictions again, with another judge, as a new run.

The memory system and the reader are never touched: each record's stored prediction is scored by the
new judge. The result is a run directory of its own, next to the original, whose identity is the
original's with the judge replaced and a ``rescored_from`` entry (the source run id and its judge), so
``compare`` and ``report`` treat it like any other run, and two judges of one run can be compared on
exactly the same predictions. The original directory is only read.

What is kept from the source run: predictions, system and reader errors (a probe the system failed has
nothing to judge, so its error is carried over), ingest timings. What is redone: every verdict. A judge
failure is recorded as an error, never as a wrong answer. Records are appended and flushed one by one,
so an interrupted rescore resumes where it stopped when the same command is run again.

The dataset is loaded again through the task (built data comes from a seeded builder; official data
from ``-T data=PATH``) and its fingerprint must equal the one in the source manifest; every probe's
input hash must equal the one in its record. Then the two judges' labels (``Score.label``) are compared
on the probes both scored: raw agreement, Cohen's kappa and the confusion table, per probe kind, and
the task's main metric under each judge. An LLM judge goes through ``LLMClient`` and the response
cache, so judging the same predictions again costs no call.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.analysis.runs import LoadedRun, load_run
from membench.core.config import LLMSpec
from membench.core.errors import ConfigError, DataError, IdentityMismatch
from membench.core.identity import identity_differences, run_id_for, sha256_hex
from membench.core.records import (
    INGESTS,
    RECORDS,
    JsonlAppender,
    dump_json,
    latest_records,
    read_manifest,
    read_records,
    write_atomic,
    write_manifest,
)
from membench.core.types import Counts, Dataset, Episode, Manifest, Probe, Record, merge_usage
from membench.registry import Registry
from membench.run.runner import error_info, finished_probes, now, starting_manifest

if TYPE_CHECKING:
    import pandas as pd

    from membench.judges.base import Judge
    from membench.stats import Comparison, MetricEstimate

AGREEMENT = "agreement.json"


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


@dataclass(frozen=True)
class KindAgreement:
    """Two judges' labels on the probes of one kind ("all" for every kind) that both scored."""

    kind: str
    n: int
    raw: float | None
    kappa: float | None
    confusion: pd.DataFrame


@dataclass(frozen=True)
class Agreement:
    judge_a: str
    judge_b: str
    kinds: tuple[KindAgreement, ...]
    metric: str
    estimate_a: MetricEstimate
    estimate_b: MetricEstimate
    difference: Comparison


@dataclass
class RescoreOutcome:
    source: LoadedRun
    run_dir: Path
    manifest: Manifest
    agreement: Agreement
    judge: Judge
    llm_used: bool


# ---------------------------------------------------------------- setting up


def _load_dataset(config: RescoreConfig, source: LoadedRun, registry: Registry) -> tuple[Any, Dataset]:
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


def _make_judge(config: RescoreConfig, task: Any, dataset: Dataset, registry: Registry) -> tuple[Judge, Any]:
    from membench.run.components import build_judge, make_llm_client

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


def rescored_identity(source: LoadedRun, judge: Judge) -> dict[str, Any]:
    """The source identity with the judge replaced, and where it was rescored from."""
    old_judge = source.manifest.identity.get("judge", {})
    if judge.identity() == old_judge:
        raise ConfigError(f"{source.run_dir} was judged by {judge.name} already; choose another judge")
    return {
        **source.manifest.identity,
        "judge": judge.identity(),
        "rescored_from": {"run_id": source.manifest.run_id, "judge": old_judge},
    }


def _rescore_dir(source: LoadedRun, identity: dict[str, Any]) -> Path:
    return source.run_dir.parent / f"{source.task_name}__{source.system}__{run_id_for(identity)}"


def _prepare_dir(source: LoadedRun, identity: dict[str, Any], fresh: bool) -> tuple[Path, Manifest | None]:
    run_dir = _rescore_dir(source, identity)
    if run_dir.resolve() == source.run_dir.resolve():
        raise ConfigError(f"{run_dir}: a rescore may not be written over its source run")
    existing = read_manifest(run_dir)
    if existing is not None and fresh:
        archive = run_dir.with_name(f"{run_dir.name}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        shutil.move(str(run_dir), archive)
        existing = None
    if existing is not None and existing.identity != identity:
        diffs = "; ".join(identity_differences(existing.identity, identity))
        raise IdentityMismatch(f"{run_dir} holds a different run ({diffs}); use --fresh to start over there")
    return run_dir, existing


# ---------------------------------------------------------------- rescoring


def rescore(config: RescoreConfig) -> RescoreOutcome:
    """Judge the source run's predictions with ``config.judge`` into a new run directory."""
    from membench.core.env import apply_offline_env

    apply_offline_env()
    registry = Registry(list(config.plugins))
    source = load_run(config.run_dir, registry)
    if not source.complete:
        raise ConfigError(
            f"{source.run_dir} is {source.manifest.status}, not complete: finish it with membench run first"
        )
    task, dataset = _load_dataset(config, source, registry)
    judge, llm = _make_judge(config, task, dataset, registry)
    identity = rescored_identity(source, judge)
    work = _Rescorer(source, dataset, judge, _rescore_dir(source, identity), config)
    for record in source.records:  # every probe checked before anything is written or archived
        work.inputs(record)
    run_dir, previous = _prepare_dir(source, identity, config.fresh)
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

    async def run(self, identity: dict[str, Any], previous: Manifest | None, llm: Any) -> Manifest:
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
        out = JsonlAppender(self.run_dir / RECORDS)
        status = "interrupted"
        try:
            queue: asyncio.Queue[Record] = asyncio.Queue()
            for record in pending:
                queue.put_nowait(record)
            workers = max(1, min(self.config.max_connections, len(pending)))
            await asyncio.gather(*(self._worker(queue, out, run_id) for _ in range(workers)))
            status = "complete"
        finally:
            out.close()
            write_manifest(self.run_dir, self._final(manifest, status, started, llm))
        final = read_manifest(self.run_dir)
        assert final is not None
        return final

    async def _worker(self, queue: asyncio.Queue[Record], out: JsonlAppender, run_id: str) -> None:
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

    def _final(self, manifest: Manifest, status: str, started: float, llm: Any) -> Manifest:
        """Counts and usage recomputed from the records on disk (so they stay right across resumes)."""
        final = latest_records(read_records(self.run_dir))
        wanted = {r.probe_id for r in self.source.records}
        have = {r.probe_id for r in final}
        if status == "complete" and not wanted <= have:
            status = "interrupted"
        by_episode: dict[str, set[str]] = {}
        for record in self.source.records:
            by_episode.setdefault(record.episode_id, set()).add(record.probe_id)
        usage = merge_usage(*(i.usage for i in self.source.ingests), *(r.usage for r in final))
        cache = llm.cache.stats() if llm is not None and llm.cache is not None else {}
        return manifest.model_copy(
            update={
                "status": status,
                "updated_at": now(),
                "usage": usage,
                "cache": cache,
                "wall_time_s": manifest.wall_time_s + time.monotonic() - started,
                "counts": Counts(
                    episodes_planned=self.source.manifest.counts.episodes_planned,
                    episodes_done=sum(1 for probes in by_episode.values() if probes <= have),
                    probes_planned=len(wanted),
                    probes_scored=sum(1 for r in final if r.status == "scored"),
                    probes_errored=sum(1 for r in final if r.status == "error"),
                ),
            }
        )


# ---------------------------------------------------------------- agreement


def judge_agreement(a: LoadedRun, b: LoadedRun, *, n_boot: int = 2000, seed: int = 0) -> Agreement:
    """How two runs' judges agree on the probes both scored, and the main metric under each."""
    from membench.stats import cohens_kappa, compare, confusion_table, estimate, raw_agreement

    labels_b = {r.probe_id: r for r in b.records if r.status == "scored"}
    pairs = [
        (r.kind, r.score.label, labels_b[r.probe_id].score.label)  # type: ignore[union-attr]
        for r in a.records
        if r.status == "scored" and r.probe_id in labels_b
    ]
    pairs = [(kind, x, y) for kind, x, y in pairs if x is not None and y is not None]
    kinds = []
    for kind in ["all", *sorted({kind for kind, _, _ in pairs})]:
        chosen = [(x, y) for k, x, y in pairs if kind in ("all", k)]
        xs, ys = [x for x, _ in chosen], [y for _, y in chosen]
        kinds.append(
            KindAgreement(
                kind, len(chosen), raw_agreement(xs, ys), cohens_kappa(xs, ys), confusion_table(xs, ys)
            )
        )
    main = a.task.main_metric()
    frame_a, frame_b = a.contributions(), b.contributions()
    estimate_a = next(
        e for e in estimate(frame_a, a.task.metrics, n_boot=n_boot, seed=seed) if e.metric == main.name
    )
    estimate_b = next(
        e for e in estimate(frame_b, a.task.metrics, n_boot=n_boot, seed=seed) if e.metric == main.name
    )
    difference = compare(
        frame_a,
        frame_b,
        a.task.metrics,
        main.name,
        name_a=_judge_name(a),
        name_b=_judge_name(b),
        n_boot=n_boot,
        seed=seed,
    )
    return Agreement(
        _judge_name(a), _judge_name(b), tuple(kinds), main.name, estimate_a, estimate_b, difference
    )


def _judge_name(run: LoadedRun) -> str:
    return str(run.manifest.identity.get("judge", {}).get("name", "?"))


def agreement_json(agreement: Agreement) -> dict[str, Any]:
    from membench.stats.policy import interval_method

    c = agreement.difference
    return {
        "judge_a": agreement.judge_a,
        "judge_b": agreement.judge_b,
        "labels": [
            {
                "kind": k.kind,
                "n": k.n,
                "raw_agreement": k.raw,
                "cohens_kappa": k.kappa,
                "confusion": {
                    "rows_judge_a": [str(x) for x in k.confusion.index],
                    "columns_judge_b": [str(x) for x in k.confusion.columns],
                    "counts": k.confusion.to_numpy().astype(int).tolist(),
                },
            }
            for k in agreement.kinds
        ],
        "main_metric": {
            "metric": agreement.metric,
            "judge_a": {
                "value": agreement.estimate_a.value,
                "ci": agreement.estimate_a.interval,
                "n": agreement.estimate_a.n,
            },
            "judge_b": {
                "value": agreement.estimate_b.value,
                "ci": agreement.estimate_b.interval,
                "n": agreement.estimate_b.n,
            },
            "difference": c.difference,
            "difference_ci": c.interval,
            "interval": interval_method(c.n_clusters),
            "test": c.test,
            "p_permutation": c.p_permutation,
            "p_mcnemar": c.p_mcnemar,
            "n_paired": c.n_paired,
        },
    }


def print_rescore(outcome: RescoreOutcome) -> None:
    from rich.console import Console
    from rich.table import Table

    from membench.core import numbers as fmt
    from membench.stats.policy import few_episodes_note, interval_sentence

    console = Console(markup=False, highlight=False)
    agreement = outcome.agreement
    counts = outcome.manifest.counts
    console.print(f"rescored {outcome.source.run_dir}")
    console.print(f"     into {outcome.run_dir}  (records.jsonl, manifest.json, {AGREEMENT})")
    console.print(
        f"judge {agreement.judge_a} -> {agreement.judge_b}: {counts.probes_scored} scored, "
        f"{counts.probes_errored} errored, of {counts.probes_planned}; status {outcome.manifest.status}"
    )
    table = Table(title=f"label agreement, {agreement.judge_a} (rows) vs {agreement.judge_b} (columns)")
    for column in ("probes", "labelled by both", "raw agreement", "Cohen's kappa"):
        table.add_column(column, justify="left" if column == "probes" else "right")
    for k in agreement.kinds:
        table.add_row(k.kind, str(k.n), _ratio(k.raw), "—" if k.kappa is None else f"{k.kappa:.3f}")
    console.print(table)
    for k in agreement.kinds:
        if k.n == 0 or (k.kind == "all" and len(agreement.kinds) == 2):
            continue
        confusion = Table(
            title=f"confusion ({k.kind}): {agreement.judge_a} rows, {agreement.judge_b} columns"
        )
        confusion.add_column(f"{agreement.judge_a} \\ {agreement.judge_b}")
        for column in k.confusion.columns:
            confusion.add_column(str(column), justify="right")
        for label, row in k.confusion.iterrows():
            confusion.add_row(str(label), *(str(int(v)) for v in row))
        console.print(confusion)
    spec = outcome.source.task.main_metric()
    c = agreement.difference
    for name, est in ((agreement.judge_a, agreement.estimate_a), (agreement.judge_b, agreement.estimate_b)):
        console.print(
            f"{spec.display} under {name}: {fmt.value(spec, est.value)} "
            f"{fmt.interval(spec, est.interval)} (n={est.n})"
        )
    if c.difference is not None:
        console.print(
            f"difference ({agreement.judge_b} - {agreement.judge_a}) on {c.n_paired} paired probes: "
            f"{fmt.delta(spec, c.difference)} {fmt.delta_interval(spec, c.interval)}; "
            f"{c.test} p = {fmt.p_value(c.p_permutation)}"
        )
        note = few_episodes_note(c.n_clusters)
        if note:
            console.print(note)
    console.print(interval_sentence())
    if outcome.llm_used:
        cache = outcome.manifest.cache
        console.print(f"LLM cache: {cache.get('hits', 0)} hits, {cache.get('misses', 0)} misses")


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"
