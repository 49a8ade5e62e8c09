"""Book-SORT in either released form (CSV per condition, or the Hugging Face parquet) as membench data.

Both forms hold the same merged record: a book, an excerpt, and one segment pair with its positions,
distance bin and counterbalancing flag (research note §1.1). Each form is read into ``SortRow``
values, and one function turns rows into episodes and probes, so the two forms cannot drift apart:

- one episode per excerpt (the statistical cluster): the excerpt cut, in order, into chunks of about
  ``chunk_words`` words, one ``Session`` each (a single "document" turn), with start times one minute
  apart, so a system that keeps time or order can tell which chunk came first;
- one probe per segment pair, asked after the last chunk, in mode "answer": ``inputs`` hold the two
  segments as shown (A first), ``query`` is both segments (what a system retrieves with), and
  ``gold["answer"]`` is "A" when the earlier segment is shown as A.

Texts in the CSV form are wrapped in asterisks (``*...*``, excerpts also end with blank lines); the
wrapping is removed before words are counted. The parquet form needs pandas with pyarrow (or
fastparquet); without one, loading it fails with a message naming the missing package.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import importlib.util
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError, DataError
from membench.core.types import Dataset, Episode, Probe, Session, Turn
from membench_builders.sort import EXCERPT_LENGTHS, SEGMENT_LENGTHS, distance_bins, sentence_starts

#: start time of an episode's first chunk; later chunks follow one minute apart.
BASE_TIME = datetime(2025, 1, 1, 9, 0, 0)
#: a chunk never grows past this many times ``chunk_words`` while waiting for a sentence start.
MAX_CHUNK_FACTOR = 2
SPLITS = ("test", "validation", "all")
#: excerpts with an index below this are the release's test split; 100-109 are validation.
TEST_EXCERPTS = 100

QUESTION = (
    "Two segments, A and B, were taken from the text you read. Which of them appeared first in the text?\n"
    "Segment A: {a}\n"
    "Segment B: {b}\n"
    "Answer with the single letter A or B."
)

SEGMENT_FIELDS: tuple[str, ...] = ("book_idx", "excerpt_idx", "segment_idx", "segment_1", "segment_2")
SEGMENT_FIELDS += ("seg1_pos", "seg2_pos", "distance_bin", "present_seg1_first")
EXCERPT_FIELDS = ("book_idx", "excerpt_idx", "excerpt_pos", "excerpt_text")
BOOK_FIELDS = ("book_idx", "book_title", "num_words")


@dataclass(frozen=True)
class SortRow:
    """One Book-SORT trial: the merged books × excerpts × segments record."""

    book_idx: int
    book_title: str
    excerpt_idx: int
    excerpt_text: str
    segment_idx: int
    segment_1: str
    segment_2: str
    seg1_pos: int
    seg2_pos: int
    distance_bin: int
    present_seg1_first: int
    excerpt_length: int
    segment_length: int


def unwrap(text: str) -> str:
    """A CSV text without Book-SORT's ``*...*`` wrapping and surrounding blank lines."""
    text = text.strip()
    if len(text) >= 2 and text.startswith("*") and text.endswith("*"):
        text = text[1:-1]
    return text


def chunk_words_of(words: Sequence[str], chunk_words: int) -> list[list[str]]:
    """Cut ``words`` in order into chunks of at least ``chunk_words`` words, each ending before a sentence
    start (a chunk that finds none within ``MAX_CHUNK_FACTOR × chunk_words`` words is cut there)."""
    starts = sentence_starts(words)
    chunks: list[list[str]] = []
    begin = 0
    while begin < len(words):
        target = begin + chunk_words
        later = bisect.bisect_left(starts, target)
        end = starts[later] if later < len(starts) else len(words)
        end = min(end, begin + MAX_CHUNK_FACTOR * chunk_words, len(words))
        chunks.append(list(words[begin:end]))
        begin = end
    return chunks


# ---------------------------------------------------------------- rows to episodes and probes


def episode_id_of(row: SortRow) -> str:
    return f"e{row.excerpt_length}-s{row.segment_length}-b{row.book_idx}-x{row.excerpt_idx}"


