"""Turning a RunConfig into objects, before any work: the task, reader, judge, LLM clients and a system
factory, the plan of what to run, and the run's identity. A bad name fails here, early."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from membench.core.config import LLMSpec, RunConfig
from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError, DataError, MembenchError
from membench.core.identity import RunIdentity
from membench.core.task import Task
from membench.judges.base import Judge
from membench.readers.base import Reader
from membench.registry import Registry
from membench.running.display import Display, make_display
from membench.running.rundir import finished_probes, run_dir_name
from membench.running.runner import Components, RunPlan, plan_run, run_identity
from membench.systems.base import MemorySystem
from membench.systems.oracle import OracleSystem

if TYPE_CHECKING:
    from membench.llm.client import LLMClient
    from membench.llm.types import LLM


def default_cache_path() -> Path:
    root = os.environ.get("MEMBENCH_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "membench"


def make_llm_client(
    spec: LLMSpec, role: str, *, use_cache: bool, cache_path: Path | None, max_connections: int
) -> LLMClient:
    """An LLMClient for one role, with the shared response cache unless caching is off."""
    from membench.llm.cache import ResponseCache
    from membench.llm.client import LLMClient

    cache = ResponseCache(cache_path or default_cache_path() / "llm.sqlite") if use_cache else None
    return LLMClient(
        spec.model, role=role, api_base=spec.api_base, cache=cache, max_connections=max_connections
    )


def _make_llm(spec: LLMSpec, role: str, config: RunConfig) -> LLMClient:
    return make_llm_client(
        spec,
        role,
        use_cache=config.use_cache,
        cache_path=config.cache_path,
        max_connections=config.max_connections,
    )


def build_reader(task: Task, registry: Registry, name: str, llm: LLM | None) -> Reader:
    """Reader ``name``: the LLM reader (the only one given a client, ``llm``: the same prompt for every
    task), else one the task ships, else a registered one, built with no arguments."""
    if name == "llm":
        from membench.readers.llm import LLMReader

        if llm is None:
            raise ConfigError("the llm reader needs a model: --llm MODEL")
        return LLMReader(llm)
    if name in task.reader_names:
        return task.make_reader(name)
    try:
        reader_cls = registry.get("reader", name, also=task.reader_names)
    except ConfigError as exc:
        shipped = ", ".join(task.reader_names) or "none"
        raise ConfigError(f"{exc}; task '{task.name}' readers: {shipped}") from exc
    return construct("reader", name, reader_cls)


T = TypeVar("T")


def construct(kind: str, name: str, build: Callable[[], T]) -> T:
    """``build()``, with a plugin's own failure turned into one line naming what could not be built:
    a constructor that raises must not end the command in a traceback. membench's errors pass."""
    try:
        return build()
    except MembenchError:
        raise
    except Exception as exc:
        raise ConfigError(f"could not build {kind} '{name}': {type(exc).__name__}: {exc}") from exc


def build_judge(task: Task, registry: Registry, name: str, llm: LLM | None) -> Judge:
    """Judge ``name``: one of the task's own (``Task.make_judge``), else a registered one, built as
    ``JudgeClass(llm)``; ``llm`` is the judge's LLM client (see ``membench.judges.base``)."""
    if name == "llm" and llm is None:
        raise ConfigError("the llm judge needs a model: --judge-llm MODEL")
    if name in task.judge_names:
        return task.make_judge(name, llm)
    try:
        judge_cls = registry.get("judge", name, also=task.judge_names)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; task '{task.name}' judges: {', '.join(task.judge_names)}") from exc
    return construct("judge", name, lambda: judge_cls(llm))


def system_options(config: RunConfig, system_cls: type[MemorySystem]) -> dict[str, str]:
    """``-S`` options with ``--system-llm`` folded in (as the system's ``llm_options`` spell it), for
    systems that declare an ``llm`` option; an ``-S`` option that says otherwise is refused."""
    options = dict(config.system_options)
    spec = config.system_llm
    if spec is None:
        return options
    if "llm" not in system_cls.default_options:
        raise ConfigError(f"system '{system_cls.name}' calls no LLM of its own; --system-llm does not apply")
    for key, value in system_cls.llm_options(spec.model, spec.api_base).items():
        if options.get(key, value) != value:
            raise ConfigError(f"--system-llm and -S {key}={options[key]} disagree; give one of them")
        options[key] = value
    return options


def runnable_system(system_cls: type[MemorySystem]) -> type[MemorySystem]:
    """The class a run builds for ``system_cls``: itself, or a worker driving it in its own
    environment; refused, naming what to set, when a hosted system lacks its configuration."""
    problem = system_cls.not_configured()
    if problem is not None:
        raise ConfigError(f"system '{system_cls.name}' is not configured: {problem}")
    if system_cls.environment is None:
        return system_cls
    from membench.systems.worker.client import WorkerSystem, worker_class_for

    return system_cls if issubclass(system_cls, WorkerSystem) else worker_class_for(system_cls)


