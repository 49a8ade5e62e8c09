"""LongMemEval's judges: the rule by the id's suffix, the exact rule judge, the LLM judge's prompts and
its strict yes/no, through the fake LLM on the loopback server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from membench.core.errors import OutputParseError
from membench.core.types import Episode, Prediction, Probe, Score
from membench.llm.client import LLMClient
from membench.testing import FakeLLM
from membench.testing.fake_llm import Prompt, RawReply
from membench_tasks.longmemeval.judges import LLMJudge, RuleJudge, parse_verdict, rule_for
from membench_tasks.longmemeval.loader import is_abstention

EPISODE = Episode(episode_id="e", sessions=[])


def probe(
    question_type: str,
    question_id: str = "q1",
    *,
    answer: str = "Peak Fitness",
    require: tuple[str, ...] = ("Peak Fitness",),
) -> Probe:
    return Probe(
        probe_id=question_id,
        episode_id="e",
        after_session=0,
        kind="qa",
        mode="answer",
        question="Which gym do I go to now?",
        gold={
            "answer": answer,
            "question_type": question_type,
            "abstention": is_abstention(question_id),
            "answer_session_ids": [],
            "keys": {"require": list(require), "forbid": []},
        },
    )


def score(judge: RuleJudge | LLMJudge, p: Probe, answer: str) -> Score:
    return asyncio.run(judge.score(p, Prediction(answer=answer), EPISODE))


@pytest.mark.parametrize(
    ("question_type", "question_id", "rule"),
    [
        ("single-session-user", "q1", "standard"),
        ("single-session-assistant", "q1", "standard"),
        ("multi-session", "q1", "standard"),
        ("temporal-reasoning", "q1", "temporal"),
        ("knowledge-update", "q1", "update"),
        ("single-session-preference", "q1", "preference"),
        # the harness bug: an _abs question keeps its type, and is judged for abstention all the same.
        ("knowledge-update", "q1_abs", "abstention"),
        ("temporal-reasoning", "q1_abs", "abstention"),
        ("single-session-user", "q1_abs", "abstention"),
    ],
)
def test_the_rule_is_the_types_unless_the_id_ends_in_abs(
    question_type: str, question_id: str, rule: str
) -> None:
    assert rule_for(probe(question_type, question_id)) == rule


def test_the_rule_judge_needs_every_key_and_abstention_by_the_suffix() -> None:
    judge = RuleJudge()
    update = probe("knowledge-update")
    assert score(judge, update, "You now go to Peak Fitness.").label == "right"
    right_with_old = score(judge, update, "You used to go to Iron Works; now Peak Fitness.")
    assert right_with_old.label == "right", "old plus new is right, as the paper's rule says"
    missed = score(judge, update, "You go to Iron Works.")
    assert missed.label == "wrong" and missed.details == [
        {"rule": "update", "missing": ["Peak Fitness"], "forbidden_stated": []}
    ]
    assert score(judge, update, "I don't know.").label == "wrong"
    abstention = probe("knowledge-update", "q1_abs", require=())
    assert score(judge, abstention, "I don't know.").label == "right"
    assert score(judge, abstention, "Unknown").values == {"correct": 1.0}
    assert score(judge, abstention, "You go to Peak Fitness.").label == "wrong"


@pytest.mark.parametrize(
    ("text", "verdict"), [("yes", True), ("Yes.", True), (" NO ", False), ("no.", False)]
)
def test_a_verdict_is_the_one_word_yes_or_no(text: str, verdict: bool) -> None:
    assert parse_verdict(text) is verdict


@pytest.mark.parametrize("text", ["yes, mostly", "no, not yes", "Correct", "", "The answer is yes"])
def test_anything_else_is_not_a_verdict(text: str) -> None:
    with pytest.raises(OutputParseError, match="the one word yes or no"):
        parse_verdict(text)


def _client(base_url: str) -> LLMClient:
    return LLMClient("openai/fake-judge", role="judge", api_base=base_url, api_key="sk-test-not-real")


def _yes_if_peak(prompt: Prompt) -> str:
    return "yes" if "Peak Fitness" in prompt.section("Assistant's answer") else "no"


def test_the_llm_judge_sends_each_rules_prompt_and_reads_the_verdict(tmp_path: Path) -> None:
    fake = FakeLLM(longmemeval=_yes_if_peak)
    cases = [
        (probe("single-session-user"), "Peak Fitness", "longmemeval-standard", "right"),
        (probe("temporal-reasoning"), "Iron Works", "longmemeval-temporal", "wrong"),
        (probe("knowledge-update"), "Iron Works before, now Peak Fitness", "longmemeval-update", "right"),
        (probe("single-session-preference"), "Any gym", "longmemeval-preference", "wrong"),
        (probe("knowledge-update", "q2_abs"), "Peak Fitness", "longmemeval-abstention", "right"),
    ]
    with fake.serve() as server:
        judge = LLMJudge(_client(server.base_url))
        labels = [score(judge, p, answer).label for p, answer, _, _ in cases]
        first = server.requests[0].body
    assert labels == [label for *_, label in cases]
    assert [p.kind for p in fake.prompts] == [kind for _, _, kind, _ in cases]
    assert (first["max_tokens"], first["temperature"]) == (10, 0.0)
    text = fake.prompts[1].text
    assert (
        "off by one" in text
        and "Correct answer: Peak Fitness" in text
        and "Assistant's answer: Iron Works" in text
    )
    assert (
        "cannot be answered" in fake.prompts[4].text and "Explanation: Peak Fitness" in fake.prompts[4].text
    )
    assert judge.identity()["templates"] == [
        "lme-judge-abstention-v1",
        "lme-judge-preference-v1",
        "lme-judge-reminder-v1",
        "lme-judge-standard-v1",
        "lme-judge-temporal-v1",
        "lme-judge-update-v1",
    ]


def test_an_unusable_reply_is_asked_once_more_then_a_judge_error_never_wrong() -> None:
    fake = FakeLLM(longmemeval=RawReply("Yes, I think so."))
    with fake.serve() as server:
        judge = LLMJudge(_client(server.base_url))
        result = score(judge, probe("multi-session"), "Peak Fitness")
    assert result.status == "error" and result.label is None and result.values == {}
    assert result.explanation == (
        "unusable judge reply after one re-ask: the reply must be the one word yes or no, "
        'got "Yes, I think so."'
    )
    assert [(p.kind, p.retry) for p in fake.prompts] == [
        ("longmemeval-standard", False),
        ("longmemeval-standard", True),
    ]
    assert result.usage["judge"].calls == 2


def test_a_reply_fixed_on_the_re_ask_is_a_verdict() -> None:
    replies = iter([RawReply("Probably yes."), "no"])
    fake = FakeLLM(longmemeval=lambda prompt: next(replies))
    with fake.serve() as server:
        result = score(LLMJudge(_client(server.base_url)), probe("multi-session"), "Peak Fitness")
    assert result.status == "scored" and result.label == "wrong" and result.usage["judge"].calls == 2
