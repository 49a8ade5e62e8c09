"""Run directory I/O: append-only records, an atomically rewritten manifest.

Records are flushed line by line and fsynced at episode boundaries, so a killed run loses at most the
probe it was working on. Reading tolerates a torn last line (the write that was cut by the kill) and
reports it instead of failing, because that is exactly the state an interrupted run leaves behind.
Any other unreadable line is an error, until a repair moves it aside (never deleting it), which leaves
its probe without a record, so a resume redoes it.

Files are read line by line, never whole: a full-context run's records.jsonl holds every retrieved
memory of every probe (hundreds of MB). Whatever only scores, compares or reports a run reads it with
``read_latest_records``, which keeps each record's memories on disk (``StoredMemories``) until
something iterates them, so memory grows with the number of probes, not with probes × memories.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, TypeVar, overload

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from membench.core.errors import DataError
from membench.core.types import IngestRecord, Manifest, Memory, Record

RECORDS = "records.jsonl"
INGESTS = "ingest.jsonl"
MANIFEST = "manifest.json"

M = TypeVar("M", bound=BaseModel)


def _default_file_mode() -> int:
    """What ``open`` would give a new file: 0666 less the process umask (read once, at import)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes such as Parquet) so that readers see the old file or the
    new one, never a mix."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; results are meant to be read by others too
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(run_dir: Path, manifest: Manifest) -> None:
    write_atomic(run_dir / MANIFEST, manifest.model_dump_json(indent=2) + "\n")


def read_manifest(run_dir: Path) -> Manifest | None:
    path = run_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise DataError(path, None, None, f"is not a membench manifest: {exc.errors()[0]['msg']}") from exc


class JsonlAppender:
    """Append-only JSONL writer: one line per call, flushed; ``sync`` makes it durable."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._repair_torn_tail()
        self._handle: IO[str] = path.open("a", encoding="utf-8")

    def _repair_torn_tail(self) -> None:
        """Cut a partial last line left by a killed writer, so the next append starts a fresh line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            data = handle.read()
            if data.endswith(b"\n"):
                return
            handle.truncate(data.rfind(b"\n") + 1)

    def append(self, model: BaseModel) -> None:
        self._handle.write(model.model_dump_json() + "\n")
        self._handle.flush()

    def sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self.sync()
        self._handle.close()


def _lines(path: Path) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line number, byte offset, text, whether a newline ends it) of every non-blank line, one at a
    time: the last line of a killed writer is the one without a newline."""
    if not path.exists():
        return
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, offset, raw.rstrip(b"\n"), raw.endswith(b"\n")
            offset += len(raw)


def _validation_error(path: Path, number: int, exc: ValidationError, at: tuple[str, ...] = ()) -> DataError:
    """The error that names the file, line and field (under ``at``) a line fails on."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in (*at, *first["loc"])) or None
    return DataError(path, number, field, first["msg"])


def _parse(path: Path, number: int, raw: bytes, model: type[M]) -> M | DataError:
    """The record on line ``number``, or the error that names the file, line and field it fails on."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        return _validation_error(path, number, exc)


def _read_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    for number, _, raw, ended in _lines(path):
        parsed = _parse(path, number, raw, model)
        if isinstance(parsed, DataError):
            if not ended:  # no newline after it: the write was cut
                return
            raise parsed
        yield parsed


def repair_jsonl(path: Path, model: type[BaseModel], stamp: str) -> int:
    """Move the unreadable lines of ``path`` aside and rewrite it without them; returns how many moved.

    The lines go, with their line numbers and why they were unreadable, to
    ``<stem>.damaged-<stamp>.jsonl`` beside it (appended, flushed and fsynced before ``path`` is
    replaced atomically), so a kill at any point loses nothing: the worst case is a line kept in both.
    """
    good: list[bytes] = []
    damaged: list[str] = []
    for number, _, raw, _ in _lines(path):
        parsed = _parse(path, number, raw, model)
        if isinstance(parsed, DataError):
            text = raw.decode("utf-8", errors="backslashreplace")
            damaged.append(json.dumps({"line": number, "problem": str(parsed), "text": text}) + "\n")
        else:
            good.append(raw + b"\n")
    if not damaged:
        return 0
    with path.with_name(f"{path.stem}.damaged-{stamp}.jsonl").open("a", encoding="utf-8") as aside:
        aside.writelines(damaged)
        aside.flush()
        os.fsync(aside.fileno())
    write_atomic(path, b"".join(good).decode("utf-8"))
    return len(damaged)


def repair_run(run_dir: Path, stamp: str) -> int:
    """Move the unreadable lines of a run's records and ingests aside; returns how many moved."""
    return repair_jsonl(run_dir / RECORDS, Record, stamp) + repair_jsonl(
        run_dir / INGESTS, IngestRecord, stamp
    )


def read_records(run_dir: Path) -> list[Record]:
    return list(_read_jsonl(run_dir / RECORDS, Record))


def read_ingests(run_dir: Path) -> list[IngestRecord]:
    return list(_read_jsonl(run_dir / INGESTS, IngestRecord))


