"""Finished runs of the toy task written straight to disk, for tests and benchmarks of what reads runs.

``compare``, ``report`` and their benchmark need many complete runs with known right/wrong outcomes;
running a memory system for each would test the runner again and take minutes. The toy task itself is
``tests/fixtures/toy_plugin.py:ToyTask`` (its ``contributions`` read ``Score.values["correct"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from membench.core.identity import run_id_for
from membench.core.records import write_atomic, write_manifest
from membench.core.types import Counts, ErrorInfo, Manifest, Prediction, Record, Score

STAMP = "2026-11-30T00:00:00.000+00:00"


def write_toy_run(
    root: Path,
    system: str,
    outcomes: Mapping[str, float | None],
    *,
    fingerprint: str = "toy-v1",
    task: str = "toy",
    judge: str = "exact",
    task_options: Mapping[str, str] | None = None,
) -> Path:
    """A complete run under ``root``: probe ``"<episode>:<probe>"`` -> 1.0 right, 0.0 wrong, None errored
    (by the system). Returns the run directory."""
    identity = {
        "task": {"name": task, "version": "1", "options": dict(task_options or {})},
        "dataset": {"fingerprint": fingerprint, "name": "toy"},
        "system": {"name": system, "options": {}},
        "reader": {"name": "extractive"},
        "judge": {"name": judge},
        "seed": 0,
        "limit": None,
    }
    run_id = run_id_for(identity)
    run_dir = root / f"toy__{system}__{run_id}"
    lines = []
    for probe_id, value in outcomes.items():
        score = None
        if value is not None:
            score = Score(judge=judge, label="correct" if value else "wrong", values={"correct": value})
        record = Record(
            run_id=run_id,
            task=task,
            task_version="1",
            system=system,
            episode_id=probe_id.split(":")[0],
            probe_id=probe_id,
            after_session=0,
            kind="qa",
            input_hash="0" * 16,
            prediction=Prediction(answer="x") if score else None,
            score=score,
            error=None if score else ErrorInfo(stage="system", type="ConnectionError", message="down"),
            completed_at=STAMP,
        )
        lines.append(record.model_dump_json() + "\n")
    write_atomic(run_dir / "records.jsonl", "".join(lines))
    manifest = Manifest(
        run_id=run_id,
        identity=identity,
        status="complete",
        created_at=STAMP,
        updated_at=STAMP,
        membench_version="toy",
        python_version="3.11",
        counts=Counts(
            episodes_planned=len({p.split(":")[0] for p in outcomes}),
            episodes_done=len({p.split(":")[0] for p in outcomes}),
            probes_planned=len(outcomes),
            probes_scored=sum(1 for v in outcomes.values() if v is not None),
            probes_errored=sum(1 for v in outcomes.values() if v is None),
        ),
    )
    write_manifest(run_dir, manifest)
    return run_dir
