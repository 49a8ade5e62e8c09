"""Seeded mutations of every task's loader fixtures: each load succeeds or fails with one clean line.

A damaged official file must never end in a traceback: the user gets one ``DataError`` or
``ConfigError`` line naming the file (and, where there is one, the line and field), and nothing is
written. Each case copies a fixture, applies one mutation (truncation, a deleted field, a changed
type, invalid UTF-8, deep nesting, NaN/Infinity, a lone surrogate, swapped values) and loads it.

An accepted mutation is fine when the data is still valid (a question reworded, an unread field
changed); the summary counts those that changed the loaded dataset so they can be reviewed.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, DataError
from membench.core.types import Dataset
from membench_tasks.episodic.loader import load_episodic
from membench_tasks.halumem.loader import load_halumem
from membench_tasks.sort.loader import load_sort

SEED = 11
CASES_PER_TASK = 150
FIXTURES = Path(__file__).parents[1] / "fixtures"
HALUMEM = FIXTURES / "halumem" / "official_sample.jsonl"
EPISODIC_BOOK = next((FIXTURES / "episodic").rglob("book.json")).parent
SORT = FIXTURES / "sort" / "BookSORT"

#: stand-ins written as JSON strings, then replaced by raw text json.dumps cannot produce.
_DEEP, _SURROGATE, _OVERFLOW = "\x00deep\x00", "\x00surrogate\x00", "\x00overflow\x00"
_RAW = {
    json.dumps(_DEEP): "[" * 5000 + "]" * 5000,
    json.dumps(_SURROGATE): '"x\\udfff"',
    json.dumps(_OVERFLOW): "1e999",
}
_OTHER_VALUES: list[Any] = [0, -1, 1.5, "", "x", None, True, [], {}, [1], float("nan"), float("inf")]
_OTHER_VALUES += [_DEEP, _SURROGATE, _OVERFLOW]
_CELL_VALUES = ["", "x", "nan", "-1", "1.5", "1e999", "**", "99999", "0"]


@dataclass(frozen=True)
class Outcome:
    task: str
    mutation: str
    result: str  # "clean error", "accepted", "accepted, changed" or "traceback"
    message: str


# ---------------------------------------------------------------- mutating JSON values


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    for key, child in children:
        found.append((*path, key))
        found += _places(child, (*path, key))
    return found


def _parent(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        value = value[key]
    return value


def mutate_json(doc: Any, rng: random.Random) -> tuple[Any, str]:
    """``doc`` with one value deleted, retyped or swapped; and a name for what was done."""
    places = _places(doc)
    if not places:
        return rng.choice(_OTHER_VALUES), "root retyped"
    path = rng.choice(places)
    parent, key = _parent(doc, path), path[-1]
    where = ".".join(map(str, path))
    op = rng.choice(["delete", "retype", "retype", "swap"])
    if op == "delete":
        del parent[key]
    elif op == "retype":
        parent[key] = rng.choice(_OTHER_VALUES)
    else:
        other = rng.choice(places)
        other_parent = _parent(doc, other)
        try:
            parent[key], other_parent[other[-1]] = other_parent[other[-1]], parent[key]
        except (KeyError, IndexError, TypeError):  # one path ran through the other
            return doc, f"swap {where} (no-op)"
        where += f" <-> {'.'.join(map(str, other))}"
    return doc, f"{op} {where}"


def dump_json(doc: Any) -> str:
    text = json.dumps(doc)
    for stand_in, raw in _RAW.items():
        text = text.replace(stand_in, raw)
    return text


# ---------------------------------------------------------------- mutating bytes and CSV cells


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    at = rng.randrange(len(data) + 1)
    op = rng.choice(["truncate", "invalid utf-8", "junk bytes"])
    if op == "truncate":
        return data[:at], f"truncate at {at}"
    if op == "invalid utf-8":
        return data[:at] + b"\xff\xc3" + data[at:], f"invalid utf-8 at {at}"
    return data[:at] + bytes(rng.randrange(256) for _ in range(8)) + data[at:], f"junk bytes at {at}"


def mutate_csv(text: str, rng: random.Random) -> tuple[str, str]:
    rows = list(csv.reader(io.StringIO(text)))
    op = rng.choice(["cell", "cell", "drop column", "swap cells", "repeat row"])
    row = rng.randrange(len(rows))
    column = rng.randrange(len(rows[0]))
    if op == "cell":
        rows[row][column] = rng.choice(_CELL_VALUES)
    elif op == "drop column":
        rows = [r[:column] + r[column + 1 :] for r in rows]
    elif op == "swap cells":
        other = rng.randrange(len(rows[row]))
        rows[row][column], rows[row][other] = rows[row][other], rows[row][column]
    else:
        rows.append(list(rows[max(row, 1) % len(rows)]))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue(), f"{op} row {row} column {column}"


# ---------------------------------------------------------------- one mutated copy per case


def halumem_case(tmp: Path, rng: random.Random) -> tuple[Callable[[], Dataset], str]:
    path = tmp / "halumem.jsonl"
    data = HALUMEM.read_bytes()
    if rng.random() < 0.3:
        mutated, what = mutate_bytes(data, rng)
        path.write_bytes(mutated)
    else:
        lines = data.decode("utf-8").splitlines()
        line = rng.randrange(len(lines))
        doc, what = mutate_json(json.loads(lines[line]), rng)
        lines[line] = dump_json(doc)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        what = f"line {line + 1}: {what}"
    return lambda: load_halumem(path), what


def episodic_case(tmp: Path, rng: random.Random) -> tuple[Callable[[], Dataset], str]:
    book = tmp / "books" / EPISODIC_BOOK.name
    shutil.copytree(EPISODIC_BOOK, book)
    target = book / rng.choice(["book.json", "df_qa.json", "df_qa.json", "df_book_groundtruth.json"])
    if rng.random() < 0.3:
        mutated, what = mutate_bytes(target.read_bytes(), rng)
        target.write_bytes(mutated)
    elif target.name == "book.json":
        text = json.loads(target.read_text(encoding="utf-8"))
        number = rng.randrange(1, 4)
        edits = {
            "heading removed": text.replace(f"Chapter {number}\n", "", 1),
            "heading repeated": text.replace(f"Chapter {number}\n", "Chapter 1\n", 1),
            "no headings": text.replace("Chapter ", "Part "),
            "chapter emptied": text.split(f"Chapter {number}\n")[0] + f"Chapter {number}\n",
        }
        what = rng.choice(sorted(edits))
        target.write_text(json.dumps(edits[what]), encoding="utf-8")
    else:
        doc, what = mutate_json(json.loads(target.read_text(encoding="utf-8")), rng)
        target.write_text(dump_json(doc), encoding="utf-8")
    return lambda: load_episodic(book), f"{target.name}: {what}"


def sort_case(tmp: Path, rng: random.Random) -> tuple[Callable[[], Dataset], str]:
    folder = tmp / "BookSORT"
    shutil.copytree(SORT, folder)
    target = rng.choice(sorted(folder.glob("*.csv")))
    if rng.random() < 0.3:
        mutated, what = mutate_bytes(target.read_bytes(), rng)
        target.write_bytes(mutated)
    else:
        text, what = mutate_csv(target.read_text(encoding="utf-8"), rng)
        target.write_text(text, encoding="utf-8")

    def load() -> Dataset:
        return load_sort(
            tmp, excerpt_lengths=[250], segment_lengths=[20], chunk_words=100, top_k=5, split="all"
        )

    return load, f"{target.name}: {what}"


CASES: dict[str, Callable[[Path, random.Random], tuple[Callable[[], Dataset], str]]] = {
    "halumem": halumem_case,
    "episodic": episodic_case,
    "sort": sort_case,
}


def _content(dataset: Dataset) -> tuple[Any, ...]:
    return (dataset.episodes, dataset.probes)


def run_case(task: str, tmp: Path, rng: random.Random, baseline: tuple[Any, ...]) -> Outcome:
    load, what = CASES[task](tmp, rng)
    before = sorted(p for p in tmp.rglob("*"))
    try:
        dataset = load()
    except (DataError, ConfigError) as exc:
        message = str(exc)
        clean = "\n" not in message and str(tmp) in message
        return Outcome(task, what, "clean error" if clean else "traceback", message)
    except Exception as exc:  # what this test exists to find
        return Outcome(task, what, "traceback", f"{type(exc).__name__}: {exc}")
    finally:
        assert sorted(p for p in tmp.rglob("*")) == before, f"{task} {what}: the loader wrote files"
    changed = _content(dataset) != baseline
    return Outcome(task, what, "accepted, changed" if changed else "accepted", "")


def test_every_mutation_loads_or_fails_with_one_clean_line(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    baselines = {
        "halumem": _content(load_halumem(HALUMEM)),
        "episodic": _content(load_episodic(EPISODIC_BOOK)),
        "sort": _content(
            load_sort(
                SORT, excerpt_lengths=[250], segment_lengths=[20], chunk_words=100, top_k=5, split="all"
            )
        ),
    }
    outcomes = []
    for task in CASES:
        for i in range(CASES_PER_TASK):
            case_dir = tmp_path / f"{task}-{i}"
            case_dir.mkdir()
            outcomes.append(run_case(task, case_dir, rng, baselines[task]))
    counts = Counter(o.result for o in outcomes)
    print(f"\n{len(outcomes)} mutations: {dict(counts)}")
    for outcome in outcomes:
        if outcome.result == "accepted, changed":
            print(f"  accepted, changed: {outcome.task} {outcome.mutation}")
    tracebacks = [f"{o.task} {o.mutation}: {o.message}" for o in outcomes if o.result == "traceback"]
    assert len(outcomes) >= 400
    assert not tracebacks, "\n".join(tracebacks)
    assert counts["clean error"] > len(outcomes) / 2


@pytest.mark.parametrize("task", sorted(CASES))
def test_mutations_are_seeded(task: str, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    _, what_first = CASES[task](first, random.Random(SEED))
    _, what_second = CASES[task](second, random.Random(SEED))
    assert what_first == what_second
