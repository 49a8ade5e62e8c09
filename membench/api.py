"""The Python API: what the command line does, as functions (``from membench import api``).

    from membench import api

    outcome = api.run(api.RunConfig(task="halumem", system="bm25"))     # membench run
    frame = api.load_records(outcome.run_dir)                            # a run's records, as pandas
    rescored = api.score(api.RescoreConfig(outcome.run_dir, judge="lexical"))   # membench score
    result = api.compare([outcome.run_dir, other_run_dir])               # membench compare
    written = api.report("results", "site")                              # membench report

Each takes what its command's flags give and returns what the command prints from, so a notebook can
run, re-judge, compare and report without parsing output. ``membench`` exports the same names
(``membench.run(...)``), loading this module on first use. Importing it loads neither pandas nor an LLM
library: each function imports what it needs when called.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.analysis.rescore import RescoreConfig, RescoreOutcome
from membench.core.config import LLMSpec, RunConfig
from membench.core.types import Manifest, shown_labels
from membench.running.components import prepare
from membench.running.display import Display, make_display
from membench.running.rundir import open_run_dir, run_dir_name
from membench.running.runner import Components, Runner, RunPlan

if TYPE_CHECKING:
    import pandas as pd

    from membench.analysis.compare import CompareResult
    from membench.reporting import Board

__all__ = [
    "LLMSpec",
    "RescoreConfig",
    "RescoreOutcome",
    "RunConfig",
    "RunOutcome",
    "WrittenReport",
    "compare",
    "load_records",
    "report",
    "run",
    "score",
]


@dataclass
class RunOutcome:
    run_dir: Path
    manifest: Manifest
    plan: RunPlan
    components: Components
    #: the run's metric estimates and breakdowns, as written to its summary.json.
    summary: dict[str, Any]


def run(config: RunConfig, display: Display | None = None) -> RunOutcome:
    """Run (or resume) one task × system, then write its summary.json; returns where the results are,
    the final manifest and the summary."""
    from membench.analysis.summary import summarize, write_summary

    components, plan, identity = prepare(config)
    runner = Runner(config, components, plan, display or make_display(config.display))
    run_dir = config.run_dir or config.results_dir / "runs" / run_dir_name(identity, config.system)
    with open_run_dir(
        run_dir, identity, fresh=config.fresh, elsewhere=" or choose another --run-dir"
    ) as previous:
        manifest = asyncio.run(runner.run(run_dir, identity, previous))
        summary = summarize(components.task, run_dir)
        write_summary(run_dir, summary)
    return RunOutcome(run_dir, manifest, plan, components, summary)


def score(config: RescoreConfig) -> RescoreOutcome:
    """Judge a finished run's predictions again with another judge, into a new run beside it; the
    outcome holds the new run and the two judges' agreement (also written to agreement.json)."""
    from membench.analysis.rescore import rescore

    return rescore(config)


def compare(
    run_dirs: Sequence[Path | str] = (),
    *,
    task: str | None = None,
    systems: Sequence[str] = (),
    results_dir: Path | str = Path("results"),
    metrics: Sequence[str] = (),
    all_metrics: bool = False,
    baseline: str | None = None,
    allow_different: Sequence[str] = (),
    n_boot: int = 10000,
    seed: int = 0,
    plugins: Sequence[str] = (),
) -> CompareResult:
    """Paired differences between runs, one Holm family per metric: the runs named by directory, or
    with ``task`` and ``systems`` the latest complete run of each system under ``results_dir``."""
    from membench.analysis.compare import compare_runs, select_runs
    from membench.registry import Registry

    allowed = tuple(allow_different)
    runs = select_runs(
        [Path(d) for d in run_dirs],
        task=task,
        systems=systems,
        results_dir=Path(results_dir),
        registry=Registry(list(plugins)),
        allow_different=allowed,
    )
    return compare_runs(
        runs,
        metrics=metrics,
        all_metrics=all_metrics,
        baseline=baseline,
        n_boot=n_boot,
        seed=seed,
        allow_different=allowed,
    )


@dataclass(frozen=True)
class WrittenReport:
    """What ``report`` wrote, and the boards it rendered (which run each system came from)."""

    files: list[Path]
    boards: list[Board]


def report(
    results_dir: Path | str = Path("results"),
    out: Path | str = Path("report"),
    *,
    baseline: str | None = None,
    data_dir: Path | str = Path("data"),
    n_boot: int = 2000,
    seed: int = 0,
    plugins: Sequence[str] = (),
) -> WrittenReport:
    """Write leaderboard.md, leaderboard.html and a page per run into ``out``, from the complete runs
    under ``results_dir``."""
    from membench.reporting import Settings, write_report

    settings = Settings(n_boot=n_boot, seed=seed, baseline=baseline, data_dir=Path(data_dir))
    files, boards = write_report(Path(results_dir), Path(out), settings, tuple(plugins))
    return WrittenReport(files, boards)


def load_records(run_dir: Path | str) -> pd.DataFrame:
    """A run's records as a DataFrame: one row per probe (its latest record, the one metrics read).

    Columns: ``run_id task system episode_id probe_id kind after_session status answer n_memories
    judge score_label error_stage error_type error_message cost_usd completed_at``, then one column per
    probe label (``labels.<name>``), judge value (``values.<name>``) and timed stage
    (``latency_s.<stage>``) found in the run. Absent values are None (NaN in numeric columns).
    """
    import pandas as pd

    from membench.core.records import latest_records, read_records

    rows = []
    for record in latest_records(read_records(Path(run_dir))):
        prediction, verdict, error = record.prediction, record.score, record.error
        row: dict[str, Any] = {
            "run_id": record.run_id,
            "task": record.task,
            "system": record.system,
            "episode_id": record.episode_id,
            "probe_id": record.probe_id,
            "kind": record.kind,
            "after_session": record.after_session,
            "status": record.status,
            "answer": prediction.answer if prediction else None,
            "n_memories": len(prediction.memories) if prediction else 0,
            "judge": verdict.judge if verdict else None,
            "score_label": verdict.label if verdict else None,
            "error_stage": error.stage if error else None,
            "error_type": error.type if error else None,
            "error_message": error.message if error else None,
            "cost_usd": sum(u.cost_usd for u in record.usage.values()),
            "completed_at": record.completed_at,
        }
        row.update({f"labels.{k}": v for k, v in shown_labels(record.labels).items()})
        row.update({f"values.{k}": v for k, v in (verdict.values if verdict else {}).items()})
        row.update({f"latency_s.{k}": v for k, v in (prediction.latency_s if prediction else {}).items()})
        rows.append(row)
    fixed = list(_RECORD_COLUMNS)
    return pd.DataFrame(rows, columns=fixed + sorted({c for r in rows for c in r} - set(fixed)))


_RECORD_COLUMNS = (
    "run_id",
    "task",
    "system",
    "episode_id",
    "probe_id",
    "kind",
    "after_session",
    "status",
    "answer",
    "n_memories",
    "judge",
    "score_label",
    "error_stage",
    "error_type",
    "error_message",
    "cost_usd",
    "completed_at",
)
