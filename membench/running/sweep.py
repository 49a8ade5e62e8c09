"""Sweeps: every task × every system, each pair an ordinary run (``membench.api.run``).

A sweep is checked whole before anything runs, so that a mistake costs seconds, not the runs before
it: every name and option of every pair is resolved (``components.build_components``: a usage error
comes out with nothing run), then every remote LLM endpoint of the sweep is pinged once, not once per
pair (a failing one stops the sweep before its first run). Each pair then runs exactly as ``membench
run`` runs it alone, into its own run directory, so resume, compare and report need nothing new and
re-running a sweep resumes each of its runs. The pairs of a task share its data (the first builds it
under ``data_dir``, the rest read it, as any run with the same data directory does) and every pair
shares the LLM response cache (one ``cache_path``, the default one unless set).

A pair that fails (an exception, a ``RunFailure``, a run that ends ``failed``) is kept with its cause
and the sweep goes on: a broken system costs its own runs only. Ctrl-C still stops the whole sweep.

The command line's two forms (``membench run --task a,b --system x,y`` and ``membench sweep FILE``)
build the runs' configs and print; this module only checks and runs them.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.core.config import RunConfig
from membench.core.errors import ConfigError, MembenchError
from membench.running.display import Display, make_display

if TYPE_CHECKING:
    from membench.api import RunOutcome
    from membench.llm.client import LLMClient

    #: how one pair is run: ``membench.api.run``.
    RunOne = Callable[[RunConfig, Display], RunOutcome]

#: the RunConfig fields a pair gets from the sweep's task and system, never from its common settings
#: (``run_dir``: a sweep writes one directory per pair, each where its identity puts it).
PER_PAIR = frozenset({"task", "system", "task_options", "system_options", "run_dir"})


@dataclass(frozen=True)
class SweepConfig:
    """Every task of ``tasks`` × every system of ``systems``, in that order (task by task).

    ``tasks`` maps each task to its ``-T`` options, ``systems`` each system to its ``-S`` options;
    ``settings`` are the other ``RunConfig`` fields, alike for every pair (reader, judge, the LLMs,
    limit, seed, directories, display, ``check_endpoints``, plugins ...).
    """

    tasks: Mapping[str, Mapping[str, str]]
    systems: Mapping[str, Mapping[str, str]]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def runs(self) -> list[RunConfig]:
        """The RunConfig of each pair; a setting that is not a RunConfig field, or that each pair sets
        for itself, is a ConfigError naming it (as is any value RunConfig refuses)."""
        if not self.tasks or not self.systems:
            raise ConfigError("a sweep needs at least one task and one system")
        fields = {f.name for f in dataclasses.fields(RunConfig)}
        for key in self.settings:
            if key in PER_PAIR:
                raise ConfigError(f"a sweep sets '{key}' for each of its runs; it is not a common setting")
            if key not in fields:
                raise ConfigError(f"'{key}' is not a run setting (the fields of RunConfig)")
        return [
            RunConfig(
                task=task,
                system=system,
                task_options=dict(task_options),
                system_options=dict(system_options),
                **self.settings,
            )
            for task, task_options in self.tasks.items()
            for system, system_options in self.systems.items()
        ]


@dataclass(frozen=True)
class PairResult:
    """One (task, system) of a sweep: its run's outcome, and why it failed (None when complete)."""

    config: RunConfig
    #: None when the pair failed before its run returned (a bad data file, a system that raised).
    outcome: RunOutcome | None
    cause: str | None

    @property
    def completed(self) -> bool:
        return self.cause is None

    @property
    def run_dir(self) -> Path | None:
        return self.outcome.run_dir if self.outcome is not None else None


@dataclass(frozen=True)
class SweepOutcome:
    pairs: list[PairResult]

    @property
    def completed(self) -> bool:
        """Whether every pair's run completed (what ``membench`` exits 0 for)."""
        return all(pair.completed for pair in self.pairs)

    def failed(self) -> list[PairResult]:
        return [pair for pair in self.pairs if not pair.completed]

    def completed_by_task(self) -> dict[str, list[PairResult]]:
        """The completed pairs of each task, tasks in sweep order (a task none completed maps to [])."""
        by_task: dict[str, list[PairResult]] = {}
        for pair in self.pairs:
            by_task.setdefault(pair.config.task, [])
            if pair.completed:
                by_task[pair.config.task].append(pair)
        return by_task


