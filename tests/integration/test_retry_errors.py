"""``--retry-errors`` can succeed: a reply that made an error is asked again, not replayed from the cache.

Each test runs HaluMem twice on one fake server (the same endpoint, so the same run and cache keys):
first with the fake answering some prompts with replies that cannot be parsed, then with
``retry_errors`` and the fake fixed. The retry must send those prompts to the server again (they are
counted) and the errored probes must end scored. mem0's extraction call, whose unparseable reply
mem0 itself turns into "nothing extracted", and the episodic judge are checked at the client: a reply
that does not parse is never stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from pathlib import Path

import pytest

from membench.api import run
from membench.core.config import LLMSpec, RunConfig
from membench.core.records import latest_records, read_records
from membench.core.types import Episode, Prediction, Probe, Record, Score
from membench.llm.cache import ResponseCache
from membench.llm.client import LLMClient
from membench.llm.retry import RetryPolicy, no_wait
from membench.running.display import NullDisplay
from membench.testing import FakeLLM, Fields, Prompt, RawReply
from membench.testing.configs import tiny_run_config
from membench.testing.openai_server import FakeOpenAIServer

MODEL = "openai/fake-model"
BROKEN_PROBES = 4


@pytest.fixture(autouse=True)
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY", "sk-test-not-real"))


class Breakage:
    """Garbles the first ``limit`` distinct questions of one prompt kind while ``on``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.on = True
        self.broken: list[str] = []

    def hits(self, prompt: Prompt) -> bool:
        if self.on and prompt.text not in self.broken and len(self.broken) < self.limit:
            self.broken.append(prompt.text)
        return self.on and prompt.text in self.broken


def latest(config: RunConfig) -> list[Record]:
    outcome = run(config, NullDisplay())
    return latest_records(read_records(outcome.run_dir))


def errored(records: list[Record]) -> list[str]:
    return sorted(r.probe_id for r in records if r.status == "error")


def test_reader_errors_are_asked_again_on_retry(tmp_path: Path) -> None:
    breakage = Breakage(BROKEN_PROBES)
    fake = FakeLLM(answer=lambda prompt: "" if breakage.hits(prompt) else "Unknown")
    with fake.serve() as server:
        config = tiny_run_config(
            tmp_path, "halumem", "bm25", reader_llm=LLMSpec(MODEL, server.base_url), max_episodes=1
        )
        failed = [r for r in latest(config) if r.status == "error"]
        assert len(failed) == BROKEN_PROBES
        assert all(r.error and r.error.stage == "reader" for r in failed)

        breakage.on = False
        server.reset_counters()
        asked_before = len(fake.prompts)
        retried = latest(dataclasses.replace(config, retry_errors=True))
    assert errored(retried) == []
    # One request per redone probe reached the server: the empty replies had not been stored.
    assert server.total_requests == BROKEN_PROBES
    # The probes due after one session are answered concurrently: their prompts arrive in any order.
    assert sorted(p.text for p in fake.prompts[asked_before:]) == sorted(breakage.broken)


