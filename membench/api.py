"""The programmatic entry point: ``membench.run(RunConfig(...))`` does what ``membench run`` does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from membench.core.config import RunConfig
from membench.core.types import Manifest
from membench.run.components import prepare
from membench.run.display import Display, make_display
from membench.run.runner import Components, Runner, RunPlan, prepare_run_dir


@dataclass
class RunOutcome:
    run_dir: Path
    manifest: Manifest
    plan: RunPlan
    components: Components


def run(config: RunConfig, display: Display | None = None) -> RunOutcome:
    """Run (or resume) one task × system; returns where the results are and the final manifest."""
    components, plan, identity = prepare(config)
    run_dir, previous = prepare_run_dir(config, identity, config.system)
    runner = Runner(config, components, plan, display or make_display(config.display))
    manifest = asyncio.run(runner.run(run_dir, identity, previous))
    return RunOutcome(run_dir, manifest, plan, components)
