"""The probes due after one session run concurrently (``--max-probes``), and nothing else changes.

The batched plugin task (tests/fixtures/concurrency_plugin.py) has five probes after each session; its
systems, and its judge, append an event to a trace file at the start and the end of each call, in the
order the event loop runs them, so which probes were in flight together is read from the order of
events, never from a clock. The manifest's counts come from a tally kept as the run goes; each test of
them recomputes the counts from the records on disk, as the end of a run did before the tally.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from membench.api import RunOutcome, run
from membench.cli.main import main
from membench.core.config import RunConfig
from membench.core.errors import ConfigError
from membench.core.records import RECORDS, latest_records, read_records
from membench.core.types import Manifest
from membench.running.display import NullDisplay
from membench.running.rundir import final_manifest

PLUGIN = Path(__file__).parents[1] / "fixtures" / "concurrency_plugin.py"
PLUGINS = tuple(f"{PLUGIN}:{name}" for name in ("BatchTask", "GatedSystem", "SerialSystem"))
#: probes due after each session of the batched task (its default).
DUE = 5


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv("MEMBENCH_TRACE", str(path))
    return path


def config(tmp_path: Path, system: str = "gated", **overrides: Any) -> RunConfig:
    base: dict[str, Any] = {
        "task": "batched",
        "system": system,
        "results_dir": tmp_path / "results",
        "data_dir": tmp_path / "data",
        "plugins": PLUGINS,
        "display": "none",
    }
    return RunConfig(**(base | overrides))


def events(trace: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in trace.read_text().splitlines()]


def most_in_flight(trace: Path, call: str) -> dict[tuple[str, str], int]:
    """The most ``call``s (``retrieve``, ``answer``, ``judge``) in flight at once in each episode,
    by the session whose ingest came before them: ``{(episode, session): count}``."""
    session: dict[str, str] = {}
    now: dict[str, int] = {}
    most: dict[tuple[str, str], int] = {}
    for event in events(trace):
        episode, kind = event["episode"], event["event"]
        if kind == "ingest":
            session[episode] = event["what"]
        elif kind in (f"{call}+", f"{call}-"):
            now[episode] = now.get(episode, 0) + (1 if kind.endswith("+") else -1)
            key = (episode, session[episode])
            most[key] = max(most.get(key, 0), now[episode])
    return most


def stable(outcome: RunOutcome) -> list[dict[str, Any]]:
    """The records in file order within each episode (episodes interleave as they run), without
    their timings and time stamps."""
    out = []
    for record in sorted(read_records(outcome.run_dir), key=lambda r: r.episode_id):
        data = record.model_dump(mode="json")
        data.pop("completed_at")
        if data["prediction"]:
            data["prediction"].pop("latency_s")
        out.append(data)
    return out


def without_usage(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "usage": {}, "prediction": {**r["prediction"], "usage": {}}} for r in records]


def system_calls(outcome: RunOutcome) -> list[int]:
    """The system's LLM calls each record carries, in file order."""
    return [r.usage["system"].calls if "system" in r.usage else 0 for r in read_records(outcome.run_dir)]


def counts_from_disk(outcome: RunOutcome) -> Manifest:
    """The final manifest as it was made before the tally: from every record on disk, read back."""
    manifest = outcome.manifest
    return final_manifest(
        manifest,
        latest_records(read_records(outcome.run_dir)),
        status="complete" if manifest.status in ("complete", "interrupted") else manifest.status,
        planned={
            e.episode_id: [p.probe_id for p in outcome.plan.probes_by_episode[e.episode_id]]
            for e in outcome.plan.episodes
        },
        episodes_planned=len(outcome.plan.episodes),
        usage=manifest.usage,
        cache=manifest.cache,
        wall_time_s=manifest.wall_time_s,
    )


def assert_tally_matches_disk(outcome: RunOutcome) -> None:
    expected = counts_from_disk(outcome)
    assert outcome.manifest.counts == expected.counts
    assert outcome.manifest.status == expected.status
    on_disk = Manifest.model_validate_json((outcome.run_dir / "manifest.json").read_text())
    assert on_disk.counts == expected.counts


