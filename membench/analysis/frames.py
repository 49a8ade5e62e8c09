"""Runs as tables: one row per probe, per run × metric and per run, read from run directories.

What ``membench export`` writes and ``membench.load_runs`` returns. Only the run's files are read
(manifest, records, summary.json): no task, system or registry is loaded, so a plugin's runs export
without the plugin, and an interrupted run exports the probes it has. Records are scrubbed of secrets
when written; nothing here adds any field they do not hold.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.analysis.runs import role_label
from membench.analysis.summary import SUMMARY
from membench.core.errors import ConfigError, DataError
from membench.core.records import MANIFEST, read_latest_records, read_manifest
from membench.core.types import Manifest, Record, shown_labels

if TYPE_CHECKING:
    import pandas as pd

#: what names the run a row comes from: with several runs in one table, these tell the rows apart.
RUN_COLUMNS = ("run_id", "task", "system", "reader", "judge")

#: the probe table's first columns; ``labels.<name>``, ``values.<name>``, ``latency_s.<stage>`` and
#: ``usage.<role>.<field>`` columns follow, in that order, for every name found in the runs.
PROBE_COLUMNS = (
    *RUN_COLUMNS,
    "episode_id",
    "probe_id",
    "after_session",
    "kind",
    "status",
    "answer",
    "n_memories",
    "score_label",
    "error_stage",
    "error_type",
    "error_message",
    "cost_usd",
    "completed_at",
)

#: per role (system, reader, judge) that made LLM calls: calls, tokens (prompt + completion), cost.
USAGE_FIELDS = ("calls", "tokens", "cost_usd")

#: the summary table's columns after the run's: one row per metric overall (``by`` and ``level`` empty)
#: and per breakdown level, with the names summary.json gives them.
SUMMARY_COLUMNS = (
    *RUN_COLUMNS,
    "metric",
    "by",
    "level",
    "value",
    "ci_low",
    "ci_high",
    "interval",
    "confidence",
    "se",
    "n",
    "n_errors",
    "n_clusters",
)

#: the run table's columns: where each run stands, and whether its summary exists yet.
RUN_TABLE_COLUMNS = (
    *RUN_COLUMNS,
    "status",
    "episodes",
    "probes_planned",
    "probes_scored",
    "probes_errored",
    "wall_time_s",
    "cost_usd",
    "has_summary",
    "run_dir",
)


@dataclass(frozen=True)
class RunFiles:
    """One run directory as the tables read it: where it is and its manifest (records read on demand)."""

    run_dir: Path
    manifest: Manifest

    def columns(self) -> dict[str, str]:
        """The run's ``RUN_COLUMNS`` values: ids and the identity's names for the reader and judge."""
        identity = self.manifest.identity
        return {
            "run_id": self.manifest.run_id,
            "task": str(identity.get("task", {}).get("name", "?")),
            "system": str(identity.get("system", {}).get("name", "?")),
            "reader": role_label(identity, "reader"),
            "judge": role_label(identity, "judge"),
        }

    def records(self) -> list[Record]:
        """The latest record per probe (a retried error superseded by its redo), as metrics read them;
        memories stay on disk (the table counts them)."""
        return read_latest_records(self.run_dir)


def find_runs(paths_or_globs: str | Path | Iterable[str | Path]) -> list[RunFiles]:
    """The runs named: each a run directory or a glob of them (whose matches leave out the archived
    ``.replaced-`` copies ``--fresh`` makes, as ``find_run_dirs`` does).

    A path that is not a run directory, a glob matching none, or one run named twice (a copy, or an
    archive beside the run it was) is refused, naming it: one run's rows twice would count its probes
    twice. The same directory named twice is read once.
    """
    items = [paths_or_globs] if isinstance(paths_or_globs, str | Path) else list(paths_or_globs)
    if not items:
        raise ConfigError("name at least one run directory")
    runs: list[RunFiles] = []
    seen: dict[str, Path] = {}
    for run_dir in _expand(items):
        manifest = read_manifest(run_dir) if run_dir.is_dir() else None
        if manifest is None:
            raise ConfigError(f"{run_dir}: not a run directory (no {MANIFEST}){_inside(run_dir)}")
        if manifest.run_id in seen:
            if seen[manifest.run_id] == run_dir.resolve():
                continue
            raise ConfigError(
                f"run {manifest.run_id} is given twice: {seen[manifest.run_id]} and {run_dir} "
                "(a copy, or an archived .replaced- one); name it once"
            )
        seen[manifest.run_id] = run_dir.resolve()
        runs.append(RunFiles(run_dir, manifest))
    return runs


def _inside(path: Path) -> str:
    """A hint naming the runs a results folder holds, for when it is given in place of them."""
    for folder in (path / "runs", path):
        if folder.is_dir() and any((child / MANIFEST).is_file() for child in folder.iterdir()):
            return f"; its runs are '{folder / '*'}'"
    return ""


def _expand(items: Sequence[str | Path]) -> list[Path]:
    """Each item as a path, or its glob's matches when it is not an existing path and has any."""
    paths: list[Path] = []
    for item in items:
        text = str(item)
        if Path(text).exists() or not glob.has_magic(text):
            paths.append(Path(text))
            continue
        matches = [Path(m) for m in sorted(glob.glob(text)) if ".replaced-" not in Path(m).name]
        if not matches:
            raise ConfigError(f"{text}: no run directory matches")
        paths.extend(matches)
    return paths


