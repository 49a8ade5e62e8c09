"""Run directory I/O: append-only records, an atomically rewritten manifest.

Records are flushed line by line and fsynced at episode boundaries, so a killed run loses at most the
probe it was working on. Reading tolerates a torn last line (the write that was cut by the kill) and
reports it instead of failing, because that is exactly the state an interrupted run leaves behind.
Any other unreadable line is an error, until a repair moves it aside (never deleting it), which leaves
its probe without a record, so a resume redoes it.

Retrieved memories are stored by reference: a full-context run retrieves the whole history for every
probe, so storing each record's memories inline made records.jsonl grow with probes × memories (581 MB
for the episodic task's). ``RecordAppender`` writes each distinct memory once per episode to
memories.jsonl, one line ``{"episode_id", "ref", "memory"}`` with ``ref`` the first 16 hex digits of
the sha256 of the memory's JSON, and the record with ``prediction.memory_refs`` (in retrieval order)
where its memories were. A memory's line is flushed before the record that points at it, so a kill
between them leaves a memory nothing points at, never a reference to nothing. Runs written before
(memories inline, no memories.jsonl) read exactly as they did, and a run that holds both (an old run
resumed by this code) reads both: a record has either its memories inline or its refs.

Files are read line by line, never whole. Whatever only scores, compares or reports a run reads
records with ``read_latest_records``, which keeps each record's memories on disk (``StoredMemories``)
until something iterates them, so memory grows with the number of probes, not with probes × memories;
memories.jsonl is indexed (the byte offset of each episode's ref) the first time a ref is resolved.
``read_records`` reads records whole, every ref resolved (one ``Memory`` object per distinct memory).
A ref memories.jsonl does not hold is a ``DataError`` naming the file, the episode and the ref.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, TypeVar, overload

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import from_json

from membench.core.errors import DataError
from membench.core.types import IngestRecord, Manifest, Memory, Record

RECORDS = "records.jsonl"
MEMORIES = "memories.jsonl"
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
        size = self.path.stat().st_size if self.path.exists() else 0
        if size == 0:
            return
        with self.path.open("rb+") as handle:
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            # Back from the end, a block at a time, to the last newline: never the whole file.
            end = size
            while end > 0:
                start = max(0, end - 65536)
                handle.seek(start)
                found = handle.read(end - start).rfind(b"\n")
                if found >= 0:
                    handle.truncate(start + found + 1)
                    return
                end = start
            handle.truncate(0)

    def append(self, model: BaseModel) -> None:
        self.append_lines([model.model_dump_json()])

    def append_lines(self, lines: Iterable[str]) -> None:
        """Append lines of JSON already written (without their newlines), flushed together."""
        self._handle.writelines(line + "\n" for line in lines)
        self._handle.flush()

    def sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self.sync()
        self._handle.close()


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, text) of every non-blank line, one at a time. A last line without
    its newline is a killed writer's, cut when the file is next appended to (``JsonlAppender``), so it
    is never read, even when what it holds parses: a reader that counted it would skip a probe whose
    record the next writer then removes."""
    if not path.exists():
        return
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip() and raw.endswith(b"\n"):
                yield number, offset, raw.rstrip(b"\n")
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
    for number, _, raw in _lines(path):
        parsed = _parse(path, number, raw, model)
        if isinstance(parsed, DataError):
            raise parsed
        yield parsed


def repair_jsonl(path: Path, parse: Callable[[int, bytes], object], stamp: str) -> int:
    """Move the lines of ``path`` that ``parse`` (line number, text) finds unreadable, returning a
    ``DataError``, aside and rewrite ``path`` without them; returns how many moved.

    The lines go, with their line numbers and why they were unreadable, to
    ``<stem>.damaged-<stamp>.jsonl`` beside it (appended, flushed and fsynced before ``path`` is
    replaced atomically), so a kill at any point loses nothing: the worst case is a line kept in both.
    """
    good: list[bytes] = []
    damaged: list[str] = []
    for number, _, raw in _lines(path):
        parsed = parse(number, raw)
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
    """Move the unreadable lines of a run's records and ingests aside; returns how many moved.

    A record is unreadable when ``read_records`` could not read it, a ref of it included (memories.jsonl
    does not hold it, or holds it on a damaged line): its probe is then redone, and its memories
    stored again. memories.jsonl itself is never rewritten (each line is one memory, found by its ref;
    a damaged line nothing points at harms nothing).
    """
    records, ingests = run_dir / RECORDS, run_dir / INGESTS
    store, resolved = MemoryStore(run_dir / MEMORIES), _Resolved()
    moved = repair_jsonl(records, lambda n, raw: _whole_record(records, n, raw, store, resolved), stamp)
    return moved + repair_jsonl(ingests, lambda n, raw: _parse(ingests, n, raw, IngestRecord), stamp)


