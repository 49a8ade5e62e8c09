"""The Book-SORT loader on fixtures in the release's schema, on the parquet schema, and on the real slice."""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from membench.core.errors import ConfigError, DataError
from membench_tasks.sort import loader
from membench_tasks.sort.loader import chunk_words_of, load_sort, rows_from_frame, unwrap

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sort"
REAL = Path(__file__).parents[2] / "../shared/datasets/booksort"


def load(path: Path = FIXTURE, **overrides: object) -> object:
    options: dict[str, object] = {
        "excerpt_lengths": [250], "segment_lengths": [20], "chunk_words": 100, "top_k": 5, "split": "all",
    }  # fmt: skip
    options.update(overrides)
    return load_sort(path, **options)  # type: ignore[arg-type]


def test_fixture_becomes_one_episode_per_excerpt_and_one_probe_per_pair() -> None:
    dataset = load()
    assert [e.episode_id for e in dataset.episodes] == ["e250-s20-b4242-x0", "e250-s20-b4242-x100"]
    assert len(dataset.probes) == 8 and dataset.fingerprint
    episode = dataset.episodes[0]
    excerpt = next(r for r in loader.rows_from_csv(FIXTURE / "BookSORT", 250, 20)[0] if r.excerpt_idx == 0)
    chunks = [s.turns[0].content for s in episode.sessions]
    assert " ".join(chunks).split() == excerpt.excerpt_text.split(), "chunks are the excerpt, in order"
    times = [datetime.fromisoformat(s.start_time or "") for s in episode.sessions]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert {s.turns[0].role for s in episode.sessions} == {"document"}
    for probe in dataset.probes:
        assert probe.after_session == len(episode.sessions) - 1 and probe.mode == "answer"
        assert set(probe.labels) == {
            "excerpt_length",
            "segment_length",
            "distance_bin",
            "book",
            "presented_first",
        }
        a, b = probe.inputs["segment_a"], probe.inputs["segment_b"]
        assert a in probe.question and b in probe.question and "A or B" in probe.question
        assert probe.query == f"{a}\n{b}" and not a.startswith("*")
    first = dataset.probes[0]  # row 0: present_seg1_first = 1, so the earlier segment is A
    assert first.gold["answer"] == "A" and first.labels["presented_first"] == "earlier"
    assert first.inputs["segment_a"].startswith("Nobody at the orchard")
    second = dataset.probes[1]  # row 1: present_seg1_first = 0
    assert second.gold["answer"] == "B" and second.inputs["segment_b"].startswith("When Vera wandered")


def test_split_follows_the_release() -> None:
    assert {p.episode_id for p in load(split="test").probes} == {"e250-s20-b4242-x0"}
    assert {p.episode_id for p in load(split="validation").probes} == {"e250-s20-b4242-x100"}
    with pytest.raises(ConfigError, match="split"):
        load(split="train")


def test_chunks_end_before_sentence_starts() -> None:
    words = ["One", "two", "three.", "Four", "five", "six", "seven.", "Eight", "nine.", "Ten"]
    assert chunk_words_of(words, 3) == [words[:3], words[3:7], words[7:]], "the tail joins the last chunk"
    assert chunk_words_of(["w"] * 10, 2) == [["w"] * 4, ["w"] * 4, ["w"] * 2], "capped at twice the size"


def test_unwrap_removes_only_the_release_wrapping() -> None:
    assert unwrap("*Some text.*\n\n") == "Some text."
    assert unwrap("*_curare_ is a poison") == "*_curare_ is a poison"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "BookSORT"
    shutil.copytree(FIXTURE / "BookSORT", target)
    return target


