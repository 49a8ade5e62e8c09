"""LongMemEval (Wu et al., ICLR 2025, arXiv 2410.10813) as a membench task: can a chat assistant
answer from a long, timestamped history of sessions with the user?

One question is one episode: its own haystack of sessions is ingested oldest first, then the question
is asked, with its date shown to the reader. Abstention questions are those whose id ends in
``_abs``, judged by the abstention rule whatever their type (``judges.rule_for``). Metrics are
upstream's (overall, task-averaged and abstention accuracy, by type) and the session-level retrieval
of the answer sessions (``metrics.py``).

The statistical cluster is the episode (one question): each question has a haystack of its own and
its own evidence, and upstream treats them as independent items. Haystacks share filler sessions
(the release's from ShareGPT/UltraChat and its simulated sessions, the built data's from one pool),
but a filler session holds no answer, so sharing it ties no two questions' outcomes together beyond
what a system's general quality does; clustering by filler would leave no clusters to resample.

Without ``-T data=PATH`` the task builds seeded offline data in the official schema
(``data_builders/longmemeval.py``), with machine-checkable keys for the exact ``rule`` judge; its
questions are answered offline by ConvoMem's ``fact-match`` reader from the right session.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from membench.core.errors import ConfigError
from membench.core.retrieval import probe_evidence
from membench.core.task import Contribution, MetricSpec, Task
from membench.core.types import Dataset, IngestRecord, Record
from membench_tasks.longmemeval.metrics import BREAKDOWNS, METRICS, longmemeval_contributions

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.types import LLM
    from membench.readers.base import Reader


class LongMemEvalTask(Task):
    name = "longmemeval"
    version = "1"
    contributions_per_episode = True
    description = "LongMemEval: questions over a long timestamped chat history, per type (arXiv 2410.10813)"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    breakdowns = BREAKDOWNS
    judge_names = ("rule", "llm")
    reader_names = ("fact-match",)
    default_reader = "fact-match"
    builder_options = ("per_type", "abstention", "sessions", "turns", "pool", "seed")
    #: what to download: it decides no result of a run (the file's contents do, in the fingerprint).
    check_options = ("file", "revision")
    default_options: ClassVar[dict[str, str]] = {
        "data": "",
        "file": "s",
        "revision": "main",
        "top_k": "10",
        "per_type": "4",
        "abstention": "5",
        "sessions": "9",
        "turns": "4",
        "pool": "40",
        "seed": "0",
    }
    #: one line per option, for ``membench list tasks``.
    option_help: ClassVar[dict[str, str]] = {
        "data": "an official LongMemEval JSON file (data pull longmemeval); empty: built data",
        "file": "data pull: s, m or oracle (longmemeval_s_cleaned.json, ..._m_..., longmemeval_oracle.json)",
        "revision": "data pull: the hub revision (a branch, a tag or a commit; main)",
        "top_k": "memories retrieved per question (the k of the retrieval metrics)",
        "per_type": "built data: questions of each of the six types",
        "abstention": "built data: abstention (_abs) questions",
        "sessions": "built data: sessions per haystack, at least 3",
        "turns": "built data: turns per session, an even number",
        "pool": "built data: filler sessions shared by every haystack",
        "seed": "built data: the builder's seed (the same seed gives the same file)",
    }

    def built_path(self) -> Path:
        """Named by every option that decides built data, and by the builder's version."""
        from membench_builders.longmemeval import BUILDER_VERSION

        o = self.options
        sizes = f"q{o['per_type']}-a{o['abstention']}-s{o['sessions']}-t{o['turns']}-p{o['pool']}"
        return self.data_dir / f"longmemeval-{sizes}-seed{o['seed']}-b{BUILDER_VERSION}.json"

    def build(self) -> Path:
        from membench_builders.longmemeval import build_longmemeval

        return build_longmemeval(
            self.built_path(),
            per_type=self.int_option("per_type"),
            abstention=self.int_option("abstention"),
            sessions=self.int_option("sessions"),
            turns=self.int_option("turns"),
            pool=self.int_option("pool"),
            seed=self.int_option("seed"),
        )

    def load(self) -> Dataset:
        from membench_tasks.longmemeval.loader import load_longmemeval

        top_k = self.int_option("top_k")
        if top_k < 1:
            raise ConfigError(f"task option top_k must be at least 1, got {top_k}")
        given = self.options["data"]
        path = Path(given) if given else self.built_path()
        if not given and not path.exists():
            self.build()
        dataset = load_longmemeval(path, top_k=top_k)
        dataset.metadata["origin"] = (
            f"loaded from {given}"
            if given
            else "generated offline by data_builders/longmemeval.py (templates, machine-checkable keys)"
        )
        return dataset

    def pull(self, dest_dir: Path, sha256: str | None = None) -> Path:
        from membench_tasks.longmemeval.pull import pull_longmemeval

        return pull_longmemeval(
            self.options["file"], dest_dir, revision=self.options["revision"], sha256=sha256
        )

    def make_reader(self, name: str) -> Reader:
        from membench_tasks.convomem.reader import FactMatchReader

        if name == "fact-match":
            return FactMatchReader()
        return super().make_reader(name)

    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        from membench_tasks.longmemeval import judges

        if name == "rule":
            return judges.RuleJudge()
        if name == "llm":
            if llm is None:
                raise ConfigError("the llm judge needs a model: --judge-llm MODEL")
            return judges.LLMJudge(llm)
        raise ConfigError(
            f"task longmemeval has no judge '{name}'; choose one of {', '.join(self.judge_names)}"
        )

    def check_judge(self, judge: Judge, dataset: Dataset) -> None:
        """The rule judge reads machine-checkable keys, which only membench's built data has."""
        if judge.name == "rule" and any(probe.gold.get("keys") is None for probe in dataset.probes):
            raise ConfigError(
                "the rule judge needs machine-checkable keys, which only membench's built LongMemEval data "
                "has; judge official data with an LLM: --judge llm --judge-llm MODEL"
            )

    def evidence(self, dataset: Dataset) -> dict[str, list[str]]:
        """Each answer session's answer turns (what the oracle stores), by session id."""
        evidence: dict[str, list[str]] = {}
        for probe in dataset.probes:
            for item in probe_evidence(probe.labels):
                held = evidence.setdefault(item.session_id, [])
                held.extend(line for line in item.text.splitlines() if line and line not in held)
        return evidence

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        return longmemeval_contributions(records)


TASK = LongMemEvalTask
