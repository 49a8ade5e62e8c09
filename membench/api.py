"""The Python API: what the command line does, as functions (``from membench import api``).

    from membench import api

    outcome = api.run(api.RunConfig(task="halumem", system="bm25"))     # membench run
    frame = api.load_records(outcome.run_dir)                            # a run's records, as pandas
    runs = api.load_runs("results/runs/halumem__*")                      # membench export, as pandas
    rescored = api.score(api.RescoreConfig(outcome.run_dir, judge="lexical"))   # membench score
    result = api.compare([outcome.run_dir, other_run_dir])               # membench compare
    swept = api.sweep(api.SweepConfig({"halumem": {}}, {"bm25": {}, "no-memory": {}}))  # membench sweep
    written = api.report("results", "site")                              # membench report

Each takes what its command's flags give and returns what the command prints from, so a notebook can
run, re-judge, compare and report without parsing output. ``membench`` exports the same names
(``membench.run(...)``), loading this module on first use. Importing it loads neither pandas nor an LLM
library: each function imports what it needs when called.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.analysis.rescore import RescoreConfig, RescoreOutcome
from membench.core.config import LLMSpec, RunConfig
from membench.core.types import Manifest
from membench.llm.client import warm_up
from membench.running.collector import run_collector
from membench.running.components import prepare, run_dir_of
from membench.running.display import Display, make_display
from membench.running.rundir import open_run_dir
from membench.running.runner import Components, Runner, RunPlan, RunStopped
from membench.running.sweep import PairResult, SweepConfig, SweepOutcome

if TYPE_CHECKING:
    import pandas as pd

    from membench.analysis.compare import CompareResult
    from membench.reporting import Board

__all__ = [
    "LLMSpec",
    "PairResult",
    "RescoreConfig",
    "RescoreOutcome",
    "RunConfig",
    "RunOutcome",
    "Runs",
    "SweepConfig",
    "SweepOutcome",
    "WrittenReport",
    "compare",
    "load_records",
    "load_runs",
    "report",
    "run",
    "score",
    "sweep",
]


@dataclass
class RunOutcome:
    run_dir: Path
    manifest: Manifest
    plan: RunPlan
    components: Components
    #: the run's metric estimates and breakdowns, as written to its summary.json.
    summary: dict[str, Any]
    #: wall seconds of the whole ``run`` call: data build, system load, the episodes and the summary.
    elapsed_s: float
    #: why a failed run stopped early (failures of one kind in a row), for the caller to show; None
    #: for a run that was not stopped. ``membench run`` prints it on stderr, whatever the display.
    stopped: RunStopped | None = None


def run(config: RunConfig, display: Display | None = None) -> RunOutcome:
    """Run (or resume) one task × system, then write its summary.json; returns where the results are,
    the final manifest and the summary."""
    from membench.analysis.summary import summarize, write_summary
    from membench.llm.llamacpp import stop_servers

    started = time.perf_counter()
    display = display or make_display(config.display)
    # From prepare on, a step may start a llamacpp/ model's server (building data, the identity probe,
    # the run): whatever fails or is interrupted, it is stopped here, not at exit (atexit is only the
    # backstop). No LLM is asked after the run.
    try:
        with run_collector():
            components, plan, identity = prepare(config, display)
            # The LLM libraries are imported here, not inside the first call: litellm's 4 s import would
            # block the event loop with every episode waiting.
            warm_up(components.llm_clients)
            runner = Runner(config, components, plan, display)
            run_dir = run_dir_of(config, identity)
            with open_run_dir(
                run_dir, identity, fresh=config.fresh, elsewhere=" or choose another --run-dir"
            ) as previous:
                manifest = asyncio.run(runner.run(run_dir, identity, previous))
                display.message("computing intervals ...")  # the bootstrap can take as long as a small run
                summary = summarize(components.task, run_dir, contributions=runner.contributions_table())
                write_summary(run_dir, summary)
    finally:
        stop_servers()
    elapsed = time.perf_counter() - started
    return RunOutcome(run_dir, manifest, plan, components, summary, elapsed, runner.stopped)


def sweep(config: SweepConfig | Sequence[RunConfig]) -> SweepOutcome:
    """Run every task × system of ``config`` (or the given runs), each an ordinary ``run`` into its own
    run directory, after checking the whole sweep (a bad name or option raises before any run, as does
    a failed endpoint check when the runs ask for one: it is made once). A pair that fails does not stop
    the others: the outcome holds each pair's run, or its cause (``membench.running.sweep``)."""
    from membench.running.sweep import run_sweep

    return run_sweep(config.runs() if isinstance(config, SweepConfig) else list(config), run)


def score(config: RescoreConfig) -> RescoreOutcome:
    """Judge a finished run's predictions again with another judge, into a new run beside it; the
    outcome holds the new run and the two judges' agreement (also written to agreement.json)."""
    from membench.analysis.rescore import rescore
    from membench.llm.llamacpp import stop_servers

    try:
        return rescore(config)
    finally:
        stop_servers()  # a llamacpp/ judge's server


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

    The same table as ``membench export`` and ``load_runs(run_dir).probes``: the run's ``run_id task
    system reader judge``, then ``episode_id probe_id after_session kind status answer n_memories
    score_label error_stage error_type error_message cost_usd completed_at``, then one column per probe
    label (``labels.<name>``), judge value (``values.<name>``), timed stage (``latency_s.<stage>``) and
    LLM usage of a role (``usage.<role>.calls``, ``.tokens``, ``.cost_usd``) found in the run.
    """
    from membench.analysis.frames import find_runs, probes_frame

    return probes_frame(find_runs(Path(run_dir)))


@dataclass(frozen=True)
class Runs:
    """Runs as pandas tables (what ``load_runs`` returns)."""

    #: one row per probe of every run, as ``load_records`` and ``membench export`` give them.
    probes: pd.DataFrame
    #: one row per run × metric (``by``/``level`` empty) and per breakdown level, from summary.json:
    #: ``value ci_low ci_high interval confidence se n n_errors n_clusters`` after the run's columns.
    summaries: pd.DataFrame
    #: one row per run: status, counts, wall time, LLM cost, whether it has a summary yet, its directory.
    runs: pd.DataFrame


def load_runs(paths_or_globs: str | Path | Iterable[str | Path]) -> Runs:
    """Run directories (or globs of them, e.g. ``"results/runs/halumem__*"``) as tables of probes, of
    summaries and of runs; a path that is not a run directory, or a damaged record, is an error naming
    it (a record's memories are only counted here, and read, and checked, where they are used). Rows
    come in a fixed order (task, system, run id, then episode, session, probe)."""
    from membench.analysis.frames import find_runs, probes_frame, runs_frame, summaries_frame

    runs = find_runs(paths_or_globs)
    return Runs(probes_frame(runs), summaries_frame(runs), runs_frame(runs))
