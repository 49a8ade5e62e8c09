"""The SORT builder: same seed same bytes, and every published rule on what it writes."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from data_builders.sort import (
    Book,
    build_sort,
    distance_bins,
    ends_sentence,
    main,
    sample_condition,
    sentence_starts,
)
from data_builders.sort_text import generate_text
from membench.cli import main as cli_main
from membench.errors import ConfigError, DataError
from tasks.sort.loader import unwrap


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
    words += ["and", "Mrs.", "Orr", "left."]
    starts = sentence_starts(words)
    assert [words[i] for i in starts] == ["He", "Did", "Yes;", "gladly!", "Dr."]
    assert not ends_sentence("Mr.") and not ends_sentence("Dr.") and ends_sentence("it.”")


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
            assert low < b - a <= up
            assert b + segment_length <= excerpt_length
            local_starts = set(sentence_starts(words))
            assert a in local_starts and b in local_starts, "segments start at sentence starts"
            assert unwrap(row["segment_1"]).split() == words[a : a + segment_length]
            assert unwrap(row["segment_2"]).split() == words[b : b + segment_length]
    assert row["segment_1"].startswith("*") and excerpt["excerpt_text"].endswith("*\n\n"), "release form"


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
