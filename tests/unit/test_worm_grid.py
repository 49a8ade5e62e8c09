"""The spatial WorM variants' shared conventions: cell ids, directions, mirror patterns, frame statements
and yes/no answers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from membench.core.errors import DataError
from membench.core.jsonl_input import Where
from membench_tasks.worm.variant import Memory
from membench_tasks.worm.variants.grid import (
    cell_id,
    cell_index,
    cell_list,
    cells_in,
    direction_between,
    frame_statements,
    is_mirror_symmetric,
    mirror,
    mirror_pattern,
    parse_yes_no,
    score_yes_no,
)

AT = Where(Path("data_rand_trials.json"), None).key("test").item(0)


def test_cell_ids_are_row_letter_and_column_number_of_the_row_major_index() -> None:
    assert [cell_id(i, 10) for i in (0, 9, 23, 99)] == ["A1", "A10", "C4", "J10"]
    assert [cell_id(i, 3) for i in (0, 4, 8)] == ["A1", "B2", "C3"]
    assert [cell_index(name, 10) for name in ("A1", "a10", " c4 ", "J10")] == [0, 9, 23, 99]
    assert cell_index("D1", 3) is None and cell_index("A4", 3) is None and cell_index("K1", 10) is None


def test_cells_in_reads_ids_in_order_of_first_mention_and_never_a1_inside_a10() -> None:
    assert cells_in("A10, c4 and A1; again C4", 10) == [9, 23, 0]
    assert cells_in("box 1: B2, D1, A3", 3) == [4, 2], "D1 is not a cell of the 3x3 grid"
    assert cells_in("Unknown. I think 10x10", 10) == []


def test_directions_and_the_mirror_about_the_vertical_midline() -> None:
    assert direction_between(0, 2, 3) == "right" and direction_between(6, 2, 3) == "up-right"
    assert direction_between(8, 0, 3) == "up-left" and direction_between(1, 7, 3) == "down"
    assert [mirror(i) for i in (0, 9, 23, 94)] == [9, 0, 26, 95]
    assert is_mirror_symmetric([0, 9, 23, 26, 0]) and not is_mirror_symmetric([0, 9, 23])


@pytest.mark.parametrize("offset", [0, 2, 4, 6, 8])
def test_mirror_patterns_lack_exactly_offset_mirror_partners(offset: int) -> None:
    rng = random.Random(offset)
    for _ in range(50):
        cells = mirror_pattern(rng, 18, offset)
        assert len(set(cells)) == 18
        assert sum(mirror(cell) not in cells for cell in cells) == offset
        assert is_mirror_symmetric(cells) == (offset == 0)


def test_frame_statements_count_a_frame_once_and_come_in_frame_order() -> None:
    memories = [
        Memory("Frame 3: cell C7 turns red.", None),
        Memory("user: Frame 1: cell A1 turns red. Frame 3: cell C7 turns red.", 0),
        Memory("(blank)", 1),
    ]
    found = frame_statements(memories, r"cell ([A-J]\d+) turns red\.")
    assert [(n, match.group(2)) for n, match in found.items()] == [(1, "A1"), (3, "C7")]


def test_yes_no_needs_exactly_one_of_the_two_words() -> None:
    assert [parse_yes_no(a) for a in ("Yes.", "no", "NO, not symmetric", "yes or no", "nope", "")] == [
        "yes",
        "no",
        "no",
        None,
        None,
        None,
    ]
    assert score_yes_no({"answer": "no"}, "No.") == {"correct": 1.0, "invalid": 0.0}
    assert score_yes_no({"answer": "no"}, "yes") == {"correct": 0.0, "invalid": 0.0}
    assert score_yes_no({"answer": "no"}, "Unknown.") == {"correct": 0.0, "invalid": 1.0}


def test_cell_lists_name_the_bad_element() -> None:
    assert cell_list([0, 99, 0], AT.key("cells"), 10, distinct=False) == [0, 99, 0]
    with pytest.raises(DataError) as bad:
        cell_list([0, 100], AT.key("cells"), 10, distinct=True)
    assert bad.value.field == "test[0].cells[1]"
    with pytest.raises(DataError, match="lists a cell twice"):
        cell_list([4, 4], AT.key("cells"), 10, distinct=True)
    with pytest.raises(DataError) as bad:
        cell_list([1, True], AT.key("cells"), 10, distinct=True)
    assert bad.value.field == "test[0].cells[1]"