def dataset_from_rows(
    rows: Iterable[SortRow],
    *,
    chunk_words: int,
    top_k: int,
    split: str,
    source: str,
    fingerprint: str,
) -> Dataset:
    """Episodes (one per excerpt of a condition) and probes (one per segment pair) of ``rows``."""
    if split not in SPLITS:
        raise ConfigError(f"task option split must be one of {', '.join(SPLITS)}, got '{split}'")
    if chunk_words < 1 or top_k < 1:
        raise ConfigError(f"chunk_words and top_k must be at least 1, got {chunk_words} and {top_k}")
    episodes: dict[str, Episode] = {}
    probes: list[Probe] = []
    seen: set[str] = set()
    for row in rows:
        if not _in_split(row.excerpt_idx, split):
            continue
        episode_id = episode_id_of(row)
        if episode_id not in episodes:
            episodes[episode_id] = _episode(episode_id, row, chunk_words)
        probe = _probe(episode_id, row, last_session=len(episodes[episode_id].sessions) - 1, top_k=top_k)
        if probe.probe_id in seen:
            raise DataError(source, None, "distance_bin", f"two pairs share probe id {probe.probe_id}")
        seen.add(probe.probe_id)
        probes.append(probe)
    if not probes:
        raise DataError(source, None, None, f"holds no SORT pairs in the {split} split")
    return Dataset(
        name="sort",
        episodes=list(episodes.values()),
        probes=probes,
        fingerprint=fingerprint,
        source=source,
    )


def _in_split(excerpt_idx: int, split: str) -> bool:
    if split == "test":
        return excerpt_idx < TEST_EXCERPTS
    if split == "validation":
        return excerpt_idx >= TEST_EXCERPTS
    return True


def _episode(episode_id: str, row: SortRow, chunk_words: int) -> Episode:
    sessions = []
    for i, chunk in enumerate(chunk_words_of(row.excerpt_text.split(), chunk_words)):
        stamp = (BASE_TIME + timedelta(minutes=i)).isoformat()
        turn = Turn(role="document", content=" ".join(chunk), timestamp=stamp)
        sessions.append(Session(session_id=f"{episode_id}/chunk-{i}", turns=[turn], start_time=stamp))
    metadata = {
        "book_idx": row.book_idx,
        "book_title": row.book_title,
        "excerpt_idx": row.excerpt_idx,
        "excerpt_length": row.excerpt_length,
        "segment_length": row.segment_length,
    }
    return Episode(episode_id=episode_id, sessions=sessions, metadata=metadata)


def _probe(episode_id: str, row: SortRow, last_session: int, top_k: int) -> Probe:
    earlier_first = row.present_seg1_first == 1
    a, b = (row.segment_1, row.segment_2) if earlier_first else (row.segment_2, row.segment_1)
    return Probe(
        probe_id=f"{episode_id}-d{row.distance_bin}-p{row.segment_idx}",
        episode_id=episode_id,
        after_session=last_session,
        kind="order",
        mode="answer",
        question=QUESTION.format(a=a, b=b),
        query=f"{a}\n{b}",
        top_k=top_k,
        inputs={"segment_a": a, "segment_b": b},
        gold={"answer": "A" if earlier_first else "B", "seg1_pos": row.seg1_pos, "seg2_pos": row.seg2_pos},
        labels={
            "excerpt_length": str(row.excerpt_length),
            "segment_length": str(row.segment_length),
            "distance_bin": str(row.distance_bin),
            "book": str(row.book_idx),
            "presented_first": "earlier" if earlier_first else "later",
        },
    )


# ---------------------------------------------------------------- the CSV form


def find_csv_folder(path: Path) -> Path:
    """The folder holding ``segments_*.csv``: ``path`` itself or its ``BookSORT`` subfolder."""
    for folder in (path, path / "BookSORT"):
        if folder.is_dir() and any(folder.glob("segments_*.csv")):
            return folder
    raise ConfigError(f"no Book-SORT CSV files (segments_*.csv) in {path} or {path / 'BookSORT'}")


def _condition_file(folder: Path, kind: str, excerpt_length: int, segment_length: int) -> Path:
    found = sorted(folder.glob(f"{kind}_{excerpt_length}-s{segment_length}-n*.csv"))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ConfigError(
            f"{what} {kind} file for condition {excerpt_length}/s{segment_length} in {folder} "
            f"(expected one {kind}_{excerpt_length}-s{segment_length}-n<N>.csv); "
            "choose the conditions present with -T excerpt_lengths=... -T segment_lengths=..."
        )
    return found[0]


