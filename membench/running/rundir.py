"""The run directory, as both of its writers keep it: ``membench run`` and ``membench score``.

One set of rules for every run directory, whoever fills it: where a run's directory is (named by a hash
of its identity, so the same command finds it again), refusing a directory that holds a run of another
configuration, one writer at a time (a lock the kernel drops when its holder dies), archiving (never
deleting) on ``--fresh``, the whole directory with its memories.jsonl, moving unreadable record lines
aside (never deleting them) on ``--repair``, a record whose memory memories.jsonl lacks among them
(memories.jsonl itself is never rewritten: the redone probe stores the memory again),
which probes a resume skips, the manifest a run starts and ends with (creation time, usage, resumes and
wall time carried across resumes; counts from a tally of the records on disk, read once at the start
and kept as records are appended), and how a failure becomes a record's error.
"""

from __future__ import annotations

import platform
import shutil
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from membench.core.errors import DataError, IdentityMismatch, LLMError
from membench.core.identity import RunIdentity, identity_differences, run_id_for
from membench.core.lock import LOCK, exclusive
from membench.core.records import iter_records, read_ingests, read_latest_records, read_manifest, repair_run
from membench.core.types import Counts, ErrorInfo, Manifest, Record, UsageByRole
from membench.core.version import __version__
from membench.llm.env import known_secrets, scrub

Status = Literal["running", "complete", "interrupted", "failed"]
ErrorStage = Literal["ingest", "system", "reader", "judge"]


