"""Load episodic-memory books (the official release or the offline builder's output) as Episodes and Probes.

The official release (figshare 10.6084/m9.figshare.28244480) keeps one folder per book,
``books/<book dir>/`` with ``book.json`` (the whole book as one JSON string), ``df_book_groundtruth``
(one row per chapter) and ``df_qa`` (one row per question) as parquet. This loader reads such a folder,
or a folder of such folders; each table may also be a JSON export (``df_qa.json``: a list of row
objects, as ``DataFrame.to_json(orient="records")`` writes) for machines without a parquet engine.
The offline builder writes the same rows as one JSONL line per book (``groundtruth``, ``qa``, ``book``,
plus the closed ``universe``).

One book is one Episode (the statistical cluster). Each chapter is one Session whose start time is the
chapter's story date; its paragraphs are its turns, prefixed "Chapter k, paragraph i:" as upstream
prefixes its paragraph chunks for retrieval. Each question is one "answer" probe asked after the last
chapter, with top_k = 4 x the largest number of chapters any question of the book links (upstream's
RAG budget for paragraph chunks). Gold (the answer items and the vocabulary the matcher looks for)
lives only in ``Probe.gold``. "Full event details" questions are skipped: their reference is chapter
prose, which the closed-vocabulary matcher cannot score (the count skipped is in the metadata).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError, DataError
from membench.core.jsonl_input import Where, check, iter_jsonl, list_of, parse_json, require, shown
from membench.core.types import Dataset, Episode, Probe, Session, Turn

#: upstream retrieval types -> the trait (gold vocabulary) a question asks for.
TRAIT_OF: dict[str, str] = {
    "Times": "date",
    "Spaces": "location",
    "Entities": "entity",
    "Event contents": "content",
    "Other entities": "post_entities",
}
SKIPPED_TYPE = "Full event details"
GETS = ("all", "latest", "chronological")
QUESTION_KIND = {"all": "recall", "latest": "latest", "chronological": "chronological"}
TRAITS = ("date", "location", "entity", "content")
BOOK_DATE = "%B %d, %Y"
_CHAPTER_HEAD = re.compile(r"^Chapter (\d+)\s*$", re.MULTILINE)


def bin_of(n_chapters: int) -> str:
    """Matching-events bin (0, 1, 2, 3-5, 6+): upstream bins by chapters, not by answer items."""
    if n_chapters < 3:
        return str(n_chapters)
    return "3-5" if n_chapters <= 5 else "6+"


@dataclass
class _Book:
    name: str
    text: str
    text_at: Where
    chapters: list[tuple[Where, dict[str, Any]]]
    questions: list[tuple[Where, dict[str, Any]]]
    universe: dict[str, list[str]]


def load_episodic(path: Path) -> Dataset:
    """Episodes and probes of a builder JSONL file, an official book folder, or a folder of them."""
    if not path.exists():
        raise ConfigError(f"episodic data not found: {path}")
    books = list(_bundle_books(path) if path.is_file() else _folder_books(path))
    if not books:
        raise DataError(path, None, None, "holds no books")
    episodes: list[Episode] = []
    probes: list[Probe] = []
    skipped = 0
    for book in books:
        episode, book_probes, book_skipped = _parse_book(book)
        if any(e.episode_id == episode.episode_id for e in episodes):
            raise book.text_at.error(f"repeats book '{episode.episode_id}'")
        episodes.append(episode)
        probes.extend(book_probes)
        skipped += book_skipped
    return Dataset(
        name="episodic",
        episodes=episodes,
        probes=probes,
        fingerprint=_fingerprint(path),
        source=str(path),
        metadata={"skipped_full_event_details": skipped},
    )


# ---------------------------------------------------------------- sources


def _bundle_books(path: Path) -> Iterator[_Book]:
    for line, obj in iter_jsonl(path):
        at = Where(path, line)
        chapters = require(obj, "groundtruth", list, at)
        questions = require(obj, "qa", list, at)
        universe = require(obj, "universe", dict, at)
        yield _Book(
            name=require(obj, "book_dir", str, at),
            text=require(obj, "book", str, at),
            text_at=at.key("book"),
            chapters=[(at.key("groundtruth").item(i), check(r, dict, at.key("groundtruth").item(i)))
                      for i, r in enumerate(chapters)],
            questions=[(at.key("qa").item(i), check(q, dict, at.key("qa").item(i)))
                       for i, q in enumerate(questions)],
            universe={k: list_of(check(v, list, at.key("universe").key(k)), str, at.key("universe").key(k))
                      for k, v in universe.items()},
        )  # fmt: skip


def _folder_books(path: Path) -> Iterator[_Book]:
    folders = [path] if (path / "book.json").exists() else sorted(p.parent for p in path.rglob("book.json"))
    for folder in folders:
        book_path = folder / "book.json"
        text = parse_json(_read_text(book_path), book_path, None)
        if not isinstance(text, str):
            raise DataError(book_path, None, None, "must hold the book as one JSON string")
        yield _Book(
            name=folder.name,
            text=text,
            text_at=Where(book_path, 1),
            chapters=_table(folder, "df_book_groundtruth"),
            questions=_table(folder, "df_qa"),
            universe={},
        )


def _table(folder: Path, stem: str) -> list[tuple[Where, dict[str, Any]]]:
    """Rows of ``<stem>.parquet`` or ``<stem>.json``/``.jsonl``; each row's place is its 1-based number."""
    parquet, as_json, as_jsonl = (folder / f"{stem}{ext}" for ext in (".parquet", ".json", ".jsonl"))
    if as_jsonl.exists():
        return [(Where(as_jsonl, line), obj) for line, obj in iter_jsonl(as_jsonl)]
    if as_json.exists():
        rows = parse_json(_read_text(as_json), as_json, None)
        if not isinstance(rows, list):
            raise DataError(as_json, None, None, "must be a list of row objects (orient='records')")
        return [
            (Where(as_json, i + 1), check(row, dict, Where(as_json, i + 1))) for i, row in enumerate(rows)
        ]
    if parquet.exists():
        return [(Where(parquet, i + 1), row) for i, row in enumerate(_parquet_rows(parquet))]
    raise ConfigError(f"{folder} has no {stem}.parquet, {stem}.json or {stem}.jsonl")


