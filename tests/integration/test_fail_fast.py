"""Failures are loud and early: an endpoint that does not answer stops ``membench run`` before the first
episode, a run whose probes keep failing the same way stops with the cause on screen, and every run with
errors ends with their summary and the command that redoes them.

The toy plugin task runs with the LLM reader against the loopback fake (or a closed loopback port), one
episode at a time so the order of probes is the dataset's. Outages are scripted as events (the fake's
faults, queued by its responder after a number of answers), never as waits.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from membench.api import run
from membench.cli.main import main
from membench.core.config import LLMSpec, RunConfig
from membench.core.errors import ConfigError, LLMError
from membench.core.records import latest_records, read_records
from membench.llm.cache import ResponseCache
from membench.llm.client import LLMClient
from membench.running.components import default_cache_path
from membench.running.display import NullDisplay
from membench.running.failures import ErrorGroup, error_groups
from membench.testing.configs import tiny_run_config
from membench.testing.openai_server import FakeOpenAIServer, echo_responder

TOY = Path(__file__).parents[1] / "fixtures" / "toy_plugin.py"
PLUGINS = (f"{TOY}:ToyTask", f"{TOY}:KeywordSystem", f"{TOY}:FlakySystem")
MODEL = "openai/fake-model"
LOADING = "loading toy data (built first if absent) ..."
#: what the openai SDK makes of a refused connection, after the check's 2 tries.
REFUSED = "transient: gave up after 2 attempts; last: APIConnectionError: Connection error."


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def toy_command(tmp_path: Path, *extra: str) -> list[str]:
    plugins = [word for plugin in PLUGINS for word in ("--plugin", plugin)]
    return [
        *("run", "--task", "toy", "--system", "keyword", *plugins),
        *("--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")),
        *("--display", "plain", "--max-episodes", "1", *extra),
    ]


def one_line(text: str) -> str:
    """``text`` with its wrapping undone: what it says, whatever the width it was laid out at."""
    return " ".join(text.split())


def assert_wrapped(text: str, paragraphs: int = 1, width: int = 80) -> None:
    """``text`` is ``paragraphs`` wrapped at ``width`` (the console's, piped): every line fits, and
    each paragraph's continuations are indented."""
    lines = text.splitlines()
    assert len(lines) > paragraphs and max(len(line) for line in lines) <= width, lines
    assert sum(not line.startswith("  ") for line in lines) == paragraphs, lines


def run_dirs(tmp_path: Path) -> list[Path]:
    runs = tmp_path / "results" / "runs"
    return sorted(runs.iterdir()) if runs.exists() else []


def test_an_unreachable_endpoint_stops_the_run_before_any_episode(
    tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port}/v1"
    code = main(toy_command(tmp_path, "--llm", "openai/gpt-4o-mini", "--llm-api-base", url))
    out, err = capsys.readouterr()
    assert code == 1
    assert one_line(err) == (
        f"membench: error: reader LLM openai/gpt-4o-mini at {url} failed the endpoint check, so "
        f"nothing was run (--no-check skips it): {REFUSED}"
    )
    assert_wrapped(err)
    assert out.splitlines() == [LOADING, "checking LLM endpoints (reader) ..."], "nothing after the check"
    assert run_dirs(tmp_path) == [], "no run"


def test_a_dry_run_checks_every_endpoint_and_names_the_one_that_failed(
    tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{closed_port}/v1"
    with FakeOpenAIServer() as server:
        code = main(
            [
                *("run", "--task", "halumem", "--system", "bm25", "-T", "users=2", "--dry-run"),
                *("--llm", MODEL, "--llm-api-base", server.base_url),
                *("--judge-llm", MODEL, "--judge-api-base", closed),
                *("--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")),
            ]
        )
        pinged = server.requests
    out, err = capsys.readouterr()
    assert code == 1 and "run id" not in out
    assert one_line(err) == (
        f"membench: error: judge LLM {MODEL} at {closed} failed the endpoint check, so nothing was "
        f"run (--no-check skips it): {REFUSED}"
    )
    assert_wrapped(err)
    assert [r.body["max_tokens"] for r in pinged] == [1], "one 1-token request to the reader's endpoint"
    assert out.splitlines()[-1] == "checking LLM endpoints (reader, judge) ..."


def test_a_refused_key_fails_the_check_and_no_check_skips_the_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-membench-fail-fast-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with FakeOpenAIServer() as server:
        server.add_faults(("status", 401, {}, f"Incorrect API key provided: {secret}"))
        url = server.base_url
        reader = ["--llm", MODEL, "--llm-api-base", url]
        refused = main(toy_command(tmp_path, *reader))
        _, err = capsys.readouterr()
        assert run_dirs(tmp_path) == [], "no records.jsonl, no manifest: nothing that looks like a run"
        server.reset_counters()
        skipped = main(toy_command(tmp_path, *reader, "--dry-run", "--no-check"))
        out, _ = capsys.readouterr()
        assert server.total_requests == 0, "--no-check makes no request"
    assert refused == 1 and skipped == 0 and "run id " in out
    assert one_line(err) == (
        f"membench: error: reader LLM {MODEL} at {url} failed the endpoint check, so nothing "
        "was run (--no-check skips it): fatal: AuthenticationError: Error code: 401 - Incorrect API key "
        "provided: ***"
    )
    assert_wrapped(err)
    assert secret not in err


def test_the_check_is_neither_served_from_nor_stored_in_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer() as server:
        reader = ["--llm", MODEL, "--llm-api-base", server.base_url]
        assert main(toy_command(tmp_path, *reader)) == 0
        first = server.total_requests
        server.reset_counters()
        assert main(toy_command(tmp_path, *reader, "--fresh")) == 0
        second = [r.body["max_tokens"] for r in server.requests]
    out = capsys.readouterr().out.splitlines()
    # 12 probes answered, plus the check; the re-run's answers come from the cache, its check does not.
    assert first == 13 and second == [1]
    assert len(ResponseCache(default_cache_path() / "llm.sqlite")) == 12, "the 12 answers, not the check"
    steps = [LOADING, "checking LLM endpoints (reader) ..."]
    assert [line for line in out if line in steps] == steps * 2
    assert out.count("loading system keyword ...") == 2
    assert not any(line.startswith("errors:") for line in out), "no error summary without errors"


class Outage:
    """A responder that answers ``good`` requests, then queues the faults of an endpoint that went down
    (503s the client retries at once: Retry-After 0) for every request after them."""

    def __init__(self, good: int, faults: int) -> None:
        self.good, self.faults = good, faults
        self.answered = 0
        self.server: FakeOpenAIServer | None = None

    def __call__(self, request: dict[str, Any]) -> str:
        self.answered += 1
        if self.answered == self.good and self.server is not None:
            self.server.add_faults(*[("status", 503, {"Retry-After": "0"})] * self.faults)
        return echo_responder(request)


@contextmanager
def outage_server(good: int, faults: int) -> Iterator[FakeOpenAIServer]:
    """A loopback fake that goes down (``Outage``) after ``good`` answers, for ``faults`` requests."""
    outage = Outage(good, faults)
    with FakeOpenAIServer(outage) as server:
        outage.server = server
        yield server


def test_a_run_stops_after_five_failures_in_a_row_and_the_same_command_resumes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The check and 3 probes are answered; the next 5 probes each fail 6 attempts: 30 faults.
    with outage_server(good=4, faults=30) as server:
        command = toy_command(tmp_path, "--llm", MODEL, "--llm-api-base", server.base_url)
        stopped = main(command)
        out, err = capsys.readouterr()
        (run_dir,) = run_dirs(tmp_path)
        records = read_records(run_dir)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert server.pending_faults == 0, "the endpoint is back"

        resumed = main(command)
        resumed_out = capsys.readouterr().out
        again = latest_records(read_records(run_dir))
        redo_line = resumed_out.splitlines().index("redo them with:")
        retry = [line.rstrip(" \\").strip() for line in resumed_out.splitlines()[redo_line + 1 :]]
        redone = main(shlex.split(" ".join(retry))[1:])
        final = latest_records(read_records(run_dir))
        capsys.readouterr()

    assert stopped == 1 and manifest["status"] == "failed"
    assert [r.status for r in records] == ["scored"] * 3 + ["error"] * 5, "every record so far is kept"
    cause = (
        "reader stage (LLMError): transient: gave up after 6 attempts; last: "
        "InternalServerError: Error code: 503 - injected fault: HTTP 503"
    )
    assert one_line(err) == (
        f"stopped: 5 failures in a row at the {cause} fix the cause, then run the same command to "
        "resume (add --retry-errors to redo the failed probes; --max-consecutive-errors 0 never stops)"
    ), "on stderr, last"
    assert "stopped" not in out, "once"
    assert "errors: 5 probes errored; by stage and type, with one example each:" in out.splitlines()
    assert "      5  reader LLMError" in out.splitlines()

    assert resumed == 0, "the resumed run completes"
    assert {r.probe_id: r for r in again if r.probe_id in {x.probe_id for x in records}} == {
        r.probe_id: r for r in records
    }, "the earlier records are kept as they were"
    assert sum(r.status == "scored" for r in again) == 7 and len(again) == 12
    assert retry[-1].endswith("--retry-errors") and "--fresh" not in retry
    assert redone == 0 and all(r.status == "scored" for r in final)


def config(tmp_path: Path, **overrides: Any) -> RunConfig:
    settings: dict[str, Any] = {
        "task": "toy",
        "system": "flaky",
        "results_dir": tmp_path / "results",
        "data_dir": tmp_path / "data",
        "plugins": PLUGINS,
        "display": "none",
        "max_episodes": 1,
    }
    settings.update(overrides)
    return RunConfig(**settings)


class Recording(NullDisplay):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)


