"""How finished runs are named and told apart: the key of ``latest_complete`` and of every report row."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from membench.analysis.runs import run_mode
from membench.systems.bm25 import BM25System


def identity(options: dict[str, str], judge: str = "rule") -> dict[str, object]:
    return {
        "system": {"name": "bm25", "options": options},
        "reader": {"name": "extractive"},
        "judge": {"name": judge},
    }


DEFAULTS = dict(BM25System.default_options)


def test_default_options_add_nothing_to_the_label() -> None:
    assert run_mode(identity(DEFAULTS), DEFAULTS) == "extractive · rule"


def test_two_configurations_of_one_system_get_two_labels() -> None:
    session = run_mode(identity({**DEFAULTS, "unit": "session"}), DEFAULTS)
    assert session == "unit=session · extractive · rule"
    assert session != run_mode(identity(DEFAULTS), DEFAULTS)


def test_unknown_defaults_show_every_set_option_and_mode_first() -> None:
    mode = run_mode(
        {**identity({"mode": "llm", "llm": "openai/m", "api_base": ""}), "judge": {"name": "llm"}}
    )
    assert mode == "llm · llm=openai/m · extractive · llm"


def test_llm_roles_are_named_with_their_model() -> None:
    ident = identity(DEFAULTS)
    ident["reader"] = {"name": "llm", "llm": {"model": "openai/gpt-4o-mini"}}
    assert run_mode(ident, DEFAULTS) == "llm:openai/gpt-4o-mini · rule"


def test_a_url_option_loses_its_credentials_in_the_identity(tmp_path: Path) -> None:
    class WithURL(BM25System):
        default_options: ClassVar[Mapping[str, str]] = {**DEFAULTS, "endpoint": ""}

    system = WithURL({"endpoint": "http://user:s3cret@127.0.0.1:8000/v1"}, tmp_path)
    assert system.identity()["options"]["endpoint"] == "http://127.0.0.1:8000/v1"


def test_atomic_writes_get_the_usual_file_mode(tmp_path: Path) -> None:
    import os
    import stat

    from membench.core.records import write_atomic

    path = tmp_path / "manifest.json"
    write_atomic(path, "{}\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_numeric_category_levels_sort_by_value() -> None:
    from membench.core.text import level_order

    assert sorted(["125", "62", "1000", "250"], key=level_order) == ["62", "125", "250", "1000"]
    assert sorted(["b", "10", "a", "9"], key=level_order) == ["9", "10", "a", "b"]


TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py") + ":ToyTask"


def test_an_empty_or_partial_run_is_never_chosen_over_a_full_one(tmp_path: Path) -> None:
    """A ``--limit`` run is newer but covers fewer probes; an empty "complete" run covers none."""
    import json

    from membench.analysis.runs import latest_complete, load_run
    from membench.registry import Registry
    from membench.testing.toy_runs import write_toy_run

    registry = Registry([TOY])
    full = write_toy_run(tmp_path / "full", "a", {f"e{e}:q0": 1.0 for e in range(10)})
    part = write_toy_run(tmp_path / "part", "a", {f"e{e}:q0": 0.0 for e in range(2)})
    empty = write_toy_run(tmp_path / "empty", "a", {})
    for later, stamp in ((part, "2026-12-01T00:00:00+00:00"), (empty, "2026-12-02T00:00:00+00:00")):
        manifest = json.loads((later / "manifest.json").read_text())
        manifest["updated_at"] = stamp
        (later / "manifest.json").write_text(json.dumps(manifest))
    runs = [load_run(d, registry) for d in (full, part, empty)]
    assert [r.complete for r in runs] == [True, True, False]
    assert [r.run_dir for r in latest_complete(runs)] == [full]
    # A run whose status says complete but which lacks records for planned probes is not complete.
    (part / "records.jsonl").write_text((part / "records.jsonl").read_text().splitlines(keepends=True)[0])
    assert not load_run(part, registry).complete


def test_a_limit_below_one_is_refused_before_any_work() -> None:
    import pytest

    from membench.core.config import RunConfig
    from membench.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"RunConfig.limit \(--limit\) must be at least 1"):
        RunConfig(task="halumem", system="bm25", limit=0)


def test_an_error_message_from_any_stage_is_scrubbed_of_keys(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Not only LLM errors: an adapter's exception quoting a key must not carry it into a record."""
    from membench.running.rundir import error_info

    monkeypatch.setenv("MY_SERVICE_API_KEY", "s3cret-value-42")
    info = error_info("system", RuntimeError("login refused for token s3cret-value-42"))
    assert "s3cret-value-42" not in info.message and info.message.startswith("login refused")
    assert (info.stage, info.type) == ("system", "RuntimeError")