def build_components(config: RunConfig, registry: Registry) -> Components:
    """Resolve every name in ``config`` to an object; fail early, before any work, on a bad one."""
    task_cls = registry.get("task", config.task)
    task = construct(
        "task", config.task, lambda: task_cls(config.task_options, config.data_dir / config.task)
    )
    system_cls = runnable_system(registry.get("system", config.system))
    clients: list[LLMClient] = []

    reader_name = "llm" if config.reader_llm else (config.reader or task.default_reader)
    reader_llm: LLM | None = None
    if reader_name == "llm" and config.reader_llm is not None:
        reader_llm = _make_llm(config.reader_llm, "reader", config)
        clients.append(reader_llm)
    reader = build_reader(task, registry, reader_name, reader_llm)
    reader.check_system(config.system, system_cls.capabilities)

    judge_name = config.judge or ("llm" if config.judge_llm else task.judge_names[0])
    judge_llm: LLM | None = None
    if judge_name == "llm" and config.judge_llm is not None:
        judge_llm = _make_llm(config.judge_llm, "judge", config)
        clients.append(judge_llm)
    judge = build_judge(task, registry, judge_name, judge_llm)

    options = system_options(config, system_cls)
    system_llm = None
    if options.get("llm") and "llm" in system_cls.default_options:
        system_llm = _make_llm(LLMSpec(options["llm"], options.get("api_base") or None), "system", config)
        clients.append(system_llm)

    def make_system(workdir: Path) -> MemorySystem:
        workdir.mkdir(parents=True, exist_ok=True)
        return system_cls(options, workdir, system_llm)

    return Components(task, reader, judge, make_system, config.system, system_cls, options, clients)


def prepare(config: RunConfig, display: Display | None = None) -> tuple[Components, RunPlan, RunIdentity]:
    """The components, plan and identity of ``config``'s run. A dry run has no side effects: data the
    task would build and the identity probe's workdir go to a scratch folder removed on return, so
    nothing is written under --data-dir or --results-dir (data already there is read in place).

    ``display`` says what each long step is doing (``config.display``'s kind when None); with
    ``config.check_endpoints`` every remote LLM endpoint is pinged (``llm.preflight``) once the plan
    is known and before anything of the run is written, so an unreachable one fails within seconds
    and leaves no run behind. Nothing is pinged when no probe is pending (a complete run resumed, as
    offline as its cache allows); a re-run whose pending probes all hit the cache is still pinged,
    as nothing short of asking tells it apart.
    """
    shown = display or make_display(config.display)
    if not config.dry_run:
        return _prepare(config, config.results_dir / ".identity-probe", shown)
    with tempfile.TemporaryDirectory(prefix="membench-dry-run-") as scratch:
        data_dir = _read_through_data_dir(config.data_dir / config.task, Path(scratch) / "data" / config.task)
        return _prepare(replace(config, data_dir=data_dir.parent), Path(scratch) / ".identity-probe", shown)


def _hand_evidence(components: Components, evidence: dict[str, list[str]]) -> None:
    """Build the oracle's instances with the task's evidence: the one system that is given gold."""
    make = components.make_system

    def make_oracle(workdir: Path) -> MemorySystem:
        system = make(workdir)
        if not isinstance(system, OracleSystem):
            raise TypeError(f"the oracle's factory built a {type(system).__name__}")
        system.use_evidence(evidence)
        return system

    components.make_system = make_oracle


def _read_through_data_dir(real: Path, scratch: Path) -> Path:
    """``scratch``, holding a link to every entry of the task's ``real`` data folder: a task finds the
    data already built or pulled there, and writes what it builds into ``scratch`` instead."""
    scratch.mkdir(parents=True)
    for entry in sorted(real.iterdir()) if real.is_dir() else []:
        (scratch / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return scratch


def _prepare(
    config: RunConfig, probe_workdir: Path, display: Display
) -> tuple[Components, RunPlan, RunIdentity]:
    apply_offline_env()
    registry = Registry(list(config.plugins))
    components = build_components(config, registry)
    display.message(f"loading {config.task} data (built first if absent) ...")
    dataset = components.task.load()
    components.task.check_judge(components.judge, dataset)
    system_cls, options = components.system_cls, components.system_options
    plan = plan_run(components.task, dataset, system_cls, config.limit, config.seed)
    if issubclass(system_cls, OracleSystem):
        _hand_evidence(components, components.task.evidence(dataset))
    probe_system = construct("system", config.system, lambda: system_cls(options, probe_workdir))
    identity = run_identity(config, components, dataset, probe_system)
    components.system_description = probe_system.describe()
    if config.check_endpoints:
        from membench.llm.preflight import check_endpoints, remote_clients

        remote = remote_clients(components.llm_clients)
        if remote and _anything_pending(config, plan, run_dir_of(config, identity)):
            display.message(f"checking LLM endpoints ({', '.join(client.role for client in remote)}) ...")
            check_endpoints(remote)
    return components, plan, identity


def run_dir_of(config: RunConfig, identity: RunIdentity) -> Path:
    """Where ``config``'s run lives: ``--run-dir``, else the directory its identity names."""
    return config.run_dir or config.results_dir / "runs" / run_dir_name(identity, config.system)


def _anything_pending(config: RunConfig, plan: RunPlan, run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` has a probe of ``plan`` left to do (all of them with --fresh).
    Records it cannot read count as pending: the runner then refuses them, saying that --repair
    moves them aside, or repairs them; with --repair, which may move some, anything may be pending.
    A record whose memories cannot be read counts as done here (``finished_probes`` reads slim), and the
    runner's whole read before it resumes (``rundir.readable_for_resume``) refuses it with that hint."""
    if config.fresh or config.repair:
        return any(plan.probes_by_episode.values())
    try:
        done = finished_probes(run_dir, config.retry_errors)
    except DataError:
        return True
    return any(p.probe_id not in done for probes in plan.probes_by_episode.values() for p in probes)
