"""``membench compare`` on real runs: HaluMem baselines and the toy task with a failing system."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from membench.api import run
from membench.cli.main import main
from membench.core.config import RunConfig
from membench.running.display import NullDisplay

TINY = {"users": "2", "sessions": "3", "turns": "6"}
TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")


def unwrapped(text: str) -> str:
    """``text`` without its whitespace: what a sentence reads as, wherever the width wrapped it."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def halumem_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    dirs = {}
    for system, users in (("bm25", "2"), ("no-memory", "2"), ("full-context", "2"), ("bm25", "3")):
        config = RunConfig(
            task="halumem",
            system=system,
            task_options={**TINY, "users": users},
            results_dir=root / ("results" if users == "2" else "other"),
            data_dir=root / "data",
            display="none",
        )
        dirs[f"{system}-{users}"] = run(config, NullDisplay()).run_dir
    return dirs


def test_table_with_a_baseline_names_the_family_and_the_correction(
    halumem_runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    results = halumem_runs["bm25-2"].parents[1]
    args = ["compare", "--task", "halumem", "--systems", "no-memory,bm25,full-context"]
    assert main([*args, "--results-dir", str(results), "--baseline", "no-memory", "--n-boot", "500"]) == 0
    out = unwrapped(capsys.readouterr().out)
    assert unwrapped("QA correct (qa_correct; higher is better)") in out
    assert unwrapped("Holm over the family of 2 comparison(s) of QA correct") in out
    assert unwrapped("every run vs baseline no-memory (extractive · rule)") in out
    assert "McNemarp" in out and unwrapped("treats probes as independent") in out and "MDE" in out
    for system in ("bm25", "no-memory", "full-context"):
        assert str(halumem_runs[f"{system}-2"]) in out


def test_json_all_pairs_over_every_metric(
    halumem_runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = [str(halumem_runs[k]) for k in ("bm25-2", "no-memory-2", "full-context-2")]
    assert main(["compare", *dirs, "--all-metrics", "--format", "json", "--n-boot", "200"]) == 0
    result = json.loads(capsys.readouterr().out)
    families = {f["metric"]: f for f in result["families"]}
    assert "qa_correct" in families and "add_time_s" in families and "extraction_f1" in families
    assert families["add_time_s"]["better"] == "lower"
    qa = families["qa_correct"]
    assert qa["family"] == "all pairs" and len(qa["comparisons"]) == 3
    holm = sorted(c["p_holm"] for c in qa["comparisons"])
    raw = sorted(c["p_permutation"] for c in qa["comparisons"])
    assert holm[0] == pytest.approx(min(1.0, 3 * raw[0])), "the smallest p is multiplied by the family size"
    latency = families["search_time_s"]["comparisons"][0]
    assert latency["test"] == "cluster sign-flip permutation (exact)", "a non-binary metric is not McNemar's"
    assert latency["p_mcnemar"] is None and latency["p_mcnemar_note"] is None
    for comparison in qa["comparisons"]:
        # Right/wrong: McNemar is shown, labelled; the decision is the permutation test's.
        assert comparison["decided_by"].startswith("cluster sign-flip permutation")
        assert "treats probes as independent" in comparison["p_mcnemar_note"]
        assert comparison["significant"] == (comparison["p_holm"] <= 0.05)


def test_markdown_and_metric_selection(
    halumem_runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = [str(halumem_runs[k]) for k in ("bm25-2", "full-context-2")]
    assert (
        main(["compare", *dirs, "--metric", "recall", "--metric", "qa_hallucination", "--format", "markdown"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("# membench compare")
    assert "## Recall (recall; higher is better)" in out
    assert "## QA hallucination (qa\\_hallucination; lower is better)" in out
    assert "| A | B | A value [CI] |" in out


def test_runs_on_different_data_are_refused(
    halumem_runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = halumem_runs["bm25-2"], halumem_runs["bm25-3"]
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "they differ in" in err and "dataset: " in err and str(a) in err and str(b) in err


def test_errored_probes_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = {"task": "toy", "task_options": {"boom": "ep1:q2"}, "results_dir": tmp_path, "display": "none"}
    plugins = (f"{TOY}:ToyTask", f"{TOY}:KeywordSystem", f"{TOY}:FlakySystem")
    for system in ("keyword", "flaky"):
        run(RunConfig(system=system, plugins=plugins, **common), NullDisplay())  # type: ignore[arg-type]
    plugin_args = [arg for p in plugins for arg in ("--plugin", p)]
    args = ["compare", "--task", "toy", "--systems", "keyword,flaky", "--results-dir", str(tmp_path)]
    assert main([*args, *plugin_args, "--baseline", "keyword", "--format", "json"]) == 0
    pair = json.loads(capsys.readouterr().out)["families"][0]["comparisons"][0]
    assert pair["errored_b"] == ["ep1/ep1:q2"] and pair["errored_a"] == []
    assert pair["n_paired"] == 11
    assert main([*args, *plugin_args]) == 0
    table = capsys.readouterr().out
    assert "  errored in A / B   0 / 1" in table.splitlines()
    hint = "1 probe(s) left out of comparisons (only in A / B, errored in A / B); --show-left-out lists them"
    assert unwrapped(hint) in unwrapped(table)
    assert "ep1:q2" not in table, "counted, not listed"
    assert main([*args, *plugin_args, "--show-left-out"]) == 0
    listed = capsys.readouterr().out
    heading = (
        "keyword (extractive · exact) vs flaky (extractive · exact): 1 errored in flaky (extractive · exact):"
    )
    assert unwrapped(heading + "  ep1/ep1:q2") in unwrapped(listed), "the heading, then the ids"
    assert "  ep1/ep1:q2" in listed.splitlines(), "one id per line"


def test_sort_runs_with_another_k_are_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bm25 retrieving 1 memory against full-context with SORT's default k: not a systems comparison."""
    dirs = []
    for system, options in (("bm25", {"top_k": "1"}), ("full-context", {})):
        config = RunConfig(
            task="sort",
            system=system,
            task_options={"excerpt_lengths": "250", "n": "4", **options},
            results_dir=tmp_path / "results",
            data_dir=tmp_path / "data",
            display="none",
        )
        dirs.append(str(run(config, NullDisplay()).run_dir))
    assert main(["compare", *dirs, "--n-boot", "50"]) == 2
    err = capsys.readouterr().err
    assert "they differ in task-options:" in err and '"top_k":"1"' in err and '"top_k":"5"' in err
    assert main(["compare", *dirs, "--n-boot", "50", "--allow-different", "task-options"]) == 0
    assert "paired although they differ (--allow-different) in task-options" in capsys.readouterr().out


def test_the_readmes_glob_form_compares_each_system_once(
    halumem_runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``compare runs/halumem__bm25__* runs/halumem__no-memory__*`` after a ``--limit`` run of bm25 and a
    ``--fresh`` (which archives the old run beside it as ``.replaced-<time>``): the glob matches three
    bm25 runs. bm25 is compared once, with its full run, and the two others are named, not paired with it."""
    runs = tmp_path / "results" / "runs"
    for key in ("bm25-2", "no-memory-2"):
        shutil.copytree(halumem_runs[key], runs / halumem_runs[key].name)
    full = runs / halumem_runs["bm25-2"].name
    archived = shutil.copytree(full, runs / f"{full.name}.replaced-20261201T000000")
    limited = run(
        RunConfig(
            task="halumem",
            system="bm25",
            task_options=TINY,
            limit=1,
            results_dir=tmp_path / "results",
            data_dir=halumem_runs["bm25-2"].parents[2] / "data",
            display="none",
        ),
        NullDisplay(),
    ).run_dir
    dirs = sorted(str(p) for p in runs.glob("halumem__bm25__*")) + [
        str(p) for p in runs.glob("halumem__no-memory__*")
    ]
    assert len(dirs) == 4
    assert main(["compare", *dirs, "--n-boot", "100", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["run_dir"] for r in result["runs"]] == [str(full), str(runs / halumem_runs["no-memory-2"].name)]
    (pair,) = result["families"][0]["comparisons"]
    assert (pair["a"], pair["b"]) == ("bm25 (extractive · rule)", "no-memory (extractive · rule)")
    assert pair["only_a"] == pair["only_b"] == []
    assert result["set_aside"] == [
        {"run_dir": str(aside), "compared_instead": str(full)} for aside in sorted([archived, limited])
    ]
    assert main(["compare", *dirs, "--n-boot", "100"]) == 0
    said = unwrapped(capsys.readouterr().out)
    assert (
        unwrapped(f"not compared: {limited}, another run of the same system and mode; {full} is compared")
        in said
    )
    assert unwrapped("A: bm25 (extractive · rule) B: no-memory (extractive · rule)") in said
