"""The nouns every part of membench speaks: what flows from a dataset to a record.

Everything here is a pydantic model so that a record read back from disk is validated the same way
it was written. Fields that hold gold data a memory system must never see (``Probe.gold``) live only
on probes; systems receive ``Session`` objects and query strings, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# ---------------------------------------------------------------- what a system ingests


class Turn(BaseModel):
    """One message of a dialogue."""

    model_config = ConfigDict(frozen=True)

    role: str
    content: str
    timestamp: str | None = None


class Session(BaseModel):
    """The unit a memory system ingests at once (one conversation, one book chunk, ...)."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    turns: list[Turn]
    start_time: str | None = None
    end_time: str | None = None
    # False for sessions that are ingested but never evaluated (HaluMem-Long's noise sessions).
    evaluated: bool = True


class Episode(BaseModel):
    """One memory state per (system, episode): also the statistical cluster."""

    model_config = ConfigDict(frozen=True)

    episode_id: str
    sessions: list[Session]
    metadata: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------- what is asked, and when

ProbeMode = Literal["session_memories", "retrieve", "answer"]


class Probe(BaseModel):
    """A question put to a system after a given session of an episode.

    ``mode`` says what the runner collects as the prediction:
    - ``session_memories``: what the system extracted from session ``after_session``;
    - ``retrieve``: the top ``top_k`` memories for ``query``;
    - ``answer``: the reader's answer to ``question`` from the top ``top_k`` memories for ``query``.
    """

    model_config = ConfigDict(frozen=True)

    probe_id: str
    episode_id: str
    after_session: int
    kind: str
    mode: ProbeMode
    question: str = ""
    query: str = ""
    top_k: int = 10
    #: what the reader is shown beside the question (SORT's two segments); never gold.
    inputs: dict[str, str] = Field(default_factory=dict)
    gold: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class Dataset(BaseModel):
    """Episodes and their probes as one task loaded them, with a fingerprint of the source."""

    name: str
    episodes: list[Episode]
    probes: list[Probe]
    fingerprint: str
    source: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    def probes_by_episode(self) -> dict[str, list[Probe]]:
        grouped: dict[str, list[Probe]] = {e.episode_id: [] for e in self.episodes}
        for probe in self.probes:
            grouped[probe.episode_id].append(probe)
        return grouped


# ---------------------------------------------------------------- what comes back


class Memory(BaseModel):
    """One memory a system returned, with whatever provenance it gives."""

    text: str
    score: float | None = None
    session_id: str | None = None
    position: int | None = None
    timestamp: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    """Tokens and cost of LLM calls made for one role (system, reader, judge)."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            cached_calls=self.cached_calls + other.cached_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


UsageByRole = dict[str, Usage]


def merge_usage(*parts: UsageByRole) -> UsageByRole:
    """Sum usage dictionaries role by role."""
    total: UsageByRole = {}
    for part in parts:
        for role, usage in part.items():
            total[role] = total.get(role, Usage()).add(usage)
    return total


class Prediction(BaseModel):
    """What the system (and the reader) produced for one probe.

    ``memory_refs`` exists on disk only: records.jsonl stores a prediction's memories by reference,
    ``memories`` empty and ``memory_refs`` naming them in retrieval order in the run's memories.jsonl
    (``core.records``). Every reader resolves them back into ``memories`` and leaves ``memory_refs``
    empty, so code that reads records sees ``memories`` whichever form the run was written in.
    """

    answer: str | None = None
    memories: list[Memory] = Field(default_factory=list)
    memory_refs: list[str] = Field(default_factory=list)
    latency_s: dict[str, float] = Field(default_factory=dict)
    usage: UsageByRole = Field(default_factory=dict)


class Score(BaseModel):
    """A judge's verdict on one prediction.

    ``values`` holds the numbers the task's metrics read; ``details`` holds per-element verdicts
    (one per gold memory point, one per extracted memory, ...). A judge that could not decide
    returns ``status="error"``: it is counted and shown, never folded in as a wrong answer.
    """

    judge: str
    status: Literal["scored", "error"] = "scored"
    label: str | None = None
    values: dict[str, float] = Field(default_factory=dict)
    details: list[dict[str, Any]] = Field(default_factory=list)
    explanation: str | None = None
    usage: UsageByRole = Field(default_factory=dict)


class ErrorInfo(BaseModel):
    """Why a probe has no score: which stage failed, how, and after how many attempts."""

    stage: Literal["ingest", "system", "reader", "judge"]
    type: str
    message: str
    attempts: int = 1


class Record(BaseModel):
    """One JSONL line per probe in ``records.jsonl``."""

    run_id: str
    task: str
    task_version: str
    system: str
    episode_id: str
    probe_id: str
    after_session: int
    kind: str
    labels: dict[str, str] = Field(default_factory=dict)
    input_hash: str
    prediction: Prediction | None = None
    score: Score | None = None
    error: ErrorInfo | None = None
    usage: UsageByRole = Field(default_factory=dict)
    completed_at: str

    @property
    def status(self) -> Literal["scored", "error"]:
        if self.error is not None or self.score is None or self.score.status == "error":
            return "error"
        return "scored"


class IngestRecord(BaseModel):
    """One JSONL line per ingested session in ``ingest.jsonl`` (add time is a HaluMem metric)."""

    run_id: str
    episode_id: str
    session_index: int
    session_id: str
    latency_s: float
    #: the time after ``ingest`` returned until the system could serve what it was given (``settle``):
    #: a hosted system's asynchronous indexing, kept apart from the add time.
    index_wait_s: float = 0.0
    ok: bool
    error: ErrorInfo | None = None
    usage: UsageByRole = Field(default_factory=dict)
    completed_at: str


class Counts(BaseModel):
    episodes_planned: int = 0
    episodes_done: int = 0
    probes_planned: int = 0
    probes_scored: int = 0
    probes_errored: int = 0


class Manifest(BaseModel):
    """What a run is (its identity) and where it stands; rewritten atomically."""

    run_id: str
    identity: dict[str, Any]
    status: Literal["running", "complete", "interrupted", "failed"]
    created_at: str
    updated_at: str
    membench_version: str
    python_version: str
    counts: Counts = Field(default_factory=Counts)
    usage: UsageByRole = Field(default_factory=dict)
    cache: dict[str, int] = Field(default_factory=dict)
    resumes: int = 0
    wall_time_s: float = 0.0


def shown_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels a person reads (run pages, record tables): a key starting with "_" carries data a
    task's metrics need (HaluMem's gold points of an extraction probe), not a category."""
    return {key: value for key, value in labels.items() if not key.startswith("_")}
