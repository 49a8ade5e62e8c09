"""LoCoMo (Maharana et al., ACL 2024; snap-research/locomo) as a membench task: can a memory system
answer questions about very long two-person conversations, many sessions and weeks long?

One conversation is one episode (both speakers' turns, sessions in order with their dates); each QA
item is a probe asked after the last session. The official release has only 10 conversations, so any
interval or test has G = 10 clusters and separates large differences only: every run's data line
says so (``clusters_caveat``), and the README explains it.

Without ``-T data=PATH`` the task builds seeded offline data in the official schema
(``data_builders/locomo.py``), with machine-checkable keys for the exact ``rule`` judge and an offline
reader (``turn-match``) that is right on every built item given the evidence turns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from membench.core.errors import ConfigError
from membench.core.task import Contribution, MetricSpec, Task
from membench.core.types import Dataset, IngestRecord, Record
from membench_builders.locomo import BUILDER_VERSION
from membench_tasks.locomo.metrics import BREAKDOWNS, METRICS, locomo_contributions
from membench_tasks.locomo.pull import PINNED_COMMIT

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.types import LLM
    from membench.readers.base import Reader


def clusters_caveat(conversations: int) -> str:
    """What every run's data line says: the conversations are the clusters, and few of them."""
    return f"{conversations} conversations, so G = {conversations} clusters: only large differences separate"


class LoCoMoTask(Task):
    name = "locomo"
    version = "1"
    description = (
        "LoCoMo: QA over very long two-person conversations, official token F1 and an LLM judge "
        "(ACL 2024; 10 conversations, so G = 10)"
    )
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    breakdowns = BREAKDOWNS
    judge_names = ("f1", "rule", "llm")
    reader_names = ("turn-match",)
    default_reader = "turn-match"
    builder_options = ("conversations", "sessions", "turns", "decoys", "seed")
    #: where to download from: it decides no result of a run.
    check_options = ("revision",)
    default_options: ClassVar[dict[str, str]] = {
        "data": "",
        "top_k": "5",
        "judge_style": "strict",
        "conversations": "4",
        "sessions": "6",
        "turns": "10",
        "decoys": "2",
        "seed": "0",
        "revision": PINNED_COMMIT,
    }
    option_help: ClassVar[dict[str, str]] = {
        "data": "locomo10.json, or the folder of a pull (data pull locomo); empty: built data",
        "top_k": "memories retrieved per question (the original's RAG default: 5)",
        "judge_style": "llm judge: strict (default) or generous (the lenient rubric most papers use)",
        "conversations": "built data: conversations (the episodes and statistical clusters)",
        "sessions": "built data: sessions per conversation",
        "turns": "built data: turns per session",
        "decoys": "built data: turns per fact type and speaker with a fact's words, not its answer",
        "seed": "built data: the seed",
        "revision": "data pull: the snap-research/locomo commit (or branch) to fetch",
    }

    def built_path(self) -> Path:
        """A file named by every option that decides built data, and by the builder's version."""
        o = self.options
        name = (
            f"locomo-c{o['conversations']}-s{o['sessions']}-t{o['turns']}-d{o['decoys']}-seed{o['seed']}"
            f"-b{BUILDER_VERSION}"
        )
        return self.data_dir / f"{name}.json"

    def build(self) -> Path:
        from membench_builders.locomo import build_locomo

        return build_locomo(
            self.built_path(),
            conversations=self.int_option("conversations"),
            sessions=self.int_option("sessions"),
            turns=self.int_option("turns"),
            decoys=self.int_option("decoys"),
            seed=self.int_option("seed"),
        )

    def load(self) -> Dataset:
        from membench_tasks.locomo.loader import load_locomo, locomo_file

        given = self.options["data"]
        path = locomo_file(Path(given)) if given else self.built_path()
        if not given and not path.exists():
            self.build()
        top_k = self.int_option("top_k")
        if top_k < 1:
            raise ConfigError(f"task option top_k must be at least 1, got {top_k}")
        dataset = load_locomo(path, top_k=top_k)
        origin = (
            f"loaded from {given}"
            if given
            else "generated offline by data_builders/locomo.py (templates, machine-checkable keys)"
        )
        dataset.metadata["origin"] = f"{origin}; {clusters_caveat(len(dataset.episodes))}"
        return dataset

    def pull(self, dest_dir: Path, sha256: str | None = None) -> Path:
        from membench_tasks.locomo.pull import pull_locomo

        return pull_locomo(dest_dir, revision=self.options["revision"], sha256=sha256)

    def make_reader(self, name: str) -> Reader:
        from membench_tasks.locomo.reader import TurnMatchReader

        if name == "turn-match":
            return TurnMatchReader()
        return super().make_reader(name)

    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        from membench_tasks.locomo import judges

        if name == "f1":
            return judges.F1Judge()
        if name == "rule":
            return judges.RuleJudge()
        if name == "llm":
            style = self.options["judge_style"]
            if style not in judges.STYLES:
                raise ConfigError(f"task option judge_style must be strict or generous, got '{style}'")
            if llm is None:
                raise ConfigError("the llm judge needs a model: --judge-llm MODEL")
            return judges.LLMJudge(llm, cast("judges.Style", style))
        raise ConfigError(f"task locomo has no judge '{name}'; choose one of {', '.join(self.judge_names)}")

    def check_judge(self, judge: Judge, dataset: Dataset) -> None:
        """The rule judge reads machine-checkable keys, which only membench's built data has."""
        if judge.name == "rule" and any("keys" not in probe.gold for probe in dataset.probes):
            raise ConfigError(
                "the rule judge needs machine-checkable keys, which only membench's built LoCoMo data "
                "has; score official data with the official F1 (--judge f1) or an LLM (--judge llm "
                "--judge-llm MODEL)"
            )

    def evidence(self, dataset: Dataset) -> dict[str, list[str]]:
        """The evidence turns of every question as the conversation has them (speaker first): what
        the oracle stores, by session id."""
        from membench.core.retrieval import probe_evidence

        turns = {e.episode_id: [t.content for s in e.sessions for t in s.turns] for e in dataset.episodes}
        held: dict[str, list[str]] = {}
        for probe in dataset.probes:
            for item in probe_evidence(probe.labels):
                assert item.position is not None  # LoCoMo's evidence is always one turn
                texts = held.setdefault(item.session_id, [])
                text = turns[probe.episode_id][item.position]
                if text not in texts:
                    texts.append(text)
        return held

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        return locomo_contributions(records)


TASK = LoCoMoTask
