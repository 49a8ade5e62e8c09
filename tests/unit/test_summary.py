"""The run summary's tables: a variant the task declares is a column beside its metric, never a row."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from membench.analysis.summary import breakdown_tables, legend, metric_columns, metric_rows
from membench.core.task import Contribution, MetricSpec, Task
from membench.core.types import Dataset, IngestRecord, Record
from membench.judges.base import Judge
from membench_tasks.halumem.task import HaluMemTask


class _Declared(Task):
    """A task whose metrics are whatever the test declares."""

    name = "declared"
    version = "1"
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()

    def load(self) -> Dataset:
        raise NotImplementedError

    def make_judge(self, name: str, llm: Any | None = None) -> Judge:
        raise NotImplementedError

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        raise NotImplementedError


def task_of(*metrics: MetricSpec) -> Task:
    cls = type("T", (_Declared,), {"metrics": metrics})
    return cls({}, Path("unused"))


def estimate(metric: str, value: float, level: str | None = None) -> dict[str, Any]:
    return {
        "metric": metric,
        "value": value,
        "n": 10,
        "n_errors": 1,
        "n_clusters": 5,
        "ci_low": value - 0.1,
        "ci_high": value + 0.1,
        "by": "kind" if level else None,
        "level": level,
    }


def summary_of(values: Mapping[str, float], breakdown: Mapping[str, float] | None = None) -> dict[str, Any]:
    rows = [estimate(m, v, "a") for m, v in (breakdown or {}).items()]
    return {
        "metrics": [estimate(m, v) for m, v in values.items()],
        "breakdowns": {"kind": rows} if rows else {},
    }


WITH_VARIANT = (
    MetricSpec("acc", "Accuracy", main=True),
    MetricSpec(
        "acc_all", "Accuracy (all)", variant_of="acc", variant_label="(all)", variant_legend="errors as 0"
    ),
    MetricSpec("recall", "Recall"),
)


def test_a_declared_variant_is_a_cell_in_its_metrics_row() -> None:
    task = task_of(*WITH_VARIANT)
    summary = summary_of({"acc": 0.5, "acc_all": 0.4, "recall": 0.9})
    columns = metric_columns(task, summary)
    assert columns == ("metric", "value", "95% CI", "(all)", "n", "episodes", "errors")
    rows = metric_rows(task, summary)
    assert [row[0] for row in rows] == ["Accuracy ★", "Recall"]
    assert dict(zip(columns, rows[0], strict=True))["(all)"] == "40.0%"
    assert dict(zip(columns, rows[1], strict=True))["(all)"] == "", "recall has no variant"
    assert legend(task, summary) == "value: errored items excluded; (all): errors as 0"


def test_a_variant_reading_the_same_as_its_metric_gets_no_column_and_the_legend_says_why() -> None:
    """A run without errors: "(all)" would only repeat "value" in every row."""
    task = task_of(*WITH_VARIANT)
    summary = summary_of({"acc": 0.5, "acc_all": 0.5, "recall": 0.9})
    assert metric_columns(task, summary) == ("metric", "value", "95% CI", "n", "episodes", "errors")
    assert [row[:3] for row in metric_rows(task, summary)] == [
        ("Accuracy ★", "50.0%", "[40.0, 60.0]"),
        ("Recall", "90.0%", "[80.0, 100.0]"),
    ]
    assert legend(task, summary) == (
        "value: errored items excluded; no (all) column (errors as 0): the same as value here"
    )


def test_without_declared_variants_there_is_no_variant_column_and_no_name_convention() -> None:
    task = task_of(MetricSpec("acc", "Accuracy", main=True), MetricSpec("acc_all", "Accuracy (all)"))
    summary = summary_of({"acc": 0.5, "acc_all": 0.4})
    assert metric_columns(task, summary) == ("metric", "value", "95% CI", "n", "episodes", "errors")
    rows = metric_rows(task, summary)
    assert [row[:2] for row in rows] == [("Accuracy ★", "50.0%"), ("Accuracy (all)", "40.0%")]
    assert legend(task, summary) == "value: errored items excluded"


def test_breakdowns_show_each_metric_once_without_its_variant() -> None:
    task = task_of(*WITH_VARIANT)
    values = {"acc": 0.5, "acc_all": 0.4, "recall": 0.9}
    [(label, headers, rows)] = breakdown_tables(task, summary_of(values, breakdown=values))
    assert (label, headers) == ("kind", ["Accuracy", "Recall"])
    assert rows == [["a", "50.0% (n=10)", "90.0% (n=10)"]]


def test_a_variant_needs_its_column_label() -> None:
    with pytest.raises(ValueError, match="acc_all"):
        MetricSpec("acc_all", "Accuracy (all)", variant_of="acc")


def test_halumem_shows_every_paper_style_metric_in_the_all_column(tmp_path: Path) -> None:
    task = HaluMemTask({}, tmp_path)
    names = {m.name for m in task.metrics}
    variants = {m.name: m.variant_of for m in task.metrics if m.variant_of}
    assert variants == {name: name.removesuffix("_all") for name in names if name.endswith("_all")}
    assert {m.variant_label for m in task.metrics if m.variant_of} == {"(all)"}
    errored = summary_of({"recall": 0.5, "recall_all": 0.4, "qa_correct": 0.3})
    assert "(all)" in metric_columns(task, errored)
    assert legend(task, errored) == (
        "value: errored items excluded; (all): the paper's denominators, errors counted as 0"
    )
