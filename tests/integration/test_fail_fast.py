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
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from membench.api import run
from membench.cli.main import main
from membench.core.config import RunConfig
from membench.core.errors import ConfigError, LLMError
from membench.core.records import latest_records, read_records
from membench.llm.cache import ResponseCache
from membench.llm.client import LLMClient
from membench.running.components import default_cache_path
from membench.running.display import NullDisplay
from membench.testing.openai_server import FakeOpenAIServer, echo_responder

TOY = Path(__file__).parents[1] / "fixtures" / "toy_plugin.py"
PLUGINS = (f"{TOY}:ToyTask", f"{TOY}:KeywordSystem", f"{TOY}:FlakySystem")
MODEL = "openai/fake-model"
#: what litellm makes of a refused connection (it maps it to a server error), after the check's 2 tries.
REFUSED = (
    "transient: gave up after 2 attempts; last: InternalServerError: OpenAIException - Connection error."
)


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
    assert err.splitlines() == [
        f"membench: error: reader LLM openai/gpt-4o-mini at {url} failed the endpoint check, so "
        f"nothing was run (--no-check skips it): {REFUSED}"
    ]
    assert out.splitlines() == ["checking LLM endpoints (reader) ..."], "nothing after the check"
    assert run_dirs(tmp_path) == [] and not (tmp_path / "data").exists(), "no run, no data built"


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
    assert err.splitlines() == [
        f"membench: error: judge LLM {MODEL} at {closed} failed the endpoint check, so nothing was "
        f"run (--no-check skips it): {REFUSED}"
    ]
    assert [r.body["max_tokens"] for r in pinged] == [1], "one 1-token request to the reader's endpoint"
    assert out.splitlines() == ["checking LLM endpoints (reader, judge) ..."]


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
    assert err.splitlines() == [
        f"membench: error: reader LLM {MODEL} at {url} failed the endpoint check, so nothing "
        "was run (--no-check skips it): fatal: AuthenticationError: OpenAIException - Incorrect API key "
        "provided: ***"
    ]
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
    steps = ["checking LLM endpoints (reader) ...", "loading toy data (built first if absent) ..."]
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
        out = capsys.readouterr().out
        (run_dir,) = run_dirs(tmp_path)
        records = read_records(run_dir)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert server.pending_faults == 0, "the endpoint is back"

        resumed = main(command)
        resumed_out = capsys.readouterr().out
        again = latest_records(read_records(run_dir))
        redo_line = resumed_out.splitlines().index("redo them with:")
        retry = [line.rstrip(" \\").strip() for line in resumed_out.splitlines()[redo_line + 1 :]]
        redone = main(" ".join(retry).split()[1:])
        final = latest_records(read_records(run_dir))
        capsys.readouterr()

    assert stopped == 1 and manifest["status"] == "failed"
    assert [r.status for r in records] == ["scored"] * 3 + ["error"] * 5, "every record so far is kept"
    cause = (
        "reader stage (LLMError): transient: gave up after 6 attempts; last: "
        "ServiceUnavailableError: OpenAIException - injected fault: HTTP 503"
    )
    assert f"stopped: 5 failures in a row at the {cause}" in " ".join(out.split())
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
    (said,) = [text for text in display.messages if text.startswith("stopped")]
    assert display.messages[-1] == "computing intervals ...", "the summary is still written"
    assert said.splitlines() == [
        "stopped: 5 failures in a row at the system stage (ConnectionError): the memory",
        "  service fell over",
        "fix the cause, then run the same command to resume (add --retry-errors to redo",
        "  the failed probes; --max-consecutive-errors 0 never stops)",
    ]
    never = run(config(tmp_path / "never", task_options={"boom": FIVE}, max_consecutive_errors=0))
    assert never.manifest.status == "complete" and never.manifest.counts.probes_errored == 5
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
    display = Recording()
    six = run(config(tmp_path / "six", task_options={"episodes": "6"}, **settings), display)
    assert six.manifest.status == "failed"
    # The fifth episode's ingest failure stops the run before its probes: they are redone on resume.
    assert len(read_records(six.run_dir)) == 12
    assert display.messages[-2].startswith("stopped: 5 failures in a row at the ingest stage (OSError)")


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
