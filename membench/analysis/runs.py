"""Finished runs read back from disk: what ``compare``, ``report`` and ``score`` start from.

A run directory holds everything needed to recompute its metrics (manifest, records, ingests); the task
object is rebuilt from the manifest's identity so its ``contributions`` can be taken again, without
loading data or touching the memory system. Records are read with their memories left on disk until a
metric or a page reads them (``records.read_latest_records``): a full-context run's memories are most
of its records.jsonl, and most metrics never look at them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from membench.core.errors import ConfigError, DataError
from membench.core.identity import RunIdentity, canonical_json, component_model
from membench.core.records import (
    MANIFEST,
    latest_ingests,
    latest_records,
    read_ingests,
    read_latest_records,
    read_manifest,
    read_records,
)
from membench.core.task import Task
from membench.core.types import IngestRecord, Manifest, Record
from membench.registry import Registry

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class LoadedRun:
    """One run directory, parsed: its manifest, latest records per probe, and its task rebuilt."""

    run_dir: Path
    manifest: Manifest
    task: Task
    records: list[Record]
    ingests: list[IngestRecord]
    #: the system's default options when its class can be loaded; None for a plugin not loaded here.
    system_defaults: Mapping[str, str] | None = None

    @property
    def identity(self) -> RunIdentity:
        """The run's identity as written by the runner (or a rescore), typed."""
        return cast(RunIdentity, self.manifest.identity)

    @property
    def task_name(self) -> str:
        return str(self.manifest.identity["task"]["name"])

    @property
    def dataset_fingerprint(self) -> str:
        return str(self.manifest.identity.get("dataset", {}).get("fingerprint", ""))

    @property
    def system(self) -> str:
        return str(self.manifest.identity["system"]["name"])

    @property
    def mode(self) -> str:
        """What besides the system name decides the outputs: system mode and options, reader and judge."""
        return run_mode(self.manifest.identity, self.system_defaults)

    @property
    def label(self) -> str:
        """How reports name this run: ``mem0 (offline · extractive · rule)``."""
        return f"{self.system} ({self.mode})"

    @property
    def complete(self) -> bool:
        """Finished, with a record for every planned probe (an empty run is never complete)."""
        counts = self.manifest.counts
        return (
            self.manifest.status == "complete"
            and counts.probes_planned > 0
            and len(self.records) >= counts.probes_planned
        )

    def contributions(self) -> pd.DataFrame:
        """The statistics' input: every metric contribution of the latest records."""
        return task_contributions(self.task, self.records, self.ingests)


def task_contributions(task: Task, records: list[Record], ingests: list[IngestRecord]) -> pd.DataFrame:
    """Every metric contribution ``task`` takes from a run's latest records, one row each
    (``contributions_table``)."""
    from membench.stats.frame import contributions_table

    return contributions_table(task, task.contributions(records, ingests))


def read_contributions(task: Task, run_dir: Path) -> pd.DataFrame:
    """``task_contributions`` of the latest records on disk (a run being summarised as it ends)."""
    return task_contributions(task, read_latest_records(run_dir), latest_ingests(read_ingests(run_dir)))


def run_mode(identity: dict[str, Any], system_defaults: Mapping[str, str] | None = None) -> str:
    """A short, stable description of a run's configuration beyond the system's name.

    The system's ``mode`` option comes first, then every other option that differs from the system's
    defaults (all set options when the defaults are unknown), so two configurations of one system
    never share a label, nor a place in ``latest_complete``.
    """
    system_options = identity.get("system", {}).get("options", {})
    parts = []
    if system_options.get("mode"):
        parts.append(str(system_options["mode"]))
    for key, value in sorted(system_options.items()):
        default = system_defaults.get(key) if system_defaults is not None else ""
        if key != "mode" and value != default:
            parts.append(f"{key}={value}")
    parts.append(_role_name(identity.get("reader", {})))
    parts.append(_role_name(identity.get("judge", {})))
    return " · ".join(parts)


def role_label(identity: dict[str, Any], role: str) -> str:
    """How reports name a run's ``reader`` or ``judge``: ``extractive``, ``llm:gpt-4o-mini``."""
    return _role_name(identity.get(role, {}))


def _role_name(identity: Mapping[str, Any]) -> str:
    name = str(identity.get("name", "?"))
    model = component_model(identity)
    return f"{name}:{model}" if model and model not in name else name


def load_run(run_dir: Path, registry: Registry | None = None, *, whole: bool = False) -> LoadedRun:
    """Read ``run_dir``; a missing manifest or an unknown task is a clear error naming the directory.

    The records' memories stay on disk until read (``StoredMemories``); ``whole`` reads and validates
    them now, for a caller that writes them back out (a rescore copies each prediction it judges).
    """
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise DataError(run_dir / MANIFEST, None, None, "is missing: not a membench run directory")
    task_identity = manifest.identity.get("task", {})
    name = task_identity.get("name")
    if not name:
        raise DataError(run_dir / MANIFEST, None, "identity.task.name", "is missing")
    registry = registry or Registry([])
    try:
        task_cls = registry.get("task", name)
    except ConfigError as exc:
        raise ConfigError(f"{run_dir}: {exc} (load the task with --plugin if it is not built in)") from exc
    task = task_cls(dict(task_identity.get("options", {})), run_dir / ".task-data-unused")
    records = latest_records(read_records(run_dir)) if whole else read_latest_records(run_dir)
    ingests = latest_ingests(read_ingests(run_dir))
    return LoadedRun(run_dir, manifest, task, records, ingests, _system_defaults(registry, manifest))


