"""SORT (sequence order recall, Pink et al. 2024) as a membench task: which of two segments came first?

Without ``-T data=PATH`` the task builds Book-SORT-like items with ``data_builders/sort.py`` from a
generated book (or from ``-T text=FILE``); with it, it loads the official Book-SORT release (CSV folder
or Hugging Face parquet). The paper's conditions are system choices on the same items:

- memory: any memory system (bm25, dense, mem0, ...) ingests the excerpt in order, chunk by chunk;
- in-context: the ``full-context`` system (the whole excerpt is handed to the reader);
- no-context: the ``no-memory`` system (the reader sees only the two segments).

Offline, the ``order`` reader (the task ships it: ``reader.py``) answers from the provenance (position,
session index, time) of the memories holding each segment and abstains when there is none; ``--llm``
lets the LLM reader answer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from membench.core.errors import ConfigError
from membench.core.identity import TaskIdentity
from membench.core.task import Contribution, Curve, MetricSpec, Task
from membench.core.types import Dataset, IngestRecord, Record
from membench_tasks.sort.metrics import BREAKDOWNS, METRICS, sort_contributions

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.types import LLM
    from membench.readers.base import Reader


class SortTask(Task):
    name = "sort"
    version = "1"
    contributions_per_episode = True
    description = "SORT: sequence order recall over book excerpts, Book-SORT format (arXiv 2410.08133)"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    breakdowns = BREAKDOWNS
    judge_names = ("rule",)
    curves = (Curve(axis="excerpt_length", metric="accuracy_guess"),)
    reader_names = ("order",)
    default_reader = "order"
    builder_options = ("text", "n", "seed")
    check_options = ("revision",)
    default_options: ClassVar[dict[str, str]] = {
        "data": "",
        "text": "",
        "excerpt_lengths": "250,1000",
        "segment_lengths": "20,50",
        "n": "10",
        "seed": "0",
        "chunk_words": "100",
        "top_k": "5",
        "split": "test",
        "revision": "main",
    }
    #: one line per option, for ``membench list tasks``.
    option_help: ClassVar[dict[str, str]] = {
        "data": "official Book-SORT: a folder of CSVs, or a parquet file or folder; empty: built items",
        "text": "a UTF-8 text file to build items from; empty: a generated book",
        "excerpt_lengths": "words per excerpt, a comma list (Book-SORT's: 250, 1000, 2500, 10000, "
        "20000)",
        "segment_lengths": "segment lengths in words, a comma list (the paper's: 20, 50)",
        "n": "built data: excerpts per condition (= pairs per distance bin)",
        "seed": "built data: the builder's seed",
        "chunk_words": "words per ingested chunk (one session each)",
        "top_k": "memories retrieved per question",
        "split": "test (excerpts 0-99, the paper's slice), validation (100-109) or all",
        "revision": "data pull: the hub revision (a branch, a tag or a commit; main)",
    }

    def identity(self) -> TaskIdentity:
        """As every task's, and a text to build from is known by its name (its bytes are in the data)."""
        identity = super().identity()
        if not self.options["data"] and self.options["text"]:
            identity["options"]["text"] = Path(self.options["text"]).name
        return identity

    def _lengths(self, key: str) -> list[int]:
        from membench_builders.sort import parse_lengths

        return parse_lengths(self.options[key], f"task option {key}")

    def _text_path(self) -> Path | None:
        return Path(self.options["text"]) if self.options["text"] else None

    def built_dir(self) -> Path:
        """Where built data lives: named by every option that decides it (the text by its hash), and by
        the builder's version."""
        from membench_builders.sort import BUILDER_VERSION

        text = self._text_path()
        if text is None:
            tag = "generated"
        else:
            if not text.is_file():
                raise ConfigError(f"text file not found: {text}")
            tag = f"{text.stem}-{hashlib.sha256(text.read_bytes()).hexdigest()[:12]}"
        lengths = f"e{'_'.join(map(str, self._lengths('excerpt_lengths')))}"
        lengths += f"-s{'_'.join(map(str, self._lengths('segment_lengths')))}"
        seed = self.int_option("seed")
        return self.data_dir / f"sort-{tag}-{lengths}-n{self.int_option('n')}-seed{seed}-b{BUILDER_VERSION}"

    def build(self) -> Path:
        from membench_builders.sort import build_sort

        return build_sort(
            self.built_dir(),
            text=self._text_path(),
            excerpt_lengths=self._lengths("excerpt_lengths"),
            segment_lengths=self._lengths("segment_lengths"),
            n=self.int_option("n"),
            seed=self.int_option("seed"),
        )

    def pull(self, dest_dir: Path, sha256: str | None = None) -> Path:
        from membench_tasks.sort.pull import pull_booksort

        if sha256 is not None:
            raise ConfigError(
                "--sha256 does not apply to sort: the release is one file per condition, and each is "
                "checked against the sha256 the hub lists for it"
            )
        return pull_booksort(
            dest_dir,
            excerpt_lengths=self._lengths("excerpt_lengths"),
            segment_lengths=self._lengths("segment_lengths"),
            revision=self.options["revision"],
        )

    def load(self) -> Dataset:
        from membench_builders.sort import INDEX_FILE
        from membench_tasks.sort.loader import load_sort

        if self.options["data"]:
            path = Path(self.options["data"])
            origin = "official Book-SORT release (CC0)"
        else:
            path = self.built_dir()
            if not (path / INDEX_FILE).exists():
                self.build()
            origin = "generated offline by data_builders/sort.py with Book-SORT's rules, not the release"
        dataset = load_sort(
            path,
            excerpt_lengths=self._lengths("excerpt_lengths"),
            segment_lengths=self._lengths("segment_lengths"),
            chunk_words=self.int_option("chunk_words"),
            top_k=self.int_option("top_k"),
            split=self.options["split"],
        )
        dataset.metadata["origin"] = origin
        return dataset

    def make_reader(self, name: str) -> Reader:
        from membench_tasks.sort.reader import OrderReader

        if name == "order":
            return OrderReader()
        return super().make_reader(name)

    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        from membench_tasks.sort.judge import OrderJudge

        if name == "rule":
            return OrderJudge()
        raise ConfigError(f"task sort has no judge '{name}'; choose one of {', '.join(self.judge_names)}")

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        return sort_contributions(records, ingests)


TASK = SortTask