def check_sweep(configs: Sequence[RunConfig]) -> list[LLMClient]:
    """Resolve every name and option of every pair (a ConfigError for the first bad one, before any
    work); return the LLM clients the pairs would call, one per role, model and endpoint."""
    from membench.core.env import apply_offline_env
    from membench.registry import Registry
    from membench.running.components import build_components, construct

    apply_offline_env()
    registries: dict[tuple[str, ...], Registry] = {}
    clients: dict[tuple[str, str, str | None], LLMClient] = {}
    built: set[tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]]] = set()
    with tempfile.TemporaryDirectory(prefix="membench-sweep-check-") as scratch:
        for index, config in enumerate(configs):
            registry = registries.setdefault(config.plugins, Registry(list(config.plugins)))
            components = build_components(config, registry)
            for client in components.llm_clients:
                clients.setdefault((client.role, client.model, client.api_base), client)
            # A system checks its option values when it is built (bm25's unit, mem0's mode): once per
            # system and options, as each run's preparation would, but before the first run.
            key = (config.plugins, config.system, tuple(sorted(components.system_options.items())))
            if key not in built:
                built.add(key)
                build = functools.partial(
                    components.system_cls, components.system_options, Path(scratch) / str(index)
                )
                construct("system", config.system, build)
    return list(clients.values())


def check_endpoints_once(clients: Sequence[LLMClient], display: Display) -> None:
    """Ping the sweep's remote LLM endpoints (``llm.preflight``), each once for all its pairs; raises
    ``EndpointCheckFailed`` naming each that did not answer."""
    from membench.llm.preflight import check_endpoints, remote_clients

    remote = remote_clients(clients)
    if remote:
        roles = ", ".join(dict.fromkeys(client.role for client in remote))
        display.message(f"checking LLM endpoints ({roles}) ...")
        check_endpoints(remote)


def prepare_sweep(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """Check ``configs`` whole (``check_sweep``), ping their endpoints once when they ask for the
    check, and return them with each pair's own check turned off (it was made)."""
    if not configs:
        raise ConfigError("a sweep needs at least one task and one system")
    clients = check_sweep(configs)
    if any(config.check_endpoints for config in configs):
        check_endpoints_once(clients, make_display(configs[0].display))
    return [replace(config, check_endpoints=False) for config in configs]


def run_pair(config: RunConfig, run: RunOne) -> PairResult:
    """Run one pair with ``run`` (``membench.api.run``) and its own progress display; any failure
    becomes the pair's cause, not an exception (an interrupt still ends the sweep)."""
    try:
        outcome = run(config, make_display(config.display))
    except MembenchError as exc:
        return PairResult(config, None, str(exc))
    except Exception as exc:  # a system's own bug or crash: that pair fails, the others still run
        return PairResult(config, None, f"{type(exc).__name__}: {exc}")
    if outcome.manifest.status == "complete":
        return PairResult(config, outcome, None)
    cause = outcome.stopped.paragraphs()[0] if outcome.stopped else f"the run ended {outcome.manifest.status}"
    return PairResult(config, outcome, cause)


def run_sweep(
    configs: Sequence[RunConfig],
    run: RunOne,
    *,
    started: Callable[[int, int, RunConfig], None] | None = None,
    finished: Callable[[PairResult], None] | None = None,
) -> SweepOutcome:
    """Check the sweep (``prepare_sweep``: usage errors and a failed endpoint check raise, nothing
    run), then run its pairs in order, each with ``run`` (``membench.api.run``, which this layer
    cannot import); ``started(i, n, config)`` and ``finished(result)`` are told
    of each, for a caller that shows progress."""
    pairs = []
    checked = prepare_sweep(configs)
    for index, config in enumerate(checked, 1):
        if started is not None:
            started(index, len(checked), config)
        result = run_pair(config, run)
        if finished is not None:
            finished(result)
        pairs.append(result)
    return SweepOutcome(pairs)