def read_records(run_dir: Path) -> list[Record]:
    """Every record whole, superseded ones too, each ref resolved into its memory (one ``Memory`` per
    distinct memory of an episode, shared by the records that point at it)."""
    return list(iter_records(run_dir))


def iter_records(run_dir: Path) -> Iterator[Record]:
    """``read_records`` one record at a time: what checks every record (a resume's) holds only the one
    it is reading, and the distinct memories met so far."""
    path = run_dir / RECORDS
    store, resolved = MemoryStore(path.with_name(MEMORIES)), _Resolved()
    for number, _, raw in _lines(path):
        parsed = _whole_record(path, number, raw, store, resolved)
        if isinstance(parsed, DataError):
            raise parsed
        yield parsed


def _whole_record(
    path: Path, number: int, raw: bytes, store: MemoryStore, resolved: _Resolved
) -> Record | DataError:
    """The record on line ``number`` with its memories resolved, or the error that names what fails."""
    record = _parse(path, number, raw, Record)
    if isinstance(record, DataError) or record.prediction is None or not record.prediction.memory_refs:
        return record
    try:
        memories = store.resolve(record.episode_id, record.prediction.memory_refs, (path, number), resolved)
    except DataError as exc:
        return exc
    record.prediction.memories, record.prediction.memory_refs = memories, []
    return record


def read_ingests(run_dir: Path) -> list[IngestRecord]:
    return list(_read_jsonl(run_dir / INGESTS, IngestRecord))


# ---------------------------------------------------------------- memories by reference

_Resolved = dict[tuple[str, str], Memory]
"""Memories already read, by (episode id, ref): what one read shares between the records it returns."""


class MemoryLine(BaseModel):
    """One line of memories.jsonl: a memory of one episode, and the ref its records point at it by."""

    episode_id: str
    ref: str
    memory: Memory


#: how a memory is written: as a ``Memory``, whatever subclass a plugin returned (as inline records
#: wrote it, within ``list[Memory]``), so its own fields neither change the ref nor fail to serialise.
MEMORY_JSON: TypeAdapter[Memory] = TypeAdapter(Memory)


def memory_ref(memory_json: str) -> str:
    """A memory's ref: the first 16 hex digits of the sha256 of its JSON as pydantic writes it (fields
    in declaration order), so the same memory retrieved again has the same ref. A collision within
    one episode is a 1 in 2^64 chance per pair; the worst a dict with its keys in another order does
    is store one memory twice."""
    return hashlib.sha256(memory_json.encode("utf-8")).hexdigest()[:16]


class RecordAppender:
    """A run's records.jsonl and memories.jsonl as ``membench run`` appends them: each record's
    memories by reference.

    A memory not yet stored for its episode gets its line in memories.jsonl, flushed before the record
    that points at it; ``sync`` makes memories.jsonl durable before records.jsonl. The refs stored per
    episode (a 16-digit hash per distinct memory) are seeded from a resumed run's memories.jsonl, so a
    resumed episode stores nothing twice, and kept until ``episode_done`` says the episode will write
    no more. memories.jsonl is opened at the first memory: a run without any has none.
    """

    def __init__(self, run_dir: Path) -> None:
        self.records = JsonlAppender(run_dir / RECORDS)
        self._memories_path = run_dir / MEMORIES
        self._memories: JsonlAppender | None = None
        self._stored = MemoryStore(self._memories_path).stored()

    def append(self, record: Record) -> list[tuple[str, str]]:
        """Append ``record``; returns the ref and the JSON of each of its memories as written, in
        order (none when it has none)."""
        prediction = record.prediction
        refs: list[str] = []
        written: list[tuple[str, str]] = []
        if prediction is not None and prediction.memories:
            stored = self._stored.setdefault(record.episode_id, set())
            lines: list[str] = []
            for memory in prediction.memories:
                text = MEMORY_JSON.dump_json(memory).decode("utf-8")  # a plugin's subclass as a Memory
                ref = memory_ref(text)
                if ref not in stored:
                    stored.add(ref)
                    episode = json.dumps(record.episode_id, ensure_ascii=False)
                    lines.append(f'{{"episode_id":{episode},"ref":"{ref}","memory":{text}}}')
                refs.append(ref)
                written.append((ref, text))
            if lines:
                self._memory_file().append_lines(lines)
            by_ref = prediction.model_copy(update={"memories": [], "memory_refs": refs})
            record = record.model_copy(update={"prediction": by_ref})
        self.records.append(record)
        return written

    def episode_done(self, episode_id: str) -> None:
        """Forget the refs of an episode that writes no more records (should one write again, its
        memories are stored again: a line too many, never a record that points at nothing)."""
        self._stored.pop(episode_id, None)

    def _memory_file(self) -> JsonlAppender:
        if self._memories is None:
            self._memories = JsonlAppender(self._memories_path)
        return self._memories

    def sync(self) -> None:
        if self._memories is not None:
            self._memories.sync()
        self.records.sync()

    def close(self) -> None:
        if self._memories is not None:
            self._memories.close()
        self.records.close()


