"""``membench.analysis.compare`` on run directories written by hand: families, Holm, refusals."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from membench.analysis.compare import check_comparable, compare_runs, resolve_metrics, select_runs
from membench.analysis.runs import load_run
from membench.cli.compare_output import render_markdown, to_json
from membench.core.errors import ConfigError
from membench.core.task import MetricSpec
from membench.registry import Registry
from membench.reporting.markdown import md
from membench.stats import holm
from membench.testing.toy_runs import write_toy_run

PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py") + ":ToyTask"


def outcomes(skill: float, seed: int, episodes: int = 20, per_episode: int = 10) -> dict[str, float | None]:
    rng = np.random.default_rng(seed)
    return {f"e{e}:q{q}": float(rng.random() < skill) for e in range(episodes) for q in range(per_episode)}


@pytest.fixture
def registry() -> Registry:
    return Registry([PLUGIN])


def load(paths: list[Path], registry: Registry) -> list:  # type: ignore[type-arg]
    return [load_run(p, registry) for p in paths]


def test_baseline_family_is_holm_corrected_on_the_permutation_p(tmp_path: Path, registry: Registry) -> None:
    dirs = [
        write_toy_run(tmp_path, "base", outcomes(0.5, 1)),
        write_toy_run(tmp_path, "good", outcomes(0.8, 2)),
        write_toy_run(tmp_path, "same", outcomes(0.5, 3)),
        write_toy_run(tmp_path, "bad", outcomes(0.3, 4)),
    ]
    result = compare_runs(load(dirs, registry), baseline="base", n_boot=500)
    (family,) = result.families
    assert family.spec.name == "accuracy" and result.baseline == "base (extractive · exact)"
    assert len(family.pairs) == 3 and all(p.member.comparison.name_a == result.baseline for p in family.pairs)
    perm = [p.member.comparison.p_permutation for p in family.pairs]
    assert [p.member.p_adjusted for p in family.pairs] == pytest.approx(list(holm(perm)))
    assert all(p.member.reject == (p.member.p_adjusted <= 0.05) for p in family.pairs)  # type: ignore[operator]
    assert all(p.member.comparison.test.startswith("cluster sign-flip") for p in family.pairs)  # type: ignore[union-attr]
    # McNemar is computed for right/wrong outcomes, and shown, but decides nothing.
    assert all(p.member.comparison.binary and p.member.comparison.p_mcnemar is not None for p in family.pairs)
    good = next(p for p in family.pairs if p.member.comparison.name_b.startswith("good"))
    assert good.mark == "*" and good.favours == good.member.comparison.name_b
    assert "Holm over the family of 3 comparison(s)" in family.description
    assert "every run vs baseline base" in family.description


def test_all_pairs_family_and_paired_values(tmp_path: Path, registry: Registry) -> None:
    dirs = [write_toy_run(tmp_path, name, outcomes(0.6, i)) for i, name in enumerate(("a", "b", "c"))]
    result = compare_runs(load(dirs, registry), n_boot=300)
    (family,) = result.families
    assert [(p.member.comparison.name_a[0], p.member.comparison.name_b[0]) for p in family.pairs] == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    assert "all pairs of runs" in family.description
    for pair in family.pairs:
        c = pair.member.comparison
        assert pair.estimate_a.value == pytest.approx(c.value_a)
        assert pair.estimate_b.value == pytest.approx(c.value_b)
        assert c.n_paired == 200 and c.n_clusters == 20
        low, high = pair.estimate_a.ci  # type: ignore[misc]
        assert low <= pair.estimate_a.value <= high  # type: ignore[operator]


def test_missing_and_errored_probes_are_listed_not_dropped(tmp_path: Path, registry: Registry) -> None:
    full = outcomes(0.6, 1, episodes=4, per_episode=5)
    partial = dict(full)
    del partial["e0:q0"]
    partial["e1:q1"] = None
    extra = {**outcomes(0.6, 2, episodes=4, per_episode=5), "e3:q9": 1.0}
    extra["e2:q2"] = None
    dirs = [write_toy_run(tmp_path, "a", partial), write_toy_run(tmp_path, "b", extra)]
    result = compare_runs(load(dirs, registry), n_boot=200)
    pair = result.families[0].pairs[0]
    assert pair.only_a == () and pair.only_b == ("e0/e0:q0", "e3/e3:q9")
    assert pair.errored_a == ("e1/e1:q1",) and pair.errored_b == ("e2/e2:q2",)
    c = pair.member.comparison
    assert c.n_paired == 20 - 1 - 2 and c.n_only_b == 2 and c.n_errored_either == 2
    assert pair.estimate_a.value == pytest.approx(c.value_a)
    # The left-out probes appear in every format.
    assert "errored in b (extractive · exact), left out: e2/e2:q2" in render_markdown(result)
    json_pair = to_json(result)["families"][0]["comparisons"][0]
    assert json_pair["only_b"] == ["e0/e0:q0", "e3/e3:q9"] and json_pair["errored_a"] == ["e1/e1:q1"]


def test_mde_is_the_t_based_power_formula_on_the_clustered_se(tmp_path: Path, registry: Registry) -> None:
    dirs = [write_toy_run(tmp_path, "a", outcomes(0.5, 1)), write_toy_run(tmp_path, "b", outcomes(0.6, 2))]
    pair = compare_runs(load(dirs, registry), n_boot=0).families[0].pairs[0]
    c = pair.member.comparison
    factor = scipy_stats.t.ppf(0.975, 19) + scipy_stats.t.ppf(0.8, 19)
    assert pair.mde == pytest.approx(factor * c.se)
    assert c.ci is None and pair.estimate_a.ci is None, "n_boot=0 skips the bootstrap"


def test_each_direction_prefers_its_own_side() -> None:
    lower = MetricSpec("latency", "Latency", better="lower")
    higher = MetricSpec("accuracy", "Accuracy")
    target = MetricSpec("answer_a", "Answered A", better="target", target=0.5)
    count = MetricSpec("memories", "Memories", better="descriptive", aggregate="sum", scale=1.0, unit="")
    assert lower.preferred(0.3, 0.5) == "a" and higher.preferred(0.3, 0.5) == "b"
    assert higher.preferred(0.4, 0.4) is None and higher.preferred(None, 0.4) is None
    assert target.preferred(0.45, 0.6) == "a" and target.preferred(0.9, 0.52) == "b"
    assert count.preferred(10, 20) is None and not count.ranked
    assert target.better_text() == "50% is best" and count.better_text() == "descriptive, not a score"
    with pytest.raises(ValueError, match="descriptive"):
        count.loss(3)
    with pytest.raises(ValueError, match="go together"):
        MetricSpec("x", "X", better="target")


def test_compare_names_no_side_for_a_target_metric_since_its_test_is_of_the_difference() -> None:
    from membench.analysis.compare import _favours
    from membench.stats import MetricEstimate

    def at(value: float) -> MetricEstimate:
        return MetricEstimate("m", value, 10, 0, 5, None, None, None, None, 0.95)

    target = MetricSpec("answer_a", "Answered A", better="target", target=0.5)
    assert _favours(target, "a", "b", at(0.3), at(0.52)) is None
    assert _favours(MetricSpec("acc", "Accuracy"), "a", "b", at(0.3), at(0.52)) == "b"


def test_different_data_or_task_is_refused_naming_both_dirs(tmp_path: Path, registry: Registry) -> None:
    a = write_toy_run(tmp_path, "a", outcomes(0.5, 1))
    b = write_toy_run(tmp_path, "b", outcomes(0.5, 2), fingerprint="other-data")
    with pytest.raises(ConfigError, match="they differ in dataset: toy-v1 vs other-data") as caught:
        check_comparable(load([a, b], registry))
    assert str(a) in str(caught.value) and str(b) in str(caught.value)
    other_task = write_toy_run(tmp_path, "c", outcomes(0.5, 3), task="halumem")
    with pytest.raises(ConfigError, match="differ in task: toy v1 vs halumem v1"):
        select_runs([a, other_task], registry=registry)
    # Neither can be waived: runs of other data or another task share no probes to pair.
    with pytest.raises(ConfigError, match="--allow-different takes"):
        check_comparable(load([a, b], registry), ("dataset",))


def test_baseline_and_metric_names_are_checked(tmp_path: Path, registry: Registry) -> None:
    runs = load(
        [
            write_toy_run(tmp_path, "a", outcomes(0.5, 1)),
            write_toy_run(tmp_path, "a", outcomes(0.5, 2), judge="other"),
            write_toy_run(tmp_path, "b", outcomes(0.5, 3)),
        ],
        registry,
    )
    judges = ("judge",)
    with pytest.raises(ConfigError, match="matches several runs"):
        compare_runs(runs, baseline="a", n_boot=0, allow_different=judges)
    result = compare_runs(runs, baseline="a (extractive · other)", n_boot=0, allow_different=judges)
    assert result.baseline == "a (extractive · other)"
    with pytest.raises(ConfigError, match="matches none"):
        compare_runs(runs, baseline="zzz", n_boot=0, allow_different=judges)
    specs = runs[0].task.metrics
    assert [s.name for s in resolve_metrics(specs, [], False)] == ["accuracy"]
    assert [s.name for s in resolve_metrics(specs, [], True)] == ["accuracy", "accuracy_all"]
    with pytest.raises(ConfigError, match="unknown metric"):
        resolve_metrics(specs, ["nope"], False)


def test_select_latest_complete_runs_by_system(tmp_path: Path, registry: Registry) -> None:
    write_toy_run(tmp_path / "runs", "a", outcomes(0.5, 1))
    write_toy_run(tmp_path / "runs", "b", outcomes(0.5, 2))
    runs = select_runs([], task="toy", systems=["b", "a"], results_dir=tmp_path, registry=registry)
    assert [r.system for r in runs] == ["b", "a"]
    with pytest.raises(ConfigError, match="no complete run of system 'c'"):
        select_runs([], task="toy", systems=["a", "c"], results_dir=tmp_path, registry=registry)
    with pytest.raises(ConfigError, match="not both"):
        select_runs([tmp_path], task="toy", systems=["a"], results_dir=tmp_path, registry=registry)


def test_json_is_strict_json_and_names_the_correction(tmp_path: Path, registry: Registry) -> None:
    import json

    dirs = [write_toy_run(tmp_path, "a", outcomes(0.5, 1)), write_toy_run(tmp_path, "b", {"e0:q0": 1.0})]
    result = compare_runs(load(dirs, registry), all_metrics=True, n_boot=50)
    text = json.dumps(to_json(result), allow_nan=False)
    family = json.loads(text)["families"][0]
    assert family["correction"] == "holm" and family["family"] == "all pairs"
    assert "Holm over the family of" in family["correction_applied_to"]
    pair = family["comparisons"][0]
    assert pair["n_paired"] == 1 and len(pair["only_a"]) == 199
    assert pair["mde"] is None or math.isfinite(pair["mde"])


def test_markdown_escapes_names_and_probe_ids_from_runs(tmp_path: Path, registry: Registry) -> None:
    hostile = "e0:<img src=x onerror=alert(1)>|*q*"
    a = write_toy_run(tmp_path, "a<script>", {**outcomes(0.5, 1, episodes=3, per_episode=4), hostile: None})
    b = write_toy_run(tmp_path, "b", {**outcomes(0.5, 2, episodes=3, per_episode=4), hostile: 1.0})
    text = render_markdown(compare_runs(load([a, b], registry), n_boot=0))
    assert "a\\<script\\>" in text and "\\<img src=x onerror=alert(1)\\>\\|\\*q\\*" in text
    assert not re.search(r"(?<!\\)[<>]", text), "every angle bracket from the runs is escaped"


def test_a_run_given_twice_is_compared_once_and_the_copy_named(tmp_path: Path, registry: Registry) -> None:
    """A shell glob can name one run twice (its archived copy): one family member per run, not two."""
    a = write_toy_run(tmp_path, "a", outcomes(0.5, 1))
    b = write_toy_run(tmp_path, "b", outcomes(0.6, 2))
    copy = tmp_path / "copy" / a.name
    shutil.copytree(a, copy)
    for twice, aside in (([a, a, b], a), ([a, b, copy], copy)):
        result = compare_runs(load(twice, registry), n_boot=0)
        assert [r.run_dir for r in result.runs] == [a, b]
        assert result.set_aside == ((aside, a),)
        (family,) = result.families
        assert len(family.pairs) == 1 and "family of 1 comparison(s)" in family.description
        assert (
            f"- not compared: {md(str(aside))}, another run of the same system and mode;"
            in render_markdown(result)
        )
        assert to_json(result)["set_aside"] == [{"run_dir": str(aside), "compared_instead": str(a)}]
    with pytest.raises(ConfigError, match="needs at least two runs of different systems or modes") as caught:
        select_runs([a, copy], registry=registry)
    assert f"{copy} is another run of a (extractive · exact)" in str(caught.value)


def test_select_runs_on_the_data_every_system_ran_on(tmp_path: Path, registry: Registry) -> None:
    """A system re-run on other data keeps its run on the old data; --systems picks shared data."""
    write_toy_run(tmp_path / "runs", "a", outcomes(0.5, 1), fingerprint="old")
    write_toy_run(tmp_path / "runs", "b", outcomes(0.5, 2), fingerprint="old")
    write_toy_run(tmp_path / "runs", "a", outcomes(0.5, 3), fingerprint="new")
    runs = select_runs([], task="toy", systems=["a", "b"], results_dir=tmp_path, registry=registry)
    assert [(r.system, r.dataset_fingerprint) for r in runs] == [("a", "old"), ("b", "old")]
    write_toy_run(tmp_path / "runs", "c", outcomes(0.5, 4), fingerprint="new")
    with pytest.raises(ConfigError, match="never ran with the same data"):
        select_runs([], task="toy", systems=["b", "c"], results_dir=tmp_path, registry=registry)


def test_five_episodes_with_a_sixty_point_gap_decide_nothing_and_say_why(
    tmp_path: Path, registry: Registry
) -> None:
    """With 5 episodes the smallest permutation p is 2/32 > 0.05: no gap, however large, is significant.
    McNemar, which treats the 100 probes as independent, would call it overwhelming."""
    weak = {f"e{e}:q{q}": float(q < 4) for e in range(5) for q in range(20)}  # 20% right
    strong = {f"e{e}:q{q}": float(q < 16) for e in range(5) for q in range(20)}  # 80% right
    dirs = [write_toy_run(tmp_path, "weak", weak), write_toy_run(tmp_path, "strong", strong)]
    result = compare_runs(load(dirs, registry), n_boot=200)
    (family,) = result.families
    (pair,) = family.pairs
    c = pair.member.comparison
    assert c.difference == pytest.approx(0.6) and c.n_clusters == 5
    assert c.p_permutation == pytest.approx(2 / 32) and c.p_mcnemar is not None and c.p_mcnemar < 1e-10
    assert not pair.member.reject and pair.mark == ""
    assert pair.mde is None, "no MDE beside a note that nothing can be significant"
    assert family.note is not None and "with 5 episode(s)" in family.note
    text = render_markdown(result)
    assert "no difference can be significant" in text and "t interval on episodes" in text
    decision = to_json(result)["families"][0]["comparisons"][0]
    assert decision["significant"] is False and decision["decided_by"].startswith("cluster sign-flip")
    assert decision["p_holm"] == pytest.approx(2 / 32) and decision["mark"] == ""
    assert decision["interval"] == "t"


def test_runs_judged_differently_or_with_other_task_options_are_refused_naming_the_fields(
    tmp_path: Path, registry: Registry
) -> None:
    base = write_toy_run(tmp_path, "a", outcomes(0.5, 1))
    judged = write_toy_run(tmp_path, "b", outcomes(0.5, 2), judge="lexical")
    other_k = write_toy_run(tmp_path, "c", outcomes(0.5, 3), task_options={"sessions": "1"})
    with pytest.raises(ConfigError, match=r'differ in judge: \{"name":"exact"\} vs \{"name":"lexical"\}'):
        compare_runs(load([base, judged], registry), n_boot=0)
    with pytest.raises(ConfigError, match=r'differ in task-options: \{\} vs \{"sessions":"1"\}'):
        select_runs([base, other_k], registry=registry)
    # Asked for explicitly, the pairing happens and the output says what differs.
    result = compare_runs(load([base, judged], registry), n_boot=0, allow_different=("judge",))
    assert result.differing == ('judge: {"name":"exact"} vs {"name":"lexical"}',)
    assert "paired although they differ (--allow-different) in judge" in render_markdown(result)


def test_an_all_metric_shows_its_values_on_the_probes_it_pairs(tmp_path: Path, registry: Registry) -> None:
    """ "(all)" counts an errored probe as 0: the paired test keeps it, and so must the values shown
    beside it, or "A 100%, B 100%, B − A −50 pt" would be printed."""
    right = {f"e{e}:q{q}": 1.0 for e in range(3) for q in range(4)}
    half = {probe: (None if i % 2 else 1.0) for i, probe in enumerate(right)}
    dirs = [write_toy_run(tmp_path, "a", right), write_toy_run(tmp_path, "b", half)]
    result = compare_runs(load(dirs, registry), metrics=["accuracy_all", "accuracy"], n_boot=0)
    every, valid = result.families
    (pair,) = every.pairs
    assert pair.member.comparison.difference == pytest.approx(-0.5)
    assert (pair.estimate_a.value, pair.estimate_b.value) == (1.0, pytest.approx(0.5))
    assert pair.errored_b == () and pair.member.comparison.n_errored_either == 0
    # The valid metric leaves the errored probes out, and lists them.
    (valid_pair,) = valid.pairs
    assert valid_pair.member.comparison.difference == 0.0 and len(valid_pair.errored_b) == 6


def test_a_checksum_or_the_data_files_name_does_not_make_runs_incomparable(
    tmp_path: Path, registry: Registry
) -> None:
    """Same data (fingerprint), one run given HaluMem's checksum option and another file name: still
    paired (only identities are compared here, so toy records serve)."""
    a = write_toy_run(tmp_path, "a", outcomes(0.5, 1), task="halumem", task_options={"data": "one.jsonl"})
    b = write_toy_run(
        tmp_path, "b", outcomes(0.5, 2), task="halumem", task_options={"data": "copy.jsonl", "sha256": "ab"}
    )
    assert check_comparable(load([a, b], registry)) == []
    other = write_toy_run(tmp_path, "c", outcomes(0.5, 3), task="halumem", task_options={"variant": "long"})
    with pytest.raises(ConfigError, match="task-options"):
        check_comparable(load([a, other], registry))
