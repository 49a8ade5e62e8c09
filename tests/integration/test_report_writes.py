"""``report`` writes its site into a fresh folder and swaps it in whole: a write that fails part-way
leaves the output folder byte for byte as it was, with no temporary file or folder left anywhere."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import membench.reporting
from membench.api import run
from membench.core.errors import ConfigError
from membench.reporting import Settings, write_report
from membench.running.display import NullDisplay
from membench.testing.configs import tiny_run_config

SETTINGS = Settings(n_boot=0)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results folder with two complete runs (so the site has several files to write)."""
    for system in ("bm25", "no-memory"):
        run(tiny_run_config(tmp_path, "halumem", system), NullDisplay())
    return tmp_path / "results"


def test_a_write_failing_part_way_leaves_the_old_site(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    written, _ = write_report(results, out, SETTINGS)
    assert len(written) >= 3
    before = tree_digest(out)
    siblings = sorted(tmp_path.iterdir())
    real_write = membench.reporting.write_atomic
    calls = []

    def write_then_fail(path: Path, text: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real_write(path, text)

    monkeypatch.setattr(membench.reporting, "write_atomic", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(results, out, Settings(n_boot=0, baseline="bm25"))  # a site that differs
    assert len(calls) == 2, "the failure came part-way through the site"
    assert tree_digest(out) == before, "the old site, exactly"
    assert sorted(tmp_path.iterdir()) == siblings, "no temporary folder left beside it"


def test_the_new_site_replaces_the_old_one_whole(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "a-run-no-longer-there.html").write_text("old")
    (out / ".leaderboard.md.abc.tmp").write_text("left by a report killed mid-write")
    (tmp_path / ".site.new-999999").mkdir()  # left by a report killed before its swap
    written, _ = write_report(results, out, SETTINGS)
    assert sorted(tree_digest(out)) == sorted(str(p.relative_to(out)) for p in written)
    assert not list(tmp_path.glob(".site.new-*")) and not list(tmp_path.glob(".site.old-*"))


def test_a_folder_with_other_files_is_refused_untouched(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("not a report")
    with pytest.raises(ConfigError, match=r"holds notes\.txt, which is not part of a report"):
        write_report(results, out, SETTINGS)
    assert tree_digest(out) == {"notes.txt": hashlib.sha256(b"not a report").hexdigest()}