def test_bad_files_are_named_with_line_and_field(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    segments = folder / "segments_250-s20-n2.csv"
    lines = segments.read_text(encoding="utf-8").splitlines(keepends=True)
    segments.write_text(lines[0] + lines[1].replace(",62,1\n", ",62,7\n"), encoding="utf-8")
    with pytest.raises(DataError, match=r"segments_250-s20-n2.csv:2: field 'present_seg1_first'"):
        load(tmp_path)
    segments.write_text(lines[0].replace("seg2_pos", "second_pos") + lines[1], encoding="utf-8")
    with pytest.raises(DataError, match="field 'seg2_pos' is missing from the header"):
        load(tmp_path)
    with pytest.raises(ConfigError, match="no books file for condition 1000/s20"):
        load(tmp_path, excerpt_lengths=[1000])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no Book-SORT CSV files"):
        load(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nowhere")


def test_excerpt_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    excerpts = folder / "excerpts_250-s20-n2.csv"
    excerpts.write_text(
        excerpts.read_text(encoding="utf-8").replace("*When", "*Then when", 1), encoding="utf-8"
    )
    with pytest.raises(DataError, match="excerpt_text' has 251 words, not the condition's 250"):
        load(tmp_path)


def _frame() -> pd.DataFrame:
    """The parquet schema: the merged record with excerpt_length and segment_length columns."""
    rows, _ = loader.rows_from_csv(FIXTURE / "BookSORT", 250, 20)
    records = []
    for r in rows:
        record = {field: getattr(r, field) for field in loader.SEGMENT_FIELDS}
        record.update(
            book_title=r.book_title, num_words=3000, excerpt_pos=0.5, excerpt_text=f"*{r.excerpt_text}*\n\n",
            segment_1=f"*{r.segment_1}*", segment_2=f"*{r.segment_2}*", excerpt_length=250, segment_length=20,
        )  # fmt: skip
        records.append(record)
    return pd.DataFrame(records)


def test_parquet_rows_read_like_csv_rows() -> None:
    csv_rows, _ = loader.rows_from_csv(FIXTURE / "BookSORT", 250, 20)
    assert rows_from_frame(_frame(), "test_e250_s20.parquet", [250], [20]) == csv_rows
    assert rows_from_frame(_frame(), "test_e250_s20.parquet", [1000], [20]) == []
    with pytest.raises(DataError, match="field 'excerpt_length' is missing"):
        rows_from_frame(_frame().drop(columns="excerpt_length"), "x.parquet", [250], [20])


def test_parquet_without_an_engine_names_the_missing_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    path = tmp_path / "test_e250_s20.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(ConfigError, match="pip install pyarrow"):
        load(path)


@pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None and importlib.util.find_spec("fastparquet") is None,
    reason="no parquet engine (pyarrow or fastparquet) installed",
)
def test_parquet_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "test_e250_s20.parquet"
    _frame().to_parquet(path)
    assert load(path).probes == load().probes


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real Book-SORT slice not present at {REAL}")
def test_real_slice_loads_with_the_release_counts() -> None:
    for segment_length in (20, 50):
        dataset = load(REAL, segment_lengths=[segment_length], split="all")
        assert len(dataset.probes) == 3960 and len(dataset.episodes) == 990  # 9 books x 110 excerpts
        bins = {p.labels["distance_bin"] for p in dataset.probes}
        assert bins == {"62", "83", "125", "200"}
        answers = [p.gold["answer"] for p in dataset.probes]
        assert 0.49 < answers.count("A") / len(answers) < 0.51, "counterbalanced"
        for probe in dataset.probes[:200]:
            assert len(probe.inputs["segment_a"].split()) == segment_length
        test = load(REAL, segment_lengths=[segment_length], split="test")
        assert len(test.probes) == 9 * 100 * 4


def test_a_pair_outside_its_distance_bin_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    segments = folder / "segments_250-s20-n2.csv"
    lines = segments.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[1].endswith(",59,86,62,1\n")  # d = 27, in (20, 62]
    segments.write_text(lines[0] + lines[1].replace(",62,1\n", ",83,1\n"), encoding="utf-8")
    with pytest.raises(DataError, match=r"segments_250-s20-n2.csv:2: field 'distance_bin'.*\(62, 83\]"):
        load(tmp_path)
    segments.write_text(lines[0] + lines[1].replace(",62,1\n", ",70,1\n"), encoding="utf-8")
    with pytest.raises(
        DataError, match=r"csv:2: field 'distance_bin'.*not a bin of 250/s20.*62, 83, 125, 200"
    ):
        load(tmp_path)
    segments.write_text(lines[0] + lines[1].replace(",59,86,", ",59,240,"), encoding="utf-8")
    with pytest.raises(DataError, match=r"csv:2: field 'seg2_pos'.*ends after the excerpt"):
        load(tmp_path)


def test_a_repeated_pair_is_named_by_file_and_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    segments = folder / "segments_250-s20-n2.csv"
    lines = segments.read_text(encoding="utf-8").splitlines(keepends=True)
    segments.write_text("".join(lines) + lines[1], encoding="utf-8")
    with pytest.raises(
        DataError, match=rf"segments_250-s20-n2.csv:{len(lines) + 1}: field 'distance_bin'.*line 2"
    ):
        load(tmp_path)


def test_parquet_errors_name_the_row_counting_from_one() -> None:
    frame = _frame()
    frame.loc[0, "present_seg1_first"] = 7
    with pytest.raises(DataError, match=r"x\.parquet:1: field 'present_seg1_first'"):
        rows_from_frame(frame, "x.parquet", [250], [20])
    with pytest.raises(DataError, match=r"x\.parquet:9: field 'distance_bin'.*line 1"):
        rows_from_frame(pd.concat([_frame(), _frame().iloc[:1]], ignore_index=True), "x.parquet", [250], [20])


def test_invalid_utf8_in_the_header_is_a_data_error(tmp_path: Path) -> None:
    segments = _copy(tmp_path) / "segments_250-s20-n2.csv"
    segments.write_bytes(b",book_idx\xff,excerpt_idx\n" + segments.read_bytes().split(b"\n", 1)[1])
    with pytest.raises(DataError, match=r"segments_250-s20-n2.csv:1: is not valid CSV: 'utf-8' codec"):
        load(tmp_path)


def test_swapped_segments_are_refused_rather_than_flipping_the_gold_letter(tmp_path: Path) -> None:
    segments = _copy(tmp_path) / "segments_250-s20-n2.csv"
    header, first, *rest = segments.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = next(csv.reader([first]))
    cells[4], cells[5] = cells[5], cells[4]
    swapped = io.StringIO()
    csv.writer(swapped, lineterminator="\n").writerow(cells)
    segments.write_text(header + swapped.getvalue() + "".join(rest), encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"segments_250-s20-n2.csv:2: field 'segment_1' is not the excerpt's 20 words at seg1_pos 59",
    ):
        load(tmp_path)


def test_a_repeated_excerpt_or_book_key_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    excerpts = folder / "excerpts_250-s20-n2.csv"
    header, *rows = list(csv.reader(io.StringIO(excerpts.read_text(encoding="utf-8"))))
    duplicate = [*rows[0][:-1], rows[1][-1]]  # excerpt 0 again, with another excerpt's text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows, duplicate])
    excerpts.write_text(out.getvalue(), encoding="utf-8")
    with pytest.raises(
        DataError, match=r"excerpts_250-s20-n2.csv:\d+: field 'excerpt_idx' repeats \(4242, 0\)"
    ):
        load(tmp_path)
    books = folder / "books_250-s20-n2.csv"
    books.write_text(books.read_text(encoding="utf-8") + "1,4242,Another Title,99\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"books_250-s20-n2.csv:3: field 'book_idx' repeats 4242 first given at line 2"
    ):
        load(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="needs pyarrow")
def test_a_junk_parquet_file_is_a_data_error(tmp_path: Path) -> None:
    junk = tmp_path / "test_e250_s20.parquet"
    junk.write_bytes(b"PAR1 this is not a parquet file PAR1")
    with pytest.raises(DataError, match=r"test_e250_s20.parquet: is not a readable parquet file"):
        load(junk)
