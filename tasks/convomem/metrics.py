"""ConvoMem's metrics as contributions: accuracy, the evidence the system retrieved, and what each
answer cost, every one broken down by category, evidence count and context size.

- ``accuracy`` (main) = right / scored questions.
- ``evidence_recall``, ``evidence_hit``, ``evidence_mrr``: the shared retrieval metrics
  (``core.retrieval``) of the retrieved memories against the item's evidence conversations
  (session-level; recall is the paper's "retrieved evidence conversations", as a share). A memory
  matches by its ``session_id`` when every retrieved memory has one, else by the text of the evidence
  messages (labelled ``evidence_match``); remembering nothing is a true zero. These follow the shared
  rule on failures: a record whose reader or judge failed still scores what it retrieved.
- ``context_words`` = words of the memories the reader was shown (``core.text.tokens``): what the
  reader had to read, exact and free of any tokenizer, so it is comparable across readers.
- ``llm_tokens`` and ``cost_usd`` = the LLM tokens and cost of answering one question: the system's
  calls at query time and the reader's. The original counts only the answer call.
- ``ingest_tokens`` and ``ingest_cost_usd`` = the system's LLM tokens and cost per conversation it
  ingested (its ``ingest.jsonl`` usage), which the original leaves out. Per conversation, not per
  question: a batched haystack serves many questions, so a per-question share would fall where the
  layout changes (``batch_from``) rather than where the system's cost does. Each question carries its
  haystack's share of both the usage and the conversations, so the ratio is the usage over the
  conversations of the haystacks that were asked, clustered like every metric.
- The judge's calls are the evaluation's cost, not the system's, and are left out everywhere.

A record that errored (system, reader or judge) contributes den 0 with ``error=True`` to every other
metric: counted and shown, never scored wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from membench.core.retrieval import RETRIEVAL_METRICS, probe_evidence, retrieval_contributions
from membench.core.task import Contribution, MetricSpec
from membench.core.text import tokens
from membench.core.types import IngestRecord, Record, Usage, UsageByRole

BREAKDOWNS = ("category", "evidence_count", "context_size")
#: the labels every contribution carries: the breakdowns, and the persona (the statistical cluster).
CARRIED = (*BREAKDOWNS, "persona_id")
#: the roles whose LLM calls are the system's cost of answering.
COST_ROLES = ("system", "reader")

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy", "Accuracy", main=True, group="answers", note="right / scored questions"),
    *RETRIEVAL_METRICS,
    MetricSpec("context_words", "Words shown to the reader", better="lower", group="cost",
               scale=1.0, unit="", note="per question: the words of the retrieved memories"),
    MetricSpec("llm_tokens", "LLM tokens per question", better="lower", group="cost", scale=1.0,
               unit="", note="answering one question: the system's calls at query time and the reader's"),
    MetricSpec("cost_usd", "Cost per question", better="lower", group="cost", scale=1.0,
               unit="$", note="as LLM tokens per question, priced by litellm's cost map"),
    MetricSpec("ingest_tokens", "Ingestion LLM tokens per conversation", better="lower",
               group="cost", scale=1.0, unit="", note="the system's LLM calls while ingesting"),
    MetricSpec("ingest_cost_usd", "Ingestion cost per conversation", better="lower",
               group="cost", scale=1.0, unit="$", note="as ingestion tokens, priced by litellm's cost map"),
)  # fmt: skip

_RETRIEVAL = {spec.name for spec in RETRIEVAL_METRICS}
#: the metrics ``_values`` computes (``retrieval_contributions`` gives the retrieval ones).
_AGGREGATED = tuple(spec.name for spec in METRICS if spec.derive is None and spec.name not in _RETRIEVAL)


def convomem_contributions(records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
    """Every ConvoMem metric contribution of one run's latest records and ingests."""
    questions = Counter(record.episode_id for record in records)
    ingestion = _ingestion(ingests)
    out: list[Contribution] = []
    for record in records:
        labels = {key: record.labels[key] for key in CARRIED if key in record.labels}
        share = ingestion.get(record.episode_id, _Ingestion()).share(questions[record.episode_id])
        out.extend(
            Contribution(metric, record.episode_id, record.probe_id, num, den, labels, error)
            for metric, num, den, error in _values(record, share)
        )
        out.extend(retrieval_contributions(record, probe_evidence(record.labels)))
    return out


@dataclass(frozen=True)
class _Ingestion:
    """One haystack's ingestion: conversations ingested, and the system's LLM tokens and cost."""

    conversations: float = 0.0
    tokens: float = 0.0
    cost_usd: float = 0.0

    def add(self, usage: Usage) -> _Ingestion:
        return _Ingestion(
            self.conversations + 1,
            self.tokens + usage.prompt_tokens + usage.completion_tokens,
            self.cost_usd + usage.cost_usd,
        )

    def share(self, questions: int) -> _Ingestion:
        """One question's equal share of all three."""
        if questions == 0:
            return self
        return _Ingestion(self.conversations / questions, self.tokens / questions, self.cost_usd / questions)


def _values(record: Record, ingestion: _Ingestion) -> list[tuple[str, float, float, bool]]:
    """(metric, num, den, error) of one record; ``ingestion`` is its share of its haystack's."""
    if record.status == "error" or record.score is None or record.prediction is None:
        return [(name, 0.0, 0.0, True) for name in _AGGREGATED]
    memories = record.prediction.memories
    spent = _cost_roles(record.usage)
    values = [
        ("accuracy", record.score.values.get("correct", 0.0), 1.0, False),
        ("context_words", float(sum(len(tokens(m.text)) for m in memories)), 1.0, False),
        ("llm_tokens", float(spent.prompt_tokens + spent.completion_tokens), 1.0, False),
        ("cost_usd", spent.cost_usd, 1.0, False),
        ("ingest_tokens", ingestion.tokens, ingestion.conversations, False),
        ("ingest_cost_usd", ingestion.cost_usd, ingestion.conversations, False),
    ]
    return values


def _cost_roles(usage: UsageByRole) -> Usage:
    """The system's and the reader's usage, summed."""
    total = Usage()
    for role in COST_ROLES:
        total = total.add(usage.get(role, Usage()))
    return total


def _ingestion(ingests: Iterable[IngestRecord]) -> dict[str, _Ingestion]:
    """Each haystack's ingestion, from its sessions' ingest records (the system's usage only)."""
    by_episode: dict[str, _Ingestion] = {}
    for ingest in ingests:
        by_episode[ingest.episode_id] = by_episode.get(ingest.episode_id, _Ingestion()).add(
            ingest.usage.get("system", Usage())
        )
    return by_episode
