"""A task's identity: builder knobs count only for built data; given data is known by its file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench_tasks.halumem.task import HaluMemTask
from membench_tasks.sort.task import SortTask


def test_built_data_is_identified_by_every_builder_option(tmp_path: Path) -> None:
    options = HaluMemTask({"users": "3"}, tmp_path).identity()["options"]
    assert options["users"] == "3" and options["seed"] == "0" and options["data"] == ""


def test_given_data_drops_builder_options_and_keeps_the_file_name(tmp_path: Path) -> None:
    here = HaluMemTask({"data": "/a/b/HaluMem-Medium.jsonl", "users": "3"}, tmp_path).identity()
    there = HaluMemTask({"data": "/elsewhere/HaluMem-Medium.jsonl"}, tmp_path).identity()
    assert here == there
    assert here["options"]["data"] == "HaluMem-Medium.jsonl" and "users" not in here["options"]


def test_sort_names_a_source_text_by_its_file_name(tmp_path: Path) -> None:
    assert SortTask({"text": "/x/y/book.txt"}, tmp_path).identity()["options"]["text"] == "book.txt"
    given = SortTask({"data": "/x/booksort", "text": "/x/book.txt"}, tmp_path)
    assert "text" not in given.identity()["options"]


def test_integer_options_are_checked_with_their_name(tmp_path: Path) -> None:
    assert HaluMemTask({"users": "4"}, tmp_path).int_option("users") == 4
    with pytest.raises(ConfigError, match="task option users must be an integer, got 'many'"):
        HaluMemTask({"users": "many"}, tmp_path).int_option("users")
