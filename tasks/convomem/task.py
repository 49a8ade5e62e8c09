"""ConvoMem (Pakhomov, Nijkamp, Xiong, arXiv 2511.10523) as a membench task: does a memory system beat
putting the whole history in context, as the history grows from 1 to 300 conversations?

One episode is one haystack: an item's evidence conversations among filler conversations of the same
persona (rebuilt with the paper's standard and batched generators, ``haystacks.py``), or one of the
release's pre-mixed test cases. Its questions are asked after its last conversation. Items recur
across context sizes and haystacks of one persona share its filler, so the persona is the
statistical cluster (``cluster_label``), not the haystack.

Without ``-T data=PATH`` the task builds seeded offline data in the official layout
(``data_builders/convomem.py``), with machine-checkable keys for the exact ``rule`` judge and an
offline reader (``fact-match``) that is right on every built item given the whole history.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from membench.core.errors import ConfigError
from membench.core.retrieval import probe_evidence
from membench.core.task import Contribution, Curve, MetricSpec, Task
from membench.core.types import Dataset, IngestRecord, Record
from membench_builders.convomem import BUILDER_VERSION
from membench_tasks.convomem.haystacks import PAPER_SIZES
from membench_tasks.convomem.metrics import BREAKDOWNS, METRICS, convomem_contributions

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.types import LLM
    from membench.readers.base import Reader


class ConvoMemTask(Task):
    name = "convomem"
    version = "2"
    contributions_per_episode = True
    description = "ConvoMem: accuracy and cost as the history grows to 300 conversations (arXiv 2511.10523)"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    breakdowns = BREAKDOWNS
    judge_names = ("rule", "llm")
    curves = (
        Curve("context_size", "accuracy", "Accuracy against conversations in the history", log_x=True),
        Curve(
            "context_size",
            "evidence_recall",
            "Evidence recall@k against conversations in the history",
            log_x=True,
        ),
        Curve("context_size", "context_words", "Words shown to the reader per question", log_x=True),
        Curve(
            "context_size", "llm_tokens", "LLM tokens per question (system's queries and reader)", log_x=True
        ),
        Curve("context_size", "cost_usd", "Cost per question (system's queries and reader)", log_x=True),
        Curve("context_size", "ingest_tokens", "Ingestion LLM tokens per conversation", log_x=True),
        Curve("context_size", "ingest_cost_usd", "Ingestion cost per conversation", log_x=True),
    )
    cluster_label = "persona_id"
    reader_names = ("fact-match",)
    default_reader = "fact-match"
    builder_options = ("personas", "filler", "messages")
    #: where and what to download: they decide no result of a run.
    check_options = ("parts", "revision")
    default_options: ClassVar[dict[str, str]] = {
        "data": "",
        "form": "evidence",
        "sizes": "1,3,10,30,100",
        "categories": "all",
        "evidence": "1,2",
        "per_cell": "2",
        "seed": "0",
        "batch_from": "50",
        "top_k": "10",
        "personas": "6",
        "filler": "300",
        "messages": "4",
        "parts": "evidence",
        "revision": "main",
    }
    #: one line per option, for ``membench list tasks``.
    option_help: ClassVar[dict[str, str]] = {
        "data": "the release's root or core_benchmark folder (data pull convomem); empty: built data",
        "form": "evidence (haystacks rebuilt from evidence and filler) or pre_mixed (the release's own)",
        "sizes": "conversations per haystack, a comma list, or paper (1 to 300, 15 sizes)",
        "categories": "all, or a comma list of labels (user_facts, assistant_facts, changing_facts, ...)",
        "evidence": "evidence messages per item, a comma list of 1-6, or all",
        "per_cell": "items per category x evidence count; each is asked at every size",
        "seed": "seed of the item sample and of the built data",
        "batch_from": "the size from which one haystack holds all of a persona's items (the paper's: 50)",
        "top_k": "memories retrieved per question",
        "personas": "built data: personas (the statistical clusters)",
        "filler": "built data: filler conversations per persona",
        "messages": "built data: messages per conversation",
        "parts": "data pull: what to download, a comma list of evidence, pre_mixed",
        "revision": "data pull: the hub revision (a commit, or main)",
    }

    def built_path(self) -> Path:
        """A folder named by every option that decides built data, and by the builder's version."""
        o = self.options
        name = f"convomem-p{o['personas']}-f{o['filler']}-m{o['messages']}-seed{o['seed']}-b{BUILDER_VERSION}"
        return self.data_dir / name

    def build(self) -> Path:
        from membench_builders.convomem import build_convomem

        return build_convomem(
            self.built_path(),
            personas=self.int_option("personas"),
            filler=self.int_option("filler"),
            messages=self.int_option("messages"),
            seed=self.int_option("seed"),
        )

    def load(self) -> Dataset:
        from membench_tasks.convomem.haystacks import load_convomem

        given = self.options["data"]
        path = Path(given) if given else self.built_path()
        if not given and not path.exists():
            self.build()
        form = self.options["form"]
        dataset = load_convomem(
            path,
            form=form,
            sizes=self._sizes(),
            categories=self._categories(),
            evidence=self._evidence(),
            per_cell=self._positive("per_cell"),
            seed=self.int_option("seed"),
            batch_from=self.int_option("batch_from"),
            top_k=self._positive("top_k"),
        )
        dataset.metadata["origin"] = (
            f"loaded from {given} ({form} form)"
            if given
            else "generated offline by data_builders/convomem.py (templates, machine-checkable keys)"
        )
        return dataset

    def pull(self, dest_dir: Path, sha256: str | None = None) -> Path:
        from membench_tasks.convomem.pull import pull_convomem

        if sha256 is not None:
            raise ConfigError(
                "--sha256 does not apply to convomem: the release is many files, and each is checked "
                "against the sha256 the hub lists for it"
            )
        parts = [p for p in self.options["parts"].split(",") if p]
        return pull_convomem(
            dest_dir,
            parts=parts,
            categories=self._categories(),
            evidence=self._evidence(),
            revision=self.options["revision"],
        )

    def make_reader(self, name: str) -> Reader:
        from membench_tasks.convomem.reader import FactMatchReader

        if name == "fact-match":
            return FactMatchReader()
        return super().make_reader(name)

    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        from membench_tasks.convomem import judges

        if name == "rule":
            return judges.RuleJudge()
        if name == "llm":
            if llm is None:
                raise ConfigError("the llm judge needs a model: --judge-llm MODEL")
            return judges.LLMJudge(llm)
        raise ConfigError(f"task convomem has no judge '{name}'; choose one of {', '.join(self.judge_names)}")

    def check_judge(self, judge: Judge, dataset: Dataset) -> None:
        """The rule judge reads machine-checkable keys, which only membench's built data has."""
        if judge.name == "rule" and any(probe.gold.get("keys") is None for probe in dataset.probes):
            raise ConfigError(
                "the rule judge needs machine-checkable keys, which only membench's built ConvoMem data "
                "has; judge official data with an LLM: --judge llm --judge-llm MODEL"
            )

    def evidence(self, dataset: Dataset) -> dict[str, list[str]]:
        """Each evidence conversation's evidence messages (what the oracle stores), by session id."""
        texts = {
            episode.episode_id: {s.session_id: " ".join(t.content for t in s.turns) for s in episode.sessions}
            for episode in dataset.episodes
        }
        evidence: dict[str, list[str]] = {}
        for probe in dataset.probes:
            for session_id in dict.fromkeys(e.session_id for e in probe_evidence(probe.labels)):
                held = texts[probe.episode_id][session_id]
                stated = [m["text"] for m in probe.gold["message_evidences"] if m["text"] in held]
                evidence.setdefault(session_id, [])
                evidence[session_id].extend(t for t in stated if t not in evidence[session_id])
        return evidence

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        return convomem_contributions(records, ingests)

    def _sizes(self) -> list[int]:
        text = self.options["sizes"].strip()
        if text == "paper":
            return list(PAPER_SIZES)
        sizes = self._ints("sizes", text)
        if any(size < 1 for size in sizes):
            raise ConfigError(f"task option sizes must be positive conversation counts, got '{text}'")
        return sorted(set(sizes))

    def _evidence(self) -> list[int] | None:
        text = self.options["evidence"].strip()
        if text == "all":
            return None
        counts = self._ints("evidence", text)
        if any(not 1 <= n <= 6 for n in counts):
            raise ConfigError(f"task option evidence takes counts from 1 to 6 (or all), got '{text}'")
        return sorted(set(counts))

    def _categories(self) -> list[str] | None:
        """The categories asked for (None = all); the loader and the pull check the names."""
        text = self.options["categories"].strip()
        if text == "all":
            return None
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        if not chosen:
            raise ConfigError("task option categories is empty (give all, or a comma list of labels)")
        return chosen

    def _ints(self, key: str, text: str) -> list[int]:
        try:
            values = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise ConfigError(f"task option {key} must be a comma list of integers, got '{text}'") from None
        if not values:
            raise ConfigError(f"task option {key} is empty")
        return values

    def _positive(self, key: str) -> int:
        value = self.int_option(key)
        if value < 1:
            raise ConfigError(f"task option {key} must be at least 1, got {value}")
        return value


TASK = ConvoMemTask
