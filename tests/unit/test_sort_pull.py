"""Pulling the official Book-SORT parquet files, against a loopback fake of the Hugging Face hub, and
loading what was pulled as the task's official data."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from membench.core.errors import ConfigError
from membench.testing.fakes.hf_hub import FakeHfHub, isolate_client
from membench_tasks.sort import loader
from membench_tasks.sort.pull import REPO, pull_booksort
from membench_tasks.sort.task import SortTask

pytest.importorskip("pyarrow", reason="the parquet form needs pyarrow (the dev and official extras)")

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sort" / "BookSORT"


def _parquet(split: str) -> bytes:
    """The fixture's e250/s20 rows of ``split`` in the release's parquet schema (the merged record
    plus excerpt_length and segment_length, texts wrapped as the release wraps them)."""
    rows, _ = loader.rows_from_csv(FIXTURE, 250, 20)
    records = []
    for r in rows:
        if (r.excerpt_idx < loader.TEST_EXCERPTS) != (split == "test"):
            continue
        record = {field: getattr(r, field) for field in loader.SEGMENT_FIELDS}
        record.update(
            book_title=r.book_title, num_words=3000, excerpt_pos=0.5, excerpt_text=f"*{r.excerpt_text}*\n\n",
            segment_1=f"*{r.segment_1}*", segment_2=f"*{r.segment_2}*", excerpt_length=250, segment_length=20,
        )  # fmt: skip
        records.append(record)
    out = io.BytesIO()
    pd.DataFrame(records).to_parquet(out)
    return out.getvalue()


RELEASE = {
    "data/test_e250_s20.parquet": _parquet("test"),
    "data/validation_e250_s20.parquet": _parquet("validation"),
    "data/test_e1000_s20.parquet": b"PAR1 another condition PAR1",
    "README.md": b"---\nlicense: cc0-1.0\n---\n",
}


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHfHub]:
    isolate_client(monkeypatch, tmp_path / "client")
    with FakeHfHub(REPO, RELEASE, plain={"README.md"}) as fake:
        yield fake


def test_both_splits_of_the_asked_condition_are_pulled_and_load(hub: FakeHfHub, tmp_path: Path) -> None:
    root = pull_booksort(tmp_path, excerpt_lengths=[250], segment_lengths=[20], endpoint=hub.endpoint)
    assert root == tmp_path / "main"
    assert hub.downloads() == ["data/test_e250_s20.parquet", "data/validation_e250_s20.parquet"]
    options = {"data": str(root), "excerpt_lengths": "250", "segment_lengths": "20", "split": "all"}
    pulled = SortTask(options, tmp_path).load()
    from_csv = SortTask({**options, "data": str(FIXTURE)}, tmp_path).load()
    by_id = sorted(from_csv.probes, key=lambda p: p.probe_id)
    assert sorted(pulled.probes, key=lambda p: p.probe_id) == by_id and len(by_id) == 8


def test_a_condition_the_release_lacks_is_named_before_any_download(hub: FakeHfHub, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        pull_booksort(tmp_path, excerpt_lengths=[250, 2500], segment_lengths=[20, 50], endpoint=hub.endpoint)
    assert str(info.value) == (
        f"{REPO} at revision main (commit {hub.commit}) has no condition e250_s50, e2500_s20, e2500_s50"
    )
    assert hub.downloads() == []


def test_the_task_refuses_a_single_checksum(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--sha256 does not apply to sort"):
        SortTask({}, tmp_path).pull(tmp_path, sha256="ab" * 32)
