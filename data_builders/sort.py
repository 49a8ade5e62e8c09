"""SORT items (sequence order recall) cut from any plain text with Book-SORT's published rules.

Book-SORT (Pink et al., 2024; CC0) asks which of two segments of an excerpt came first. Its items are
made by a deterministic procedure over public-domain books, so they can be remade from any text:

- excerpt lengths L_E of 250 / 1,000 / 2,500 / 10,000 / 20,000 words and segment lengths L_S of 20 / 50
  words; each (L_E, L_S) pair is one condition with its own excerpts;
- four distance bins per L_E over the start-to-start distance d of the two segments, lower < d <= upper,
  the first lower edge being L_S so segments never overlap (``distance_bins``);
- excerpts and segments start at sentence starts: the word after a token holding ``.``, ``?``, ``!``
  or ``;``, where "Mr.", "Mrs." and "Dr." (in any case) end no sentence; a segment starts below
  L_E - L_S;
- in each bin the first segment is drawn uniformly among the starts that have a partner in the bin,
  then the partner uniformly among those (``draw_pair``); a pair exactly on the upper edge fails the
  excerpt, as the release's distance assertion does, so no released pair has d = upper;
- every excerpt gets one pair in each of the four bins (the same excerpts serve all bins), and an
  excerpt that cannot is dropped;
- which segment is shown as "A" is counterbalanced per bin, so always answering "A" scores 50%.

Where this builder differs from the released script, and why: excerpt starts are stratified uniform
draws over the text (one per equal stretch) instead of i.i.d. draws re-drawn until a KS test passes,
which gives the same uniform coverage without a retry loop; the release's final KS test of segment
starts (which stops its script when it fails) is not run, the pair draw being the release's own;
counterbalancing is exact (n/2 each way, a shuffled half-and-half list) where the release's final
down-sampling leaves 49.4-50.6%. The random generator is Python's, seeded with book id + L_E + L_S +
``seed`` (the release seeds numpy with book id + L_E + L_S), so the items are Book-SORT-like, never
Book-SORT's own; their distances follow the release's distribution in every bin.

Output is the release's CSV form, three files per condition (``books_``, ``excerpts_`` and
``segments_{L_E}-s{L_S}-n{n}.csv``, with the pandas index column and the ``*...*`` wrapping of texts),
so one loader reads built and official data. ``build.json``, written last, lists every file with its
sha256: it marks a complete build, and identical bytes of it mean identical bytes of every CSV.

    python -m membench_builders.sort --out data/sort-mine --text book.txt --excerpt-lengths 250,1000
"""

from __future__ import annotations

import argparse
import bisect
import csv
import hashlib
import io
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from membench.core.errors import ConfigError, DataError
from membench.core.records import write_atomic
from membench_builders.sort_text import generate_text

#: Bump whenever a change alters what is written for some options: it names the built file, so data
#: written by an older builder is rebuilt instead of silently reused.
BUILDER_VERSION = "2"

EXCERPT_LENGTHS = (250, 1000, 2500, 10000, 20000)
SEGMENT_LENGTHS = (20, 50)
#: upper bin edges for the extended tier, where the release uses fixed edges instead of fractions.
_EXTENDED_EDGES = {10000: (1000, 2500, 5000, 8000), 20000: (1000, 5000, 10000, 16000)}
#: the release's candidate pool is n + 50 excerpts, of which failures and a random rest are dropped.
EXTRA_EXCERPTS = 50
#: words in the generated default book (Book-SORT's books have 9k to 163k words).
GENERATED_BOOK_WORDS = 60_000
GENERATED_BOOK_IDX = 0
#: compared lower-cased, as the release does, so "MR." and "dr." end no sentence either.
NOT_SENTENCE_ENDS = frozenset({"mr.", "mrs.", "dr."})
INDEX_FILE = "build.json"

BOOK_COLUMNS = ("", "book_idx", "book_title", "num_words")
EXCERPT_COLUMNS = ("", "book_idx", "excerpt_idx", "excerpt_pos", "excerpt_text")
SEGMENT_COLUMNS = (
    "", "book_idx", "excerpt_idx", "segment_idx", "segment_1", "segment_2", "seg1_pos", "seg2_pos",
    "distance_bin", "present_seg1_first",
)  # fmt: skip


@dataclass(frozen=True)
class Book:
    idx: int
    title: str
    words: list[str]


@dataclass(frozen=True)
class Excerpt:
    excerpt_idx: int
    start: int


@dataclass(frozen=True)
class Pair:
    excerpt_idx: int
    seg1_pos: int
    seg2_pos: int
    distance_bin: int
    present_seg1_first: int


