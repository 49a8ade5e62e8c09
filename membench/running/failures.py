"""What failed in a run, by kind: the streak that stops a run, and the groups its error summary shows.

A failure's kind is its stage and error type (``reader``/``LLMError``): an endpoint that went down
fails every probe the same way, while one bad input fails one probe. The runner stops after
``RunConfig.max_consecutive_errors`` failures in a row of one kind (``FailureStreak``), and every run
with errors ends with a summary of them (``error_groups``), so the cause is on screen, not only in
records.jsonl.

A judge that gives no verdict (``Score(status="error")``) fails its probe too: when the judgment was
asked through ``judges.base.ask_with_one_reminder``, its problem names the kind (a call that failed
for good is ``judge LLMError``, a model that ignored the format twice is ``judge unusable reply``),
so a judge that is down stops the run as a reader that is down does; any other no-verdict is
``judge no verdict``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from membench.core.types import ErrorInfo, Record, Score
from membench.judges.base import problem_kind

#: the kind of a judge's "no verdict" (``Score(status="error")``) whose cause is not one of
#: ``ask_with_one_reminder``'s problems: it has no exception type.
NO_VERDICT = "no verdict"


class FailureStreak:
    """Failures in a row of one kind; a success, or a failure of another kind, starts it over."""

    def __init__(self, limit: int) -> None:
        #: failures in a row that stop the run; 0 never stops.
        self.limit = limit
        self.kind: tuple[str, str] | None = None
        self.count = 0

    def failed(self, error: ErrorInfo) -> bool:
        """Count ``error``; True when the streak has reached the limit (the run should stop)."""
        kind = (error.stage, error.type)
        self.count = self.count + 1 if kind == self.kind else 1
        self.kind = kind
        return 0 < self.limit <= self.count

    def succeeded(self) -> None:
        self.kind, self.count = None, 0


@dataclass(frozen=True)
class ErrorGroup:
    """The errored probes of one kind: how many, and the first one's message as the example."""

    stage: str
    type: str
    count: int
    example: str


def failure_of(record: Record) -> ErrorInfo | None:
    """Why ``record`` errored: its error, or the judge's "no verdict" (``no_verdict``); None for a
    scored record. The streak and the error summary both ask this, so they count the same failures."""
    if record.error is not None:
        return record.error
    if record.status == "error":
        return no_verdict(record.score)
    return None


def no_verdict(score: Score | None) -> ErrorInfo:
    """The failure of a judge that gave no verdict: the kind and message of the first problem in its
    explanation or, for a judge of several judgments per probe, in a detail's ``"error"``; else
    ``NO_VERDICT`` with the explanation."""
    explanation = (score.explanation if score else None) or "no verdict given"
    details = score.details if score else []
    problems = [explanation, *(d["error"] for d in details if isinstance(d.get("error"), str))]
    for problem in problems:
        kind = problem_kind(problem)
        if kind is not None:
            message = problem if problem == explanation else f"{explanation}; the first: {problem}"
            return ErrorInfo(stage="judge", type=kind, message=message)
    return ErrorInfo(stage="judge", type=NO_VERDICT, message=explanation)


def error_groups(records: Iterable[Record]) -> list[ErrorGroup]:
    """The errored probes of ``records`` (the latest record of each, as ``latest_records`` gives them)
    by stage and type, most first (ties by stage, then type), each with its first message."""
    counts: dict[tuple[str, str], int] = {}
    examples: dict[tuple[str, str], str] = {}
    for record in records:
        failure = failure_of(record)
        if failure is None:
            continue
        kind = (failure.stage, failure.type)
        counts[kind] = counts.get(kind, 0) + 1
        examples.setdefault(kind, failure.message)
    order = sorted(counts, key=lambda kind: (-counts[kind], kind))
    return [ErrorGroup(kind[0], kind[1], counts[kind], examples[kind]) for kind in order]
