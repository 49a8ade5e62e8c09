"""LoCoMo's judges: the official F1, the exact rule judge on keys, and the LLM judge's two rubrics and
its strict RIGHT/WRONG, through the fake LLM on the loopback server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench.core.types import Episode, Prediction, Probe, Score
from membench.llm.client import LLMClient
from membench.testing import FakeLLM
from membench.testing.fake_llm import Prompt, RawReply
from membench_tasks.locomo.judges import F1Judge, LLMJudge, RuleJudge
from membench_tasks.locomo.task import LoCoMoTask

EPISODE = Episode(episode_id="e", sessions=[])


def probe(category: int, answer: str, keys: dict[str, object] | None = None, question: str = "Q?") -> Probe:
    gold: dict[str, object] = {"answer": answer, "category": category, "evidence": []}
    if keys is not None:
        gold["keys"] = keys
    return Probe(
        probe_id="p", episode_id="e", after_session=0, kind="qa", mode="answer", question=question, gold=gold
    )


def score(judge: F1Judge | RuleJudge | LLMJudge, p: Probe, answer: str) -> Score:
    return asyncio.run(judge.score(p, Prediction(answer=answer), EPISODE))


def test_the_f1_judge_records_the_official_score_and_no_verdict() -> None:
    result = score(F1Judge(), probe(4, "Biscuit"), "The dog is named Biscuit")
    assert result.values == {"f1": pytest.approx(0.4)} and result.label is None
    assert score(F1Judge(), probe(5, "paella"), "Not mentioned in the conversation.").values == {"f1": 1.0}
    assert F1Judge().exact and F1Judge().identity() == {"name": "f1", "version": "v1"}


@pytest.mark.parametrize(
    ("answer", "keys", "label"),
    [
        ("My dog is named Biscuit", {"require": ["Biscuit"], "abstain": False}, "right"),
        ("My dog is named Rex", {"require": ["Biscuit"], "abstain": False}, "wrong"),
        ("chess, knitting", {"require": ["chess", "knitting"], "abstain": False}, "right"),
        ("chess", {"require": ["chess", "knitting"], "abstain": False}, "wrong"),
        ("Biscuit? Not mentioned in the conversation.", {"require": ["Biscuit"], "abstain": False}, "wrong"),
        ("Not mentioned in the conversation.", {"require": [], "abstain": True}, "right"),
        ("Unknown.", {"require": [], "abstain": True}, "right"),
        ("Biscuit", {"require": [], "abstain": True}, "wrong"),
    ],
)
def test_the_rule_judge_checks_the_keys(answer: str, keys: dict[str, object], label: str) -> None:
    result = score(RuleJudge(), probe(4 if not keys["abstain"] else 5, "Biscuit", keys), answer)
    assert result.label == label and result.values["correct"] == float(label == "right")
    assert "f1" in result.values


def _client(base_url: str) -> LLMClient:
    return LLMClient("openai/fake-judge", role="judge", api_base=base_url, api_key="sk-test-not-real")


def _right_if_biscuit(prompt: Prompt) -> str:
    answer = prompt.section("Answer to check")
    return "RIGHT" if "Biscuit" in answer or "not mentioned" in answer.lower() else "WRONG"


def test_the_strict_llm_judge_sends_its_prompts_and_reads_the_verdict() -> None:
    fake = FakeLLM(locomo=_right_if_biscuit)
    cases = [
        (probe(4, "Biscuit"), "Biscuit", "locomo-strict", "right"),
        (probe(3, "Likely yes; she rows"), "yes", "locomo-strict", "wrong"),
        (probe(5, "Biscuit"), "Not mentioned in the conversation.", "locomo-adversarial", "right"),
        (probe(5, "Biscuit"), "Rex", "locomo-adversarial", "wrong"),
    ]
    with fake.serve() as server:
        judge = LLMJudge(_client(server.base_url))
        results = [score(judge, p, answer) for p, answer, _, _ in cases]
        first = server.requests[0].body
    assert [r.label for r in results] == [label for *_, label in cases]
    assert [r.values["correct"] for r in results] == [1.0, 0.0, 1.0, 0.0]
    assert [r.values["f1"] for r in results] == [1.0, pytest.approx(2 / 3), 1.0, 0.0]
    assert [p.kind for p in fake.prompts] == [kind for _, _, kind, _ in cases]
    assert (first["max_tokens"], first["temperature"]) == (16, 0.0)
    assert "Be strict:" in fake.prompts[0].text and "Reference answer: Biscuit" in fake.prompts[0].text
    assert 'The reference\'s text after ";" is only its reason' in fake.prompts[1].text
    assert "What a careless answer would say: Biscuit" in fake.prompts[2].text
    assert judge.name == "llm:openai/fake-judge" and judge.identity()["style"] == "strict"


def test_the_generous_rubric_is_labelled_in_the_judges_name_and_identity() -> None:
    fake = FakeLLM(locomo="RIGHT")
    with fake.serve() as server:
        strict, generous = LLMJudge(_client(server.base_url)), LLMJudge(_client(server.base_url), "generous")
        result = score(generous, probe(2, "7 May 2023"), "early May")
    assert result.label == "right" and [p.kind for p in fake.prompts] == ["locomo-generous"]
    assert "Be lenient:" in fake.prompts[0].text
    assert generous.name == "llm-generous:openai/fake-judge" and result.judge == generous.name
    assert generous.identity()["style"] == "generous"
    assert generous.identity()["templates_sha256"] != strict.identity()["templates_sha256"]


def test_an_unusable_reply_is_asked_once_more_then_a_judge_error_never_wrong() -> None:
    fake = FakeLLM(locomo=RawReply("RIGHT, mostly."))
    with fake.serve() as server:
        result = score(LLMJudge(_client(server.base_url)), probe(4, "Biscuit"), "Biscuit")
    assert result.status == "error" and result.label is None and result.values == {}
    assert result.explanation == (
        "unusable judge reply after one re-ask: "
        'the reply must be the one word RIGHT or WRONG, got "RIGHT, mostly."'
    )
    assert [(p.kind, p.retry) for p in fake.prompts] == [("locomo-strict", False), ("locomo-strict", True)]
    assert result.usage["judge"].calls == 2


def test_the_task_builds_its_judges_and_refuses_bad_choices(tmp_path: Path) -> None:
    task = LoCoMoTask({}, tmp_path)
    assert task.make_judge("f1").name == "f1" and task.make_judge("rule").name == "rule"
    with pytest.raises(ConfigError, match="the llm judge needs a model: --judge-llm MODEL"):
        task.make_judge("llm")
    with pytest.raises(ConfigError, match="judge_style must be strict or generous, got 'kind'"):
        LoCoMoTask({"judge_style": "kind"}, tmp_path).make_judge("llm", _client("http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="task locomo has no judge 'bleu'"):
        task.make_judge("bleu")
    generous = LoCoMoTask({"judge_style": "generous"}, tmp_path).make_judge(
        "llm", _client("http://127.0.0.1:9")
    )
    assert generous.name == "llm-generous:openai/fake-judge"
