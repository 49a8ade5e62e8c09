"""Run directory I/O: append-only records, an atomically rewritten manifest.

Records are flushed line by line and fsynced at episode boundaries, so a killed run loses at most the
probe it was working on. Reading tolerates a torn last line (the write that was cut by the kill) and
reports it instead of failing, because that is exactly the state an interrupted run leaves behind.
Any other unreadable line is an error, until a repair moves it aside (never deleting it), which leaves
its probe without a record, so a resume redoes it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TypeVar

from pydantic import BaseModel, ValidationError

from membench.core.errors import DataError
from membench.core.types import IngestRecord, Manifest, Record

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


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n") if path.exists() else []


def _parse(path: Path, number: int, raw: bytes, model: type[M]) -> M | DataError:
    """The record on line ``number``, or the error that names the file, line and field it fails on."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        return DataError(path, number, field, first["msg"])


def _read_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    lines = _lines(path)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        parsed = _parse(path, number, raw, model)
        if isinstance(parsed, DataError):
            if number == len(lines):  # no newline after it: the write was cut
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
    for number, raw in enumerate(_lines(path), start=1):
        if not raw.strip():
            continue
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
