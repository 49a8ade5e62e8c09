"""A run's metric contributions taken episode by episode as its records are written, so that its
summary does not read the run back (issue 17: at 9,600 HaluMem records, reading them back and
resolving their memories from memories.jsonl was most of a 3 s summary).

Only for a task whose ``contributions_per_episode`` is True (nothing computed across episodes), and
only for a run that starts with no records: a resumed run's earlier records are on disk, and its
summary reads the run back as before (``RunContributions.table`` is then None).

An episode's records are held until the episode ends, slim: each memory is read once per episode from
the JSON the ``RecordAppender`` wrote for it, and shared by every record that retrieved it, so an
episode holds its distinct memories once plus a reference per retrieved memory, as memories.jsonl and
records.jsonl do.
Then its contributions are taken and the records dropped. An episode cut short (the run stopped) is
taken at the end from what it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from membench.core.columns import ContributionColumns
from membench.core.records import MEMORY_JSON, latest_ingests, latest_records
from membench.core.task import Task
from membench.core.types import IngestRecord, Memory, Record

if TYPE_CHECKING:
    import pandas as pd


class _Episode:
    """One episode's records and ingests so far, with its distinct memories by ref."""

    __slots__ = ("ingests", "memories", "records")

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.ingests: list[IngestRecord] = []
        self.memories: dict[str, Memory] = {}

    def memory(self, ref: str, text: str) -> Memory:
        """The memory of ``ref``, read from its JSON the first time the episode meets it."""
        memory = self.memories.get(ref)
        if memory is None:
            memory = self.memories[ref] = MEMORY_JSON.validate_json(text)
        return memory


class RunContributions:
    """Each finished episode's contributions, and the records of those still running."""

    def __init__(self, task: Task, *, fresh: bool) -> None:
        self.task = task
        #: False once the contributions cannot stand for the run's records: a resumed run, a task that
        #: computes across episodes, or a record or task that failed here (``_give_up``).
        self.complete = fresh and task.contributions_per_episode
        self._running: dict[str, _Episode] = {}
        self._taken = ContributionColumns()

    def ingest(self, record: IngestRecord) -> None:
        if self.complete:
            self._episode(record.episode_id).ingests.append(record)

    def probe(self, record: Record, memories: Sequence[tuple[str, str]]) -> None:
        """``record`` as written, and the ref and JSON of each of its memories as written
        (``RecordAppender.append``).

        Its memories are held as read back from that JSON, as the read-back path reads them from
        memories.jsonl, never as the objects the system returned: a system may hand out its own
        stored objects and change them later in the episode (a plugin's Memory subclass, too, is
        written as a Memory)."""
        if not self.complete:
            return
        episode = self._episode(record.episode_id)
        prediction = record.prediction
        if prediction is not None and memories:
            try:
                held = [episode.memory(ref, text) for ref, text in memories]
            except ValidationError:
                self._give_up()
                return
            slim = prediction.model_copy(update={"memories": held})
            record = record.model_copy(update={"prediction": slim})
        episode.records.append(record)

    def episode_done(self, episode_id: str) -> None:
        """Take the episode's contributions and drop its records."""
        episode = self._running.pop(episode_id, None)
        if self.complete and episode is not None:
            self._take(episode)

    def table(self) -> pd.DataFrame | None:
        """The run's contributions table (``stats.frame.contributions_table``), or None when the
        summary must read the run back."""
        from membench.stats.frame import contributions_table

        for episode_id in list(self._running):
            self.episode_done(episode_id)
        return contributions_table(self.task, self._taken) if self.complete else None

    def _episode(self, episode_id: str) -> _Episode:
        episode = self._running.get(episode_id)
        if episode is None:
            episode = self._running[episode_id] = _Episode()
        return episode

    def _take(self, episode: _Episode) -> None:
        try:
            taken = self.task.contributions(latest_records(episode.records), latest_ingests(episode.ingests))
        except Exception:  # whatever it is, the read-back path meets it again (``_give_up``)
            self._give_up()
            return
        self._taken.extend(taken)

    def _give_up(self) -> None:
        """Leave the summary to the read-back path: what failed here (a memory that does not read back,
        a task's ``contributions`` raising) then fails there, after the run, with every record on disk
        and the error naming its file and line; the run itself goes on."""
        self.complete = False
        self._running.clear()
        self._taken = ContributionColumns()