#: five probes in a row whose retrieval raises ConnectionError (the whole of ep0, then two of ep1).
FIVE = "ep0:q0,ep0:q1,ep0:q2,ep1:q0,ep1:q1"


def test_the_python_api_stops_on_a_streak_and_zero_never_stops(tmp_path: Path) -> None:
    display = Recording()
    stopped = run(config(tmp_path, task_options={"boom": FIVE}), display)
    assert stopped.manifest.status == "failed"
    assert [r.probe_id for r in read_records(stopped.run_dir)] == FIVE.split(",")
    assert display.messages[-1] == "computing intervals ...", "the summary is still written"
    assert stopped.stopped is not None and stopped.stopped.paragraphs() == (
        "stopped: 5 failures in a row at the system stage (ConnectionError): the memory service fell over",
        "fix the cause, then run the same command to resume (add --retry-errors to redo the failed "
        "probes; --max-consecutive-errors 0 never stops)",
    )
    assert not any("stopped" in text for text in display.messages), "the caller shows it"
    never = run(config(tmp_path / "never", task_options={"boom": FIVE}, max_consecutive_errors=0))
    assert never.manifest.status == "complete" and never.manifest.counts.probes_errored == 5
    assert never.stopped is None
    four = run(config(tmp_path / "four", task_options={"boom": FIVE.rsplit(",", 1)[0]}))
    assert four.manifest.status == "complete" and four.manifest.counts.probes_errored == 4


