"""``read_latest_records``: the latest record per probe, memories left on disk until read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic_core import PydanticSerializationError

from membench.core import records
from membench.core.errors import DataError
from membench.core.records import (
    RECORDS,
    JsonlAppender,
    StoredMemories,
    latest_records,
    read_latest_records,
    read_records,
)
from membench.core.types import ErrorInfo, Memory, Prediction, Record, Score


def _record(probe: str, memories: list[Memory] | None, *, failed: bool = False) -> Record:
    prediction = (
        None if memories is None else Prediction(answer="a", memories=memories, latency_s={"retrieve": 1})
    )
    return Record(
        run_id="r",
        task="t",
        task_version="1",
        system="s",
        episode_id="e",
        probe_id=probe,
        after_session=0,
        kind="qa",
        labels={"k": "v"},
        input_hash="h",
        prediction=prediction,
        score=None if failed else Score(judge="j", label="correct", values={"f1": 0.5}),
        error=ErrorInfo(stage="reader", type="Timeout", message="slow") if failed else None,
        completed_at="2026-01-01T00:00:00+00:00",
    )


def _memories(n: int, tag: str) -> list[Memory]:
    return [
        Memory(text=f"{tag} memory {i}", session_id=f"s{i}", position=i, metadata={"i": i}) for i in range(n)
    ]


def _write(run_dir: Path, items: list[Record]) -> Path:
    out = JsonlAppender(run_dir / RECORDS)
    for item in items:
        out.append(item)
    out.close()
    return run_dir / RECORDS


def _whole(record: Record) -> dict[str, object]:
    """The record as plain data, its memories read."""
    if record.prediction is not None:
        prediction = record.prediction.model_copy(update={"memories": list(record.prediction.memories)})
        record = record.model_copy(update={"prediction": prediction})
    return record.model_dump()


def test_latest_records_with_memories_on_disk_equal_the_whole_read(tmp_path: Path) -> None:
    _write(
        tmp_path,
        [
            _record("p1", _memories(3, "first"), failed=True),  # superseded by its redo below
            _record("p2", None, failed=True),  # the system failed: no prediction
            _record("p3", []),
            _record("p1", _memories(4, "redo")),
        ],
    )
    slim = read_latest_records(tmp_path)
    assert [r.probe_id for r in slim] == ["p1", "p2", "p3"]  # first appearance, as latest_records
    assert [_whole(r) for r in slim] == [r.model_dump() for r in latest_records(read_records(tmp_path))]
    first = slim[0].prediction
    assert first is not None and isinstance(first.memories, StoredMemories)
    assert len(first.memories) == 4 and first.memories[1].text == "redo memory 1"
    assert [m.text for m in first.memories[2:]] == ["redo memory 2", "redo memory 3"]


def test_counting_memories_reads_nothing_and_a_rewritten_file_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, [_record("p1", _memories(2, "a")), _record("p2", _memories(5, "b"))])
    slim = read_latest_records(tmp_path)
    records._stored_line.cache_clear()
    path.write_text(path.read_text().splitlines()[1] + "\n")  # p2's line where p1's was
    counts = [len(r.prediction.memories) for r in slim if r.prediction is not None]
    assert counts == [2, 5]
    with pytest.raises(DataError, match=r"records\.jsonl:1.*probe_id.*no longer p1"):
        list(slim[0].prediction.memories)  # type: ignore[union-attr]
    with pytest.raises(DataError, match=r"records\.jsonl:2.*no longer p2"):  # its offset: mid-line
        slim[1].prediction.memories[0]  # type: ignore[union-attr]


def test_a_torn_last_line_is_ignored_and_a_bad_middle_line_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, [_record("p1", _memories(1, "a")), _record("p2", _memories(1, "b"))])
    text = path.read_text()
    path.write_text(text + text.splitlines()[0][:40])  # a killed writer's cut line
    assert [r.probe_id for r in read_latest_records(tmp_path)] == ["p1", "p2"]
    lines = text.splitlines()
    bad = lines[1].replace('"after_session":0', '"after_session":"x"')
    path.write_text(f"{lines[0]}\n{bad}\n")
    with pytest.raises(DataError, match=r"records\.jsonl:2.*after_session"):
        read_latest_records(tmp_path)


def test_a_bad_memory_is_named_when_the_memories_are_read(tmp_path: Path) -> None:
    path = _write(tmp_path, [_record("p1", _memories(2, "a"))])
    data = json.loads(path.read_text())
    del data["prediction"]["memories"][1]["text"]
    path.write_text(json.dumps(data) + "\n")
    (record,) = read_latest_records(tmp_path)
    assert record.prediction is not None and len(record.prediction.memories) == 2
    assert [m.text for m in record.prediction.memories[:1]] == ["a memory 0"]  # each read is validated
    with pytest.raises(DataError, match=r"records\.jsonl:1.*prediction\.memories\.1\.text"):
        list(record.prediction.memories)


def test_a_record_read_slim_is_never_written_back_with_its_memories_lost(tmp_path: Path) -> None:
    _write(tmp_path, [_record("p1", _memories(2, "a"))])
    (record,) = read_latest_records(tmp_path)
    with pytest.raises(PydanticSerializationError):
        record.model_dump_json()
