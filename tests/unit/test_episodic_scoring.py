"""Episodic scoring against hand-computed values: matcher, lenient F1, Kendall tau, judges, metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import OutputParseError
from membench.core.types import Episode, Prediction, Probe, Record, Score
from membench.llm.client import LLMClient
from membench.testing import FakeLLM
from membench.testing.openai_server import FakeOpenAIServer
from membench_tasks.episodic.judges import LLMJudge, MatchJudge, parse_reply
from membench_tasks.episodic.metrics import METRICS, episodic_contributions
from membench_tasks.episodic.scoring import chronology, date_forms, f1_scores, kendall_tau, match_answer

PLACES = ["Harbor Lighthouse", "Lantern Square", "Sandpiper Beach", "Foxglove Theater"]
PEOPLE = ["Ezra Edwards", "Maren Okafor", "Ezra Moreau"]
DATES = ["September 13, 2025", "March 2, 2024", "May 1, 2024"]


def test_dates_are_recognised_in_common_forms() -> None:
    for written in ("13 September 2025", "Sep 13th, 2025", "2025-09-13", "9/13/2025", "September 13, 2025"):
        assert match_answer(f"It was {written}.", ["September 13, 2025"], DATES, "date").stated == [
            "September 13, 2025"
        ], written
    assert "march 2nd 2024" in date_forms("March 2, 2024")
    assert match_answer("September 2025", ["September 13, 2025"], DATES, "date").stated == []


def test_items_are_whole_phrases_in_order_of_appearance() -> None:
    match = match_answer(
        "Sandpiper Beach, then the harbor lighthouse.", ["Harbor Lighthouse"], PLACES, "location"
    )
    assert match.stated == ["Sandpiper Beach", "Harbor Lighthouse"]
    assert match.scores == {"Harbor Lighthouse": 1.0}
    assert match_answer("Lantern Squares", [], PLACES, "location").stated == []


def test_first_name_alone_earns_half_and_counts_as_stated() -> None:
    match = match_answer(
        "Maren was there, and so was Ezra Moreau.", ["Maren Okafor", "Ezra Edwards"], PEOPLE, "entity"
    )
    # "Maren" alone hints at Maren Okafor: upstream's 0.5. "Ezra" here is part of another person's
    # full name, "Ezra Moreau": it names him, not Ezra Edwards, so it earns Ezra Edwards nothing.
    assert match.scores == {"Maren Okafor": 0.5, "Ezra Edwards": 0.0}
    assert match.stated == ["Ezra Moreau"] and match.n_pred == 2
    assert match_answer("Then Ezra came back.", ["Ezra Edwards"], PEOPLE, "entity").scores == {
        "Ezra Edwards": 0.5
    }


def test_a_wrong_person_sharing_a_first_name_scores_nothing() -> None:
    gold = ["Ezra Edwards"]
    wrong = match_answer("Ezra Moreau attended.", gold, PEOPLE, "entity")
    assert wrong.scores == {"Ezra Edwards": 0.0} and wrong.n_pred == 1
    assert f1_scores(sum(wrong.scores.values()), wrong.n_pred, len(gold)) == (0.0, 0.0)
    both = match_answer("Ezra Moreau and Ezra Edwards.", ["Ezra Edwards", "Ezra Moreau"], PEOPLE, "entity")
    assert both.scores == {"Ezra Edwards": 1.0, "Ezra Moreau": 1.0} and both.n_pred == 2


def test_no_information_states_nothing() -> None:
    match = match_answer("No information about Harbor Lighthouse.", ["Harbor Lighthouse"], PLACES, "location")
    assert match.n_pred == 0 and match.scores == {"Harbor Lighthouse": 0.0}


@pytest.mark.parametrize(
    ("total", "n_pred", "n_gt", "lenient", "harsh"),
    [
        (0.0, 0, 0, 1.0, 1.0),  # a correct "none"
        (0.0, 2, 0, 0.0, 0.0),  # hallucinated items on an empty answer
        (0.0, 0, 3, 0.0, 0.0),  # nothing stated
        (2.0, 2, 4, 2 / 3, 2 / 3),  # P = 1, R = 1/2
        (2.0, 6, 4, 0.5, 0.4),  # lenient caps n_pred at 4: P = R = 1/2; harsh: P = 1/3, R = 1/2
        (1.5, 2, 2, 0.75, 0.75),  # one full, one half
    ],
)
def test_lenient_and_harsh_f1(total: float, n_pred: int, n_gt: int, lenient: float, harsh: float) -> None:
    assert f1_scores(total, n_pred, n_gt) == pytest.approx((lenient, harsh))


def test_kendall_tau_by_hand() -> None:
    assert kendall_tau([0, 1, 2, 3]) == 1.0
    assert kendall_tau([3, 2, 1, 0]) == -1.0
    assert kendall_tau([1, 0, 2]) == pytest.approx(1 / 3)  # 2 concordant, 1 discordant of 3 pairs
    assert kendall_tau([0, 2, 1, 3]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert kendall_tau([0]) is None


def test_tau_is_gated_on_the_exact_set() -> None:
    gold = ["March 2, 2024", "May 1, 2024", "September 13, 2025"]
    assert chronology(["May 1, 2024", "March 2, 2024", "September 13, 2025"], gold) == (
        True,
        pytest.approx(1 / 3),
    )
    assert chronology(["March 2, 2024", "May 1, 2024"], gold) == (False, None)


def test_items_outside_the_ground_truth_are_dropped_before_the_set_test() -> None:
    """Upstream's compute_kendall_summarise drops unmatched predictions (index -1), then asks for all."""
    gold = ["March 2, 2024", "May 1, 2024", "September 13, 2025"]
    assert chronology([*gold, "June 1, 2024"], gold) == (True, 1.0)
    extras = ["June 1, 2024", "September 13, 2025", "July 4, 2024", "March 2, 2024", "May 1, 2024"]
    assert chronology(extras, gold) == (True, pytest.approx(-1 / 3)), "order [2, 0, 1]: tau -1/3"
    assert chronology(["March 2, 2024", "June 1, 2024", "July 4, 2024"], gold) == (False, None)