class StoredMemories(Sequence[Memory]):
    """One record's retrieved memories, left in records.jsonl: their count is known, and they are read
    back (that line only) when something indexes or iterates them, each validated when first read.

    What only counts memories (HaluMem's extraction metrics, export's ``n_memories``) never reads them;
    what reads them holds one record's at a time, and a run page that shows the first ten validates
    those ten. Records are append-only, so the offset stays valid; a file rewritten since (a repair)
    is detected by the probe id of the line found there, and is an error rather than another probe's
    memories.
    """

    __slots__ = ("_count", "_number", "_offset", "_path", "_probe_id")

    def __init__(self, path: Path, number: int, offset: int, probe_id: str, count: int) -> None:
        self._path, self._number, self._offset = path, number, offset
        self._probe_id, self._count = probe_id, count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Memory: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Memory]: ...
    def __getitem__(self, index: int | slice) -> Memory | Sequence[Memory]:
        line = self._line()
        if isinstance(index, slice):
            return tuple(line.memory(i) for i in range(self._count)[index])
        return line.memory(range(self._count)[index])

    def __iter__(self) -> Iterator[Memory]:
        line = self._line()
        return (line.memory(i) for i in range(self._count))

    def __repr__(self) -> str:
        return f"StoredMemories({self._path}:{self._number}, {self._count} memories)"

    def _line(self) -> _StoredLine:
        return _stored_line(self._path, self._number, self._offset, self._probe_id)


class _StoredLine:
    """One line's memories as parsed, each validated the first time it is read (a retrieval metric
    goes through them twice)."""

    def __init__(self, path: Path, number: int, items: list[Any]) -> None:
        self.path, self.number, self.items = path, number, items
        self.memories: list[Memory | None] = [None] * len(items)

    def memory(self, index: int) -> Memory:
        memory = self.memories[index]
        if memory is None:
            try:
                memory = self.memories[index] = Memory.model_validate(self.items[index])
            except ValidationError as exc:
                raise _validation_error(
                    self.path, self.number, exc, ("prediction", "memories", str(index))
                ) from exc
        return memory


@lru_cache(maxsize=2)  # the record being read and the one before: one or two lines' memories, no more
def _stored_line(path: Path, number: int, offset: int, probe_id: str) -> _StoredLine:
    with path.open("rb") as handle:
        handle.seek(offset)
        line = handle.readline()
    try:
        data = from_json(line)
    except ValueError:
        data = None  # the offset now falls inside another line
    if not isinstance(data, dict) or data.get("probe_id") != probe_id:
        raise DataError(
            path, number, "probe_id", f"is no longer {probe_id}: the file changed since it was read"
        )
    return _StoredLine(path, number, data["prediction"]["memories"])


def _slim_record(path: Path, number: int, offset: int, raw: bytes) -> Record | DataError:
    """The record on line ``number`` validated without its memories, which become ``StoredMemories``."""
    try:
        data: Any = from_json(raw)  # pydantic's parser: twice as fast as json.loads on these lines
    except ValueError as exc:
        return DataError(path, number, None, f"Invalid JSON: {exc}")  # as model_validate_json says
    prediction = data.get("prediction") if isinstance(data, dict) else None
    memories = prediction.pop("memories", []) if isinstance(prediction, dict) else []
    if not isinstance(memories, list):
        return DataError(path, number, "prediction.memories", "Input should be a valid list")
    try:
        record = Record.model_validate(data)
    except ValidationError as exc:
        return _validation_error(path, number, exc)
    if record.prediction is None or not memories:
        return record
    stored = StoredMemories(path, number, offset, record.probe_id, len(memories))
    return record.model_copy(update={"prediction": record.prediction.model_copy(update={"memories": stored})})


def read_latest_records(run_dir: Path) -> list[Record]:
    """``latest_records(read_records(run_dir))`` with every record's memories left on disk
    (``StoredMemories``): what scoring, comparing, reporting and exporting read. Each line is parsed
    once, and a superseded record is dropped as soon as its redo is read.

    Such records are for reading: one written back out would fail to serialise its memories (a
    rescore, which writes the predictions it judges, reads them whole with ``read_records``).
    """
    path = run_dir / RECORDS
    latest: dict[str, Record] = {}
    for number, offset, raw, ended in _lines(path):
        parsed = _slim_record(path, number, offset, raw)
        if isinstance(parsed, DataError):
            if not ended:  # no newline after it: the write was cut
                break
            raise parsed
        latest[parsed.probe_id] = parsed
    return list(latest.values())


def latest_records(records: list[Record]) -> list[Record]:
    """One record per probe: the last one written (a retried error is superseded by its redo)."""
    latest: dict[str, Record] = {}
    for record in records:
        latest[record.probe_id] = record
    return list(latest.values())


def latest_ingests(ingests: list[IngestRecord]) -> list[IngestRecord]:
    """One record per (episode, session): re-ingestion after a resume supersedes the cut attempt."""
    latest: dict[tuple[str, int], IngestRecord] = {}
    for ingest in ingests:
        latest[(ingest.episode_id, ingest.session_index)] = ingest
    return list(latest.values())


def dump_json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