BROKEN_INGEST = """
from membench.systems.base import MemorySystem


class BrokenIngest(MemorySystem):
    name = "broken-ingest"
    default_options = {}

    async def reset(self, episode):
        pass

    async def ingest(self, session):
        raise OSError("disk full")

    async def retrieve(self, query, k):
        return []
"""


def test_an_episode_whose_ingest_fails_counts_once_not_once_per_probe(tmp_path: Path) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(BROKEN_INGEST)
    settings = {"system": "broken-ingest", "plugins": (*PLUGINS, f"{plugin}:BrokenIngest")}
    four = run(config(tmp_path, task_options={"episodes": "4"}, **settings))
    assert four.manifest.status == "complete" and four.manifest.counts.probes_errored == 12
    six = run(config(tmp_path / "six", task_options={"episodes": "6"}, **settings))
    assert six.manifest.status == "failed"
    # The fifth episode's ingest failure stops the run once its probes are recorded with it, so the
    # error summary counts the episode that stopped the run; the sixth is not started.
    records = read_records(six.run_dir)
    assert [r.episode_id for r in records] == [f"ep{i}" for i in range(5) for _ in range(3)]
    assert {(r.error.stage, r.error.type) for r in records if r.error} == {("ingest", "OSError")}
    assert error_groups(latest_records(records)) == [ErrorGroup("ingest", "OSError", 15, "disk full")]
    assert six.stopped is not None and six.stopped.paragraphs()[0] == (
        "stopped: 5 failures in a row at the ingest stage (OSError): disk full"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("limit", 0, "RunConfig.limit (--limit) must be at least 1 episode, got 0"),
        ("max_episodes", 0, "RunConfig.max_episodes (--max-episodes) must be at least 1, got 0"),
        (
            "max_consecutive_errors",
            -1,
            "RunConfig.max_consecutive_errors (--max-consecutive-errors) must be at least 0, got -1",
        ),
    ],
)
def test_the_python_api_refuses_counts_the_command_line_refuses(
    tmp_path: Path, field: str, value: int, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        config(tmp_path, **{field: value})
    assert str(refused.value) == message


def test_a_ping_that_hangs_is_cut_short_and_an_empty_reply_still_counts_as_an_answer() -> None:
    with FakeOpenAIServer(faults=[("delay", 30)] * 2) as hanging:
        client = LLMClient(MODEL, role="judge", api_base=hanging.base_url)
        with pytest.raises(LLMError) as caught:
            asyncio.run(client.ping(timeout_s=0.5))
    assert str(caught.value) == "timeout: gave up after 2 attempts; last: TimeoutError: no reply within 0.5s"
    with FakeOpenAIServer(lambda request: "") as mute:
        asyncio.run(LLMClient(MODEL, role="judge", api_base=mute.base_url).ping())
        assert mute.total_requests == 1, "answered, if with nothing: no second try"


def halumem_command(tmp_path: Path, *extra: str) -> list[str]:
    """A tiny HaluMem run (two users), one episode at a time, in ``tmp_path``."""
    return [
        *("run", "--task", "halumem", "--system", "bm25"),
        *("-T", "users=2", "-T", "sessions=3", "-T", "turns=6", "--max-episodes", "1"),
        *("--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data"), *extra),
    ]