def ids_in_file(outcome: RunOutcome) -> Iterator[str]:
    return (r.probe_id for r in read_records(outcome.run_dir))


@pytest.mark.parametrize("max_probes", [2, 3, 8])
def test_with_concurrent_retrieval_the_probes_of_a_session_are_in_retrieve_at_once(
    tmp_path: Path, trace: Path, max_probes: int
) -> None:
    outcome = run(config(tmp_path, max_probes=max_probes, max_episodes=2), NullDisplay())
    assert outcome.manifest.status == "complete"
    in_flight = most_in_flight(trace, "retrieve")
    assert len(in_flight) == 2 * 3, "every session of both episodes had its batch of probes"
    assert set(in_flight.values()) == {min(max_probes, DUE)}
    # Records are in probe order within each episode, whatever finished first.
    probes = [p.probe_id for p in outcome.plan.dataset.probes]
    for episode in ("ep0", "ep1"):
        written = [pid for pid in ids_in_file(outcome) if pid.startswith(f"{episode}:")]
        assert written == [pid for pid in probes if pid.startswith(f"{episode}:")]
    assert {r.score.label if r.score else None for r in read_records(outcome.run_dir)} == {"correct"}


def test_without_the_declaration_retrieval_takes_turns_while_judges_overlap(
    tmp_path: Path, trace: Path
) -> None:
    outcome = run(config(tmp_path, system="serial", max_probes=8, max_episodes=1), NullDisplay())
    assert outcome.manifest.status == "complete"
    assert set(most_in_flight(trace, "retrieve").values()) == {1}
    # The judge is membench's own, one per probe: its calls overlap all the same.
    assert min(most_in_flight(trace, "judge").values()) > 1


def test_the_system_reader_answers_in_its_probes_turn(tmp_path: Path, trace: Path) -> None:
    """A system that takes turns sees each probe's retrieve and answer together, in probe order, as
    with one probe at a time (an agent's answer may change what it remembers)."""
    outcome = run(config(tmp_path, system="serial", reader="system", max_probes=8), NullDisplay())
    assert outcome.manifest.status == "complete"
    assert set(most_in_flight(trace, "answer").values()) == {1}
    calls = [e for e in events(trace) if e["event"] in ("retrieve+", "answer+")]
    for episode in ("ep0", "ep1"):
        mine = [(e["event"], e["what"]) for e in calls if e["episode"] == episode]
        queries = [p.query for p in outcome.plan.dataset.probes if p.episode_id == episode]
        assert mine == [(event, q) for q in queries for event in ("retrieve+", "answer+")]


@pytest.mark.parametrize("system", ["gated", "serial"])
def test_no_session_is_ingested_while_probes_of_the_one_before_run(
    tmp_path: Path, trace: Path, system: str
) -> None:
    run(config(tmp_path, system=system, max_probes=8, max_episodes=2), NullDisplay())
    active: dict[str, int] = {}
    ingests = 0
    for event in events(trace):
        episode, kind = event["episode"], event["event"]
        if kind == "ingest":
            ingests += 1
            assert active.get(episode, 0) == 0, f"{event['what']} ingested with probes in flight"
        elif kind == "retrieve+":
            active[episode] = active.get(episode, 0) + 1
        elif kind == "judge-":
            active[episode] -= 1
    assert ingests == 2 * 3 and not any(active.values())


@pytest.mark.parametrize("system", ["gated", "serial"])
def test_one_probe_at_a_time_and_eight_give_the_same_results(tmp_path: Path, system: str) -> None:
    one = run(config(tmp_path / "one", system=system, max_probes=1), NullDisplay())
    eight = run(config(tmp_path / "eight", system=system, max_probes=8), NullDisplay())
    assert one.manifest.counts == eight.manifest.counts
    assert one.manifest.counts.probes_scored == 2 * 3 * DUE
    assert one.summary == eight.summary
    if system == "serial":  # each probe's system call is its own: the same usage, record by record
        assert stable(one) == stable(eight)
    else:  # a batch's usage is on its last record (the next test)
        assert without_usage(stable(one)) == without_usage(stable(eight))
    assert one.manifest.usage == eight.manifest.usage


