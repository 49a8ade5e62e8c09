"""The episodic-memory benchmark (Huet, Ben Houidi, Rossi, ICLR 2025) as a membench task.

Without ``-T data=PATH`` the task builds seeded offline books (``data_builders/episodic.py``): by
default four 20-chapter books and two 200-chapter books, so a run has six clusters (at least two per
size, so no size's interval is degenerate) and finishes in a few minutes on two cores;
``-T books=20x4,200x2,2000x1`` changes the mix. ``-T llm=MODEL`` (and ``-T llm_api_base=URL``) has an
LLM write the chapters instead of the templates. With ``-T data=PATH`` it loads the official release
(a book folder, or a folder of them) or a file the builder wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from membench.core.errors import ConfigError
from membench.core.task import Contribution, Curve, MetricSpec, Task
from membench.core.types import Dataset, IngestRecord, Record
from membench_builders.episodic import BUILDER_VERSION, DEFAULT_BOOKS
from membench_tasks.episodic.metrics import METRICS, episodic_contributions

if TYPE_CHECKING:
    from membench.judges.base import Judge
    from membench.llm.types import LLM
    from membench.readers.base import Reader


class EpisodicTask(Task):
    name = "episodic"
    version = "1"
    description = "Episodic memory: recall events by time, place, person and content (arXiv 2501.13121)"
    metrics: ClassVar[tuple[MetricSpec, ...]] = METRICS
    breakdowns = ("bin", "cue", "retrieved", "question_kind", "book_chapters")
    judge_names = ("match", "llm")
    #: the chapters grid is 20/200/2000 (the paper's book sizes): a logarithmic axis spaces it evenly.
    curves = (Curve(axis="book_chapters", metric="simple_recall", log_x=True),)
    #: answers list every event that matches the question's names (``reader.py``); the one-sentence
    #: extractive reader can neither list several events nor join cues written in different paragraphs.
    reader_names = ("session-match",)
    default_reader = "session-match"
    builder_options = ("books", "seed", "llm", "llm_api_base", "attempts")
    default_options: ClassVar[dict[str, str]] = {
        "data": "",
        "books": DEFAULT_BOOKS,
        "seed": "0",
        "llm": "",
        "llm_api_base": "",
        "attempts": "3",
    }
    #: one line per option, for ``membench list tasks``.
    option_help: ClassVar[dict[str, str]] = {
        "data": "an official book folder, a folder of them, or a builder JSONL file; empty: built books",
        "books": "built data: chapters x books, a comma list (20x10,200x2,2000x1 adds a 2,000-chapter book)",
        "seed": "built data: the builder's seed (each book gets its own from it)",
        "llm": "built data: a litellm model that writes the chapters; empty: templates",
        "llm_api_base": "built data: OpenAI-compatible base URL for llm",
        "attempts": "built data: tries per chapter an LLM writes before the event is dropped",
    }

    def built_path(self) -> Path:
        """Named by every option that decides built data (attempts only matter to an LLM writer), and by
        the builder's version."""
        o = self.options
        writer = "templates" if not o["llm"] else f"llm-{o['llm'].replace('/', '_')}-attempts{o['attempts']}"
        books = o["books"].replace(",", "_")
        return self.data_dir / f"episodic-{books}-seed{o['seed']}-{writer}-b{BUILDER_VERSION}.jsonl"

    def build(self) -> Path:
        from membench_builders.episodic import build_episodic

        llm = None
        if self.options["llm"]:
            from membench.llm.client import LLMClient

            llm = LLMClient(
                self.options["llm"], role="builder", api_base=self.options["llm_api_base"] or None
            )
        elif self.options["llm_api_base"]:
            raise ConfigError("task option llm_api_base needs llm=MODEL")
        return build_episodic(
            self.built_path(),
            books=self.options["books"],
            seed=self.int_option("seed"),
            llm=llm,
            attempts=self.int_option("attempts"),
        )

    def load(self) -> Dataset:
        from membench_tasks.episodic.loader import load_episodic

        if self.options["data"]:
            dataset = load_episodic(Path(self.options["data"]))
            dataset.metadata["origin"] = f"loaded from {self.options['data']}"
            return dataset
        path = self.built_path()
        if not path.exists():
            self.build()
        dataset = load_episodic(path)
        writer = "an LLM" if self.options["llm"] else "templates"
        dataset.metadata["origin"] = f"generated offline by data_builders/episodic.py (chapters by {writer})"
        return dataset

    def make_reader(self, name: str) -> Reader:
        from membench_tasks.episodic.reader import SessionMatchReader

        if name == "session-match":
            return SessionMatchReader()
        return super().make_reader(name)

    def make_judge(self, name: str, llm: LLM | None = None) -> Judge:
        from membench_tasks.episodic import judges

        if name == "match":
            return judges.MatchJudge()
        if name == "llm":
            if llm is None:
                raise ConfigError("the llm judge needs a model: --judge-llm MODEL")
            return judges.LLMJudge(llm)
        raise ConfigError(f"task episodic has no judge '{name}'; choose one of {', '.join(self.judge_names)}")

    def contributions(self, records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
        return episodic_contributions(records, ingests)


TASK = EpisodicTask