#: what the judge's client says of an endpoint that refuses every request (a revoked key: not retried,
#: so the test makes one request per judgment; a 503 takes 6 and stops the same way).
REFUSED_KEY = "judge call failed: fatal: AuthenticationError: Error code: 401 - the judge's key was revoked"


def test_a_judge_that_fails_every_call_stops_the_run_with_the_cause_on_stderr_whatever_the_display(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The judges record "no verdict" for a call that failed for good, which used to end the streak.
    revoked = ("status", 401, {}, "the judge's key was revoked")
    with FakeOpenAIServer(faults=[revoked] * 10_000) as server:
        judge = ["--judge-llm", MODEL, "--judge-api-base", server.base_url]
        stop_early = ["--max-consecutive-errors", "2"]  # each failed judgment costs litellm ~30 ms
        code = main(halumem_command(tmp_path, *judge, *stop_early, "--no-check", "--display", "none"))
    out, err = capsys.readouterr()
    (run_dir,) = run_dirs(tmp_path)
    records = read_records(run_dir)
    assert code == 1 and json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
    assert len(records) == 2 and all(r.status == "error" and r.error is None for r in records)
    assert one_line(err) == (
        f"stopped: 2 failures in a row at the judge stage (LLMError): {REFUSED_KEY} fix the cause, "
        "then run the same command to resume (add --retry-errors to redo the failed probes; "
        "--max-consecutive-errors 0 never stops)"
    )
    assert_wrapped(err, paragraphs=2)
    assert "stopped" not in out
    lines = out.splitlines()
    summary = lines[lines.index("errors: 2 probes errored; by stage and type, with one example each:") :]
    # An extraction probe fails all its judgments: its message says so, and why the first failed.
    assert summary[1:4] == [
        "      2  judge LLMError",
        "         llm judge: 18 judgments, 18 failed; the first: judge call failed:",
        "         fatal: AuthenticationError: Error code: 401 - the judge's key was …",
    ]


def test_a_judge_model_that_ignores_the_format_stops_the_run_as_a_kind_of_its_own(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda request: "I think so.") as server:
        outcome = run(
            tiny_run_config(
                tmp_path, "halumem", "bm25", judge_llm=LLMSpec(MODEL, server.base_url), max_episodes=1
            )
        )
    assert outcome.manifest.status == "failed" and outcome.stopped is not None
    assert (outcome.stopped.error.stage, outcome.stopped.error.type) == ("judge", "unusable reply")
    groups = error_groups(latest_records(read_records(outcome.run_dir)))
    assert [(g.stage, g.type, g.count) for g in groups] == [("judge", "unusable reply", 5)]
    assert groups[0].example.startswith("llm judge: 18 judgments, 18 failed; the first: unusable judge reply")


def test_a_run_with_nothing_pending_checks_no_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer() as server:
        command = toy_command(tmp_path, "--llm", MODEL, "--llm-api-base", server.base_url)
        done = main(command)
    capsys.readouterr()
    # The same command once the run is complete and its endpoint gone (offline): nothing is left to
    # ask, so nothing is checked; --retry-errors has nothing to redo either.
    again = main(command)
    retried = main([*command, "--retry-errors"])
    out, err = capsys.readouterr()
    assert done == again == retried == 0 and err == ""
    assert not any(line.startswith("checking LLM endpoints") for line in out.splitlines())
    assert out.count("(resuming: 12 probes already done)") == 2
    fresh = main([*command, "--fresh"])
    assert fresh == 1 and "failed the endpoint check" in capsys.readouterr().err, "--fresh: all pending"