def _probe(items: list[str], get: str = "all", trait: str = "location", bin_: str = "1") -> Probe:
    return Probe(
        probe_id="p", episode_id="e", after_session=0, kind={"all": "recall"}.get(get, get), mode="answer",
        question="Where?", gold={"items": items, "get": get, "trait": trait, "n_chapters": len(items),
                                 "vocabulary": DATES if trait == "date" else PLACES},
        labels={"bin": bin_, "book_chapters": "20"},
    )  # fmt: skip


EPISODE = Episode(episode_id="e", sessions=[])


def _score(judge: Any, probe: Probe, answer: str) -> Score:
    return asyncio.run(judge.score(probe, Prediction(answer=answer), EPISODE))


def test_match_judge_labels_and_values() -> None:
    judge = MatchJudge()
    hallucinated = _score(judge, _probe([], bin_="0"), "Harbor Lighthouse")
    assert hallucinated.label == "hallucination" and hallucinated.values["f1"] == 0.0
    assert _score(judge, _probe([], bin_="0"), "Unknown.").label == "correct"
    partial = _score(judge, _probe(["Harbor Lighthouse", "Lantern Square"], bin_="2"), "Lantern Square")
    assert partial.label == "partial" and partial.values["f1"] == pytest.approx(2 / 3)
    chrono = _probe(["March 2, 2024", "September 13, 2025"], get="chronological", trait="date", bin_="2")
    reversed_ = _score(judge, chrono, "September 13, 2025 and then March 2, 2024")
    assert reversed_.values["exact_set"] == 1.0 and reversed_.values["tau"] == -1.0
    assert "tau" not in _score(judge, chrono, "March 2, 2024").values
    extra = _score(judge, chrono, "March 2, 2024, then May 1, 2024, then September 13, 2025")
    assert extra.values["n_pred"] == 3 and extra.values["f1_harsh"] == pytest.approx(0.8)
    assert extra.values["exact_set"] == 1.0 and extra.values["tau"] == 1.0, "the extra date is dropped"


def test_llm_judge_scores_from_the_rubric(tmp_path: Path) -> None:
    fake = FakeLLM(episodic=1)
    with fake.serve() as server:
        judge = LLMJudge(LLMClient("openai/fake-model", role="judge", api_base=server.base_url))
        score = _score(judge, _probe(["Lantern Square"]), "It was at Lantern Square.")
        prompt = server.requests[0].body["messages"][0]["content"]
    assert score.status == "scored" and score.values["f1"] == 1.0 and score.label == "correct"
    assert "- Lantern Square" in prompt and "It was at Lantern Square." in prompt
    assert judge.identity()["template"] == "episodic-judge-v1"
    assert [p.kind for p in fake.prompts] == ["episodic"]


def _chronological_reply(request: dict[str, Any]) -> str:
    """An answer listing both dates and a third the ground truth lacks, in reverse story order."""
    matches = [{"item": "March 2, 2024", "score": 1}, {"item": "September 13, 2025", "score": 1}]
    order = ["September 13, 2025", "March 2, 2024"]
    return json.dumps({"identified": ["September 13, 2025", "May 1, 2024", "March 2, 2024"],
                       "matches": matches, "order": order})  # fmt: skip


def test_llm_judge_drops_extra_items_before_the_set_test() -> None:
    chrono = _probe(["March 2, 2024", "September 13, 2025"], get="chronological", trait="date", bin_="2")
    with FakeOpenAIServer(_chronological_reply) as server:
        judge = LLMJudge(LLMClient("openai/fake-model", role="judge", api_base=server.base_url))
        score = _score(judge, chrono, "September 13, 2025; May 1, 2024; March 2, 2024")
    assert score.values["n_pred"] == 3 and score.values["f1_harsh"] == pytest.approx(0.8)
    assert score.values["exact_set"] == 1.0 and score.values["tau"] == -1.0