def distance_bins(excerpt_length: int, segment_length: int) -> list[tuple[int, int]]:
    """The four (lower, upper] bins of start-to-start distance; a bin is labelled by its upper edge."""
    uppers: tuple[int, ...]
    if excerpt_length in _EXTENDED_EDGES:
        uppers = _EXTENDED_EDGES[excerpt_length]
    elif excerpt_length in EXCERPT_LENGTHS:
        uppers = tuple(int(excerpt_length / f) for f in (4, 3, 2, 1.25))
    else:
        raise ConfigError(f"excerpt length must be one of {EXCERPT_LENGTHS}, got {excerpt_length}")
    if segment_length not in SEGMENT_LENGTHS:
        raise ConfigError(f"segment length must be one of {SEGMENT_LENGTHS}, got {segment_length}")
    lowers = (segment_length, *uppers[:-1])
    return list(zip(lowers, uppers, strict=True))


def ends_sentence(token: str) -> bool:
    """Whether the word after ``token`` starts a sentence (the release's rule, titles excepted)."""
    return token.lower() not in NOT_SENTENCE_ENDS and any(mark in token for mark in ".?!;")


def sentence_starts(words: Sequence[str]) -> list[int]:
    """Indices of the words that start a sentence; the first word always does."""
    return [0] + [i for i in range(1, len(words)) if ends_sentence(words[i - 1])]


def _draw_excerpts(
    book: Book, starts: list[int], excerpt_length: int, pool: int, rng: random.Random
) -> list[int]:
    """``pool`` stratified uniform positions over the text, each snapped back to a sentence start."""
    span = len(book.words) - excerpt_length
    if span < 0:
        raise ConfigError(
            f"'{book.title}' has {len(book.words)} words, fewer than the excerpt length {excerpt_length}"
        )
    drawn = []
    for stratum in range(pool):
        position = int((stratum + rng.random()) * (span + 1) / pool)
        drawn.append(starts[bisect.bisect_right(starts, position) - 1])
    return drawn


def _partners(starts: Sequence[int], a: int, lower: int, upper: int) -> tuple[range, range]:
    """Indices into ``starts`` of the b with lower < |b - a| <= upper: those before ``a``, those after."""
    before = range(bisect.bisect_left(starts, a - upper), bisect.bisect_left(starts, a - lower))
    after = range(bisect.bisect_right(starts, a + lower), bisect.bisect_right(starts, a + upper))
    return before, after


def draw_pair(starts: Sequence[int], lower: int, upper: int, rng: random.Random) -> tuple[int, int] | None:
    """(earlier, later) segment starts for the bin (lower, upper], drawn as the release draws them.

    ``starts`` are an excerpt's segment starts, ascending. The first segment is uniform among the
    starts with a partner in the bin (the release re-draws a start without one), the partner uniform
    among its partners on either side. Drawing by start rather than by pair weighs a pair by how few
    partners its ends have, which is what shapes the release's distances within a bin. A pair exactly
    ``upper`` apart fails, as the release's assertion fails the excerpt; so does a bin without pairs.
    """
    firsts = [a for a in starts if any(_partners(starts, a, lower, upper))]
    if not firsts:
        return None
    a = rng.choice(firsts)
    before, after = _partners(starts, a, lower, upper)
    b = starts[rng.choice([*before, *after])]
    if abs(b - a) == upper:
        return None
    return min(a, b), max(a, b)


def sample_condition(
    book: Book, excerpt_length: int, segment_length: int, n: int, seed: int
) -> tuple[list[Excerpt], list[Pair]]:
    """``n`` excerpts of one condition with one pair per distance bin each; see the module docstring."""
    if n < 1:
        raise ConfigError(f"n (items per bin) must be at least 1, got {n}")
    bins = distance_bins(excerpt_length, segment_length)
    rng = random.Random(book.idx + excerpt_length + segment_length + seed)
    starts = sentence_starts(book.words)
    candidates = _draw_excerpts(book, starts, excerpt_length, n + EXTRA_EXCERPTS, rng)
    complete: list[tuple[int, list[tuple[int, int]]]] = []
    for start in candidates:
        lo = bisect.bisect_left(starts, start)
        hi = bisect.bisect_left(starts, start + excerpt_length - segment_length)  # starts below L_E - L_S
        local = [s - start for s in starts[lo:hi]]
        per_bin = [draw_pair(local, low, up, rng) for low, up in bins]
        if all(pair is not None for pair in per_bin):
            complete.append((start, [p for p in per_bin if p is not None]))
    if len(complete) < n:
        raise ConfigError(
            f"'{book.title}': only {len(complete)} excerpts of {excerpt_length} words have a segment pair "
            f"of {segment_length} words in every distance bin; ask for fewer (n={n}) or give a longer text"
        )
    chosen = rng.sample(complete, n)  # random order: excerpt_idx < 100 is then a random test split
    excerpts = [Excerpt(i, start) for i, (start, _) in enumerate(chosen)]
    pairs: list[Pair] = []
    for b, (_, upper) in enumerate(bins):
        shown_first = [i % 2 for i in range(n)]
        rng.shuffle(shown_first)
        for i, (_, drawn) in enumerate(chosen):
            a, later = drawn[b]
            pairs.append(Pair(i, a, later, upper, 1 - shown_first[i]))
    return excerpts, pairs