def _system_defaults(registry: Registry, manifest: Manifest) -> Mapping[str, str] | None:
    try:
        system_cls = registry.get("system", str(manifest.identity["system"]["name"]))
    except ConfigError:
        return None
    return dict(system_cls.default_options)


def match_run(wanted: str, named: Sequence[tuple[str, LoadedRun]]) -> str | None:
    """The name of the one run ``wanted`` designates among (name, run) pairs, or None when none does.

    The one rule ``compare --baseline`` and ``report --baseline`` share: an exact name or label wins;
    otherwise a system name or run id that exactly one run has. Several matches are an error naming them.
    """
    exact = [name for name, run in named if wanted in (name, run.label)]
    loose = [name for name, run in named if wanted in (run.system, run.manifest.run_id)]
    matches = exact or loose
    if len(matches) > 1:
        raise ConfigError(f"'{wanted}' matches several runs, name one by label: {'; '.join(matches)}")
    return matches[0] if matches else None


def find_run_dirs(results_dir: Path) -> list[Path]:
    """Every run directory under ``results_dir`` (archived ``.replaced-`` copies excluded)."""
    runs_root = results_dir / "runs" if (results_dir / "runs").is_dir() else results_dir
    if not runs_root.is_dir():
        raise ConfigError(f"{results_dir} is not a directory of membench runs")
    return sorted(
        path
        for path in runs_root.iterdir()
        if path.is_dir() and (path / MANIFEST).exists() and ".replaced-" not in path.name
    )


#: the parts of a run's identity that must be equal for two runs to be paired, and how each is named.
COMPARABLE_FIELDS = ("task", "task-options", "dataset", "reader", "judge")
#: the fields ``compare --allow-different`` may let differ (a task or dataset mismatch pairs nothing).
WAIVABLE_FIELDS = ("task-options", "reader", "judge")


def comparable_values(run: LoadedRun) -> dict[str, str]:
    """What decides whether ``run`` can be paired with another: each of ``COMPARABLE_FIELDS`` as text.

    Task options include k (``top_k``) and every scoring option; the reader and judge include their
    models and prompt versions. Runs that differ in any of these answer or score the same probes
    differently, so their difference is not the systems' difference. Left out of the options: the
    data file's name (the dataset fingerprint says whether the data is the same) and the options a
    task declares as only checking an input (``Task.check_options``, e.g. a checksum).
    """
    task = run.identity["task"]
    moot = {"data", *run.task.check_options}
    options = {k: v for k, v in task.get("options", {}).items() if k not in moot}
    return {
        "task": f"{task.get('name', '?')} v{task.get('version', '?')}",
        "task-options": canonical_json(options),
        "dataset": run.dataset_fingerprint,
        "reader": canonical_json(run.manifest.identity.get("reader", {})),
        "judge": canonical_json(run.manifest.identity.get("judge", {})),
    }


def comparability_differences(a: LoadedRun, b: LoadedRun, waived: tuple[str, ...] = ()) -> list[str]:
    """The fields (not waived) in which two runs differ, each as "field: a-value vs b-value"."""
    values_a, values_b = comparable_values(a), comparable_values(b)
    return [
        f"{field}: {values_a[field]} vs {values_b[field]}"
        for field in COMPARABLE_FIELDS
        if field not in waived and values_a[field] != values_b[field]
    ]


def board_key(run: LoadedRun) -> tuple[str, ...]:
    """Runs with equal keys can be paired: one leaderboard board per key."""
    return tuple(comparable_values(run).values())


def latest_complete(runs: list[LoadedRun]) -> list[LoadedRun]:
    """The chosen complete run per (comparable setting, system, mode), in that order.

    The whole comparable setting (task, options, dataset, reader, judge) is part of the key: a system
    re-run on other data, or judged otherwise, must not vanish from the board it was on before. Among
    complete runs of one key, the one covering the most probes wins (a ``--limit`` run never shadows a
    full one), then the most recently updated.
    """
    best: dict[tuple[str, ...], LoadedRun] = {}
    for run in runs:
        if not run.complete:
            continue
        key = (*board_key(run), run.system, run.mode)
        if key not in best or _preference(run) > _preference(best[key]):
            best[key] = run
    return [best[key] for key in sorted(best)]


def _preference(run: LoadedRun) -> tuple[int, datetime]:
    return (run.manifest.counts.probes_planned, datetime.fromisoformat(run.manifest.updated_at))
