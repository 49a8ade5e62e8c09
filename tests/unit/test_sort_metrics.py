"""SORT's strict A/B judge and its metrics: abstentions and invalid answers apart, bias, binomial test."""

from __future__ import annotations

import asyncio

import pytest
from scipy.stats import binomtest

from membench.core.errors import ConfigError
from membench.core.types import Episode, ErrorInfo, Prediction, Probe, Record
from membench.stats import estimate
from membench.stats.frame import contributions_frame
from membench_tasks.sort.judge import OrderJudge, parse_choice
from membench_tasks.sort.metrics import METRICS, sort_contributions

LABELS = {"excerpt_length": "250", "segment_length": "20", "distance_bin": "62", "presented_first": "earlier"}


@pytest.mark.parametrize(
    ("answer", "choice"),
    [
        ("A", "A"), ("B", "B"), (" Segment B ", "B"), ("**A**", "A"), ("(B)", "B"), ("A.", "A"), ('"A"', "A"),
        ("Unknown", "abstain"), ("unknown.", "abstain"),
        ("a", "invalid"), ("The answer is A", "invalid"), ("A or B", "invalid"), ("AB", "invalid"),
        ("", "invalid"), (None, "invalid"), ("Segment C", "invalid"),
    ],
)  # fmt: skip
def test_parse_is_strict(answer: str | None, choice: str) -> None:
    assert parse_choice(answer) == choice


def _probe(gold: str = "A") -> Probe:
    return Probe(
        probe_id="p", episode_id="e", after_session=0, kind="order", mode="answer", question="?",
        gold={"answer": gold}, labels=LABELS,
    )  # fmt: skip


def judge(answer: str, gold: str = "A") -> str | None:
    episode = Episode(episode_id="e", sessions=[])
    return asyncio.run(OrderJudge().score(_probe(gold), Prediction(answer=answer), episode)).label


def test_judge_labels() -> None:
    assert judge("A") == "correct" and judge("B") == "wrong" and judge("B", gold="B") == "correct"
    assert judge("Unknown") == "abstain" and judge("maybe A") == "invalid"
    with pytest.raises(ConfigError, match="no gold answer"):
        asyncio.run(
            OrderJudge().score(_probe("C"), Prediction(answer="A"), Episode(episode_id="e", sessions=[]))
        )


def record(i: int, answer: str | None, gold: str = "A", episode: str = "e0") -> Record:
    prediction = Prediction(answer=answer)
    score = None
    error = None
    if answer is None:
        error = ErrorInfo(stage="reader", type="TimeoutError", message="slow")
    else:
        score = asyncio.run(
            OrderJudge().score(_probe(gold), prediction, Episode(episode_id=episode, sessions=[]))
        )
    return Record(
        run_id="r", task="sort", task_version="1", system="s", episode_id=episode, probe_id=f"p{i}",
        after_session=0, kind="order", labels=LABELS, input_hash="h", prediction=prediction, score=score,
        error=error, completed_at="now",
    )  # fmt: skip


def values(records: list[Record]) -> dict[str, float | None]:
    frame = contributions_frame(sort_contributions(records, []))
    return {e.metric: e.value for e in estimate(frame, METRICS, n_boot=0)}


def test_metrics_keep_abstentions_invalid_answers_and_errors_apart() -> None:
    records = [
        record(0, "A"), record(1, "A", gold="B"), record(2, "B", gold="B"),
        record(3, "Unknown", episode="e1"), record(4, "perhaps", episode="e1"), record(5, None, episode="e1"),
    ]  # fmt: skip
    v = values(records)
    assert v["accuracy"] == pytest.approx(2 / 5), "errors leave the denominator; abstain/invalid do not"
    assert v["accuracy_answered"] == pytest.approx(2 / 3)
    assert v["accuracy_guess"] == pytest.approx(2.5 / 5)
    assert v["abstain"] == pytest.approx(1 / 5) and v["invalid"] == pytest.approx(1 / 5)
    assert v["answer_a"] == pytest.approx(2 / 3), "position bias over A/B answers"
    assert v["scored"] == 5
    assert v["binomial_p"] == pytest.approx(binomtest(2, 5, 0.5, alternative="greater").pvalue)
    frame = contributions_frame(sort_contributions(records, []))
    assert frame[frame.metric == "accuracy"].error.sum() == 1
    assert set(frame.columns) >= {"excerpt_length", "segment_length", "distance_bin", "presented_first"}


def test_the_headline_is_on_the_papers_scale_where_chance_is_half() -> None:
    """The paper's model must answer A or B, so chance is 50%: a reader that always abstains (no memory)
    reads 50% on the headline, with strict accuracy 0% and the abstain share 100% beside it."""
    (main,) = [spec for spec in METRICS if spec.main]
    assert main.name == "accuracy_guess"
    v = values([record(i, "Unknown", gold="AB"[i % 2], episode=f"e{i // 4}") for i in range(8)])
    assert v[main.name] == 0.5 and v["accuracy"] == 0.0 and v["abstain"] == 1.0
    assert v["binomial_p"] == 1.0, "the test counts strict correct answers: abstentions are no evidence"


def test_always_answering_a_is_chance_on_counterbalanced_pairs() -> None:
    records = [record(i, "A", gold="AB"[i % 2], episode=f"e{i // 4}") for i in range(40)]
    v = values(records)
    assert v["accuracy_guess"] == v["accuracy"] == 0.5 and v["answer_a"] == 1.0
    assert v["binomial_p"] == pytest.approx(binomtest(20, 40, 0.5, alternative="greater").pvalue)