class MemoryStore:
    """A run's memories.jsonl as its readers see it: each memory found by (episode id, ref).

    The first lookup indexes the file in one pass, validating each line (the byte offset of every
    episode's refs, a few dozen bytes per distinct memory); a lookup that misses indexes it again once,
    for a run still being written. A line that does not validate is left out of the index, so a redo
    stores its memory anew, and is named in the error of any ref then missing. A cut last line (a
    killed writer's) is ignored: its record was never written. The file is append-only and never
    repaired, so offsets stay valid.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._index: dict[str, dict[str, int]] | None = None
        #: (line number, problem) of each line that does not validate.
        self._unreadable: list[tuple[int, str]] = []
        #: the memories lazy readers (``StoredMemories``) have read, each once: few and shared in a
        #: full-context run, and one file read per memory per record would be 3.5 times slower.
        self.seen: _Resolved = _Resolved()

    def stored(self) -> dict[str, set[str]]:
        """The refs the file holds, per episode."""
        return {episode: set(refs) for episode, refs in self._offsets().items()}

    def resolve(
        self, episode_id: str, refs: Sequence[str], cited_by: tuple[Path, int], resolved: _Resolved
    ) -> list[Memory]:
        """The memories ``refs`` of ``episode_id`` name, in order; ``cited_by`` is the record's file and
        line (for the errors), ``resolved`` the memories read so far (added to)."""
        out: list[Memory] = []
        handle: IO[bytes] | None = None
        try:
            for ref in refs:
                memory = resolved.get((episode_id, ref))
                if memory is None:
                    offset = self._locate(episode_id, ref, cited_by)
                    handle = handle or self.path.open("rb")
                    memory = resolved[(episode_id, ref)] = self._read(
                        handle, offset, episode_id, ref, cited_by
                    )
                out.append(memory)
        finally:
            if handle is not None:
                handle.close()
        return out

    def _offsets(self) -> dict[str, dict[str, int]]:
        """Every valid line's offset by episode and ref. A line must validate whole to count: a damaged
        memory whose ref still parses would otherwise be "stored", and a redone probe would point at
        it again instead of storing the memory anew (the first valid line of a ref wins)."""
        if self._index is None:
            self._index, self._unreadable = {}, []
            for number, offset, raw in _lines(self.path):
                try:
                    line = MemoryLine.model_validate_json(raw)
                except ValidationError as exc:
                    error = _validation_error(self.path, number, exc)
                    problem = f"field '{error.field}' {error.problem}" if error.field else error.problem
                    self._unreadable.append((number, problem))
                    continue
                self._index.setdefault(line.episode_id, {}).setdefault(line.ref, offset)
        return self._index

    def _locate(self, episode_id: str, ref: str, cited_by: tuple[Path, int]) -> int:
        offset = self._offsets().get(episode_id, {}).get(ref)
        if offset is None and self.path.exists():
            self._index = None  # a run being written: the memory may have come since the index
            offset = self._offsets().get(episode_id, {}).get(ref)
        if offset is not None:
            return offset
        cited = f"{cited_by[0]}:{cited_by[1]}"
        if not self.path.exists():
            raise DataError(
                self.path,
                None,
                None,
                f"is missing, but {cited} points at memory {ref} of episode {episode_id} in it",
            )
        unreadable = ""
        if self._unreadable:
            lines = ", ".join(str(number) for number, _ in self._unreadable[:5])
            first, problem = self._unreadable[0]
            unreadable = f" (unreadable line(s), which may have held it: {lines}; line {first}: {problem})"
        raise DataError(
            self.path,
            None,
            None,
            f"holds no memory {ref} of episode {episode_id}, which {cited} points at{unreadable}",
        )

    def _read(
        self, handle: IO[bytes], offset: int, episode_id: str, ref: str, cited_by: tuple[Path, int]
    ) -> Memory:
        handle.seek(offset)
        raw = handle.readline()
        try:
            line = MemoryLine.model_validate_json(raw)
        except ValidationError as exc:
            number = self._line_number(offset)
            error = _validation_error(self.path, number, exc)
            which = f"memory {ref} of episode {episode_id}, which {cited_by[0]}:{cited_by[1]} points at"
            raise DataError(self.path, number, error.field, f"{error.problem} ({which})") from exc
        if (line.episode_id, line.ref) != (episode_id, ref):
            raise DataError(
                self.path,
                self._line_number(offset),
                "ref",
                f"is no longer {ref}: the file changed since it was read",
            )
        return line.memory

    def _line_number(self, offset: int) -> int:
        """The number of the line at ``offset`` (for an error: the index keeps offsets only)."""
        with self.path.open("rb") as handle:
            return handle.read(offset).count(b"\n") + 1


class StoredMemories(Sequence[Memory]):
    """One record's retrieved memories, left in records.jsonl: their count is known, and they are read
    back (that line only) when something indexes or iterates them, each validated when first read.

    What only counts memories (HaluMem's extraction metrics, export's ``n_memories``) never reads them;
    what reads them holds one record's at a time, and a run page that shows the first ten validates
    those ten. Records are append-only, so the offset stays valid; a file rewritten since (a repair)
    is detected by the probe id of the line found there, and is an error rather than another probe's
    memories. A record stored by reference is read back the same way, its refs then resolved in
    ``store`` (the run's memories.jsonl), one memory at a time.
    """

    __slots__ = ("_count", "_number", "_offset", "_path", "_probe_id", "_store")

    def __init__(
        self, path: Path, number: int, offset: int, probe_id: str, count: int, store: MemoryStore
    ) -> None:
        self._path, self._number, self._offset = path, number, offset
        self._probe_id, self._count, self._store = probe_id, count, store

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
        return _stored_line(self._path, self._number, self._offset, self._probe_id, self._store)


class _StoredLine:
    """One line's memories as parsed (inline, or the refs that name them in ``store``), each validated
    the first time it is read (a retrieval metric goes through them twice)."""

    def __init__(self, path: Path, number: int, data: dict[str, Any], store: MemoryStore) -> None:
        self.path, self.number, self.store = path, number, store
        self.episode_id: str = data["episode_id"]
        self.refs: list[str] = data["prediction"].get("memory_refs") or []
        self.items: list[Any] = data["prediction"].get("memories") or []
        self.memories: list[Memory | None] = [None] * len(self.refs or self.items)

    def memory(self, index: int) -> Memory:
        memory = self.memories[index]
        if memory is None:
            memory = self.memories[index] = self._read(index)
        return memory

    def _read(self, index: int) -> Memory:
        if self.refs:
            (memory,) = self.store.resolve(
                self.episode_id, self.refs[index : index + 1], (self.path, self.number), self.store.seen
            )
            return memory
        try:
            return Memory.model_validate(self.items[index])
        except ValidationError as exc:
            raise _validation_error(
                self.path, self.number, exc, ("prediction", "memories", str(index))
            ) from exc


@lru_cache(maxsize=2)  # the record being read and the one before: one or two lines' memories, no more
def _stored_line(path: Path, number: int, offset: int, probe_id: str, store: MemoryStore) -> _StoredLine:
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
    return _StoredLine(path, number, data, store)


def _slim_record(path: Path, number: int, offset: int, raw: bytes, store: MemoryStore) -> Record | DataError:
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
    count = len(record.prediction.memory_refs or memories) if record.prediction is not None else 0
    if record.prediction is None or not count:
        return record
    stored = StoredMemories(path, number, offset, record.probe_id, count, store)
    prediction = record.prediction.model_copy(update={"memories": stored, "memory_refs": []})
    return record.model_copy(update={"prediction": prediction})


def read_latest_records(run_dir: Path) -> list[Record]:
    """``latest_records(read_records(run_dir))`` with every record's memories left on disk
    (``StoredMemories``): what scoring, comparing, reporting and exporting read. Each line is parsed
    once, and a superseded record is dropped as soon as its redo is read.

    Such records are for reading: one written back out would fail to serialise its memories (a
    rescore, which writes the predictions it judges, reads them whole with ``read_records``).
    """
    path = run_dir / RECORDS
    store = MemoryStore(run_dir / MEMORIES)
    latest: dict[str, Record] = {}
    for number, offset, raw in _lines(path):
        parsed = _slim_record(path, number, offset, raw, store)
        if isinstance(parsed, DataError):
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
