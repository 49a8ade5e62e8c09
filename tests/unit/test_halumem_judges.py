"""HaluMem's rule, lexical and LLM judges on hand-built probes, predictions and episodes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, LLMError, OutputParseError
from membench.core.types import Dataset, Episode, Memory, Prediction, Probe, Score, Session, Turn, Usage
from membench.llm.types import LLMResponse
from membench.systems.base import MemorySystem
from membench.systems.baselines import FullContextSystem, turn_text
from membench.systems.bm25 import BM25System
from membench_tasks.halumem.judge_base import HaluMemJudge
from membench_tasks.halumem.judge_lexical import LexicalJudge
from membench_tasks.halumem.judge_llm import INTEGRITY, QA, UPDATE, LLMJudge, parse_verdict
from membench_tasks.halumem.judge_rule import MISSING_KEYS, RuleJudge

TIME = "Mar 02, 2026, 10:00:00"
SESSION = Session(
    session_id="u1:s0",
    turns=[
        Turn(
            role="user", content="Hi! I moved to Lisbon last month; I used to live in Porto.", timestamp=TIME
        ),
        Turn(role="assistant", content="Lovely. And your sister Ana lives in Madrid, right?", timestamp=TIME),
        Turn(role="user", content="I work as an architect at Arup now.", timestamp=TIME),
        Turn(role="assistant", content="Congratulations on the new job!", timestamp=TIME),
    ],
)
EPISODE = Episode(
    episode_id="u1", sessions=[SESSION], metadata={"persona_name": "Rui Costa", "variant": "medium"}
)


def gold_point(
    index: int,
    content: str,
    memory_type: str,
    keys: dict[str, list[str]] | None,
    *,
    distractor: bool = False,
    original: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "point_id": f"u1:s0:m{index}",
        "index": index,
        "content": content,
        "memory_type": memory_type,
        "source": "interference" if distractor else "secondary",
        "is_distractor": distractor,
        "is_update": bool(original),
        "original_memories": original or [],
        "importance": None if distractor else 0.75,
        "keys": keys,
    }


def keys(required: list[str], subject: list[str] | None = None, stale: list[str] | None = None) -> dict:
    return {"required": required, "subject": subject or [], "stale": stale or []}


MOVED = gold_point(
    1,
    "Rui Costa moved to Lisbon.",
    "Persona Memory",
    keys(["Lisbon"], ["moved", "lives", "live"], ["Porto"]),
    original=["Rui Costa lives in Porto."],
)
JOB = gold_point(2, "Rui Costa works as an architect at Arup.", "Persona Memory", keys(["architect", "Arup"]))
SISTER = gold_point(
    3, "Rui Costa's sister Ana lives in Madrid.", "Relationship Memory", keys(["Madrid"]), distractor=True
)
HIKE = gold_point(4, "Rui Costa went hiking in Sintra.", "Event Memory", keys(["hiking", "Sintra"]))
POINTS = [MOVED, JOB, SISTER, HIKE]


def without_keys(point: dict[str, Any]) -> dict[str, Any]:
    return {**point, "keys": None}


def extraction_probe(points: list[dict[str, Any]]) -> Probe:
    return Probe(
        probe_id="u1:s0:extraction",
        episode_id="u1",
        after_session=0,
        kind="extraction",
        mode="session_memories",
        gold={"memory_points": points},
    )


def update_probe(point: dict[str, Any]) -> Probe:
    return Probe(
        probe_id=f"u1:s0:update:{point['index']}",
        episode_id="u1",
        after_session=0,
        kind="update",
        mode="retrieve",
        query=point["content"],
        gold={"point": point},
        labels={"memory_type": point["memory_type"]},
    )


def qa_probe(answer: str, question_keys: dict[str, Any] | None, evidence: list[str] | None = None) -> Probe:
    return Probe(
        probe_id="u1:s0:qa:0",
        episode_id="u1",
        after_session=0,
        kind="qa",
        mode="answer",
        question="Where does Rui Costa live now?",
        query="Where does Rui Costa live now?",
        top_k=20,
        gold={
            "answer": answer,
            "evidence": [{"memory_content": e, "memory_type": "Persona Memory"} for e in evidence or []],
            "keys": question_keys,
        },
        labels={"question_type": "Basic Fact Recall", "difficulty": "easy"},
    )


def recalled(*texts: str) -> Prediction:
    return Prediction(memories=[Memory(text=text) for text in texts])


def judge(judge: HaluMemJudge, probe: Probe, prediction: Prediction) -> Score:
    return asyncio.run(judge.score(probe, prediction, EPISODE))


def by_element(score: Score) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    points = {d["point_id"]: d for d in score.details if d["element"] == "point"}
    memories = sorted((d for d in score.details if d["element"] == "memory"), key=lambda d: d["position"])
    return points, memories


# ---------------------------------------------------------------- rule judge

EXTRACTED = recalled(
    "User moved to Lisbon",  # MOVED in full
    "User is an architect",  # part of JOB
    "User's sister lives in Madrid",  # the distractor's false value
    "User likes Lisbon but his sister is in Madrid",  # a true value beside the false one
    "i used to live in porto",  # no gold key, verbatim in the transcript
    "User enjoys jazz",  # no gold key, not in the transcript
)


def test_rule_integrity_scores_full_partial_and_absent_points() -> None:
    points, _ = by_element(judge(RuleJudge(), extraction_probe(POINTS), EXTRACTED))
    assert {pid: d["g"] for pid, d in points.items()} == {
        "u1:s0:m1": 2,
        "u1:s0:m2": 1,  # "architect" is there, "Arup" is not
        "u1:s0:m3": 2,  # the distractor was extracted: FMR will count it as not resisted
        "u1:s0:m4": 0,
    }
    assert points["u1:s0:m3"]["is_distractor"] is True
    assert points["u1:s0:m1"]["is_update"] is True
    assert points["u1:s0:m2"]["importance"] == 0.75


def test_rule_integrity_partial_may_span_memories() -> None:
    points, _ = by_element(
        judge(RuleJudge(), extraction_probe([JOB]), recalled("an architect", "works at Arup"))
    )
    assert points["u1:s0:m2"]["g"] == 1  # together they hold both phrases, but no single memory does


def test_rule_accuracy_and_inclusion_follow_the_documented_rules() -> None:
    _, memories = by_element(judge(RuleJudge(), extraction_probe(POINTS), EXTRACTED))
    assert [(d["a"], d["included"]) for d in memories] == [
        (2, True),
        (2, True),  # incomplete is not wrong
        (0, True),  # false value in a gold slot
        (1, True),  # part true, part false
        (2, False),  # verbatim from the dialogue
        (1, False),  # unverifiable
    ]
    assert [d["position"] for d in memories] == list(range(6))


def test_rule_phrases_match_on_word_boundaries_only() -> None:
    points, _ = by_element(judge(RuleJudge(), extraction_probe([MOVED]), recalled("User loves Lisbonne")))
    assert points["u1:s0:m1"]["g"] == 0


def test_rule_empty_extraction_scores_every_point_zero() -> None:
    score = judge(RuleJudge(), extraction_probe(POINTS), Prediction())
    points, memories = by_element(score)
    assert [d["g"] for d in points.values()] == [0, 0, 0, 0]
    assert memories == []


@pytest.mark.parametrize(
    ("retrieved", "label"),
    [
        (["User moved to Lisbon"], "correct"),
        (["User moved from Porto to Lisbon"], "correct"),  # the old value named only to retire it
        (["User moved to Lisbon", "Porto has good wine"], "correct"),  # a mention, not a stale statement
        # the new value beside the old one stated as it was: not replaced nor marked outdated
        (["User lives in Porto", "User moved to Lisbon"], "other"),
        (["user: I moved to Lisbon", "user: I used to live in Porto"], "other"),
        # only the old value: the system did not update, the rubric's omission (no related new memory)
        (["User likes tea", "User lives in Porto"], "omission"),
        (["Porto has good wine"], "omission"),  # stale value without the subject is not about this fact
        (["User moved abroad"], "omission"),  # related but without the value
        ([], "omission"),
    ],
)
def test_rule_update_labels(retrieved: list[str], label: str) -> None:
    score = judge(RuleJudge(), update_probe(MOVED), recalled(*retrieved))
    assert score.label == label
    assert score.details == [{"point_id": "u1:s0:m1", "memory_type": "Persona Memory"}]


def test_rule_update_explains_which_memory_keeps_the_superseded_value() -> None:
    score = judge(RuleJudge(), update_probe(MOVED), recalled("User moved to Lisbon", "User lives in Porto"))
    assert score.explanation == (
        "rule judge (exact): memory 0 states the new value, but memory 1 still states a superseded one"
    )


QUESTION_KEYS = {"required": ["Lisbon"], "reject": ["Porto"], "unknown": False}
BOUNDARY_KEYS = {"required": [], "reject": [], "unknown": True}


@pytest.mark.parametrize(
    ("answer", "question_keys", "label"),
    [
        ("Lisbon.", QUESTION_KEYS, "correct"),
        ("In Lisbon, not Porto.", QUESTION_KEYS, "correct"),
        ("Porto", QUESTION_KEYS, "hallucination"),
        ("Somewhere in Portugal", QUESTION_KEYS, "omission"),
        ("I don't know.", QUESTION_KEYS, "omission"),
        ("I don't know.", BOUNDARY_KEYS, "correct"),
        ("Unknown; not provided.", BOUNDARY_KEYS, "correct"),
        ("", BOUNDARY_KEYS, "correct"),
        ("Her name is Ana.", BOUNDARY_KEYS, "hallucination"),
    ],
)
def test_rule_qa_labels(answer: str, question_keys: dict[str, Any], label: str) -> None:
    score = judge(RuleJudge(), qa_probe("Lisbon", question_keys), Prediction(answer=answer))
    assert score.label == label
    assert score.explanation is not None and "exact" in score.explanation


def test_rule_judge_refuses_probes_without_keys() -> None:
    with pytest.raises(ConfigError) as refused:
        judge(RuleJudge(), extraction_probe([without_keys(MOVED)]), EXTRACTED)
    assert str(refused.value) == MISSING_KEYS
    with pytest.raises(ConfigError, match="--judge lexical"):
        judge(RuleJudge(), qa_probe("Lisbon", None), Prediction(answer="Lisbon"))


def test_rule_check_dataset_refuses_official_data_up_front() -> None:
    def dataset(*probes: Probe) -> Dataset:
        return Dataset(
            name="halumem", episodes=[EPISODE], probes=list(probes), fingerprint="f", source="test"
        )

    RuleJudge.check_dataset(
        dataset(extraction_probe(POINTS), update_probe(MOVED), qa_probe("Lisbon", QUESTION_KEYS))
    )
    with pytest.raises(ConfigError, match="machine-checkable keys"):
        RuleJudge.check_dataset(dataset(extraction_probe(POINTS), update_probe(without_keys(MOVED))))
    with pytest.raises(ConfigError, match=r"u1:s0:qa:0.*required phrases"):
        RuleJudge.check_dataset(dataset(qa_probe("Lisbon", {"required": [], "reject": [], "unknown": False})))


def test_judges_refuse_unknown_probe_kinds_and_foreign_sessions() -> None:
    odd = Probe(probe_id="u1:x", episode_id="u1", after_session=0, kind="order", mode="answer")
    with pytest.raises(ConfigError, match="not 'order'"):
        judge(RuleJudge(), odd, Prediction())
    late = extraction_probe(POINTS).model_copy(update={"after_session": 3})
    with pytest.raises(ConfigError, match="has 1 sessions"):
        judge(LexicalJudge(), late, EXTRACTED)


# ---------------------------------------------------------------- formatting: equal content, equal verdict

#: how adapters write a stored turn: mem0 offline keeps the bare content; full-context, bm25 and dense
#: (``turn_text``) and the README's example adapter write "role: content"; the rest are what other
#: adapters plausibly write (a transcript line as membench or the official scorer renders it,
#: capitals, stray whitespace, quotes).
FORMATS: dict[str, Callable[[str, str], str]] = {
    "bare content (mem0 offline)": lambda role, content: content,
    "role label (baselines, README adapter)": turn_text,
    "capitalised label": lambda role, content: f"{role.capitalize()}: {content}",
    "membench transcript line": lambda role, content: f"[{TIME}] {role}: {content}",
    "official transcript line": lambda role, content: f"[{TIME}]{role}: {content}",
    "spacing and case": lambda role, content: f"  {role.upper()} :   {content.upper()}  \n",
    "quoted content": lambda role, content: f'{role}: "{content}"',
    "quoted memory": lambda role, content: f"'{role}: {content}'",
}
#: the stored session's turns plus extracted-style memories, each as (role, content).
STORED = [(turn.role, turn.content) for turn in SESSION.turns] + [
    ("user", "User enjoys jazz"),
    ("assistant", "i used to live in porto"),
    ("assistant", "I work as an architect"),  # lexical: 2 supported tokens, 3 with an "assistant" label
]


def formatted(style: str) -> Prediction:
    return recalled(*(FORMATS[style](role, content) for role, content in STORED))


def verdicts(score: Score) -> tuple[dict[str, Any], list[tuple[Any, Any]]]:
    points, memories = by_element(score)
    return {pid: d["g"] for pid, d in points.items()}, [(d["a"], d["included"]) for d in memories]


@pytest.mark.parametrize("style", sorted(FORMATS))
def test_rule_extraction_verdicts_do_not_depend_on_how_a_memory_is_formatted(style: str) -> None:
    assert verdicts(judge(RuleJudge(), extraction_probe(POINTS), formatted(style))) == (
        {"u1:s0:m1": 2, "u1:s0:m2": 2, "u1:s0:m3": 2, "u1:s0:m4": 0},
        [
            (2, True),  # the user's move states MOVED
            (0, True),  # the assistant's false claim about the sister
            (2, True),  # the user's job states JOB
            (2, False),  # "Congratulations on the new job!": no gold slot, said in the session
            (1, False),  # no gold slot, not said: unverifiable
            (2, False),  # no gold slot, said in the session
            (2, True),  # part of JOB
        ],
    )


@pytest.mark.parametrize("style", sorted(FORMATS))
def test_rule_update_verdicts_do_not_depend_on_how_a_memory_is_formatted(style: str) -> None:
    assert judge(RuleJudge(), update_probe(MOVED), formatted(style)).label == "other"  # Porto kept as it was
    moved_only = recalled(FORMATS[style]("user", "I moved to Lisbon last month."))
    assert judge(RuleJudge(), update_probe(MOVED), moved_only).label == "correct"


#: the stored session's turns, judged: every point stated (the sister's distractor too), and the
#: assistant's false claim about the sister (a = 0) beside three supported turns.
TURN_VERDICTS = (
    {"u1:s0:m1": 2, "u1:s0:m2": 2, "u1:s0:m3": 2, "u1:s0:m4": 0},
    [(2, True), (0, True), (2, True), (2, False)],
)
#: the same as bm25 rounds: the move and the false claim together (part true, part false), the job.
ROUND_VERDICTS = (TURN_VERDICTS[0], [(1, True), (2, True)])


@pytest.mark.parametrize(
    ("system", "options", "expected"),
    [
        (FullContextSystem, {}, TURN_VERDICTS),
        (BM25System, {"unit": "turn"}, TURN_VERDICTS),
        (BM25System, {"unit": "round"}, ROUND_VERDICTS),
    ],
)
def test_rule_verdicts_on_what_real_turn_storing_systems_store(
    system: type[MemorySystem], options: dict[str, str], expected: tuple[Any, Any], tmp_path: Path
) -> None:
    stored = asyncio.run(_stored_by(system(options, tmp_path)))
    assert stored[0].text.startswith("user: Hi!"), "the system labels its turns"
    assert verdicts(judge(RuleJudge(), extraction_probe(POINTS), Prediction(memories=stored))) == expected
    # mem0 offline stores the same turns unlabelled: the same verdicts
    bare = [memory.model_copy(update={"text": _unlabelled(memory.text)}) for memory in stored]
    assert verdicts(judge(RuleJudge(), extraction_probe(POINTS), Prediction(memories=bare))) == expected


def _unlabelled(text: str) -> str:
    return "\n".join(line.split(": ", 1)[1] for line in text.splitlines())


async def _stored_by(system: MemorySystem) -> list[Memory]:
    await system.reset(EPISODE)
    await system.ingest(SESSION)
    return await system.session_memories(SESSION)


@pytest.mark.parametrize("style", sorted(FORMATS))
def test_lexical_verdicts_do_not_depend_on_how_a_memory_is_formatted(style: str) -> None:
    assert verdicts(judge(LexicalJudge(), extraction_probe(OFFICIAL_POINTS), formatted(style))) == (
        {"u1:s0:m1": 2, "u1:s0:m2": 2, "u1:s0:m3": 2, "u1:s0:m4": 0},
        [
            (2, True),  # every token said by the user; about MOVED
            (0, False),  # only "live" of 6 tokens said by the user
            (2, True),
            (0, False),  # congratulation, new, job: none said by the user
            (0, False),
            (2, False),  # used, live, porto: all said by the user ("assistant" no longer a fourth token)
            (2, True),  # work, architect ("assistant" no longer a third token, which made it 2/3)
        ],
    )
    # the move turn covers the new value; "i used to live in porto" shares no token with it
    assert judge(LexicalJudge(), update_probe(without_keys(MOVED)), formatted(style)).label == "correct"


# ---------------------------------------------------------------- lexical judge

OFFICIAL_POINTS = [without_keys(p) for p in POINTS]


def test_lexical_integrity_uses_token_coverage_thresholds() -> None:
    prediction = recalled(
        "User moved to Lisbon.",  # MOVED: all of moved, lisbon (the persona's name is ignored)
        "Works as an architect.",  # JOB: work, architect of work, architect, arup: 2/3
        "Went on a walk.",  # HIKE: went of went, hiking, sintra: 1/3
    )
    points, _ = by_element(judge(LexicalJudge(), extraction_probe(OFFICIAL_POINTS), prediction))
    assert points["u1:s0:m1"]["g"] == 2
    assert points["u1:s0:m2"]["g"] == 1
    assert points["u1:s0:m4"]["g"] == 0


def test_lexical_accuracy_does_not_count_assistant_turns_as_support() -> None:
    prediction = recalled(
        "User moved to Lisbon last month", "User's sister Ana lives in Madrid", "Enjoys jazz"
    )
    _, memories = by_element(judge(LexicalJudge(), extraction_probe(OFFICIAL_POINTS), prediction))
    assert [(d["a"], d["included"]) for d in memories] == [
        (2, True),  # moved, lisbon, last, month: all said by the user
        (0, False),  # sister, ana, madrid: only the assistant said them; live is 1/4
        (0, False),
    ]


@pytest.mark.parametrize(
    ("retrieved", "label"),
    [
        (["User moved to Lisbon in 2026"], "correct"),
        (["User moved to Lisbon in 2026", "User moved to Porto"], "other"),  # the rubric, as for rule
        (["User moved to Porto"], "omission"),  # related (moved), stale "porto", no new value
        (["User likes tea"], "omission"),
    ],
)
def test_lexical_update_labels(retrieved: list[str], label: str) -> None:
    assert judge(LexicalJudge(), update_probe(without_keys(MOVED)), recalled(*retrieved)).label == label


@pytest.mark.parametrize(
    ("gold", "answer", "label"),
    [
        ("Unknown; not provided by the user.", "That was not mentioned.", "correct"),
        ("Unknown; not provided by the user.", "Madrid", "hallucination"),
        ("Lisbon, Portugal", "He lives in Lisbon, Portugal", "correct"),
        ("Lisbon, Portugal", "I don't know", "omission"),
        ("Hiking and surfing in Sintra", "Hiking near Cascais and Ericeira", "omission"),  # F1 0.29
        ("Lisbon, Portugal", "Porto", "hallucination"),
    ],
)
def test_lexical_qa_labels(gold: str, answer: str, label: str) -> None:
    score = judge(LexicalJudge(), qa_probe(gold, None), Prediction(answer=answer))
    assert score.label == label
    assert score.explanation is not None and "approximate" in score.explanation


def test_judge_identities() -> None:
    assert RuleJudge().identity() == {"name": "rule", "version": "2", "exact": True}
    lexical = LexicalJudge().identity()
    assert lexical["name"] == "lexical" and lexical["exact"] is False
    assert lexical["thresholds"]["full"] == 0.8


# ---------------------------------------------------------------- LLM judge


@dataclass(frozen=True)
class Cached:
    """A scripted reply the fake client reports as served from its cache."""

    text: str


Reply = str | Cached | Exception


class FakeClient:
    """Answers each prompt from a script: ``script(prompt, attempt)`` gives the text or raises."""

    def __init__(self, script: Callable[[str, int], Reply], delay: float = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.requests: list[list[dict[str, Any]]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        #: the replies the judge's ``usable`` rejected: a caching client would not have stored them.
        self.unusable: list[str] = []

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        response_format: dict | None = None,
        usable: Callable[[str], bool] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> LLMResponse:
        self.requests.append(messages)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            reply = self.script(messages[0]["content"], len(messages) // 2)
        finally:
            self.in_flight -= 1
        if isinstance(reply, Exception):
            raise reply
        usage = Usage(prompt_tokens=10, completion_tokens=2, cost_usd=0.001)
        text = reply.text if isinstance(reply, Cached) else reply
        if usable is not None and not usable(text):
            self.unusable.append(text)
        if isinstance(reply, Cached):
            return LLMResponse(text=reply.text, usage=usage, cached=True)
        return LLMResponse(text=reply, usage=usage)

    def identity(self) -> dict[str, Any]:
        return {"model": "fake-judge", "base_url": "http://127.0.0.1:1"}


def verdict(**fields: Any) -> str:
    return json.dumps({"reason": "because", **fields})


def test_llm_extraction_verdicts_errors_and_usage() -> None:
    first = gold_point(1, "P1 fully stated", "Persona Memory", None)
    fenced = gold_point(2, "P2 partly stated", "Event Memory", None)
    retried = gold_point(3, "P3 needs a re-ask", "Event Memory", None)
    broken = gold_point(4, "P4 never answers right", "Persona Memory", None)
    lie = gold_point(5, "P5 the distractor", "Relationship Memory", None, distractor=True)

    def script(prompt: str, attempt: int) -> Reply:
        if "Expected memory point:\nP1" in prompt:
            return verdict(score=2)
        if "Expected memory point:\nP2" in prompt:
            return "```json\n" + verdict(score=1) + "\n```"
        if "Expected memory point:\nP3" in prompt:
            return "score: 2" if attempt == 0 else verdict(score=0)
        if "Expected memory point:\nP4" in prompt:
            return json.dumps({"reason": "no score key"})
        if "Expected memory point:\nP5" in prompt:
            return verdict(score=0)
        if "Candidate memory:\nM1" in prompt:
            return Cached(verdict(score=2, included=True))
        if "Candidate memory:\nM2" in prompt:
            return LLMError("fatal", "model not found")
        if "Candidate memory:\nM3" in prompt:
            return verdict(score=3, included=False)
        raise AssertionError(f"unexpected prompt: {prompt[:80]}")

    client = FakeClient(script)
    probe = extraction_probe([first, fenced, retried, broken, lie])
    score = asyncio.run(LLMJudge(client).score(probe, recalled("M1", "M2", "M3"), EPISODE))
    points, memories = by_element(score)
    assert [points[f"u1:s0:m{i}"]["g"] for i in range(1, 6)] == [2, 1, 0, None, 0]
    assert "lacks key(s) score" in points["u1:s0:m4"]["error"]
    assert points["u1:s0:m1"]["reason"] == "because"
    assert [(d["a"], d["included"]) for d in memories] == [(2, True), (None, None), (None, None)]
    assert "judge call failed" in memories[1]["error"]
    assert "must be 0, 1 or 2" in memories[2]["error"]
    # calls: P1, P2, P5, M1 once; P3, P4, M3 twice; M2 raised (no usage).
    usage = score.usage["judge"]
    assert (usage.calls, usage.cached_calls, usage.prompt_tokens, usage.completion_tokens) == (10, 1, 100, 20)
    assert usage.cost_usd == pytest.approx(0.01)
    # Three verdicts failed: the probe is an error (so --retry-errors redoes it), with every verdict kept.
    assert score.status == "error"
    assert score.explanation == "llm judge: 8 judgments, 3 failed"
    # Only the replies that parsed may be cached: the first P3 reply, both P4 and both M3 replies not.
    no_score = json.dumps({"reason": "no score key"})
    out_of_scale = verdict(score=3, included=False)
    assert sorted(client.unusable) == sorted(["score: 2", no_score, no_score, out_of_scale, out_of_scale])


def test_llm_extraction_with_one_failed_accuracy_verdict_is_an_error_that_keeps_its_usage() -> None:
    def script(prompt: str, attempt: int) -> Reply:
        if "Candidate memory:\nM2" in prompt:
            return "no verdict here"
        return verdict(score=2, included=True) if "Candidate memory" in prompt else verdict(score=2)

    probe = extraction_probe([gold_point(1, "P1 fully stated", "Persona Memory", None)])
    score = asyncio.run(LLMJudge(FakeClient(script)).score(probe, recalled("M1", "M2"), EPISODE))
    assert score.status == "error"
    assert score.explanation == "llm judge: 3 judgments, 1 failed"
    points, memories = by_element(score)
    assert points["u1:s0:m1"]["g"] == 2
    assert [d["a"] for d in memories] == [2, None]
    assert score.usage["judge"].calls == 4  # P1, M1, and M2 asked twice


def test_llm_reask_carries_the_bad_reply_and_a_reminder() -> None:
    client = FakeClient(lambda prompt, attempt: "not json" if attempt == 0 else verdict(label="correct"))
    score = asyncio.run(
        LLMJudge(client).score(qa_probe("Lisbon", None), Prediction(answer="Lisbon"), EPISODE)
    )
    assert score.label == "correct"
    retry = client.requests[1]
    assert [m["role"] for m in retry] == ["user", "assistant", "user"]
    assert retry[1]["content"] == "not json"
    assert "not one JSON object" in retry[2]["content"]


def test_llm_accuracy_prompt_shows_transcript_and_only_true_points() -> None:
    client = FakeClient(
        lambda prompt, attempt: verdict(score=2, included=True) if "Candidate" in prompt else verdict(score=2)
    )
    asyncio.run(
        LLMJudge(client).score(extraction_probe(OFFICIAL_POINTS), recalled("User moved to Lisbon"), EPISODE)
    )
    accuracy = next(r[0]["content"] for r in client.requests if "Candidate memory" in r[0]["content"])
    assert f"[{TIME}] user: Hi! I moved to Lisbon last month; I used to live in Porto." in accuracy
    assert f"[{TIME}] assistant: Lovely." in accuracy
    assert "- Rui Costa moved to Lisbon." in accuracy
    assert "- Rui Costa's sister Ana lives in Madrid." not in accuracy


def test_llm_empty_extraction_makes_no_call() -> None:
    client = FakeClient(lambda prompt, attempt: AssertionError("no call expected"))
    score = asyncio.run(LLMJudge(client).score(extraction_probe(OFFICIAL_POINTS), Prediction(), EPISODE))
    assert client.requests == []
    assert [d["g"] for d in score.details] == [0, 0, 0, 0]
    assert score.usage == {}


def test_llm_calls_of_one_probe_run_concurrently_but_bounded() -> None:
    client = FakeClient(lambda prompt, attempt: verdict(score=1, included=False), delay=0.02)
    memories = recalled(*(f"memory {i}" for i in range(6)))
    asyncio.run(LLMJudge(client, concurrency=3).score(extraction_probe(OFFICIAL_POINTS), memories, EPISODE))
    assert len(client.requests) == 4 + 6
    assert client.most_in_flight == 3


def test_llm_update_labels_and_failures() -> None:
    probe = update_probe(without_keys(MOVED))
    upper = FakeClient(lambda prompt, attempt: verdict(label="Hallucination"))
    score = asyncio.run(LLMJudge(upper).score(probe, recalled("User lives in Porto"), EPISODE))
    assert score.label == "hallucination"
    assert score.details == [{"point_id": "u1:s0:m1", "memory_type": "Persona Memory"}]
    assert "- Rui Costa lives in Porto." in upper.requests[0][0]["content"]

    silent = FakeClient(lambda prompt, attempt: AssertionError("no call expected"))
    score = asyncio.run(LLMJudge(silent).score(probe, Prediction(), EPISODE))
    assert (score.label, silent.requests) == ("omission", [])

    failing = FakeClient(lambda prompt, attempt: LLMError("rate_limit", "slow down", attempts=5))
    score = asyncio.run(LLMJudge(failing).score(probe, recalled("User lives in Porto"), EPISODE))
    assert score.status == "error" and score.label is None
    assert "rate_limit" in (score.explanation or "")
    assert score.usage == {}


def test_llm_qa_out_of_set_label_twice_is_an_error_with_usage() -> None:
    client = FakeClient(lambda prompt, attempt: verdict(label="wrong"))
    probe = qa_probe("Lisbon", None, evidence=["Rui Costa moved to Lisbon."])
    score = asyncio.run(LLMJudge(client).score(probe, Prediction(answer="Porto"), EPISODE))
    assert score.status == "error"
    assert "after one re-ask" in (score.explanation or "")
    assert score.usage["judge"].calls == 2
    prompt = client.requests[0][0]["content"]
    assert "- Rui Costa moved to Lisbon." in prompt and "Assistant's answer:\nPorto" in prompt


def test_llm_identity_names_client_and_template_versions() -> None:
    identity = LLMJudge(FakeClient(lambda prompt, attempt: "")).identity()
    assert identity["name"] == "llm" and identity["exact"] is False
    # The client's identity sits under the one key every LLM-using component uses, so reports can
    # name the model without guessing (runs.role_label).
    assert identity["llm"] == {"model": "fake-judge", "base_url": "http://127.0.0.1:1"}
    from membench.analysis.runs import role_label

    assert role_label({"judge": identity}, "judge") == "llm:fake-judge"
    assert identity["templates"]["integrity"] == "halumem-integrity-v1"
    assert set(identity["template_sha256"]) == set(identity["templates"].values())


def test_llm_judge_rejects_a_zero_concurrency() -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        LLMJudge(FakeClient(lambda prompt, attempt: ""), concurrency=0)


@pytest.mark.parametrize(
    "text",
    [
        '{"reason": "r", "score": 2}',
        '  ```json\n{"reason": "r", "score": 2}\n```  ',
        '```\n{"reason": "r", "score": 2}\n```',
    ],
)
def test_parse_verdict_accepts_bare_or_one_fence(text: str) -> None:
    assert parse_verdict(text, INTEGRITY) == {"reason": "r", "score": 2}


@pytest.mark.parametrize(
    ("text", "spec", "problem"),
    [
        ('Sure! {"reason": "r", "score": 2}', INTEGRITY, "not one JSON object"),
        ('```json\n{"reason": "r", "score": 2}\n``` hope this helps', INTEGRITY, "fence"),
        ('{"reason": "r", "score": 2}\n{"reason": "r", "score": 1}', INTEGRITY, "not one JSON object"),
        ('[{"reason": "r", "score": 2}]', INTEGRITY, "not an object"),
        ('{"reason": "r", "score": true}', INTEGRITY, "0, 1 or 2"),
        ('{"reason": "r", "score": "2"}', INTEGRITY, "0, 1 or 2"),
        ('{"reason": 7, "score": 2}', INTEGRITY, "'reason' must be a string"),
        ('{"reason": "r", "label": "maybe"}', UPDATE, "must be one of"),
        ('{"reason": "r", "label": "other"}', QA, "must be one of"),
        ('{"reason": "r"}', QA, r"lacks key\(s\) label"),
    ],
)
def test_parse_verdict_is_strict(text: str, spec: Any, problem: str) -> None:
    with pytest.raises(OutputParseError, match=problem):
        parse_verdict(text, spec)
