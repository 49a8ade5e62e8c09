"""The episodic loader on official-schema fixtures (book folders) and on the builder's JSONL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, DataError
from membench_builders.episodic import build_episodic
from membench_tasks.episodic.loader import load_episodic

FIXTURES = Path(__file__).parents[1] / "fixtures" / "episodic"
BOOK = next(FIXTURES.rglob("book.json")).parent


def test_official_folder_gives_one_episode_per_book_and_one_session_per_chapter() -> None:
    dataset = load_episodic(FIXTURES)
    (episode,) = dataset.episodes
    assert episode.episode_id == BOOK.name and len(episode.sessions) == 3
    second = episode.sessions[1]
    assert second.start_time == "2024-03-02"
    assert [t.content for t in second.turns] == [
        "Chapter 2, paragraph 1: It was March 2, 2024, and Ezra Edwards was back.",
        "Chapter 2, paragraph 2: The Jazz Concert at Jones Beach Theater was loud. "
        "Ezra requested an encore while Celia Frost watched.",
    ]
    # The "Full event details" row is skipped and counted, the others become answer probes.
    assert dataset.metadata["skipped_full_event_details"] == 1
    assert len(dataset.probes) == 6
    assert all(p.after_session == 2 and p.mode == "answer" for p in dataset.probes)
    assert {p.top_k for p in dataset.probes} == {8}, "4 x the most chapters one question links (2)"


def test_probe_gold_and_labels() -> None:
    probes = {p.question: p for p in load_episodic(BOOK).probes}
    chrono = probes["List the dates of Ezra Edwards's events in order."]
    assert chrono.kind == "chronological"
    assert chrono.gold["items"] == ["March 2, 2024", "September 13, 2025"]
    assert chrono.gold["vocabulary"] == ["March 2, 2024", "September 13, 2025"]
    assert chrono.labels == {
        "bin": "2", "cue": "(*, *, ent, *)", "retrieved": "date", "question_kind": "chronological",
        "book_chapters": "3", "q_idx": "4",
    }  # fmt: skip
    others = probes[
        "Who else was with Ezra Edwards at the Jazz Concert at Jones Beach Theater on March 2, 2024?"
    ]
    assert others.gold["trait"] == "post_entities" and others.gold["vocabulary"] == ["Celia Frost"]
    empty = probes["Who was at Montauk Point on May 1, 2024?"]
    assert empty.gold["items"] == [] and empty.labels["bin"] == "0"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "books" / BOOK.name
    shutil.copytree(BOOK, target)
    return target


def test_bad_question_field_names_file_row_and_field(tmp_path: Path) -> None:
    book = _copy(tmp_path)
    rows = json.loads((book / "df_qa.json").read_text())
    rows[2]["retrieval_type"] = "Feelings"
    (book / "df_qa.json").write_text(json.dumps(rows))
    with pytest.raises(DataError) as caught:
        load_episodic(book)
    assert "df_qa.json:3" in str(caught.value) and "retrieval_type" in str(caught.value)


def test_chapter_count_mismatch_is_reported(tmp_path: Path) -> None:
    book = _copy(tmp_path)
    text = json.loads((book / "book.json").read_text())
    (book / "book.json").write_text(json.dumps(text.split("\n\n\nChapter 3")[0]))
    with pytest.raises(DataError, match="2 'Chapter k' sections; the table has 3"):
        load_episodic(book)


def test_bad_date_and_answer_without_chapters(tmp_path: Path) -> None:
    book = _copy(tmp_path)
    rows = json.loads((book / "df_book_groundtruth.json").read_text())
    rows[0]["date"] = "2025-09-13"
    (book / "df_book_groundtruth.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"df_book_groundtruth.json:1: field 'date'"):
        load_episodic(book)
    shutil.rmtree(book)
    book = _copy(tmp_path)
    rows = json.loads((book / "df_qa.json").read_text())
    rows[0]["n_chapters_correct_answer"] = 0
    (book / "df_qa.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match="no matching chapter, no answer"):
        load_episodic(book)


def test_missing_table_and_missing_path(tmp_path: Path) -> None:
    book = _copy(tmp_path)
    (book / "df_qa.json").unlink()
    with pytest.raises(ConfigError, match=r"no df_qa\.parquet, df_qa\.json or df_qa\.jsonl"):
        load_episodic(book)
    with pytest.raises(ConfigError, match="not found"):
        load_episodic(tmp_path / "nowhere")


def test_parquet_tables_load_as_their_json_exports(tmp_path: Path) -> None:
    """The release ships df_book_groundtruth and df_qa as parquet: the same rows, the same dataset."""
    import pandas as pd

    pytest.importorskip("pyarrow", reason="the dev extra installs pyarrow; reading parquet needs it")
    from_json = load_episodic(BOOK)
    book = _copy(tmp_path)
    for stem in ("df_book_groundtruth", "df_qa"):
        rows = json.loads((book / f"{stem}.json").read_text())
        pd.DataFrame(rows).to_parquet(book / f"{stem}.parquet")
        (book / f"{stem}.json").unlink()
    from_parquet = load_episodic(book)
    assert from_parquet.probes == from_json.probes
    assert [e.sessions for e in from_parquet.episodes] == [e.sessions for e in from_json.episodes]


def test_parquet_without_an_engine_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    def no_engine(*_: object, **__: object) -> None:
        raise ImportError("Unable to find a usable engine; tried using: 'pyarrow', 'fastparquet'.")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    book = _copy(tmp_path)
    (book / "df_qa.json").unlink()
    (book / "df_qa.parquet").write_bytes(b"PAR1")
    with pytest.raises(ConfigError, match="pip install pyarrow"):
        load_episodic(book)


def test_builder_output_loads_with_the_universe_as_vocabulary(tmp_path: Path) -> None:
    path = build_episodic(tmp_path / "e.jsonl", books="12x2", seed=1)
    dataset = load_episodic(path)
    assert [len(e.sessions) for e in dataset.episodes] == [12, 12]
    line = json.loads(path.read_text().splitlines()[0])
    probe = next(p for p in dataset.probes if p.gold["trait"] == "location")
    assert set(line["universe"]["location"]) == set(probe.gold["vocabulary"])
    assert len(dataset.probes) == sum(len(json.loads(x)["qa"]) for x in path.read_text().splitlines())


def test_builder_output_error_names_line_and_field(tmp_path: Path) -> None:
    path = build_episodic(tmp_path / "e.jsonl", books="8x2", seed=1)
    lines = path.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["qa"][4]["correct_answer"] = "Harbor Lighthouse"
    path.write_text(lines[0] + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(DataError, match=r"e.jsonl:2: field 'qa\[4\].correct_answer'"):
        load_episodic(path)


def test_a_book_without_chapter_headings_is_a_data_error(tmp_path: Path) -> None:
    book = _copy(tmp_path)
    text = json.loads((book / "book.json").read_text())
    (book / "book.json").write_text(json.dumps(text.replace("Chapter ", "Part ")))
    with pytest.raises(DataError, match=r"book.json:1: has no 'Chapter k' headings"):
        load_episodic(book)


def test_a_gold_item_outside_the_vocabulary_is_refused(tmp_path: Path) -> None:
    book = _copy(tmp_path)
    rows = json.loads((book / "df_qa.json").read_text())
    rows[0]["correct_answer"] = ["Bethpage Black Course", "Atlantis"]
    (book / "df_qa.json").write_text(json.dumps(rows))
    with pytest.raises(DataError) as caught:
        load_episodic(book)
    assert str(caught.value) == (
        f"{book / 'df_qa.json'}:1: field 'correct_answer[1]' \"Atlantis\" "
        "is not in the book's location vocabulary"
    )


def test_deep_nesting_and_lone_surrogates_in_json_tables_are_data_errors(tmp_path: Path) -> None:
    book = _copy(tmp_path)
    (book / "df_qa.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match=r"df_qa.json: is not valid JSON \(nested too deeply\)"):
        load_episodic(book)
    (book / "book.json").write_text('"Chapter 1\\n\\nA \\udfff here"')
    with pytest.raises(DataError, match=r"book.json: holds a lone surrogate escape \\udfff"):
        load_episodic(book)
    (book / "book.json").write_bytes(b'"Chapter 1 \xff"')
    with pytest.raises(DataError, match=r"book.json: is not valid UTF-8"):
        load_episodic(book)


def test_a_junk_parquet_table_is_a_data_error(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="the dev extra installs pyarrow; reading parquet needs it")
    book = _copy(tmp_path)
    (book / "df_qa.json").unlink()
    (book / "df_qa.parquet").write_bytes(b"PAR1 junk PAR1")
    with pytest.raises(DataError, match=r"df_qa.parquet: is not a readable parquet file \(.+\)$"):
        load_episodic(book)
