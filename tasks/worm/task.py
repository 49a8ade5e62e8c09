"""WorM (Sikarwar & Zhang, NeurIPS 2023 Datasets and Benchmarks), in text, as a membench task.

Ten working-memory tasks in 14 variants, each manipulating one factor (set size, list length,
retention interval, serial position, distractor similarity, cognitive load, domain interference).
Each frame is one memory write; probes come after the last frame; one trial is one episode (a fresh
memory per trial, as the original resets its network per trial; see ``loader.py``). Without
``-T data=PATH`` the task builds seeded trials in the official schema (``data_builders/worm.py``);
with it, it reads the release's ``wm_bench_data`` folder (its ``data_rand_trials.json`` per task).

The report draws each variant's score against each of its factors, serial-position curves for the
list tasks, the chance level on every plot and the paper's human curves beside the systems' (measured
on the image tasks: a qualitative reference for the direction of an effect).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from membench.core.errors import ConfigError
from membench.core.task import Contribution, Curve, MetricSpec, ReferenceCurve, Task
from membench.core.types import Dataset, IngestRecord, Record
from membench_builders.worm import BUILDER_VERSION
from membench_tasks.worm.metrics import METRICS, worm_contributions
from membench_tasks.worm.variant import Variant
from membench_tasks.worm.variants import all_variants

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.types import LLM
    from membench.readers.base import Reader

#: the variants whose questions cover serial positions of a studied list (primacy and recency).
POSITION_VARIANTS = ("sfr", "vir", "vsr", "vsrec")
POSITION = "serial_position"


def variant_curves(variant: Variant) -> list[Curve]:
    """A variant's curves: its score against every numeric factor (one line per level of each
    non-numeric factor, such as CS's domain pairing), its serial-position curve where it has one, and
    a curve for every human reference measured under one condition (``Reference.where``)."""
    cells = variant.cells()
    # A factor with one level (STS's fixed trial length) has nothing to draw a curve along.
    varied = [f for f in variant.factors if len({str(c[f]) for c in cells}) > 1]
    numeric = [f for f in varied if all(isinstance(c[f], int | float) for c in cells)]
    others = [f for f in varied if f not in numeric]
    base = {"variant": variant.name}
    specs: list[tuple[str, str, dict[str, str]]] = []
    for axis in numeric:
        if not others:
            specs.append((axis, "score", base))
        for other in others:
            for level in sorted({str(c[other]) for c in cells}):
                specs.append((axis, "score", {**base, other: level}))
    if variant.name in POSITION_VARIANTS:
        specs.append((POSITION, "position_accuracy", base))
    for ref in variant.references:
        metric = "position_accuracy" if ref.axis == POSITION else "score"
        spec = (ref.axis, metric, {**base, **ref.where})
        if spec not in specs:
            specs.append(spec)
    curves = []
    for axis, metric, where in specs:
        refs = tuple(
            ReferenceCurve(
                f"humans: {r.label} (image task)" if r.kind == "human" else f"chance: {r.label}", r.points
            )
            for r in variant.references
            if r.axis == axis and {**base, **r.where} == where
        )
        shown = ", ".join(f"{k}={v}" for k, v in where.items() if k != "variant")
        title = f"{variant.name}: {'accuracy' if metric == 'position_accuracy' else 'score'} against {axis}"
        curves.append(
            Curve(
                axis,
                metric,
                f"{title} ({shown})" if shown else title,
                where=where,
                chance=variant.chance,
                references=refs,
            )
        )
    return curves


class WormTask(Task):
    name = "worm"
    version = "1"
    contributions_per_episode = True
    description = "WorM: working memory in 14 text variants, with the curves it reads (NeurIPS 2023 D&B)"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    breakdowns = ("variant",)
    judge_names = ("rule",)
    curves = tuple(c for v in all_variants().values() for c in variant_curves(v))
    #: set size, list length and the rest mean different things in different variants.
    latency_axes = ()
    reader_names = ("worm-solve",)
    default_reader = "worm-solve"
    default_options: ClassVar[dict[str, str]] = {
        "data": "",
        "variants": "all",
        "per_cell": "2",
        "seed": "0",
        "split": "test",
        "top_k": "10",
    }
    #: one line per option, for ``membench list tasks``.
    option_help: ClassVar[dict[str, str]] = {
        "data": "the release's wm_bench_data folder (data_rand_trials.json per task); empty: built trials",
        "variants": "all, or a comma list of " + ", ".join(all_variants()),
        "per_cell": "trials per condition cell: built, or a seeded subsample of official data, or all",
        "seed": "seed of the built trials and of the subsample",
        "split": "test, or train / gen_test of official data",
        "top_k": "memories retrieved per probe",
    }

    def variants(self) -> list[Variant]:
        known = all_variants()
        text = self.options["variants"].strip()
        if text == "all":
            return list(known.values())
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            raise ConfigError(
                f"task option variants takes all or a comma list of {', '.join(known)}; got '{text}'"
            )
        return [known[name] for name in chosen]

    def built_path(self) -> Path:
        """Named by every option that decides built data, and by the builder's version."""
        return (
            self.data_dir / f"worm-pc{self.options['per_cell']}-seed{self.options['seed']}-b{BUILDER_VERSION}"
        )

    def build(self) -> Path:
        from membench_builders.worm import build_worm

        per_cell = self._per_cell()
        if per_cell is None:
            raise ConfigError("task option per_cell=all applies to official data; built data needs a number")
        return build_worm(
            self.built_path(), list(all_variants().values()), per_cell=per_cell, seed=self.int_option("seed")
        )

    def load(self) -> Dataset:
        from membench_tasks.worm.loader import load_worm

        given = self.options["data"]
        path = Path(given) if given else self.built_path()
        if not given and not path.exists():
            self.build()
        # Built data holds per_cell trials per cell already; a subsample would regroup them by their
        # labels, which merges cells (SC's and SI's same-figure trials all carry offset 0).
        dataset = load_worm(
            path,
            self.variants(),
            split=self.options["split"],
            per_cell=self._per_cell() if given else None,
            seed=self.int_option("seed"),
            top_k=self._top_k(),
        )
        dataset.metadata["origin"] = (
            f"loaded from {given}" if given else "generated offline by data_builders/worm.py (seeded trials)"
        )
        return dataset

    def make_reader(self, name: str) -> Reader:
        from membench_tasks.worm.reader import SolveReader

        if name == "worm-solve":
            return SolveReader()
        return super().make_reader(name)

    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        from membench_tasks.worm.judges import RuleJudge

        if name == "rule":
            return RuleJudge()
        raise ConfigError(f"task worm has no judge '{name}'; choose one of {', '.join(self.judge_names)}")

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        return worm_contributions(records, ingests)

    def _per_cell(self) -> int | None:
        if self.options["per_cell"] == "all":
            return None
        value = self.int_option("per_cell")
        if value < 1:
            raise ConfigError(f"task option per_cell must be at least 1, got {value}")
        return value

    def _top_k(self) -> int:
        value = self.int_option("top_k")
        if value < 1:
            raise ConfigError(f"task option top_k must be at least 1, got {value}")
        return value


TASK = WormTask