def _csv(columns: Sequence[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for index, row in enumerate(rows):
        writer.writerow([index, *row])
    return out.getvalue()


def _wrap(words: Sequence[str]) -> str:
    """Book-SORT's CSV text form: the words joined by single spaces, between asterisks."""
    return "*" + " ".join(words) + "*"


def condition_files(
    book: Book, excerpt_length: int, segment_length: int, n: int, seed: int
) -> dict[str, str]:
    """The three CSVs of one condition, by file name, in the release's layout and row order."""
    excerpts, pairs = sample_condition(book, excerpt_length, segment_length, n, seed)
    tag = f"{excerpt_length}-s{segment_length}-n{n}"
    excerpt_rows: list[list[object]] = [
        [
            book.idx,
            e.excerpt_idx,
            repr(e.start / len(book.words)),
            _wrap(book.words[e.start : e.start + excerpt_length]) + "\n\n",
        ]
        for e in excerpts
    ]
    start_of = {e.excerpt_idx: e.start for e in excerpts}
    segment_rows: list[list[object]] = []
    for p in pairs:  # already ordered by bin, then excerpt, as in the release
        base = start_of[p.excerpt_idx]
        first = book.words[base + p.seg1_pos : base + p.seg1_pos + segment_length]
        second = book.words[base + p.seg2_pos : base + p.seg2_pos + segment_length]
        segment_rows.append(
            [
                *(book.idx, p.excerpt_idx, 0, _wrap(first), _wrap(second)),
                *(p.seg1_pos, p.seg2_pos, p.distance_bin, p.present_seg1_first),
            ]
        )
    return {
        f"books_{tag}.csv": _csv(BOOK_COLUMNS, [[book.idx, book.title, len(book.words)]]),
        f"excerpts_{tag}.csv": _csv(EXCERPT_COLUMNS, excerpt_rows),
        f"segments_{tag}.csv": _csv(SEGMENT_COLUMNS, segment_rows),
    }


def book_from_text(path: Path | None, seed: int) -> Book:
    """The user's text file as a book (id from its sha256), or the generated default book."""
    if path is None:
        words = generate_text(GENERATED_BOOK_WORDS, seed).split()
        return Book(GENERATED_BOOK_IDX, f"Membench Generated Story (Seed {seed})", words)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read text file {path}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, None, None, f"is not UTF-8 text (byte {exc.start})") from exc
    words = text.split()
    if not words:
        raise DataError(path, None, None, "holds no words")
    book_idx = int(hashlib.sha256(raw).hexdigest()[:6], 16)
    return Book(book_idx, path.stem.replace("_", " ").title(), words)


def build_sort(
    out_dir: Path,
    *,
    text: Path | None = None,
    excerpt_lengths: Sequence[int] = (250, 1000),
    segment_lengths: Sequence[int] = SEGMENT_LENGTHS,
    n: int = 10,
    seed: int = 0,
) -> Path:
    """Write the CSVs of every requested condition under ``out_dir/BookSORT``; returns ``build.json``."""
    if not excerpt_lengths or not segment_lengths:
        raise ConfigError("give at least one excerpt length and one segment length")
    book = book_from_text(text, seed)
    files: dict[str, str] = {}
    for excerpt_length in excerpt_lengths:
        for segment_length in segment_lengths:
            files.update(condition_files(book, excerpt_length, segment_length, n, seed))
    for name, content in files.items():
        write_atomic(out_dir / "BookSORT" / name, content)
    index = {
        "builder": "data_builders.sort",
        "book": {"book_idx": book.idx, "book_title": book.title, "num_words": len(book.words)},
        "text": str(text.name) if text else "generated",
        "excerpt_lengths": list(excerpt_lengths),
        "segment_lengths": list(segment_lengths),
        "n": n,
        "seed": seed,
        "files": {f"BookSORT/{name}": hashlib.sha256(c.encode()).hexdigest() for name, c in files.items()},
    }
    path = out_dir / INDEX_FILE
    write_atomic(path, json.dumps(index, indent=2, sort_keys=True) + "\n")
    return path


def parse_lengths(value: str, option: str) -> list[int]:
    """Comma-separated lengths ("250,1000") as numbers; a clear error for anything else."""
    try:
        lengths = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated whole numbers, got {value!r}") from None
    if not lengths:
        raise ConfigError(f"{option} must name at least one length, got {value!r}")
    return lengths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m membench_builders.sort",
        description="Write SORT items in Book-SORT's CSV form, from a text file or the generated book.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (BookSORT/, build.json)")
    parser.add_argument("--text", type=Path, help="a plain UTF-8 text file (default: the generated book)")
    parser.add_argument("--excerpt-lengths", default="250,1000", help="comma-separated, of 250,1000,2500,...")
    parser.add_argument("--segment-lengths", default="20,50")
    parser.add_argument("--n", type=int, default=10, help="excerpts per condition (= pairs per bin)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        path = build_sort(
            args.out,
            text=args.text,
            excerpt_lengths=parse_lengths(args.excerpt_lengths, "--excerpt-lengths"),
            segment_lengths=parse_lengths(args.segment_lengths, "--segment-lengths"),
            n=args.n,
            seed=args.seed,
        )
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
