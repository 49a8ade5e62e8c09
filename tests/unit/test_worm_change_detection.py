"""The five WorM change-detection variants: official trials check, encode as bar lists, solve from memory."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import DataError
from membench.core.jsonl_input import Where
from membench.testing.worm import trial_memories
from membench_tasks.worm.variant import ABSTAIN, Memory
from membench_tasks.worm.variants.change_detection import VARIANTS, ChangeDetection
from membench_tasks.worm.variants.grid import parse_yes_no

AT = Where(Path("data_rand_trials.json"), None)
BY_NAME = {variant.name: variant for variant in VARIANTS}


def official_trial() -> dict[str, Any]:
    """An Orientation trial as the official generator writes it (96-pixel canvas): bar 1, a small red
    vertical bar centred at (20, 34.5), turns horizontal about its centre; bar 2 stays."""
    bar_2 = {
        "bar_coords": [50, 70, 65, 70],
        "size": "large",
        "color": "green",
        "orientation": "horizontal",
        "gap": "broken",
        "gap_coords": [56.0, 70.0, 59.0, 70.0],
    }
    memory_1: dict[str, Any] = {"bar_coords": [20, 30, 20, 39], "size": "small", "color": "red"}
    memory_1 |= {"orientation": "vertical", "gap": "continuous", "gap_coords": None}
    probe_1 = memory_1 | {"bar_coords": [15.5, 34.5, 24.5, 34.5], "orientation": "horizontal"}
    return {
        "set_size": 2,
        "memory_array": {"1": memory_1, "2": bar_2},
        "probe_array": {"1": probe_1, "2": dict(bar_2)},
        "retention_interval": 6,
        "conjunction_gt": None,
        "gt": 1,
        "trial_type": "test",
        "trial_id": "test_000000",
        "memory_stim_fnames": ["test_000000_memory.png"],
        "probe_stim_fnames": ["test_000000_probe.png"],
    }


def test_the_five_variants_and_their_grid() -> None:
    assert list(BY_NAME) == ["cd-color", "cd-orientation", "cd-size", "cd-gap", "cd-conjunction"]
    assert BY_NAME["cd-gap"].folder == "Color_Orientation_Size_Gap_Conjunction_Change_Detection_Gap"
    cells = BY_NAME["cd-color"].cells()
    assert len(cells) == 24
    assert cells[:5] == [
        {"set_size": 2, "retention_interval": 0},
        {"set_size": 2, "retention_interval": 6},
        {"set_size": 2, "retention_interval": 12},
        {"set_size": 2, "retention_interval": 18},
        {"set_size": 4, "retention_interval": 0},
    ]
    assert {v.chance for v in VARIANTS} == {0.5}
    assert BY_NAME["cd-color"].references[0].points == ((2, 0.985), (4, 0.945), (6, 0.84))
    assert BY_NAME["cd-conjunction"].references[0].points == ((2, 0.965), (4, 0.92), (6, 0.83))
    assert all(v.references[0].axis == "set_size" for v in VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_every_cell_solves_from_all_frames_and_abstains_without_memories(variant: ChangeDetection) -> None:
    rng = random.Random(7)
    for cell in variant.cells():
        for positive in (True, False):
            trial = variant.check(json.loads(json.dumps(variant.generate(cell, positive, rng))), AT)
            encoded = variant.encode(trial)
            (question,) = encoded.questions
            assert question.gold == {"answer": "yes" if positive else "no"}  # balanced: one of each per cell
            assert question.labels == {
                "set_size": str(cell["set_size"]),
                "retention_interval": str(cell["retention_interval"]),
            }
            assert len(encoded.frames) == 1
            assert encoded.retention == (
                {0: cell["retention_interval"]} if cell["retention_interval"] else {}
            )
            answer = variant.solve(question.text, question.inputs, trial_memories(encoded, rng))
            assert variant.score(question.format, question.gold, answer) == {"correct": 1.0, "invalid": 0.0}
            assert variant.solve(question.text, question.inputs, []) == ABSTAIN
            assert variant.score(question.format, question.gold, ABSTAIN) == {"correct": 0.0, "invalid": 1.0}


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_a_change_flips_one_feature_of_one_bar_and_only_the_variants(variant: ChangeDetection) -> None:
    rng = random.Random(3)
    changed_features = set()
    for _ in range(40):
        trial = variant.generate({"set_size": 6, "retention_interval": 0}, True, rng)
        memory, probe = trial["memory_array"], trial["probe_array"]
        diffs = [
            (k, f)
            for k in memory
            for f in ("size", "color", "orientation", "gap")
            if memory[k][f] != probe[k][f]
        ]
        assert len(diffs) == 1
        changed_features.add(diffs[0][1])
        name = trial["conjunction_gt"]
        assert name == (None if variant.feature else diffs[0][1].capitalize())
        same = variant.generate({"set_size": 6, "retention_interval": 0}, False, rng)
        assert same["memory_array"] == same["probe_array"]
        assert (same["gt"], same["conjunction_gt"]) == (0, None)
    assert changed_features == (
        {variant.feature} if variant.feature else {"size", "color", "orientation", "gap"}
    )


def test_an_official_trial_checks_and_encodes_as_cells_and_features() -> None:
    variant = BY_NAME["cd-orientation"]
    trial = official_trial()
    assert variant.check(trial, AT) is trial
    encoded = variant.encode(trial)
    assert encoded.frames == [
        "Memory array of 2 bars (cell size color orientation gap): "
        "D3 small red vertical continuous; H6 large green horizontal broken."
    ]
    assert encoded.retention == {0: 6}
    (question,) = encoded.questions
    assert question.text == "Did any bar change? Answer yes or no."
    assert question.format == "binary"
    assert question.gold == {"answer": "yes"}
    assert question.inputs == {
        "test_array": "Test array of 2 bars (cell size color orientation gap): "
        "D3 small red horizontal continuous; H6 large green horizontal broken."
    }
    assert variant.solve(question.text, question.inputs, [Memory(encoded.frames[0], None)]) == "yes"


def test_the_conjunction_variant_reads_conjunction_gt() -> None:
    trial = official_trial() | {"conjunction_gt": "Orientation"}
    assert BY_NAME["cd-conjunction"].check(trial, AT) is trial
    with pytest.raises(DataError) as wrong:
        BY_NAME["cd-conjunction"].check(official_trial() | {"conjunction_gt": "Color"}, AT)
    assert wrong.value.field == "probe_array.1.orientation"
    with pytest.raises(DataError) as missing:
        BY_NAME["cd-conjunction"].check(official_trial(), AT)
    assert missing.value.field == "conjunction_gt"


def _set(path: str, value: Any) -> Any:
    def change(trial: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        place = trial
        for step in parents:
            place = place[step]
        if value is KeyError:
            del place[last]
        else:
            place[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_set("gt", KeyError), "gt"),
        (_set("set_size", True), "set_size"),
        (_set("set_size", 3), "memory_array"),
        (_set("retention_interval", -1), "retention_interval"),
        (_set("memory_array.1.color", "blue"), "memory_array.1.color"),
        (_set("memory_array.2.bar_coords", [20, 30, 20, 39]), "memory_array.2.bar_coords"),
        (_set("memory_array.1.bar_coords", [100, 30, 100, 39]), "memory_array.1.bar_coords"),
        (_set("memory_array.1.bar_coords", [20, 30, 20]), "memory_array.1.bar_coords"),
        (_set("probe_array.1.bar_coords", [30, 30, 30, 39]), "probe_array.1.bar_coords"),
        (_set("gt", 0), "probe_array.1.orientation"),
        (_set("probe_array.2.color", "red"), "probe_array"),
        (_set("conjunction_gt", "Orientation"), "conjunction_gt"),
    ],
)
def test_check_refuses_a_broken_trial_naming_the_field(change: Any, field: str) -> None:
    trial = copy.deepcopy(official_trial())
    change(trial)
    with pytest.raises(DataError) as refused:
        BY_NAME["cd-orientation"].check(trial, AT)
    assert refused.value.field == field


def test_a_change_in_another_feature_is_refused() -> None:
    trial = official_trial()
    trial["probe_array"]["1"] = trial["memory_array"]["1"] | {"color": "green"}
    with pytest.raises(DataError) as refused:
        BY_NAME["cd-orientation"].check(trial, AT)
    assert (refused.value.field, refused.value.problem) == (
        "probe_array.1.color",
        "changes color, not orientation",
    )


def test_solve_abstains_unless_the_memories_decide() -> None:
    variant = BY_NAME["cd-color"]
    bars = "A1 small red vertical continuous; B2 large green horizontal broken"
    inputs = {"test_array": f"Test array of 2 bars: {bars}."}
    only_a1 = [Memory("Bar A1 small red vertical continuous", None)]
    assert variant.solve("", inputs, only_a1) == ABSTAIN  # B2 may have changed
    changed_b2 = [Memory("B2 large red horizontal broken", 0), Memory("B2 large green horizontal broken", 1)]
    assert variant.solve("", inputs, changed_b2) == "yes"  # the best-ranked reading of B2 wins
    both = [Memory("a1 SMALL red vertical continuous; b2 large green horizontal broken", None)]
    assert variant.solve("", inputs, both) == "no"


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        ("yes", "yes"),
        ("Yes.", "yes"),
        ("YES, the bar at C7 changed", "yes"),
        ("No", "no"),
        ("no change", "no"),
        ("Yes and no", None),
        ("yesterday nothing changed", None),
        ("nope", None),
        ("Unknown.", None),
        ("", None),
    ],
)
def test_yes_no_answers_parse_only_when_unambiguous(answer: str, parsed: str | None) -> None:
    assert parse_yes_no(answer) == parsed
    verdict = BY_NAME["cd-size"].score("binary", {"answer": "no"}, answer)
    assert verdict == {"correct": float(parsed == "no"), "invalid": float(parsed is None)}


def test_generation_is_deterministic_in_the_seed() -> None:
    for variant in VARIANTS:
        first = [
            variant.generate(cell, i % 2 == 0, random.Random(5)) for i, cell in enumerate(variant.cells())
        ]
        again = [
            variant.generate(cell, i % 2 == 0, random.Random(5)) for i, cell in enumerate(variant.cells())
        ]
        other = [
            variant.generate(cell, i % 2 == 0, random.Random(6)) for i, cell in enumerate(variant.cells())
        ]
        assert first == again
        assert first != other
