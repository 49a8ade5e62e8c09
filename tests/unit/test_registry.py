"""Where readers come from: built-ins, the task's own, ``--plugin`` and the ``membench.readers`` entry points;
and what a lookup returns: a class of the kind asked for, or a ConfigError that names the culprit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from membench import registry as registry_module
from membench.api import run
from membench.core.config import RunConfig
from membench.core.errors import ConfigError
from membench.core.records import read_records
from membench.readers.extractive import ExtractiveReader
from membench.registry import Registry, import_object
from membench.running.components import build_reader
from membench.running.display import NullDisplay

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")


@dataclass(frozen=True)
class FakeEntryPoint:
    """What the registry reads of an ``importlib.metadata.EntryPoint``."""

    name: str
    value: str
    group: str

    def load(self) -> Any:
        return import_object(self.value)


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, *points: FakeEntryPoint) -> None:
    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        return [point for point in points if point.group == group]

    monkeypatch.setattr(registry_module, "entry_points", entry_points)


def test_a_plugin_reader_answers_a_real_run(tmp_path: Path) -> None:
    config = RunConfig(
        task="toy",
        system="keyword",
        reader="last-word",
        results_dir=tmp_path / "results",
        data_dir=tmp_path / "data",
        plugins=(f"{TOY}:ToyTask", f"{TOY}:KeywordSystem", f"{TOY}:LastWordReader"),
        display="none",
    )
    outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    assert len(records) == 12 and all(r.status == "scored" for r in records)
    # The stated colour alone: no built-in reader answers with one word.
    colours = import_object(f"{TOY}:COLOURS")
    assert all(r.prediction and r.prediction.answer in colours for r in records)
    assert all(r.score and r.score.values["correct"] == 1.0 for r in records)
    assert outcome.manifest.identity["reader"] == {"name": "last-word"}


def test_plugin_readers_are_listed_with_their_origin() -> None:
    names = Registry([f"{TOY}:LastWordReader"]).names("reader")
    assert ("last-word", f"--plugin {TOY}:LastWordReader") in names
    assert ("extractive", "built-in") in names


def test_an_entry_point_reader_is_found_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = f"{TOY}:LastWordReader"
    fake_entry_points(monkeypatch, FakeEntryPoint("last-word", spec, "membench.readers"))
    registry = Registry()
    reader_cls = registry.get("reader", "last-word")
    assert (reader_cls.__name__, reader_cls.name) == ("LastWordReader", "last-word")
    assert ("last-word", f"entry point {spec}") in registry.names("reader")


def test_an_entry_point_of_the_wrong_kind_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = f"{TOY}:KeywordSystem"
    fake_entry_points(monkeypatch, FakeEntryPoint("keyword", spec, "membench.readers"))
    with pytest.raises(ConfigError, match=r"reader 'keyword' from entry point .* is not a Reader subclass"):
        Registry().get("reader", "keyword")


def test_an_entry_point_cannot_take_a_built_in_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, FakeEntryPoint("extractive", f"{TOY}:LastWordReader", "membench.readers"))
    registry = Registry()
    assert registry.get("reader", "extractive") is ExtractiveReader
    assert registry.warnings == ["entry point membench.readers:extractive ignored: the name is taken"]


def test_a_plugin_that_is_no_seam_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not a MemorySystem, Task, Reader or Judge subclass"):
        Registry([f"{TOY}:COLOURS"])


def test_task_readers_are_listed_with_their_task_and_used_only_on_its_runs(tmp_path: Path) -> None:
    registry = Registry()
    names = registry.names("reader")
    assert ("order", "task sort") in names and ("session-match", "task episodic") in names
    halumem = registry.get("task", "halumem")({}, tmp_path)
    with pytest.raises(ConfigError, match=r"unknown reader 'order'.*task 'halumem' readers: none"):
        build_reader(halumem, registry, "order", None)


def test_the_llm_reader_needs_a_model(tmp_path: Path) -> None:
    task = Registry().get("task", "sort")({}, tmp_path)
    with pytest.raises(ConfigError, match="the llm reader needs a model"):
        build_reader(task, Registry(), "llm", None)


@pytest.mark.parametrize("task_name", [name for name, _ in Registry().names("task")])
def test_every_task_builds_its_readers_and_its_default(task_name: str, tmp_path: Path) -> None:
    registry = Registry()
    task = registry.get("task", task_name)({}, tmp_path)
    for name in {*task.reader_names, task.default_reader}:
        assert build_reader(task, registry, name, None).name == name


def test_an_abstract_plugin_class_is_refused_by_name_before_any_work(tmp_path: Path) -> None:
    plugin = tmp_path / "abstract_plugin.py"
    plugin.write_text(
        "from membench.readers.base import Reader\n\nclass HalfReader(Reader):\n    name = 'half'\n"
    )
    registry = Registry([f"{plugin}:HalfReader"])
    with pytest.raises(
        ConfigError, match=r"reader 'half' from --plugin .* is abstract: it does not implement \w+"
    ):
        registry.get("reader", "half")


def test_an_unknown_name_is_answered_with_the_closest_known_ones() -> None:
    registry = Registry([f"{TOY}:LastWordReader"])
    with pytest.raises(ConfigError) as unknown:
        registry.get("reader", "last-wrd")
    assert (
        str(unknown.value) == "unknown reader 'last-wrd'; did you mean 'last-word'? (membench list readers)"
    )
    with pytest.raises(ConfigError) as unknown:
        registry.get("system", "qq")
    known = ", ".join(sorted(registry_module.BUILTIN_SYSTEMS))
    assert str(unknown.value) == f"unknown system 'qq'; known: {known} (membench list systems)"


def test_names_a_caller_resolves_itself_are_suggested_too() -> None:
    """A task's own judges are not registered: the caller passes them, and a typo of one is answered."""
    with pytest.raises(ConfigError) as unknown:
        Registry().get("judge", "lexcal", also=("rule", "lexical", "llm"))
    assert str(unknown.value) == "unknown judge 'lexcal'; did you mean 'lexical'? (membench list judges)"
