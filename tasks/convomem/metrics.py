"""ConvoMem's metrics as contributions: accuracy, the evidence the system retrieved, and what each
answer cost, every one broken down by category, evidence count and context size.

- ``accuracy`` (main) = right / scored questions.
- ``evidence_retrieved`` = evidence conversations among the retrieved memories / the item's evidence
  conversations (the paper's "retrieved evidence conversations", as a share). It needs provenance: a
  question whose retrieved memories all lack ``session_id`` contributes nothing (N/A, not zero);
  remembering nothing (no memories) is a true zero.
- ``context_words`` = words of the memories the reader was shown (``core.text.tokens``): what the
  reader had to read, exact and free of any tokenizer, so it is comparable across readers.
- ``llm_tokens`` and ``cost_usd`` = the system's and the reader's LLM tokens and cost per question.
  The original counts only the answer call; here the system's ingestion (its ``ingest.jsonl`` usage for
  the haystack, shared equally by the haystack's questions) and its query-time calls count too. The
  judge's calls are the evaluation's cost, not the system's, and are left out.

A record that errored (system, reader or judge) contributes den 0 with ``error=True`` to every metric:
counted and shown, never scored wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

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
    MetricSpec("evidence_retrieved", "Evidence conversations retrieved", group="retrieval",
               note="evidence conversations among the retrieved memories / the item's evidence "
                    "conversations; N/A for a system that gives no provenance"),
    MetricSpec("context_words", "Words shown to the reader", higher_is_better=False, group="cost",
               scale=1.0, unit="", note="per question: the words of the retrieved memories"),
    MetricSpec("llm_tokens", "LLM tokens per question", higher_is_better=False, group="cost", scale=1.0,
               unit="", note="system (ingestion shared over the haystack's questions, and queries) and "
                             "reader; the judge's calls are not counted"),
    MetricSpec("cost_usd", "Cost per question", higher_is_better=False, group="cost", scale=1.0,
               unit="$", note="as LLM tokens, priced by litellm's cost map"),
)  # fmt: skip

_AGGREGATED = tuple(spec.name for spec in METRICS if spec.derive is None)


def convomem_contributions(records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
    """Every ConvoMem metric contribution of one run's latest records and ingests."""
    questions = Counter(record.episode_id for record in records)
    ingest_cost = _ingest_cost(ingests)
    out: list[Contribution] = []
    for record in records:
        labels = {key: record.labels[key] for key in CARRIED if key in record.labels}
        tokens_spent, usd = ingest_cost.get(record.episode_id, (0.0, 0.0))
        share = (tokens_spent / questions[record.episode_id], usd / questions[record.episode_id])
        out.extend(
            Contribution(metric, record.episode_id, record.probe_id, num, den, labels, error)
            for metric, num, den, error in _values(record, share)
        )
    return out


def _values(record: Record, ingest_share: tuple[float, float]) -> list[tuple[str, float, float, bool]]:
    """(metric, num, den, error) of one record; ``ingest_share`` is its (tokens, cost) of ingestion."""
    if record.status == "error" or record.score is None or record.prediction is None:
        return [(name, 0.0, 0.0, True) for name in _AGGREGATED]
    memories = record.prediction.memories
    spent = _cost_roles(record.usage)
    values = [
        ("accuracy", record.score.values.get("correct", 0.0), 1.0, False),
        ("context_words", float(sum(len(tokens(m.text)) for m in memories)), 1.0, False),
        ("llm_tokens", spent.prompt_tokens + spent.completion_tokens + ingest_share[0], 1.0, False),
        ("cost_usd", spent.cost_usd + ingest_share[1], 1.0, False),
    ]
    evidence = [s for s in record.labels.get("_evidence_sessions", "").split(",") if s]
    if evidence and (not memories or any(m.session_id for m in memories)):
        found = {m.session_id for m in memories} & set(evidence)
        values.append(("evidence_retrieved", float(len(found)), float(len(evidence)), False))
    return values


def _cost_roles(usage: UsageByRole) -> Usage:
    """The system's and the reader's usage, summed."""
    total = Usage()
    for role in COST_ROLES:
        total = total.add(usage.get(role, Usage()))
    return total


def _ingest_cost(ingests: Iterable[IngestRecord]) -> dict[str, tuple[float, float]]:
    """(tokens, cost) of each episode's ingestion."""
    by_episode: dict[str, tuple[float, float]] = {}
    for ingest in ingests:
        usage = _cost_roles(ingest.usage)
        tokens_so_far, usd = by_episode.get(ingest.episode_id, (0.0, 0.0))
        by_episode[ingest.episode_id] = (
            tokens_so_far + usage.prompt_tokens + usage.completion_tokens,
            usd + usage.cost_usd,
        )
    return by_episode