def _read_csv(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a CSV file whose header must hold ``required``."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DataError(path, None, None, f"cannot be read: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            missing = [name for name in required if name not in header]
            if missing:
                raise DataError(path, 1, missing[0], "is missing from the header")
            return [(reader.line_num, row) for row in reader]
        except (csv.Error, UnicodeDecodeError) as exc:
            problem = " ".join(str(exc).split())
            raise DataError(path, max(reader.line_num, 1), None, f"is not valid CSV: {problem}") from None


def _int(value: Any, path: object, line: int | None, field: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(path, line, field, f"must be a whole number, got {value!r}") from None
    if not number.is_integer():
        raise DataError(path, line, field, f"must be a whole number, got {value!r}")
    return int(number)


def _text(value: Any, path: object, line: int | None, field: str) -> str:
    if not isinstance(value, str) or not unwrap(value):
        raise DataError(path, line, field, "must be a non-empty text")
    return unwrap(value)


def rows_from_csv(folder: Path, excerpt_length: int, segment_length: int) -> tuple[list[SortRow], list[Path]]:
    """The merged rows of one condition's three CSVs, and the files read."""
    files = [_condition_file(folder, kind, excerpt_length, segment_length) for kind in ("books", "excerpts")]
    segments_path = _condition_file(folder, "segments", excerpt_length, segment_length)
    books: dict[int, str] = {}
    book_lines: dict[int, int] = {}
    for line, raw in _read_csv(files[0], BOOK_FIELDS):
        book = _int(raw["book_idx"], files[0], line, "book_idx")
        _refuse_repeat(book, book_lines, files[0], line, "book_idx")
        books[book] = raw["book_title"]
    excerpts: dict[tuple[int, int], str] = {}
    excerpt_lines: dict[tuple[int, int], int] = {}
    for line, raw in _read_csv(files[1], EXCERPT_FIELDS):
        key = (
            _int(raw["book_idx"], files[1], line, "book_idx"),
            _int(raw["excerpt_idx"], files[1], line, "excerpt_idx"),
        )
        _refuse_repeat(key, excerpt_lines, files[1], line, "excerpt_idx")
        excerpts[key] = _text(raw["excerpt_text"], files[1], line, "excerpt_text")
    rows = []
    seen: dict[tuple[int, ...], int] = {}
    for line, raw in _read_csv(segments_path, SEGMENT_FIELDS):
        row = _row(raw, books, excerpts, excerpt_length, segment_length, segments_path, line)
        _check_new(row, seen, segments_path, line)
        rows.append(row)
    return rows, [*files, segments_path]


def _refuse_repeat(key: Any, first_line: dict[Any, int], path: object, line: int, field: str) -> None:
    """Refuse a second record under one key: a dict would keep the last silently, and the segments
    joined to it would then be checked against text that may not be theirs."""
    if key in first_line:
        raise DataError(path, line, field, f"repeats {key} first given at line {first_line[key]}")
    first_line[key] = line


def _check_new(row: SortRow, seen: dict[tuple[int, ...], int], path: object, line: int) -> None:
    """Refuse a second pair for the same excerpt and bin (it would become a second probe with one id)."""
    key: tuple[int, ...] = (row.excerpt_length, row.segment_length, row.book_idx, row.excerpt_idx)
    key += (row.distance_bin, row.segment_idx)
    if key in seen:
        raise DataError(
            path, line, "distance_bin",
            f"repeats the pair of excerpt {row.excerpt_idx} of book {row.book_idx} in bin {row.distance_bin} "
            f"(segment_idx {row.segment_idx}) first given at line {seen[key]}",
        )  # fmt: skip
    seen[key] = line


def _row(
    raw: dict[str, Any],
    books: dict[int, str],
    excerpts: dict[tuple[int, int], str],
    excerpt_length: int,
    segment_length: int,
    path: object,
    line: int | None,
) -> SortRow:
    """One segments record checked against its condition and joined with its book and excerpt."""
    book = _int(raw["book_idx"], path, line, "book_idx")
    excerpt_idx = _int(raw["excerpt_idx"], path, line, "excerpt_idx")
    if book not in books:
        raise DataError(path, line, "book_idx", f"book {book} is not in the books file")
    if (book, excerpt_idx) not in excerpts:
        raise DataError(path, line, "excerpt_idx", f"excerpt {excerpt_idx} of book {book} has no text")
    row = SortRow(
        book_idx=book,
        book_title=str(books[book]),
        excerpt_idx=excerpt_idx,
        excerpt_text=excerpts[(book, excerpt_idx)],
        segment_idx=_int(raw["segment_idx"], path, line, "segment_idx"),
        segment_1=_text(raw["segment_1"], path, line, "segment_1"),
        segment_2=_text(raw["segment_2"], path, line, "segment_2"),
        seg1_pos=_int(raw["seg1_pos"], path, line, "seg1_pos"),
        seg2_pos=_int(raw["seg2_pos"], path, line, "seg2_pos"),
        distance_bin=_int(raw["distance_bin"], path, line, "distance_bin"),
        present_seg1_first=_int(raw["present_seg1_first"], path, line, "present_seg1_first"),
        excerpt_length=excerpt_length,
        segment_length=segment_length,
    )
    _check(row, path, line)
    return row


def _check(row: SortRow, path: object, line: int | None) -> None:
    """The invariants every trial keeps; a row that breaks one is not a SORT trial."""
    if row.present_seg1_first not in (0, 1):
        raise DataError(path, line, "present_seg1_first", f"must be 0 or 1, got {row.present_seg1_first}")
    if not 0 <= row.seg1_pos < row.seg2_pos:
        raise DataError(
            path, line, "seg2_pos", f"must come after seg1_pos ({row.seg1_pos}), got {row.seg2_pos}"
        )
    words = len(row.excerpt_text.split())
    if words != row.excerpt_length:
        raise DataError(
            path, line, "excerpt_text", f"has {words} words, not the condition's {row.excerpt_length}"
        )
    if row.seg2_pos + row.segment_length > row.excerpt_length:
        raise DataError(
            path, line, "seg2_pos",
            f"{row.seg2_pos}: a {row.segment_length}-word segment there ends after the excerpt's "
            f"{row.excerpt_length} words",
        )  # fmt: skip
    _check_bin(row, path, line)
    _check_segments(row, path, line)


def _check_segments(row: SortRow, path: object, line: int | None) -> None:
    """Each segment must be the excerpt's words at its position: otherwise swapped or shifted segments
    would flip the gold letter without any other check noticing."""
    words = row.excerpt_text.split()
    for number, text, pos in ((1, row.segment_1, row.seg1_pos), (2, row.segment_2, row.seg2_pos)):
        if text.split() != words[pos : pos + row.segment_length]:
            raise DataError(
                path, line, f"segment_{number}",
                f"is not the excerpt's {row.segment_length} words at seg{number}_pos {pos}",
            )  # fmt: skip


def _check_bin(row: SortRow, path: object, line: int | None) -> None:
    """The label must be one of the condition's four bins, and the pair's distance must lie in it."""
    if row.excerpt_length not in EXCERPT_LENGTHS or row.segment_length not in SEGMENT_LENGTHS:
        raise DataError(
            path, line, "excerpt_length",
            f"{row.excerpt_length}/s{row.segment_length} is not a Book-SORT condition "
            f"(excerpt lengths {EXCERPT_LENGTHS}, segment lengths {SEGMENT_LENGTHS})",
        )  # fmt: skip
    bins = distance_bins(row.excerpt_length, row.segment_length)
    lower = {upper: low for low, upper in bins}.get(row.distance_bin)
    condition = f"{row.excerpt_length}/s{row.segment_length}"
    if lower is None:
        labels = ", ".join(str(upper) for _, upper in bins)
        raise DataError(
            path, line, "distance_bin", f"{row.distance_bin} is not a bin of {condition} ({labels})"
        )
    distance = row.seg2_pos - row.seg1_pos
    if not lower < distance <= row.distance_bin:
        raise DataError(
            path, line, "distance_bin",
            f"{row.distance_bin}: the pair's distance seg2_pos - seg1_pos = {distance} is outside the bin "
            f"({lower}, {row.distance_bin}]",
        )  # fmt: skip


# ---------------------------------------------------------------- the parquet form

#: test_e250_s20.parquet, validation_e1000_s50.parquet, ...
_PARQUET_NAME = re.compile(r"e(\d+)_s(\d+)")


def parquet_files(path: Path, excerpt_lengths: Sequence[int], segment_lengths: Sequence[int]) -> list[Path]:
    """The parquet files of the wanted conditions: ``path`` itself, or those named for them below it."""
    if path.is_file():
        return [path]
    wanted = {(e, s) for e in excerpt_lengths for s in segment_lengths}
    found = []
    for file in sorted(path.rglob("*.parquet")):
        match = _PARQUET_NAME.search(file.name)
        if match and (int(match.group(1)), int(match.group(2))) in wanted:
            found.append(file)
    if not found:
        raise ConfigError(f"no Book-SORT parquet files for conditions {sorted(wanted)} under {path}")
    return found


def read_parquet(path: Path) -> Any:
    """A parquet file as a pandas DataFrame; a clear error when no parquet engine is installed."""
    if not any(importlib.util.find_spec(engine) for engine in ("pyarrow", "fastparquet")):
        raise ConfigError(
            f"reading {path.name} needs a parquet engine for pandas, and neither pyarrow nor fastparquet "
            "is installed: pip install pyarrow (or use the CSV form of Book-SORT)"
        )
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError or ValueError on junk
        problem = " ".join(str(exc).split())
        raise DataError(path, None, None, f"is not a readable parquet file: {problem}") from None


def rows_from_frame(
    frame: Any, path: object, excerpt_lengths: Sequence[int], segment_lengths: Sequence[int]
) -> list[SortRow]:
    """Rows of a parquet table (the merged schema plus ``excerpt_length`` and ``segment_length``)."""
    columns = (*SEGMENT_FIELDS, "excerpt_text", "book_title", "excerpt_length", "segment_length")
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(path, None, missing[0], "is missing from the table")
    rows = []
    seen: dict[tuple[int, ...], int] = {}
    # Errors name a row by its 1-based number in the table, as the CSV form names a line.
    for number, raw in enumerate(frame.to_dict("records"), 1):
        excerpt_length = _int(raw["excerpt_length"], path, number, "excerpt_length")
        segment_length = _int(raw["segment_length"], path, number, "segment_length")
        if excerpt_length not in excerpt_lengths or segment_length not in segment_lengths:
            continue
        book = _int(raw["book_idx"], path, number, "book_idx")
        excerpt_idx = _int(raw["excerpt_idx"], path, number, "excerpt_idx")
        excerpt = {(book, excerpt_idx): _text(raw["excerpt_text"], path, number, "excerpt_text")}
        row = _row(raw, {book: str(raw["book_title"])}, excerpt, excerpt_length, segment_length, path, number)
        _check_new(row, seen, path, number)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- entry point


def files_fingerprint(files: Iterable[Path]) -> str:
    """sha256 over the names and bytes of the files read, in name order."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.name):
        digest.update(file.name.encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def load_sort(
    path: Path,
    *,
    excerpt_lengths: Sequence[int],
    segment_lengths: Sequence[int],
    chunk_words: int,
    top_k: int,
    split: str,
) -> Dataset:
    """Book-SORT from a CSV folder (or its parent), a parquet file, or a folder of parquet files."""
    if not path.exists():
        raise ConfigError(f"Book-SORT data not found: {path}")
    rows: list[SortRow] = []
    files: list[Path] = []
    if path.suffix == ".parquet" or (path.is_dir() and not _has_csv(path) and any(path.rglob("*.parquet"))):
        for file in parquet_files(path, excerpt_lengths, segment_lengths):
            rows.extend(rows_from_frame(read_parquet(file), file, excerpt_lengths, segment_lengths))
            files.append(file)
    else:
        folder = find_csv_folder(path)
        for excerpt_length in excerpt_lengths:
            for segment_length in segment_lengths:
                condition_rows, read = rows_from_csv(folder, excerpt_length, segment_length)
                rows.extend(condition_rows)
                files.extend(read)
    return dataset_from_rows(
        rows, chunk_words=chunk_words, top_k=top_k, split=split, source=str(path),
        fingerprint=files_fingerprint(files),
    )  # fmt: skip


def _has_csv(path: Path) -> bool:
    return any(path.glob("segments_*.csv")) or any((path / "BookSORT").glob("segments_*.csv"))
