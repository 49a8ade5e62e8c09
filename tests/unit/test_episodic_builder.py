"""The episodic builder: determinism, upstream's generation rules, question bins and answers."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError
from membench.core.text import normalize
from membench.llm.client import LLMClient
from membench.testing.openai_server import FakeOpenAIServer, message_text
from membench_builders import episodic as builder
from membench_builders import episodic_vocab as vocab


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    path = builder.build_episodic(tmp_path_factory.mktemp("ep") / "b.jsonl", books="20x2,200x1", seed=0)
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path: Path) -> None:
    a = builder.build_episodic(tmp_path / "a.jsonl", books="20x2", seed=3).read_bytes()
    b = builder.build_episodic(tmp_path / "b.jsonl", books="20x2", seed=3).read_bytes()
    c = builder.build_episodic(tmp_path / "c.jsonl", books="20x2", seed=4).read_bytes()
    assert a == b and a != c


def test_adding_a_book_leaves_earlier_books_unchanged(tmp_path: Path) -> None:
    one = builder.build_episodic(tmp_path / "a.jsonl", books="20x1").read_text().splitlines()
    two = builder.build_episodic(tmp_path / "b.jsonl", books="20x1,30x1").read_text().splitlines()
    assert one[0] == two[0] and len(two) == 2


def test_parse_books() -> None:
    assert builder.parse_books("20x2, 200") == [20, 20, 200]
    for bad in ("", "x2", "20x0", "twenty"):
        with pytest.raises(ConfigError):
            builder.parse_books(bad)


@pytest.mark.parametrize(
    ("n", "expected"), [(0, "0"), (1, "1"), (2, "2"), (3, "3-5"), (5, "3-5"), (6, "6+"), (17, "6+")]
)
def test_bin_edges(n: int, expected: str) -> None:
    assert builder.bin_of(n) == expected


def test_one_event_per_chapter_with_cues_in_their_designated_paragraph(books: list[dict[str, Any]]) -> None:
    for book in books:
        chapters = re.split(r"\n\n\n(?=Chapter \d+\n)", book["book"])
        assert len(chapters) == len(book["groundtruth"])
        for text, row in zip(chapters, book["groundtruth"], strict=True):
            head, *paragraphs = text.split("\n\n")
            assert head == f"Chapter {row['chapter']}" and len(paragraphs) == row["nb_paragraphs"]
            event = builder.Event(
                row["date"], row["location"], row["entity"], row["content"], row["content_detail"]
            )
            where = {t: row[f"idx_{k}"] for t, k in zip(builder.TRAITS, "tsec", strict=True)}
            meta = builder.Meta(row["nb_paragraphs"], where, row["style"], "", tuple(row["post_entities"]))
            assert builder.check_chapter(paragraphs, event, meta) is None
            # Exactly one event: no other protagonist or date of the universe appears in the chapter.
            for trait, values in (("entity", book["universe"]["entity"]), ("date", book["universe"]["date"])):
                named = [v for v in values if v in text]
                assert named == [row[trait]], (row["chapter"], trait, named)
            assert all(p in text for p in row["post_entities"])


def test_pairs_are_unique_and_draws_are_skewed(books: list[dict[str, Any]]) -> None:
    rows = books[2]["groundtruth"]
    assert len(rows) == 200
    assert len({(r["date"], r["entity"]) for r in rows}) == 200
    assert len({(r["date"], r["location"]) for r in rows}) == 200
    for trait in builder.TRAITS:
        # The universe lists are in draw order: a censored Geometric(0.1) puts about 65% of draws on
        # the first 10 values (uniform draws over 40-100 values would put 10-25% there).
        first_ten = set(books[2]["universe"][trait][:10])
        assert sum(r[trait] in first_ten for r in rows) >= 0.45 * len(rows), trait
    assert all(r["n_entity"] == Counter(x["entity"] for x in rows)[r["entity"]] for r in rows)


def _brute_force(question: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[str], int]:
    protected = re.sub(r"(\d), (\d{4})", r"\1;\2", question["cue_completed"].strip("()"))
    values = [v.replace(";", ", ") for v in protected.split(", ")]
    cue = dict(zip(builder.TRAITS, values, strict=True))
    given = {t: v for t, v in cue.items() if v != "*"}
    matching = [r for r in rows if all(r[t] == v for t, v in given.items())]
    trait = {v: k for k, v in builder.RETRIEVAL_TYPE.items()}[question["retrieval_type"]]
    ordered = sorted(matching, key=lambda r: builder.date_key(r["date"]))
    if question["get"] == "latest":
        return ([ordered[-1][trait]] if ordered else []), len(matching)
    if question["get"] == "chronological":
        return list(dict.fromkeys(r[trait] for r in ordered)), len(matching)
    items = {p for r in matching for p in (r[trait] if trait == "post_entities" else [r[trait]])}
    return sorted(items), len(matching)


def test_answers_bins_and_caps(books: list[dict[str, Any]]) -> None:
    for book in books:
        qa = book["qa"]
        assert len({q["question"] for q in qa}) == len(qa), "questions are deduplicated"
        per_cell = Counter((q["q_idx"], q["bins_items_correct_answer"]) for q in qa)
        assert max(per_cell.values()) <= builder.MAX_PER_TEMPLATE_BIN
        for q in qa:
            items, n = _brute_force(q, book["groundtruth"])
            assert q["correct_answer"] == items, q["question"]
            assert q["n_chapters_correct_answer"] == n
            assert q["bins_items_correct_answer"] == builder.bin_of(n)
    bins = Counter(q["bins_items_correct_answer"] for q in books[2]["qa"])
    assert set(bins) == set(builder.BIN_NAMES), "a 200-chapter book fills every bin, 6+ included"
    # Every template has at least 5 single-event questions in a 20-chapter book, so the 1 bin is full
    # (29 x 5; the release's 150 is 30 x 5 with "Full event details"), and the 0 and 2 bins are filled.
    short = Counter((q["get"], q["bins_items_correct_answer"]) for q in books[0]["qa"])
    assert short[("all", "1")] == 29 * builder.MAX_PER_TEMPLATE_BIN
    assert short[("all", "0")] > 0 and short[("all", "2")] > 0 and short[("latest", "2")] > 0


def test_empty_answer_questions_exist_for_every_kind(books: list[dict[str, Any]]) -> None:
    zero = Counter(q["get"] for q in books[2]["qa"] if q["bins_items_correct_answer"] == "0")
    assert zero["all"] > 100 and zero["latest"] > 0 and zero["chronological"] > 0


#: the release's template ids (df_qa ``q_idx``) by cue and retrieval type; 29 is "Full event details".
RELEASE_Q_IDX = {
    0: ("(t, *, *, *)", "Spaces", "all"), 2: ("(t, *, *, *)", "Event contents", "all"),
    3: ("(*, s, *, *)", "Times", "all"), 8: ("(*, *, ent, *)", "Event contents", "all"),
    11: ("(*, *, *, c)", "Entities", "all"), 12: ("(t, s, *, *)", "Entities", "all"),
    23: ("(*, *, ent, c)", "Spaces", "all"), 24: ("(t, s, ent, *)", "Event contents", "all"),
    27: ("(*, s, ent, c)", "Times", "all"), 28: ("(t, s, ent, c)", "Other entities", "all"),
    30: ("(*, *, ent, *)", "Times", "latest"), 32: ("(*, *, ent, *)", "Event contents", "latest"),
    33: ("(*, *, ent, *)", "Times", "chronological"),
    35: ("(*, *, ent, *)", "Event contents", "chronological"),
}  # fmt: skip


def test_templates_shape_and_release_ids() -> None:
    templates = builder.templates()
    assert Counter(t.get for t in templates) == {"all": 29, "latest": 3, "chronological": 3}
    assert [t.q_idx for t in templates] == [*range(29), *range(30, 36)], "29 stays Full event details"
    by_id = {t.q_idx: t for t in templates}
    for q_idx, (cue, retrieval_type, get) in RELEASE_Q_IDX.items():
        template = by_id[q_idx]
        symbols, _ = builder._cue_strings(template, {t: "x" for t in builder.TRAITS})
        assert (symbols, builder.RETRIEVAL_TYPE[template.retrieve], template.get) == (
            cue,
            retrieval_type,
            get,
        ), q_idx


def test_vocabulary_values_never_contain_one_another() -> None:
    lists = [
        vocab.LOCATIONS,
        [c for c, _ in vocab.CONTENTS],
        [f"{f} {last}" for f in vocab.DAY_FIRST_NAMES for last in vocab.DAY_LAST_NAMES],
    ]
    for values in lists:
        padded = [f" {normalize(v)} " for v in values]
        assert len(set(padded)) == len(padded)
        for a in padded:
            assert not any(a != b and a in b for b in padded), a
    assert not set(vocab.DAY_FIRST_NAMES + vocab.DAY_LAST_NAMES) & set(
        vocab.SECONDARY_FIRST_NAMES + vocab.SECONDARY_LAST_NAMES
    )


def _chapter_writer(request: dict[str, Any]) -> str:
    """A well-behaved fake writer on the first request, unless the prompt asks for paragraph 1 twice."""
    prompt = message_text(request["messages"][0]["content"])
    k = int(re.search(r"in exactly (\d+) paragraphs", prompt).group(1))  # type: ignore[union-attr]
    other = "$entity_1" if "$entity_1" in prompt else "nobody"
    paragraphs = [[f"Quiet {other} moment."] if i == 0 else ["Quiet moment."] for i in range(k)]
    for where, phrase in re.findall(r'- paragraph (\d+): "([^"]+)"', prompt):
        paragraphs[int(where) - 1].append(phrase + ".")
    if "Maren" in prompt:  # break the rules for some events: their chapters must be dropped
        paragraphs[0].append(re.findall(r'"([^"]+)"', prompt)[0])
    return "\n".join(f"({i + 1}) " + " ".join(p) for i, p in enumerate(paragraphs))


def test_llm_written_chapters_are_checked_and_failures_dropped(tmp_path: Path) -> None:
    with FakeOpenAIServer(_chapter_writer) as server:
        client = LLMClient("openai/fake-model", role="builder", api_base=server.base_url, max_connections=4)
        universe = builder.make_universe(0)
        events = builder.draw_events(universe, 12, seed=0)
        metas = [builder.draw_meta(universe, 0, i) for i in range(len(events))]
        written = asyncio.run(builder._llm_chapters(events, metas, client, attempts=2))
    for event, meta, chapter in zip(events, metas, written, strict=True):
        if event.entity.startswith("Maren"):
            assert chapter is None
            continue
        assert chapter is not None
        paragraphs, posts = chapter
        assert builder.check_chapter(paragraphs, event, meta) is None
        assert "$entity" not in " ".join(paragraphs)
        assert posts == meta.post_entities[:1]


def test_llm_build_through_the_task_option(tmp_path: Path) -> None:
    from membench_tasks.episodic.task import EpisodicTask

    with FakeOpenAIServer(_chapter_writer) as server:
        task = EpisodicTask(
            {"books": "6x1", "llm": "openai/fake-model", "llm_api_base": server.base_url}, tmp_path
        )
        path = task.build()
        requests = len(server.requests)
    line = json.loads(path.read_text())
    assert line["generator"] == "llm:openai/fake-model" and requests >= 6
    assert 0 < len(line["groundtruth"]) <= 6


@pytest.mark.slow
def test_a_2000_chapter_book_builds_with_every_bin(tmp_path: Path) -> None:
    path = builder.build_episodic(tmp_path / "big.jsonl", books="2000x1")
    book = json.loads(path.read_text("utf-8"))
    rows = book["groundtruth"]
    assert len(rows) == 2000 and len({(r["date"], r["entity"]) for r in rows}) == 2000
    assert {q["bins_items_correct_answer"] for q in book["qa"]} == set(builder.BIN_NAMES)
    assert len(book["book"].split()) > 150_000


def test_llm_build_through_the_cli_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from membench.cli.main import main

    with FakeOpenAIServer(_chapter_writer) as server:
        code = main(
            ["data", "build", "episodic", "-T", "books=6x1", "--llm", "openai/fake-model",
             "--llm-api-base", server.base_url, "--data-dir", str(tmp_path)]
        )  # fmt: skip
    assert code == 0
    path = Path(capsys.readouterr().out.split("wrote ", 1)[1].strip())
    assert json.loads(path.read_text())["generator"] == "llm:openai/fake-model"
    assert main(["data", "build", "halumem", "--llm", "openai/x", "--data-dir", str(tmp_path)]) == 2
    assert "writes no text with an LLM" in capsys.readouterr().err


def test_latest_questions_point_at_the_latest_chapter_only(books: list[dict[str, Any]]) -> None:
    """As in the release: a "latest" row counts every matching chapter but lists only the latest one."""
    rows = books[2]["groundtruth"]
    latest = [q for q in books[2]["qa"] if q["get"] == "latest" and q["n_chapters_correct_answer"] >= 2]
    assert latest
    for q in latest:
        (chapter,) = q["correct_answer_chapters"]
        assert json.loads(q["correct_answer_detailed"]) == {str(chapter): q["correct_answer"][0]}
        entity = next(r["entity"] for r in rows if r["chapter"] == chapter)
        dates = [builder.date_key(r["date"]) for r in rows if r["entity"] == entity]
        assert builder.date_key(rows[chapter - 1]["date"]) == max(dates)


def test_llm_built_data_is_named_by_every_option_that_decides_it(tmp_path: Path) -> None:
    """An LLM build with other retry attempts is other data: it must not reuse the first file."""
    from membench_tasks.episodic.task import EpisodicTask

    def path(**options: str) -> Path:
        return EpisodicTask(options, tmp_path).built_path()

    assert path(llm="openai/m", attempts="3") != path(llm="openai/m", attempts="5")
    assert path(llm="openai/m") != path()
    assert path(attempts="5") == path(), "templates ignore attempts: same data, same file"