def test_judge_errors_and_partly_judged_extractions_are_redone_on_retry(tmp_path: Path) -> None:
    """Four QA judgments are garbled, and one accuracy verdict of one extraction probe."""
    questions = Breakage(BROKEN_PROBES)
    memories = Breakage(1)

    def qa(prompt: Prompt) -> Fields | RawReply:
        return RawReply("probably fine") if questions.hits(prompt) else {"label": "correct"}

    def accuracy(prompt: Prompt) -> Fields | RawReply:
        return RawReply("{not json") if memories.hits(prompt) else {"score": 2, "included": True}

    fake = FakeLLM(qa=qa, accuracy=accuracy)
    with fake.serve() as server:
        config = tiny_run_config(
            tmp_path, "halumem", "bm25", judge_llm=LLMSpec(MODEL, server.base_url), max_episodes=1
        )
        records = latest(config)
        failed = [r for r in records if r.status == "error"]
        assert sorted(r.kind for r in failed) == ["extraction"] + ["qa"] * BROKEN_PROBES
        (extraction,) = [r for r in failed if r.kind == "extraction"]
        assert extraction.score is not None
        # One accuracy prompt is garbled; a session may hold the same memory twice (the same prompt),
        # and which memory is asked first depends on the judge's concurrency: count the failed ones.
        failed_verdicts = [d for d in extraction.score.details if d.get("error")]
        assert failed_verdicts and extraction.score.explanation.endswith(f", {len(failed_verdicts)} failed")
        assert extraction.usage["judge"].calls > 2, "the verdicts that were made keep their cost"

        questions.on = memories.on = False
        server.reset_counters()
        asked_before = len(fake.prompts)
        retried = latest(dataclasses.replace(config, retry_errors=True))
    assert errored(retried) == []
    redone = fake.prompts[asked_before:]
    # The probes due after one session are judged concurrently: their prompts arrive in any order.
    assert sorted(p.text for p in redone if p.kind == "qa") == sorted(questions.broken)
    assert memories.broken[0] in [p.text for p in redone if p.kind == "accuracy"]
    # The garbled first replies were not stored: every redone judgment reached the server.
    assert server.total_requests == len(redone) > BROKEN_PROBES


def test_an_extraction_reply_mem0_cannot_read_is_not_cached(tmp_path: Path) -> None:
    pytest.importorskip("mem0")
    from membench.systems.mem0 import _ExtractionLLM

    replies = ["I found no memories.", '{"memory": [{"text": "Ana lives in Lisbon"}]}']
    messages = [{"role": "user", "content": "Ana: I live in Lisbon."}]
    with FakeOpenAIServer(lambda request: replies[0]) as server:
        cache = ResponseCache(tmp_path / "llm.sqlite")
        client = LLMClient(
            MODEL, role="system", api_base=server.base_url, cache=cache, retry=RetryPolicy(sleep=no_wait)
        )

        async def extract() -> str:
            extraction = _ExtractionLLM(client, asyncio.get_running_loop())
            return await asyncio.to_thread(
                extraction.generate_response, messages, response_format={"type": "json_object"}
            )

        assert asyncio.run(extract()) == replies[0]
        assert len(cache) == 0
        replies.pop(0)
        assert asyncio.run(extract()) == replies[0]
        assert asyncio.run(extract()) == replies[0]
        assert server.total_requests == 2 and len(cache) == 1


def test_an_episodic_judge_reply_that_does_not_parse_is_not_cached(tmp_path: Path) -> None:
    from membench_tasks.episodic.judges import LLMJudge as EpisodicJudge

    probe = Probe(
        probe_id="p", episode_id="e", after_session=0, kind="recall", mode="answer", question="Where?",
        gold={"items": ["Lisbon"], "get": "all", "trait": "location", "vocabulary": ["Lisbon", "Porto"]},
    )  # fmt: skip
    good = json.dumps({"identified": ["Lisbon"], "matches": [{"item": "Lisbon", "score": 1}], "order": []})
    replies = ["Lisbon, I think."]
    with FakeOpenAIServer(lambda request: replies[0]) as server:
        cache = ResponseCache(tmp_path / "llm.sqlite")
        client = LLMClient(
            MODEL, role="judge", api_base=server.base_url, cache=cache, retry=RetryPolicy(sleep=no_wait)
        )

        def judge() -> Score:
            episode = Episode(episode_id="e", sessions=[])
            return asyncio.run(EpisodicJudge(client).score(probe, Prediction(answer="Lisbon"), episode))

        assert judge().status == "error" and server.total_requests == 2 and len(cache) == 0
        replies[0] = good
        assert judge().label == "correct" and server.total_requests == 3
        assert judge().label == "correct" and server.total_requests == 3  # the verdict that parsed is stored
