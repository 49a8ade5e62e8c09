"""HaluMem as a membench task: operation-level evaluation of extraction, updating and QA.

Without ``-T data=PATH`` the task builds seeded offline data in the official schema (with the
builder's machine-checkable keys, so the rule judge is exact); with it, it loads the official release.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from membench.core.errors import ConfigError
from membench.core.task import Contribution, MetricSpec, Task
from membench.core.types import Dataset, IngestRecord, Probe, Record
from membench_tasks.halumem.judge_base import true_points
from membench_tasks.halumem.metrics import METRICS, halumem_contributions

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.types import LLM


class HaluMemTask(Task):
    name = "halumem"
    version = "3"
    contributions_per_episode = True
    description = "HaluMem: memory extraction, updating and QA, judged per operation (arXiv 2511.03506)"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    breakdowns = ("question_type", "memory_type")
    judge_names = ("rule", "lexical", "llm")
    builder_options = ("users", "sessions", "turns", "noise", "seed")
    check_options = ("sha256", "revision")
    default_options: ClassVar[dict[str, str]] = {
        "data": "",
        "sha256": "",
        "variant": "medium",
        "revision": "main",
        "users": "10",
        "sessions": "8",
        "turns": "8",
        "noise": "0",
        "seed": "0",
    }
    #: one line per option, for ``membench list tasks``.
    option_help: ClassVar[dict[str, str]] = {
        "data": "an official HaluMem-Medium.jsonl or HaluMem-Long.jsonl; empty: the seeded builder's data",
        "sha256": "checksum the data file must have, checked before loading (and by data pull)",
        "variant": "medium or long (noise rounds and sessions); also the file data pull fetches",
        "revision": "data pull: the hub revision (a branch, a tag or a commit; main)",
        "users": "built data: users, one episode each",
        "sessions": "built data: real sessions per user",
        "turns": "built data: rounds (a user and an assistant message) per session, at least 6",
        "noise": "built data: generated noise sessions per user (variant=long only)",
        "seed": "built data: the builder's seed (the same seed gives the same file)",
    }

    def built_path(self) -> Path:
        """Named by every option that decides built data, and by the builder's version."""
        from membench_builders.halumem import BUILDER_VERSION

        o = self.options
        sizes = f"u{o['users']}-s{o['sessions']}-t{o['turns']}-n{o['noise']}"
        return self.data_dir / f"halumem-{o['variant']}-{sizes}-seed{o['seed']}-b{BUILDER_VERSION}.jsonl"

    def build(self) -> Path:
        from membench_builders.halumem import build_halumem

        if self.options["variant"] not in ("medium", "long"):
            raise ConfigError(f"task option variant must be medium or long, got '{self.options['variant']}'")
        return build_halumem(
            self.built_path(),
            users=self.int_option("users"),
            sessions=self.int_option("sessions"),
            turns=self.int_option("turns"),
            noise=self.int_option("noise"),
            variant=self.options["variant"],
            seed=self.int_option("seed"),
        )

    def pull(self, dest_dir: Path, sha256: str | None = None) -> Path:
        from membench_tasks.halumem.pull import pull_halumem

        return pull_halumem(
            self.options["variant"],
            dest_dir,
            revision=self.options["revision"],
            sha256=sha256 or self.options["sha256"] or None,
        )

    def load(self) -> Dataset:
        from membench_tasks.halumem.loader import load_halumem, verify_sha256

        if self.options["data"]:
            path = Path(self.options["data"])
            if not path.exists():
                raise ConfigError(
                    f"HaluMem file not found: {path}. Download HaluMem-Medium.jsonl or HaluMem-Long.jsonl "
                    "(membench data pull halumem, or by hand) and pass -T data=PATH"
                )
            if self.options["sha256"]:
                verify_sha256(path, self.options["sha256"])
            dataset = load_halumem(path)
            dataset.metadata["origin"] = "official HaluMem release (CC-BY-NC-ND-4.0)"
            return dataset
        path = self.built_path()
        if not path.exists():
            self.build()
        dataset = load_halumem(path, variant=self.options["variant"])
        dataset.metadata["origin"] = "generated offline by data_builders/halumem.py, not the official release"
        return dataset

    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        if name == "rule":
            from membench_tasks.halumem.judge_rule import RuleJudge

            return RuleJudge()
        if name == "lexical":
            from membench_tasks.halumem.judge_lexical import LexicalJudge

            return LexicalJudge()
        if name == "llm":
            from membench_tasks.halumem.judge_llm import LLMJudge

            if llm is None:
                raise ConfigError("the llm judge needs a model: --judge-llm MODEL")
            return LLMJudge(llm)
        raise ConfigError(f"task halumem has no judge '{name}'; choose one of {', '.join(self.judge_names)}")

    def check_judge(self, judge: Judge, dataset: Dataset) -> None:
        """Refuse up front a judge that cannot score this data (the rule judge on official data)."""
        from membench_tasks.halumem.judge_rule import RuleJudge

        if isinstance(judge, RuleJudge):
            RuleJudge.check_dataset(dataset)

    def evidence(self, dataset: Dataset) -> dict[str, list[str]]:
        """Each evaluated session's memory points about the user (its extraction probe's gold, less the
        assistant's distractor claims): the memories a perfect extraction would have stored."""
        sessions = {e.episode_id: e.sessions for e in dataset.episodes}
        evidence: dict[str, list[str]] = {}
        for probe in dataset.probes:
            if probe.kind == "extraction":
                session_id = sessions[probe.episode_id][probe.after_session].session_id
                evidence[session_id] = [point["content"] for point in true_points(probe)]
        return evidence

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        return halumem_contributions(records, ingests)

    def expected_judge_calls(self, probe: Probe) -> int:
        """Integrity calls per gold point for extraction (accuracy calls depend on what is extracted)."""
        if probe.kind == "extraction":
            return len(probe.gold.get("memory_points", []))
        return 1


TASK = HaluMemTask
