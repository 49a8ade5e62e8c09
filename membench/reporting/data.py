"""The dataset behind a run, for what records do not hold: the question, the gold, the data's origin.

Records keep only what the system and judge produced, so a report reloads the dataset through the
task, from ``<data_dir>/<task>``, and uses it only when its fingerprint is the one in the run's
manifest: a question shown beside an answer must be the question that was asked. When the data is
absent or differs, the report says so plainly and shows the records without it.

A run on ``-T data=FILE`` keeps only the file's name, so that file is looked for in ``<data_dir>/<task>``
and then in ``<data_dir>``. Otherwise the task's data directory must exist: a report reads data, it
does not fetch any. (A task whose
offline data is generated may still write its seeded file there, exactly as ``membench run`` would.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from membench.analysis.runs import LoadedRun
from membench.core.errors import MembenchError
from membench.core.types import Dataset, Probe


@dataclass(frozen=True)
class RunData:
    """A run's dataset when it could be used, else ``None`` with the reason in ``missing``."""

    dataset: Dataset | None
    missing: str | None
    fingerprint: str

    @property
    def origin(self) -> str:
        """Where the data came from (generated offline, or the official release), as the task states it."""
        if self.dataset is None:
            return f"unknown: {self.missing}"
        return str(self.dataset.metadata.get("origin") or self.dataset.source)

    def probes(self) -> dict[tuple[str, str], Probe]:
        """Probes keyed as records key them: (episode_id, probe_id). (Contributions of a task with a
        ``cluster_label`` carry the cluster in episode_id instead.)"""
        if self.dataset is None:
            return {}
        return {(p.episode_id, p.probe_id): p for p in self.dataset.probes}


def load_run_data(run: LoadedRun, data_dir: Path) -> RunData:
    """The dataset ``run`` was evaluated on, read from ``data_dir/<task>``, or why it is not shown."""
    expected = run.dataset_fingerprint
    task_dir = data_dir / run.task_name
    options = dict(run.manifest.identity["task"].get("options", {}))
    if options.get("data"):
        found = given_data(str(options["data"]), data_dir, task_dir)
        if found is None:
            return RunData(
                None,
                f"the run read -T data={options['data']}, and no such file is in {task_dir} or {data_dir} "
                "(put it there, or point --data-dir at its folder)",
                expected,
            )
        options["data"] = str(found)
    elif not task_dir.is_dir():
        return RunData(None, f"no data directory {task_dir} when this report was written", expected)
    try:
        dataset = type(run.task)(options, task_dir).load()
    except MembenchError as exc:
        return RunData(None, f"the data could not be loaded from {task_dir}: {exc}", expected)
    if dataset.fingerprint != expected:
        return RunData(
            None,
            f"the data in {task_dir} has fingerprint {dataset.fingerprint[:12]}, the run used "
            f"{expected[:12]}: it is not the data this run was asked",
            expected,
        )
    return RunData(dataset, None, expected)


def given_data(name: str, data_dir: Path, task_dir: Path) -> Path | None:
    """Where a run's ``-T data=`` file is now: its identity keeps only the file name (the same file at
    another place is the same run), so it is looked for in the task's data folder, then in
    ``data_dir`` itself; the fingerprint check then says whether it is the file the run read."""
    for folder in (task_dir, data_dir):
        if (folder / name).exists():
            return folder / name
    return None