def test_llm_judge_asks_once_more_then_errors() -> None:
    with FakeOpenAIServer(lambda request: "The answer looks right to me.") as server:
        judge = LLMJudge(LLMClient("openai/fake-model", role="judge", api_base=server.base_url))
        score = _score(judge, _probe(["Lantern Square"]), "Lantern Square")
        assert len(server.requests) == 2
    assert score.status == "error" and "JSON" in (score.explanation or "")


@pytest.mark.parametrize(
    "reply",
    [
        '{"identified": [], "matches": [], "order": []}',  # a ground-truth item left out
        '{"identified": [], "matches": [{"item": "Other", "score": 1}], "order": []}',
        '{"identified": [], "matches": [{"item": "Lantern Square", "score": 0.7}], "order": []}',
        '{"identified": [], "matches": [{"item": "Lantern Square", "score": true}], "order": []}',
        '{"identified": [], "matches": [{"item": "Lantern Square", "score": 1}], "order": ["X"]}',
        '{"identified": [], "matches": [{"item": "Lantern Square", "score": 1}]}',
    ],
)
def test_strict_parsing(reply: str) -> None:
    with pytest.raises(OutputParseError):
        parse_reply(reply, ["Lantern Square"])
    fenced = (
        '```json\n{"identified": [], "matches": [{"item": "Lantern Square", "score": 0.5}], "order": []}\n```'
    )
    assert parse_reply(fenced, ["Lantern Square"]) == ([], {"Lantern Square": 0.5}, [])


def _record(probe_id: str, kind: str, bin_: str, values: dict[str, float], size: str = "20") -> Record:
    return Record(
        run_id="r", task="episodic", task_version="1", system="s", episode_id="e", probe_id=probe_id,
        after_session=0, kind=kind, labels={"bin": bin_, "book_chapters": size}, input_hash="h",
        score=Score(judge="match", values=values), completed_at="now",
    )  # fmt: skip


def _value(contributions: list[Any], metric: str) -> float:
    picked = [c for c in contributions if c.metric == metric]
    return sum(c.num for c in picked) / sum(c.den for c in picked)


def test_metrics_follow_the_published_formulas() -> None:
    records = [
        _record("a", "recall", "0", {"f1": 1.0, "n_pred": 0}),
        _record("b", "recall", "0", {"f1": 0.0, "n_pred": 2}),
        _record("c", "recall", "0", {"f1": 1.0, "n_pred": 0}),
        _record("d", "recall", "1", {"f1": 0.5, "n_pred": 1}),
        _record("e", "latest", "1", {"f1": 1.0, "n_pred": 1}),  # bin 1: not part of "latest"
        _record("f", "latest", "2", {"f1": 0.5, "n_pred": 1}),
        _record("g", "latest", "6+", {"f1": 0.0, "n_pred": 1}),
        _record("h", "chronological", "2", {"f1": 1.0, "n_pred": 2, "exact_set": 1.0, "tau": 1.0}),
        _record("i", "chronological", "3-5", {"f1": 1.0, "n_pred": 3, "exact_set": 1.0, "tau": -1 / 3}),
        _record("j", "chronological", "2", {"f1": 0.5, "n_pred": 1, "exact_set": 0.0}),
        _record("k", "chronological", "1", {"f1": 1.0, "n_pred": 1}),  # one item: no order to judge
    ]
    out = episodic_contributions(records, [])
    assert _value(out, "simple_recall") == pytest.approx((2 / 3 + 0.5) / 2)  # mean of bin means
    assert _value(out, "f1") == pytest.approx(2.5 / 4)
    assert _value(out, "hallucination_rate") == pytest.approx(1 / 3)
    assert _value(out, "latest") == pytest.approx(0.25)
    assert _value(out, "exact_set") == pytest.approx(2 / 3)
    assert _value(out, "kendall_tau") == pytest.approx(1 / 3)
    exact_tau = _value(out, "exact_set_tau")
    assert exact_tau == pytest.approx((1 - 1 / 3) / 3)
    awareness = next(m for m in METRICS if m.name == "chronological_awareness")
    assert awareness.derive is not None
    assert awareness.derive({"latest": 0.25, "exact_set_tau": exact_tau}) == pytest.approx((0.25 + 2 / 9) / 2)
    assert awareness.derive({"latest": 0.25, "exact_set_tau": -0.5}) == pytest.approx(0.125)


def test_errored_records_are_counted_not_scored() -> None:
    failed = _record("x", "recall", "1", {}).model_copy(update={"score": Score(judge="m", status="error")})
    out = episodic_contributions([failed, _record("y", "recall", "1", {"f1": 1.0, "n_pred": 1})], [])
    assert _value(out, "simple_recall") == 1.0
    assert [c.metric for c in out if c.error] == ["f1", "f1_harsh", "simple_recall"]