def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise DataError(path, None, None, f"cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, None, None, f"is not valid UTF-8 (byte at offset {exc.start})") from None


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise ConfigError(
            f"reading {path} needs a parquet engine (pip install pyarrow), or export the table to JSON "
            f"with DataFrame.to_json(orient='records'): {exc}"
        ) from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError or ValueError on junk
        problem = " ".join(str(exc).split())
        raise DataError(path, None, None, f"is not a readable parquet file ({problem})") from None
    return [{key: _plain(value) for key, value in row.items()} for row in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    """numpy scalars and arrays from parquet as the JSON types the row parser checks."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


# ---------------------------------------------------------------- parsing


def _parse_book(book: _Book) -> tuple[Episode, list[Probe], int]:
    texts = _split_chapters(book)
    rows = [_chapter(at, row) for at, row in book.chapters]
    if not rows:
        raise book.text_at.error("has no chapters in its ground-truth table")
    numbers = [r["chapter"] for r in rows]
    if numbers != list(range(1, len(rows) + 1)):
        raise book.chapters[0][0].error(
            f"chapters must be numbered 1..{len(rows)} in order, got {numbers[:10]}"
        )
    if sorted(texts) != numbers:
        raise book.text_at.error(f"has {len(texts)} 'Chapter k' sections; the table has {len(rows)} chapters")
    sessions = [_session(book.name, r, texts[r["chapter"]]) for r in rows]
    vocabulary = {
        trait: sorted({*book.universe.get(trait, []), *(r[trait] for r in rows)}) for trait in TRAITS
    }
    vocabulary["post_entities"] = sorted(
        {*book.universe.get("post_entities", []), *(p for r in rows for p in r["post_entities"])}
    )
    questions = [(at, q) for at, q in book.questions if require(q, "retrieval_type", str, at) != SKIPPED_TYPE]
    parsed = [_question(at, q) for at, q in questions]
    for (at, _), question in zip(questions, parsed, strict=True):
        _check_in_vocabulary(question, vocabulary[question["trait"]], at)
    top_k = 4 * max([q["n_chapters"] for q in parsed] + [1])
    probes = [
        Probe(
            probe_id=f"{book.name}-q{i:04d}",
            episode_id=book.name,
            after_session=len(sessions) - 1,
            kind=QUESTION_KIND[q["get"]],
            mode="answer",
            question=q["question"],
            top_k=top_k,
            gold={
                "items": q["items"],
                "get": q["get"],
                "trait": q["trait"],
                "n_chapters": q["n_chapters"],
                "vocabulary": vocabulary[q["trait"]],
            },
            labels={
                "bin": bin_of(q["n_chapters"]),
                "cue": q["cue"],
                "retrieved": q["trait"],
                "question_kind": QUESTION_KIND[q["get"]],
                "book_chapters": str(len(sessions)),
                "q_idx": str(q["q_idx"]),
            },
        )
        for i, q in enumerate(parsed)
    ]
    episode = Episode(episode_id=book.name, sessions=sessions, metadata={"chapters": len(sessions)})
    return episode, probes, len(book.questions) - len(questions)


def _check_in_vocabulary(question: dict[str, Any], vocabulary: list[str], at: Where) -> None:
    """Every gold item must be a word of the closed vocabulary: the matcher finds only those, so an item
    outside it could never be matched and the question would be unanswerable by construction."""
    known = set(vocabulary)
    for i, item in enumerate(question["items"]):
        if item not in known:
            raise (
                at.key("correct_answer")
                .item(i)
                .error(f"{shown(item)} is not in the book's {question['trait']} vocabulary")
            )


def _split_chapters(book: _Book) -> dict[int, list[str]]:
    heads = list(_CHAPTER_HEAD.finditer(book.text))
    if not heads:
        raise book.text_at.error("has no 'Chapter k' headings (a line 'Chapter 1' starts each chapter)")
    bounds = [*(h.start() for h in heads[1:]), len(book.text)]
    chapters: dict[int, list[str]] = {}
    for head, end in zip(heads, bounds, strict=True):
        number = int(head.group(1))
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", book.text[head.end() : end])]
        chapters[number] = [p for p in paragraphs if p]
        if not chapters[number]:
            raise book.text_at.error(f"chapter {number} has no text")
    return chapters


def _chapter(at: Where, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"chapter": require(row, "chapter", int, at)}
    for trait in TRAITS:
        out[trait] = require(row, trait, str, at)
    try:
        out["iso_date"] = datetime.strptime(out["date"], BOOK_DATE).date().isoformat()
    except ValueError:
        raise at.key("date").error(f"must be a date like 'September 13, 2025', got '{out['date']}'") from None
    out["post_entities"] = list_of(require(row, "post_entities", list, at), str, at.key("post_entities"))
    return out


def _session(book: str, row: dict[str, Any], paragraphs: list[str]) -> Session:
    k, when = row["chapter"], row["iso_date"]
    turns = [
        Turn(role="user", content=f"Chapter {k}, paragraph {i}: {text}", timestamp=when)
        for i, text in enumerate(paragraphs, 1)
    ]
    return Session(session_id=f"{book}-ch{k:04d}", turns=turns, start_time=when, end_time=when)


def _question(at: Where, row: dict[str, Any]) -> dict[str, Any]:
    retrieval_type = require(row, "retrieval_type", str, at)
    if retrieval_type not in TRAIT_OF:
        known = ", ".join([*TRAIT_OF, SKIPPED_TYPE])
        raise at.key("retrieval_type").error(f"must be one of {known}, got '{retrieval_type}'")
    get = require(row, "get", str, at)
    if get not in GETS:
        raise at.key("get").error(f"must be one of {', '.join(GETS)}, got '{get}'")
    items = list_of(require(row, "correct_answer", list, at), str, at.key("correct_answer"))
    n_chapters = require(row, "n_chapters_correct_answer", int, at)
    # A matched chapter may have no secondary characters, so items can be empty when chapters match.
    if n_chapters < 0 or (n_chapters == 0 and items):
        raise at.key("n_chapters_correct_answer").error(
            f"is {n_chapters} but correct_answer has {len(items)} items (no matching chapter, no answer)"
        )
    return {
        "q_idx": require(row, "q_idx", int, at),
        "question": require(row, "question", str, at),
        "cue": require(row, "cue", str, at),
        "trait": TRAIT_OF[retrieval_type],
        "get": get,
        "items": items,
        "n_chapters": n_chapters,
    }


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()
