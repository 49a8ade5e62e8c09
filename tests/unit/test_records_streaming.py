"""``read_latest_records``: the latest record per probe, memories left on disk until read; and records
written with their memories by reference (``RecordAppender``), read back by every reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic_core import PydanticSerializationError

from membench.core import records
from membench.core.errors import DataError
from membench.core.records import (
    MEMORIES,
    RECORDS,
    JsonlAppender,
    RecordAppender,
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


# ---------------------------------------------------------------- memories by reference


def _append(run_dir: Path, items: list[Record]) -> None:
    out = RecordAppender(run_dir)
    for item in items:
        out.append(item)
    out.close()


def _in(episode: str, record: Record) -> Record:
    return record.model_copy(update={"episode_id": episode})


def _memory_lines(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / MEMORIES).read_text().splitlines()]


def test_each_distinct_memory_is_stored_once_per_episode_and_reads_back_in_order(tmp_path: Path) -> None:
    shared = _memories(3, "shared")
    items = [
        _record("p1", shared),
        _record("p2", [shared[2], *_memories(2, "new"), shared[0]]),
        _in("e2", _record("p3", shared[:1])),  # the same memory in another episode: stored for it too
        _record("p4", None, failed=True),
    ]
    _append(tmp_path, items)
    lines = _memory_lines(tmp_path)
    assert [(line["episode_id"], line["memory"]["text"]) for line in lines] == [  # type: ignore[index]
        *(("e", f"shared memory {i}") for i in range(3)),
        ("e", "new memory 0"),
        ("e", "new memory 1"),
        ("e2", "shared memory 0"),
    ]
    stored = [json.loads(line)["prediction"] for line in (tmp_path / RECORDS).read_text().splitlines()]
    assert stored[0]["memories"] == [] and len(stored[0]["memory_refs"]) == 3 and stored[3] is None
    assert stored[1]["memory_refs"][0] == stored[0]["memory_refs"][2]
    assert [r.model_dump() for r in read_records(tmp_path)] == [r.model_dump() for r in items]
    slim = read_latest_records(tmp_path)
    assert [_whole(r) for r in slim] == [r.model_dump() for r in items]
    second = slim[1].prediction
    assert second is not None and isinstance(second.memories, StoredMemories)
    assert second.memory_refs == [] and second.memories[1].text == "new memory 0"


def test_a_whole_read_shares_one_memory_object_per_distinct_memory(tmp_path: Path) -> None:
    shared = _memories(2, "shared")
    _append(tmp_path, [_record("p1", shared), _record("p2", shared[::-1])])
    first, second = (r.prediction.memories for r in read_records(tmp_path) if r.prediction is not None)
    assert first[0] is second[1] and first[1] is second[0]


def test_an_episode_done_is_forgotten_and_a_late_record_of_it_still_reads_whole(tmp_path: Path) -> None:
    shared = _memories(2, "shared")
    out = RecordAppender(tmp_path)
    out.append(_record("p1", shared))
    out.append(_in("e2", _record("p2", shared)))
    out.episode_done("e")  # its refs are dropped; e2's are kept
    out.append(_in("e2", _record("p3", shared[:1])))
    out.append(_record("p4", shared[:1]))  # written again after all: its memory is stored again
    out.close()
    assert [(line["episode_id"], line["memory"]["text"]) for line in _memory_lines(tmp_path)] == [  # type: ignore[index]
        ("e", "shared memory 0"),
        ("e", "shared memory 1"),
        ("e2", "shared memory 0"),
        ("e2", "shared memory 1"),
        ("e", "shared memory 0"),
    ]
    assert [[m.text for m in r.prediction.memories] for r in read_records(tmp_path) if r.prediction] == [
        ["shared memory 0", "shared memory 1"],
        ["shared memory 0", "shared memory 1"],
        ["shared memory 0"],
        ["shared memory 0"],
    ]


def test_a_resumed_appender_stores_nothing_twice_and_old_inline_records_read_beside_new(
    tmp_path: Path,
) -> None:
    memories = _memories(2, "a")
    _write(tmp_path, [_record("p1", memories)])  # an old run: memories inline, no memories.jsonl
    _append(tmp_path, [_record("p2", memories)])
    _append(tmp_path, [_record("p3", [memories[1], *_memories(1, "b")])])  # a second resume
    assert [line["memory"]["text"] for line in _memory_lines(tmp_path)] == [  # type: ignore[index]
        "a memory 0",
        "a memory 1",
        "b memory 0",
    ]
    whole = read_records(tmp_path)
    assert [[m.text for m in r.prediction.memories] for r in whole if r.prediction] == [
        ["a memory 0", "a memory 1"],
        ["a memory 0", "a memory 1"],
        ["a memory 1", "b memory 0"],
    ]
    assert [_whole(r) for r in read_latest_records(tmp_path)] == [r.model_dump() for r in whole]


def test_counting_memories_by_reference_reads_no_memory(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", _memories(4, "a"))])
    (record,) = read_latest_records(tmp_path)
    (tmp_path / MEMORIES).unlink()
    assert record.prediction is not None and len(record.prediction.memories) == 4
    records._stored_line.cache_clear()
    with pytest.raises(DataError, match=r"memories\.jsonl: is missing, but .*records\.jsonl:1 points at"):
        record.prediction.memories[0]


def test_a_dangling_ref_is_one_error_naming_the_file_the_episode_and_the_ref(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", _memories(3, "a"))])
    lines = (tmp_path / MEMORIES).read_text().splitlines(keepends=True)
    ref = json.loads(lines[1])["ref"]
    (tmp_path / MEMORIES).write_text(lines[0] + lines[2])
    expected = rf"memories\.jsonl: holds no memory {ref} of episode e, which .*records\.jsonl:1 points at$"
    with pytest.raises(DataError, match=expected):
        read_records(tmp_path)
    records._stored_line.cache_clear()
    (record,) = read_latest_records(tmp_path)
    assert record.prediction is not None and record.prediction.memories[0].text == "a memory 0"
    with pytest.raises(DataError, match=expected):
        list(record.prediction.memories)


def test_an_unreadable_memory_line_is_named_where_a_ref_needs_it(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", _memories(3, "a"))])
    path = tmp_path / MEMORIES
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "{not json\n" + lines[2] + lines[1][:30])  # and a cut last line
    with pytest.raises(
        DataError,
        match=r"holds no memory .* \(unreadable line\(s\), which may have held it: 2; line 2: Invalid JSON",
    ):
        read_records(tmp_path)
    bad = json.loads(lines[1])
    del bad["memory"]["text"]
    path.write_text(lines[0] + json.dumps(bad) + "\n" + lines[2])
    with pytest.raises(DataError, match=r"which may have held it: 2; line 2: field 'memory\.text'"):
        read_records(tmp_path)


def test_a_run_without_memories_has_no_memories_file(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", []), _record("p2", None, failed=True)])
    assert not (tmp_path / MEMORIES).exists()
    assert [r.model_dump() for r in read_records(tmp_path)] == [
        _record("p1", []).model_dump(),
        _record("p2", None, failed=True).model_dump(),
    ]


def test_a_memories_file_rewritten_since_it_was_indexed_is_an_error(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", _memories(2, "a"))])
    (record,) = read_latest_records(tmp_path)
    assert record.prediction is not None and record.prediction.memories[0].text == "a memory 0"
    path = tmp_path / MEMORIES
    first, second = path.read_text().splitlines(keepends=True)
    path.write_text(second + first)  # the same lines, swapped: the index now points at the wrong one
    with pytest.raises(DataError, match=r"memories\.jsonl:2: field 'ref' is no longer .*the file changed"):
        record.prediction.memories[1]


def test_a_complete_last_line_without_its_newline_is_cut_by_readers_as_by_the_appender(
    tmp_path: Path,
) -> None:
    # The appender cuts a last line without a newline; a reader that counted it would skip its probe.
    path = _write(tmp_path, [_record("p1", _memories(1, "a")), _record("p2", _memories(1, "b"))])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert [r.probe_id for r in read_latest_records(tmp_path)] == ["p1"]
    assert [r.probe_id for r in read_records(tmp_path)] == ["p1"]
    _append(tmp_path, [_record("p2", _memories(1, "b"))])  # the resume redoes it
    assert [r.probe_id for r in read_records(tmp_path)] == ["p1", "p2"]


def test_a_memories_line_cut_after_its_json_is_stored_again_not_pointed_at(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", _memories(1, "a"))])
    memories = tmp_path / MEMORIES
    memories.write_bytes(memories.read_bytes().rstrip(b"\n"))  # complete JSON, its newline lost
    (tmp_path / RECORDS).write_text("")
    _append(tmp_path, [_record("p1", _memories(1, "a"))])
    (record,) = read_records(tmp_path)
    assert record.prediction is not None and [m.text for m in record.prediction.memories] == ["a memory 0"]
    assert len(_memory_lines(tmp_path)) == 1


def test_a_damaged_memory_whose_ref_still_parses_is_stored_anew_by_the_redo(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", _memories(1, "a"))])
    memories = tmp_path / MEMORIES
    (line,) = _memory_lines(tmp_path)
    line["memory"]["text"] = None  # type: ignore[index]
    memories.write_text(json.dumps(line) + "\n")
    with pytest.raises(DataError, match="holds no memory"):
        read_records(tmp_path)
    assert records.repair_run(tmp_path, "t") == 1, "the record that points at it is moved aside"
    _append(tmp_path, [_record("p1", _memories(1, "a"))])  # the redo
    (record,) = read_records(tmp_path)
    assert record.prediction is not None and [m.text for m in record.prediction.memories] == ["a memory 0"]
    assert len(_memory_lines(tmp_path)) == 2, "the damaged line stays, the memory is stored again"


def test_a_plugins_memory_subclass_is_stored_as_the_memory_it_is(tmp_path: Path) -> None:
    class Scored(Memory):
        internal_score: float = 0.5

    plain = _memories(1, "a")[0]
    _append(tmp_path, [_record("p1", [Scored(**plain.model_dump())])])
    (line,) = _memory_lines(tmp_path)
    assert line["memory"] == json.loads(plain.model_dump_json()) and line["ref"] == records.memory_ref(
        plain.model_dump_json()
    )


def test_a_memory_written_after_the_index_was_built_is_found(tmp_path: Path) -> None:
    _append(tmp_path, [_record("p1", _memories(1, "a"))])
    store = records.MemoryStore(tmp_path / MEMORIES)
    assert set(store.stored()["e"]) == {line["ref"] for line in _memory_lines(tmp_path)}
    _append(tmp_path, [_record("p2", _memories(1, "b"))])  # the run goes on while it is read
    new = _memory_lines(tmp_path)[-1]
    (memory,) = store.resolve("e", [str(new["ref"])], (tmp_path / RECORDS, 2), {})
    assert memory.text == "b memory 0"


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        (b"", b""),
        (b'{"a":1}\n', b'{"a":1}\n'),
        (b'{"a":1}\n{"b":', b'{"a":1}\n'),
        (b'{"b":', b""),
        (b'{"a":1}\n' + b"x" * 200_000, b'{"a":1}\n'),  # a cut line longer than a block
        (b'{"a":1}\n' * 40_000 + b"y" * 70_000, b'{"a":1}\n' * 40_000),
    ],
)
def test_opening_an_appender_cuts_only_a_last_line_without_its_newline(
    tmp_path: Path, content: bytes, kept: bytes
) -> None:
    path = tmp_path / RECORDS
    path.write_bytes(content)
    JsonlAppender(path).close()
    assert path.read_bytes() == kept