def test_overlapping_system_calls_put_the_batchs_usage_on_its_last_record(tmp_path: Path) -> None:
    """One system call per retrieve: one at a time, each record has its own; overlapping, a batch's
    last record has all five, and the totals agree."""
    one = run(config(tmp_path / "one", max_probes=1, max_episodes=1), NullDisplay())
    eight = run(config(tmp_path / "eight", max_probes=8, max_episodes=1), NullDisplay())
    assert system_calls(one) == [1] * (2 * 3 * DUE)
    assert system_calls(eight) == [0, 0, 0, 0, DUE] * (2 * 3)
    for record in read_records(eight.run_dir):
        assert record.prediction is not None and record.prediction.usage == record.usage
    assert one.manifest.usage["system"].calls == eight.manifest.usage["system"].calls == 2 * 3 * DUE


@pytest.mark.parametrize("max_probes", [1, 8])
def test_a_streak_stops_at_the_same_probe_and_the_same_command_resumes(
    tmp_path: Path, max_probes: int
) -> None:
    """Failures in a row fill the streak at the third probe of a session: its records end there, the
    probes after it leave no record (those in flight are cancelled), and the counts are the file's.
    The system's calls are all counted: with overlapping calls, the stopping record has the batch's
    (the two discarded probes had made theirs too)."""
    booms = "ep0:s1:q0,ep0:s1:q1,ep0:s1:q2"
    cfg = config(
        tmp_path,
        task_options={"boom": booms},
        max_probes=max_probes,
        max_episodes=1,
        max_consecutive_errors=3,
    )
    stopped = run(cfg, NullDisplay())
    assert stopped.manifest.status == "failed" and stopped.stopped is not None
    assert stopped.stopped.count == 3
    written = list(ids_in_file(stopped))
    assert written == [*(f"ep0:s0:q{j}" for j in range(DUE)), "ep0:s1:q0", "ep0:s1:q1", "ep0:s1:q2"]
    assert_tally_matches_disk(stopped)
    assert stopped.manifest.counts.probes_errored == 3
    calls = system_calls(stopped)
    assert calls == ([1] * 8 if max_probes == 1 else [0, 0, 0, 0, DUE, 0, 0, DUE])
    assert stopped.manifest.usage["system"].calls == sum(calls)

    resumed = run(cfg, NullDisplay())  # without --retry-errors the three errors stand
    assert resumed.manifest.status == "complete"
    assert_tally_matches_disk(resumed)
    assert resumed.manifest.counts.probes_errored == 3
    assert resumed.manifest.counts.probes_scored == 2 * 3 * DUE - 3


def test_counts_come_from_the_tally_in_a_fresh_a_resumed_and_a_retry_errors_run(tmp_path: Path) -> None:
    booms = "ep0:s0:q1,ep1:s2:q4"
    cfg = config(tmp_path, task_options={"boom": booms}, max_probes=8, max_consecutive_errors=0)
    fresh = run(cfg, NullDisplay())
    assert fresh.manifest.status == "complete"
    assert fresh.manifest.counts.probes_errored == 2
    assert_tally_matches_disk(fresh)

    # A kill lost the records of ep1's last session: the resume redoes them.
    path = fresh.run_dir / RECORDS
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if '"after_session":2,' not in line or "ep0:" in line))
    resumed = run(cfg, NullDisplay())
    assert resumed.manifest.resumes == 1 and resumed.manifest.status == "complete"
    assert_tally_matches_disk(resumed)
    assert resumed.manifest.counts == fresh.manifest.counts

    # --retry-errors redoes the two errored probes (they fail again): each has two records now.
    retried = run(RunConfig(**{**cfg.__dict__, "retry_errors": True}), NullDisplay())
    assert len(read_records(retried.run_dir)) == 2 * 3 * DUE + 2
    assert_tally_matches_disk(retried)
    assert retried.manifest.counts == fresh.manifest.counts


def test_max_probes_must_be_at_least_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=r"max_probes \(--max-probes\) must be at least 1, got 0"):
        config(tmp_path, max_probes=0)
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--task", "batched", "--system", "gated", "--max-probes", "0"])
    assert stopped.value.code == 2
    assert "argument --max-probes: " in capsys.readouterr().err
