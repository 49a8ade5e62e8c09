"""The SORT builder: same seed same bytes, every published rule on what it writes, the release's draws."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from scipy.stats import ks_2samp

from membench.cli.main import main as cli_main
from membench.core.errors import ConfigError, DataError
from membench_builders.sort import (
    Book,
    Pair,
    book_from_text,
    build_sort,
    distance_bins,
    ends_sentence,
    main,
    sample_condition,
    sentence_starts,
)
from membench_builders.sort_text import generate_text
from membench_tasks.sort.loader import rows_from_csv, unwrap

REAL = Path(__file__).parents[2] / "../shared/datasets/booksort"
#: a 1% family-wise level over the 8 bins of the slice's two conditions (Bonferroni).
KS_LEVEL = 0.01 / 8


def test_bin_edges_are_the_published_ones() -> None:
    assert distance_bins(250, 20) == [(20, 62), (62, 83), (83, 125), (125, 200)]
    assert distance_bins(250, 50) == [(50, 62), (62, 83), (83, 125), (125, 200)]
    assert [up for _, up in distance_bins(1000, 20)] == [250, 333, 500, 800]
    assert [up for _, up in distance_bins(2500, 50)] == [625, 833, 1250, 2000]
    assert [up for _, up in distance_bins(10000, 20)] == [1000, 2500, 5000, 8000]
    assert [up for _, up in distance_bins(20000, 50)] == [1000, 5000, 10000, 16000]
    with pytest.raises(ConfigError, match="excerpt length"):
        distance_bins(300, 20)
    with pytest.raises(ConfigError, match="segment length"):
        distance_bins(250, 30)


def test_sentence_rule_skips_titles() -> None:
    words = ["He", "met", "Mr.", "Hale", "there.", "Did", "he?", "Yes;", "gladly!", "Dr.", "Quill"]
    words += ["and", "Mrs.", "Orr", "left.", "MR.", "LOWE", "and", "dr.", "Finch", "came."]
    starts = sentence_starts(words)
    assert [words[i] for i in starts] == ["He", "Did", "Yes;", "gladly!", "Dr.", "MR."]
    assert not ends_sentence("Mr.") and not ends_sentence("Dr.") and ends_sentence("it.”")
    assert not ends_sentence("MRS.") and not ends_sentence("dr."), "titles in any case, as the release"


def test_generated_text_is_deterministic_and_ends_a_sentence() -> None:
    text = generate_text(500, seed=3)
    assert text == generate_text(500, seed=3) != generate_text(500, seed=4)
    assert len(text.split()) >= 500 and text.rstrip().endswith((".", "?", "!"))


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("excerpt_length", "segment_length"), [(250, 20), (250, 50), (1000, 50)])
def test_built_items_honour_every_rule(tmp_path: Path, excerpt_length: int, segment_length: int) -> None:
    n = 12
    build_sort(tmp_path, excerpt_lengths=[excerpt_length], segment_lengths=[segment_length], n=n, seed=5)
    tag = f"{excerpt_length}-s{segment_length}-n{n}"
    folder = tmp_path / "BookSORT"
    (book,) = _read(folder / f"books_{tag}.csv")
    excerpts = {int(e["excerpt_idx"]): e for e in _read(folder / f"excerpts_{tag}.csv")}
    segments = _read(folder / f"segments_{tag}.csv")
    book_words = generate_text(60_000, seed=5).split()
    assert int(book["num_words"]) == len(book_words)
    book_starts = set(sentence_starts(book_words))
    bins = distance_bins(excerpt_length, segment_length)

    assert sorted(excerpts) == list(range(n))
    for excerpt in excerpts.values():
        words = unwrap(excerpt["excerpt_text"]).split()
        start = round(float(excerpt["excerpt_pos"]) * len(book_words))
        assert len(words) == excerpt_length
        assert start in book_starts, "excerpts start at a sentence start"
        assert book_words[start : start + excerpt_length] == words
    assert len(segments) == 4 * n
    assert Counter(row["distance_bin"] for row in segments) == {str(up): n for _, up in bins}
    assert Counter(row["excerpt_idx"] for row in segments) == {str(i): 4 for i in range(n)}, "4 bins each"
    for (low, up), rows in zip(bins, [segments[i * n : (i + 1) * n] for i in range(4)], strict=True):
        assert {row["distance_bin"] for row in rows} == {str(up)}, "rows go by bin, then excerpt"
        shown_first = [int(row["present_seg1_first"]) for row in rows]
        assert sum(shown_first) == n // 2, "exactly counterbalanced within each bin"
        for row in rows:
            words = unwrap(excerpts[int(row["excerpt_idx"])]["excerpt_text"]).split()
            a, b = int(row["seg1_pos"]), int(row["seg2_pos"])
            assert low < b - a < up, "the release has no pair on a bin's upper edge"
            assert b < excerpt_length - segment_length, "segments start below L_E - L_S"
            local_starts = set(sentence_starts(words))
            assert a in local_starts and b in local_starts, "segments start at sentence starts"
            assert unwrap(row["segment_1"]).split() == words[a : a + segment_length]
            assert unwrap(row["segment_2"]).split() == words[b : b + segment_length]
    assert row["segment_1"].startswith("*") and excerpt["excerpt_text"].endswith("*\n\n"), "release form"


def _one_excerpt_book(starts: list[int]) -> Book:
    """250 words with sentence starts exactly at ``starts``: every candidate excerpt is the whole book,
    so the pairs of a condition are independent draws of the pair rule on one excerpt."""
    words = ["word"] * 250
    for start in starts[1:]:
        words[start - 1] = "end."
    book = Book(7, "One excerpt", words)
    assert sentence_starts(book.words) == starts
    return book


def _by_bin(pairs: list[Pair]) -> dict[int, Counter[tuple[int, int]]]:
    counts: dict[int, Counter[tuple[int, int]]] = defaultdict(Counter)
    for p in pairs:
        counts[p.distance_bin][(p.seg1_pos, p.seg2_pos)] += 1
    return counts


def test_pairs_are_drawn_first_segment_then_partner_below_the_last_start() -> None:
    """The release draws a first segment uniformly, then a partner: a pair weighs 1/deg(a) + 1/deg(b).

    In bin (20, 62] the starts 0, 25, 50, 100 have 2, 2, 3 and 1 partners, so the pairs (0, 25),
    (0, 50), (25, 50), (50, 100) come 1/4, 5/24, 5/24 and 1/3 of the time (a draw over pairs: 1/4 each).
    Start 230 = L_E - L_S is no segment start, so (125, 200] only pairs 229 with 50 or 100.
    """
    n = 4000
    _, pairs = sample_condition(_one_excerpt_book([0, 25, 50, 100, 229, 230]), 250, 20, n, seed=0)
    counts = _by_bin(pairs)
    expected = {(0, 25): 1 / 4, (0, 50): 5 / 24, (25, 50): 5 / 24, (50, 100): 1 / 3}
    assert set(counts[62]) == set(expected)
    for pair, share in expected.items():
        assert counts[62][pair] / n == pytest.approx(share, abs=0.03), pair
    assert counts[83] == {(25, 100): n} and counts[125] == {(0, 100): n}
    assert set(counts[200]) == {(50, 229), (100, 229)}
    assert counts[200][(50, 229)] / n == pytest.approx(1 / 2, abs=0.03)


def test_a_pair_on_the_upper_edge_fails_its_excerpt() -> None:
    """d = upper is drawn as any partner, then rejected with its excerpt, as the release's assertion does:
    here (100, 225) is 125 apart and (25, 225) 200, so no kept excerpt holds either."""
    _, pairs = sample_condition(_one_excerpt_book([0, 25, 50, 100, 225, 229]), 250, 20, 10, seed=0)
    counts = _by_bin(pairs)
    assert counts[125] == {(0, 100): 10}
    assert set(counts[200]) <= {(50, 225), (50, 229), (100, 229)}
    assert all(p.seg2_pos - p.seg1_pos < p.distance_bin for p in pairs)


@pytest.mark.slow
def test_distances_follow_the_real_slice_in_every_bin() -> None:
    """The builder on the slice's own books (250 words, both segment lengths, 110 excerpts per book as
    released, three seeds) draws distances distributed as the release's: a two-sample KS test per bin."""
    if not REAL.is_dir():
        pytest.skip(f"real Book-SORT slice not present at {REAL}")
    failures = []
    for segment_length in (20, 50):
        rows, _ = rows_from_csv(REAL / "BookSORT", 250, segment_length)
        real: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            real[row.distance_bin].append(row.seg2_pos - row.seg1_pos)
        built: dict[int, list[int]] = defaultdict(list)
        for book_idx in sorted({row.book_idx for row in rows}):
            book = book_from_text(REAL / "full_text" / f"{book_idx}-0.txt", 0)
            for seed in range(3):
                for p in sample_condition(book, 250, segment_length, 110, seed)[1]:
                    built[p.distance_bin].append(p.seg2_pos - p.seg1_pos)
        for upper, distances in sorted(real.items()):
            p_value = ks_2samp(distances, built[upper]).pvalue
            if p_value <= KS_LEVEL:
                failures.append(f"250/s{segment_length} bin {upper}: KS p = {p_value:.2g}")
    assert not failures, failures


