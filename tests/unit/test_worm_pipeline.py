"""The WorM pipeline around the variants: builder, loader, reader, judge, metrics and curves."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, DataError
from membench.core.types import Memory, Prediction, Probe, Record, Score
from membench_builders.worm import build_worm
from membench_tasks.worm.judges import RuleJudge
from membench_tasks.worm.loader import BLANK, load_worm
from membench_tasks.worm.metrics import worm_contributions
from membench_tasks.worm.reader import SolveReader, solver_memory
from membench_tasks.worm.task import WormTask, variant_curves
from membench_tasks.worm.variants import all_variants

SOME = ("cd-color", "vsr", "sfr", "smu")


def built(root: Path, per_cell: int = 2) -> Path:
    return build_worm(root, [all_variants()[n] for n in SOME], per_cell=per_cell, seed=0)


def test_all_fourteen_variants_are_registered_in_the_papers_order() -> None:
    assert list(all_variants()) == [
        "sfr", "cd-color", "cd-orientation", "cd-size", "cd-gap", "cd-conjunction",
        "vir", "vsr", "vsrec", "cs", "sc", "si", "smu", "sts",
    ]  # fmt: skip


def test_builder_writes_the_official_layout_with_balanced_cells(tmp_path: Path) -> None:
    root = built(tmp_path / "w")
    cd = json.loads((root / all_variants()["cd-color"].folder / "data_rand_trials.json").read_text())
    assert cd["train"] == [] and cd["gen_test"] == [] and len(cd["test"]) == 24 * 2
    again = built(tmp_path / "again")
    for variant in SOME:
        folder = all_variants()[variant].folder
        assert (root / folder / "data_rand_trials.json").read_bytes() == (
            again / folder / "data_rand_trials.json"
        ).read_bytes()
    dataset = load_worm(root, [all_variants()["cd-color"]], split="test", per_cell=None, seed=0, top_k=10)
    answers: dict[tuple[str, str], list[str]] = {}
    for probe in dataset.probes:
        cell = (probe.labels["set_size"], probe.labels["retention_interval"])
        answers.setdefault(cell, []).append(probe.gold["answer"])
    assert len(answers) == 24 and all(sorted(a) == ["no", "yes"] for a in answers.values())


def test_a_trial_is_one_episode_of_frames_then_blanks_with_probes_after_the_last(tmp_path: Path) -> None:
    root = built(tmp_path / "w")
    dataset = load_worm(root, [all_variants()["cd-color"]], split="test", per_cell=None, seed=0, top_k=7)
    episodes = {e.episode_id: e for e in dataset.episodes}
    for probe in dataset.probes:
        episode = episodes[probe.episode_id]
        ri = int(probe.labels["retention_interval"])
        texts = [s.turns[0].content for s in episode.sessions]
        assert len(texts) == 1 + ri and texts[1:] == [BLANK] * ri  # the memory array, then the blanks
        assert (
            probe.after_session == len(texts) - 1
            and probe.top_k == 7
            and probe.labels["variant"] == "cd-color"
        )
        assert [s.session_id for s in episode.sessions] == [f"s{i:03d}" for i in range(len(texts))]
        assert "test_array" in probe.inputs and probe.gold["answer"] not in texts[0]


def test_per_cell_subsamples_each_cell_with_a_seed_and_nests(tmp_path: Path) -> None:
    root = built(tmp_path / "w", per_cell=4)
    smu = [all_variants()["smu"]]
    one = load_worm(root, smu, split="test", per_cell=1, seed=0, top_k=10)
    two = load_worm(root, smu, split="test", per_cell=2, seed=0, top_k=10)
    other = load_worm(root, smu, split="test", per_cell=2, seed=1, top_k=10)
    assert len(one.episodes) == 8 and len(two.episodes) == 16
    assert {e.episode_id for e in one.episodes} <= {e.episode_id for e in two.episodes}
    assert {e.episode_id for e in two.episodes} != {e.episode_id for e in other.episodes}
    assert one.fingerprint == two.fingerprint  # the file decides the fingerprint, the options the sample


def test_bad_inputs_name_the_file_trial_and_field(tmp_path: Path) -> None:
    root = built(tmp_path / "w")
    with pytest.raises(ConfigError, match=r"no data_rand_trials\.json for"):
        load_worm(tmp_path / "none", [all_variants()["smu"]], split="test", per_cell=None, seed=0, top_k=1)
    path = root / all_variants()["smu"].folder / "data_rand_trials.json"
    document = json.loads(path.read_text())
    del document["test"][3]["set_size"]
    path.write_text(json.dumps(document))
    with pytest.raises(DataError) as error:
        load_worm(root, [all_variants()["smu"]], split="test", per_cell=None, seed=0, top_k=1)
    assert str(path) in str(error.value) and "test[3].set_size" in str(error.value)
    with pytest.raises(ConfigError, match="split"):
        load_worm(root, [all_variants()["smu"]], split="dev", per_cell=None, seed=0, top_k=1)


def test_the_reader_strips_the_role_and_reads_the_order_from_the_session_id() -> None:
    assert solver_memory(Memory(text="user: Frame 2: x", session_id="s012")).order == 12
    assert solver_memory(Memory(text="user: Frame 2: x", session_id="s012")).text == "Frame 2: x"
    assert solver_memory(Memory(text="Frame 2: x", session_id="abc")).order is None


def run_probe(probe: Probe, memories: list[Memory]) -> Score:
    answer = asyncio.run(SolveReader().answer(probe, memories)).text
    return asyncio.run(RuleJudge().score(probe, Prediction(answer=answer), None))  # type: ignore[arg-type]


def test_full_memory_scores_one_and_no_memory_is_invalid(tmp_path: Path) -> None:
    root = built(tmp_path / "w", per_cell=1)
    dataset = load_worm(root, [all_variants()[n] for n in SOME], split="test", per_cell=None, seed=0, top_k=1)
    episodes = {e.episode_id: e for e in dataset.episodes}
    for probe in dataset.probes:
        sessions = episodes[probe.episode_id].sessions
        memories = [Memory(text=f"user: {s.turns[0].content}", session_id=s.session_id) for s in sessions]
        full = run_probe(probe, memories[::-1])
        assert full.values["score"] == 1.0 and full.label == "right", probe.probe_id
        empty = run_probe(probe, [])
        assert empty.label == "invalid" and empty.values["score"] == 0.0


def record(probe_id: str, kind: str, labels: dict[str, str], values: dict[str, float]) -> Record:
    return Record(
        run_id="r", task="worm", task_version="1", system="s", episode_id="e", probe_id=probe_id,
        after_session=0, kind=kind, labels=labels, input_hash="h",
        prediction=Prediction(answer="x"), score=Score(judge="rule", values=values), completed_at="t",
    )  # fmt: skip


def test_metrics_turn_steps_and_targets_into_serial_positions() -> None:
    steps = {"step_1": 1.0, "step_2": 0.0, "step_3": 1.0}
    vsr = record("p1", "sequence", {"variant": "vsr", "list_length": "3"}, {"score": 2 / 3, **steps})
    sts = record("p2", "sequence", {"variant": "sts"}, {"score": 0.5, "step_1": 1.0, "step_2": 0.0})
    halves = {"f1": 0.5, "recall": 0.5, "precision": 0.5, "pos_1": 0.0, "pos_2": 1.0}
    sfr = record("p3", "set", {"variant": "sfr", "list_length": "2"}, {"score": 0.5, **halves})
    vsrec = record(
        "p4", "binary", {"variant": "vsrec", "serial_position": "4"}, {"score": 1.0, "correct": 1.0}
    )
    rows = worm_contributions([vsr, sts, sfr, vsrec], [])
    positions = sorted(
        (r.probe_id, r.labels["serial_position"], r.num) for r in rows if r.metric == "position_accuracy"
    )
    assert positions == [
        ("p1#p1", "1", 1.0), ("p1#p2", "2", 0.0), ("p1#p3", "3", 1.0),
        ("p3#p1", "1", 0.0), ("p3#p2", "2", 1.0), ("p4", "4", 1.0),
    ]  # fmt: skip
    assert {(r.metric, r.num) for r in rows if r.probe_id == "p3" and r.metric.startswith("set_")} == {
        ("set_recall", 0.5),
        ("set_precision", 0.5),
    }
    assert [r.num for r in rows if r.metric == "score"] == [2 / 3, 0.5, 0.5, 1.0]


def test_curves_per_factor_per_reference_with_chance() -> None:
    titles = {c.title: c for c in variant_curves(all_variants()["vsr"])}
    assert set(titles) == {
        "vsr: score against list_length",
        "vsr: accuracy against serial_position",
        *(f"vsr: accuracy against serial_position (list_length={n})" for n in (3, 4, 5, 6)),
    }
    four = titles["vsr: accuracy against serial_position (list_length=4)"]
    assert four.where == {"variant": "vsr", "list_length": "4"} and four.chance == pytest.approx(1 / 9)
    assert [r.points for r in four.references] == [((1, 0.79), (2, 0.66), (3, 0.6), (4, 0.76))]
    cs = [c.where for c in variant_curves(all_variants()["cs"])]
    assert {w["domain_pair"] for w in cs} == {
        "spatial-spatial",
        "spatial-visual",
        "visual-spatial",
        "visual-visual",
    }
    assert variant_curves(all_variants()["sts"]) == []  # one trial length: nothing to draw along
    assert all(c.metric in {m.name for m in WormTask.metrics} for c in WormTask.curves)


def test_an_odd_per_cell_ties_no_factor_to_the_answer(tmp_path: Path) -> None:
    """With one trial per cell the answer is a seeded coin per cell, not an alternation over cells
    (which made every change-detection trial at retention 0 a change)."""
    root = build_worm(tmp_path / "w", [all_variants()["cd-color"]], per_cell=1, seed=0)
    dataset = load_worm(root, [all_variants()["cd-color"]], split="test", per_cell=None, seed=0, top_k=1)
    yes_by_ri: dict[str, list[bool]] = {}
    for probe in dataset.probes:
        yes_by_ri.setdefault(probe.labels["retention_interval"], []).append(probe.gold["answer"] == "yes")
    assert all(0 < sum(answers) < len(answers) for answers in yes_by_ri.values())


def test_the_task_keeps_every_built_trial_and_binary_variants_half_positive(tmp_path: Path) -> None:
    task = WormTask({"variants": "sc,si,cd-gap"}, tmp_path)
    dataset = task.load()
    assert len(dataset.episodes) == 2 * (20 + 24 + 24)  # per_cell=2 × the grids' cells
    for name in ("sc", "si", "cd-gap"):
        answers = [p.gold["answer"] for p in dataset.probes if p.labels["variant"] == name]
        assert answers.count("yes") == answers.count("no"), name