def probe_row(run: dict[str, str], record: Record) -> dict[str, Any]:
    """One probe's row: the run's columns, then the record's ids, verdict, error, latencies and usage."""
    prediction, verdict, error = record.prediction, record.score, record.error
    row: dict[str, Any] = {
        **run,
        "episode_id": record.episode_id,
        "probe_id": record.probe_id,
        "after_session": record.after_session,
        "kind": record.kind,
        "status": record.status,
        "answer": prediction.answer if prediction else None,
        "n_memories": len(prediction.memories) if prediction else 0,
        "score_label": verdict.label if verdict else None,
        "error_stage": error.stage if error else None,
        "error_type": error.type if error else None,
        "error_message": error.message if error else None,
        "cost_usd": sum((u.cost_usd for u in record.usage.values()), 0.0),
        "completed_at": record.completed_at,
    }
    row.update({f"labels.{k}": v for k, v in shown_labels(record.labels).items()})
    row.update({f"values.{k}": v for k, v in (verdict.values if verdict else {}).items()})
    row.update({f"latency_s.{k}": v for k, v in (prediction.latency_s if prediction else {}).items()})
    for role, usage in record.usage.items():
        tokens = usage.prompt_tokens + usage.completion_tokens
        row.update(zip(_usage_columns(role), (usage.calls, tokens, usage.cost_usd), strict=True))
    return row


def _usage_columns(role: str) -> tuple[str, ...]:
    return tuple(f"usage.{role}.{field}" for field in USAGE_FIELDS)


#: the order of the column groups after ``PROBE_COLUMNS``.
_GROUPS = ("labels", "values", "latency_s", "usage")


def _column_order(column: str) -> tuple[int, str, int]:
    """Groups in ``_GROUPS`` order, names sorted within a group, a role's usage in ``USAGE_FIELDS`` order."""
    group, _, name = column.partition(".")
    if group == "usage":
        role, _, field = name.rpartition(".")
        return (_GROUPS.index(group), role, USAGE_FIELDS.index(field))
    return (_GROUPS.index(group), name, 0)


def probes_frame(runs: Sequence[RunFiles]) -> pd.DataFrame:
    """Every run's latest record per probe, one row each, in the order (task, system, run id, episode,
    session, probe id), so the same runs always give the same table whatever order they were named in.

    Absent values are None (NaN in numeric columns), except usage: a role with no call in a probe
    made 0 calls, spent 0 tokens and $0.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run in sorted(runs, key=_run_order):
        records = sorted(run.records(), key=lambda r: (r.episode_id, r.after_session, r.probe_id))
        rows.extend(probe_row(run.columns(), record) for record in records)
    found = {column for row in rows for column in row} - set(PROBE_COLUMNS)
    frame = pd.DataFrame(rows, columns=[*PROBE_COLUMNS, *sorted(found, key=_column_order)])
    for column in (c for c in frame.columns if c.startswith("usage.")):
        frame[column] = frame[column].fillna(0)
        if not column.endswith(".cost_usd"):
            frame[column] = frame[column].astype("int64")
    return frame


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run's summary.json (None before the run has finished and written it); unreadable JSON is an
    error naming the file and line."""
    path = run_dir / SUMMARY
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, None, f"is not valid JSON: {exc.msg}") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), list):
        raise DataError(path, None, "metrics", "is missing: not a membench summary")
    return summary


def summary_rows(run: RunFiles) -> list[dict[str, Any]]:
    """The run's estimates as rows of ``SUMMARY_COLUMNS``: each metric overall, then each breakdown."""
    summary = read_summary(run.run_dir)
    if summary is None:
        return []
    estimates: list[tuple[str, Any]] = [(f"metrics[{i}]", e) for i, e in enumerate(summary["metrics"])]
    for label, entries in sorted(summary.get("breakdowns", {}).items()):
        estimates.extend((f"breakdowns.{label}[{i}]", e) for i, e in enumerate(entries))
    columns, rows = run.columns(), []
    for where, estimate in estimates:
        missing = [c for c in SUMMARY_COLUMNS[len(RUN_COLUMNS) :] if c not in estimate]
        if missing:
            raise DataError(run.run_dir / SUMMARY, None, f"{where}.{missing[0]}", "is missing")
        rows.append({**columns, **{c: estimate[c] for c in SUMMARY_COLUMNS[len(RUN_COLUMNS) :]}})
    return rows


def summaries_frame(runs: Sequence[RunFiles]) -> pd.DataFrame:
    """One row per run × metric (and per breakdown level), from each run's summary.json; a run that has
    not written one yet (interrupted, still running) has no row (``runs_frame`` says which)."""
    import pandas as pd

    rows = [row for run in sorted(runs, key=_run_order) for row in summary_rows(run)]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def runs_frame(runs: Sequence[RunFiles]) -> pd.DataFrame:
    """One row per run: its ids, status, counts, wall time, LLM cost, and whether it has a summary."""
    import pandas as pd

    rows = []
    for run in sorted(runs, key=_run_order):
        manifest, counts = run.manifest, run.manifest.counts
        rows.append(
            {
                **run.columns(),
                "status": manifest.status,
                "episodes": counts.episodes_planned,
                "probes_planned": counts.probes_planned,
                "probes_scored": counts.probes_scored,
                "probes_errored": counts.probes_errored,
                "wall_time_s": manifest.wall_time_s,
                "cost_usd": sum((u.cost_usd for u in manifest.usage.values()), 0.0),
                "has_summary": (run.run_dir / SUMMARY).exists(),
                "run_dir": str(run.run_dir),
            }
        )
    return pd.DataFrame(rows, columns=list(RUN_TABLE_COLUMNS))


def _run_order(run: RunFiles) -> tuple[str, ...]:
    columns = run.columns()
    return (columns["task"], columns["system"], columns["run_id"])