def test_same_seed_same_bytes_other_seed_other_items(tmp_path: Path) -> None:
    first = build_sort(tmp_path / "a", n=4, seed=1)
    second = build_sort(tmp_path / "b", n=4, seed=1)
    other = build_sort(tmp_path / "c", n=4, seed=2)
    assert first.read_bytes() == second.read_bytes()
    files = json.loads(first.read_text())["files"]
    assert len(files) == 12  # 2 excerpt lengths x 2 segment lengths x 3 files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert json.loads(other.read_text())["files"] != files


def test_any_text_file_works_through_the_cli(tmp_path: Path) -> None:
    text = tmp_path / "my_story.txt"
    text.write_text(generate_text(3000, seed=9), encoding="utf-8")
    assert cli_main(["data", "build", "sort", "--data-dir", str(tmp_path / "data"), "-T", f"text={text}",
                     "-T", "excerpt_lengths=250", "-T", "n=3"]) == 0  # fmt: skip
    (index,) = (tmp_path / "data" / "sort").glob("sort-my_story-*/build.json")
    meta = json.loads(index.read_text())
    assert meta["book"]["book_title"] == "My Story" and meta["text"] == "my_story.txt"
    assert main(["--out", str(tmp_path / "direct"), "--text", str(text), "--excerpt-lengths", "250",
                 "--n", "3"]) == 0  # fmt: skip
    assert (tmp_path / "direct" / "build.json").read_bytes() == index.read_bytes()


def test_bad_inputs_get_clear_errors(tmp_path: Path) -> None:
    short = Book(1, "Short", generate_text(200, seed=0).split())
    with pytest.raises(ConfigError, match="fewer than the excerpt length 250"):
        sample_condition(short, 250, 20, 2, 0)
    one_sentence = Book(2, "One sentence", ["word"] * 600)  # no sentence start to put a segment at
    with pytest.raises(ConfigError, match=r"only 0 excerpts.*ask for fewer"):
        sample_condition(one_sentence, 250, 50, 2, 0)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe not text")
    with pytest.raises(DataError, match=r"binary\.txt.*not UTF-8"):
        build_sort(tmp_path / "out", text=binary)
    assert not (tmp_path / "out").exists(), "nothing written on failure"
    assert main(["--out", str(tmp_path / "x"), "--excerpt-lengths", "300"]) == 2