def stamp() -> str:
    """The UTC time in the names of files and folders moved aside (archived runs, damaged lines)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}"


def now() -> str:
    """The timestamp records and manifests carry (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def error_info(stage: ErrorStage, exc: BaseException) -> ErrorInfo:
    """A failure as a record holds it: the stage, type, message and the attempts an LLM call made.

    Every message is scrubbed of keys, whatever raised it: an adapter's or an embedder's exception may
    quote a credential as readily as an LLM provider's."""
    attempts = exc.attempts if isinstance(exc, LLMError) else 1
    message = scrub(str(exc), known_secrets())[:2000]
    return ErrorInfo(stage=stage, type=type(exc).__name__, message=message, attempts=attempts)


def run_dir_name(identity: RunIdentity, system_name: str) -> str:
    """``<task>__<system>__<run id>``: the name of a run's directory, decided by its identity."""
    return f"{identity['task']['name']}__{system_name}__{run_id_for(identity)}"


@contextmanager
def open_run_dir(
    run_dir: Path, identity: RunIdentity, *, fresh: bool, elsewhere: str = ""
) -> Iterator[Manifest | None]:
    """The manifest of the run to resume in ``run_dir`` (None when the run starts there), with the
    directory locked for the body: a second writer is refused, naming the PID that holds it.

    With ``fresh`` an existing run is archived beside it first (its lock file goes with it, so the new
    directory is locked anew). A run of another configuration is refused with every field that differs
    named; ``elsewhere`` says how else the user may go on.
    """
    with exclusive(run_dir / LOCK, run_dir):
        existing = read_manifest(run_dir)
        if existing is None or not fresh:
            _refuse_other_configuration(run_dir, existing, identity, elsewhere)
            yield existing
            return
        archive(run_dir)
    with exclusive(run_dir / LOCK, run_dir):
        yield None


def _refuse_other_configuration(
    run_dir: Path, existing: Manifest | None, identity: RunIdentity, elsewhere: str
) -> None:
    if existing is not None and existing.identity != identity:
        diffs = "; ".join(identity_differences(existing.identity, identity))
        raise IdentityMismatch(
            f"{run_dir} holds a run with a different configuration ({diffs}); "
            f"use --fresh to start over there (the old run is archived){elsewhere}"
        )


def archive(run_dir: Path) -> Path:
    """Move ``run_dir`` aside as ``<name>.replaced-<UTC time>`` (what ``--fresh`` does: nothing is lost)."""
    target = run_dir.with_name(f"{run_dir.name}.replaced-{stamp()}")
    shutil.move(str(run_dir), target)
    return target


class ProbeTally:
    """The status of the latest record of every probe in a run directory, kept as records are written.

    Read once when a run starts (or resumes) and told of every record the run appends, it answers what
    a resume skips and what the final manifest counts, so a run's end never reads its records again
    (their memories can make records.jsonl hundreds of megabytes). A later record of a probe supersedes
    an earlier one, as in ``latest_records``.
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._status: dict[str, Literal["scored", "error"]] = {}
        for record in records:
            self.add(record)

    def add(self, record: Record) -> None:
        self._status[record.probe_id] = record.status

    def finished(self, retry_errors: bool) -> set[str]:
        """Probe ids a (re)started run skips: every recorded one, or only the scored ones with
        ``retry_errors``."""
        return {probe for probe, status in self._status.items() if status == "scored" or not retry_errors}

    def has(self, probes: Collection[str]) -> bool:
        """Whether every one of ``probes`` has a record."""
        return all(probe in self._status for probe in probes)

    def count(self, status: Literal["scored", "error"]) -> int:
        return sum(1 for value in self._status.values() if value == status)

    def __len__(self) -> int:
        return len(self._status)


def readable_for_resume(run_dir: Path, repair: bool) -> tuple[int, ProbeTally]:
    """Make sure a resume can read every record and ingest on disk; returns how many lines were moved,
    and the tally of the records it read (one read of records.jsonl serves both).

    With ``repair`` unreadable lines are moved aside (their probes then have no record, so they are
    redone); without it the first one is refused, naming file and line, and saying that --repair
    fixes it: a damaged line would otherwise stop every resume, with no way forward. A record is
    unreadable too when a memory it points at cannot be read from memories.jsonl (``iter_records``
    resolves every ref).
    """
    moved = repair_run(run_dir, stamp()) if repair else 0
    try:
        tally = ProbeTally(iter_records(run_dir))
        read_ingests(run_dir)
    except DataError as exc:
        raise DataError(
            exc.path,
            exc.line,
            exc.field,
            f"{exc.problem}; run the same command with --repair to move unreadable lines aside "
            "and redo their probes",
        ) from exc
    return moved, tally


def finished_probes(run_dir: Path, retry_errors: bool) -> set[str]:
    """Probe ids a (re)started run skips: every recorded one, or only the scored ones with retry_errors.
    Records are read slim, their memories left on disk (a resume's records can be gigabytes with
    them): a record whose memories cannot be read counts here as it stands."""
    return ProbeTally(read_latest_records(run_dir)).finished(retry_errors)


def starting_manifest(run_id: str, identity: RunIdentity, previous: Manifest | None) -> Manifest:
    """The manifest a run starts (or resumes) with: creation time, usage, resumes and wall time carried."""
    return Manifest(
        run_id=run_id,
        identity=dict(identity),
        status="running",
        created_at=previous.created_at if previous else now(),
        updated_at=now(),
        membench_version=__version__,
        python_version=platform.python_version(),
        usage=previous.usage if previous else {},
        resumes=(previous.resumes + 1) if previous else 0,
        wall_time_s=previous.wall_time_s if previous else 0.0,
    )


def final_manifest(
    manifest: Manifest,
    final: ProbeTally | Iterable[Record],
    *,
    status: Status,
    planned: Mapping[str, Collection[str]],
    episodes_planned: int,
    usage: UsageByRole,
    cache: dict[str, int],
    wall_time_s: float,
) -> Manifest:
    """The manifest a run ends with; ``final`` is the tally of the records on disk (the runner's, kept
    as it wrote them), or those records themselves (``membench score``'s, read back).

    ``planned`` maps each planned episode to its probe ids. Counts come from the records, so they stay
    right across resumes; an episode is done when every one of its probes has a record, and a run that
    ended without a record for every planned probe is ``interrupted``, never ``complete``.
    """
    tally = final if isinstance(final, ProbeTally) else ProbeTally(final)
    episodes_done = sum(1 for probes in planned.values() if tally.has(probes))
    if status == "complete" and episodes_done < len(planned):
        status = "interrupted"
    counts = Counts(
        episodes_planned=episodes_planned,
        episodes_done=episodes_done,
        probes_planned=sum(len(probes) for probes in planned.values()),
        probes_scored=tally.count("scored"),
        probes_errored=tally.count("error"),
    )
    return manifest.model_copy(
        update={
            "status": status,
            "updated_at": now(),
            "usage": usage,
            "cache": cache,
            "wall_time_s": wall_time_s,
            "counts": counts,
        }
    )


def cache_stats(clients: Sequence[Any]) -> dict[str, int]:
    """Hits and misses of the response caches behind ``clients`` (a cache two roles share, once)."""
    hits = misses = 0
    seen: set[int] = set()
    for client in clients:
        cache = getattr(client, "cache", None)
        if cache is None or id(cache) in seen:
            continue
        seen.add(id(cache))
        stats = cache.stats()
        hits += stats.get("hits", 0)
        misses += stats.get("misses", 0)
    return {"hits": hits, "misses": misses}
