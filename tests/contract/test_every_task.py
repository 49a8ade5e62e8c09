"""One contract over every discovered task: what the runner, statistics and report rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench.core.task import Task
from membench.registry import Registry

TASK_NAMES = [name for name, _ in Registry().names("task")]


def make(name: str, data_dir: Path) -> Task:
    return Registry().get("task", name)({}, data_dir)


def written_bytes(path: Path) -> dict[str, bytes]:
    """What a builder wrote: one file, or every file of a folder tree, by relative path."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_loads_consistent_episodes_and_probes(name: str, tmp_path: Path) -> None:
    task = make(name, tmp_path)
    dataset = task.load()
    assert dataset.episodes and dataset.probes and dataset.fingerprint
    episodes = {e.episode_id: e for e in dataset.episodes}
    assert len(episodes) == len(dataset.episodes), "episode ids are unique"
    assert len({p.probe_id for p in dataset.probes}) == len(dataset.probes), "probe ids are unique"
    for probe in dataset.probes:
        episode = episodes[probe.episode_id]
        assert 0 <= probe.after_session < len(episode.sessions)
        assert episode.sessions[probe.after_session].evaluated, (
            f"{probe.probe_id} follows an unevaluated session"
        )
        assert probe.mode in ("session_memories", "retrieve", "answer")
        assert probe.top_k > 0
        if probe.mode != "session_memories":
            assert probe.query or probe.question
    for episode in dataset.episodes:
        assert len({s.session_id for s in episode.sessions}) == len(episode.sessions)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_metrics_are_well_declared(name: str, tmp_path: Path) -> None:
    task = make(name, tmp_path)
    names = [m.name for m in task.metrics]
    assert len(names) == len(set(names)), "metric names are unique"
    assert sum(m.main for m in task.metrics) == 1, "exactly one main metric"
    for metric in task.metrics:
        assert set(metric.inputs) <= set(names), f"{metric.name} derives from undeclared metrics"
        assert (metric.derive is None) == (not metric.inputs)
    assert task.contributions([], []) == []


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_builder_is_deterministic(name: str, tmp_path: Path) -> None:
    try:
        first = make(name, tmp_path / "a").build()
    except ConfigError:
        pytest.skip(f"task {name} has no offline builder")
    second = make(name, tmp_path / "b").build()
    assert written_bytes(first) == written_bytes(second) != {}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_curves_name_declared_metrics_and_numeric_labels(name: str, tmp_path: Path) -> None:
    task = make(name, tmp_path)
    names = {m.name for m in task.metrics}
    if not task.curves:
        pytest.skip(f"task {name} declares no curves")
    probes = task.load().probes
    for curve in task.curves:
        assert curve.metric in names, f"curve {curve.title or curve.axis} names an undeclared metric"
        selected = [p for p in probes if all(p.labels.get(k) == v for k, v in curve.where.items())]
        assert selected, f"no probe of the default data has the labels of curve {curve.title}"
        values = [p.labels[curve.axis] for p in selected if curve.axis in p.labels]
        # A curve's axis may be a per-contribution label (a serial position inside one answer).
        for value in values:
            float(value)
        if curve.log_x:
            assert all(float(v) > 0 for v in values)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_offline_judges_can_be_built(name: str, tmp_path: Path) -> None:
    task = make(name, tmp_path)
    default = task.make_judge(task.judge_names[0])
    assert default.name and default.identity()
    with pytest.raises(ConfigError):
        task.make_judge("no-such-judge")


@pytest.mark.parametrize("name", TASK_NAMES)
def test_every_task_option_has_one_line_of_help(name: str) -> None:
    """``membench list tasks`` is where users find a task's -T options: each needs its help there."""
    task_cls = Registry().get("task", name)
    assert task_cls.description.strip(), f"task {name} has no description"
    assert set(task_cls.option_help) == set(task_cls.default_options), "one help per option, no other"
    for key, text in task_cls.option_help.items():
        assert text.strip() and "\n" not in text, f"task {name} option {key}: one line of help"
