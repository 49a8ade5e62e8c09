"""A fake LLM for the loopback server that answers each prompt membench sends exactly as it asks.

A test of an LLM path is only as good as its fake. A judge rejects a reply in another format and
records that verdict as an error, and errors are counted apart from wrong answers, so every metric
stays defined and the test passes for the wrong reason (issue 9: a fake answered the accuracy prompt
with a key the prompt never asks for, and every accuracy verdict was an error). This fake cannot
drift from the prompts:

- it recognises a prompt by the fixed wording of the template it is rendered from, read from the
  files the judges and the reader render (so it follows every edit and every version bump);
- it reads the reply format from the prompt itself (the JSON keys and allowed values a HaluMem judge
  prompt states, the keys of the episodic judge's object, the reader's ``Answer:`` line) and fills
  it with the verdicts the test chose;
- it answers no prompt it does not recognise, and no verdict that does not fit what the prompt
  asks: it raises ``UnknownPrompt``, which the server answers with a 400 (not retried), and
  ``FakeLLM.serve`` fails the test on exit, naming the request.

Tests choose each verdict as a constant or as a function of the ``Prompt``, so they can assert the
exact metric values the verdicts imply, and assert ``unscored_verdicts(records) == []``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

from jinja2 import Environment, nodes

from membench.core.types import Record
from membench.readers.llm import DEFAULT_TEMPLATE as READER_TEMPLATE
from membench.testing.openai_server import FakeOpenAIServer, UnanswerableRequest, mem0_responder, message_text
from membench_tasks.convomem import judges as convomem_judge
from membench_tasks.episodic import judges as episodic_judge
from membench_tasks.halumem import judge_llm as halumem_judge
from membench_tasks.locomo import judges as locomo_judge
from membench_tasks.longmemeval import judges as longmemeval_judge

#: Fields of a HaluMem verdict other than free text, e.g. {"score": 1, "included": True}.
Fields: TypeAlias = Mapping[str, object]

#: mem0 2.x's extraction system prompt (``ADDITIVE_EXTRACTION_PROMPT``) opens with this role, and
#: states this reply format; mem0 is an optional extra, so its prompt is recognised by wording.
MEM0_EXTRACTOR = "You are a Memory Extractor"
MEM0_REPLY = '{"memory": ['
READER_REPLY = "Answer: <your answer>"
FREE_TEXT = "The verdict the test chose."
HALUMEM_JUDGMENTS = ("integrity", "accuracy", "update", "qa")
EPISODIC_KEYS = ("identified", "matches", "order")
EPISODIC_SCORES = (0, 0.5, 1)
#: ConvoMem's judge prompts by kind (the fake's name for each template), and the two verdicts they allow.
CONVOMEM_JUDGMENTS = {
    "convomem-fact": "convomem-judge-fact-v1",
    "convomem-changing": "convomem-judge-changing-v1",
    "convomem-abstention": "convomem-judge-abstention-v1",
    "convomem-rubric": "convomem-judge-rubric-v1",
}
CONVOMEM_VERDICTS = ("RIGHT", "WRONG")
# LongMemEval's judge prompts by kind (the fake's name for each rule's template), and the two verdicts
# they allow; the verdict may be chosen per prompt, e.g. from its "Assistant's answer:" section.
LONGMEMEVAL_JUDGMENTS = {f"longmemeval-{rule}": name for rule, name in longmemeval_judge.TEMPLATES.items()}
LONGMEMEVAL_VERDICTS = ("yes", "no")
# LoCoMo's judge prompts by kind (each style's and the adversarial one), and the verdicts they allow.
LOCOMO_JUDGMENTS = {
    **{f"locomo-{style}": name for style, name in locomo_judge.TEMPLATES.items()},
    "locomo-adversarial": locomo_judge.ADVERSARIAL_TEMPLATE,
}
LOCOMO_VERDICTS = ("RIGHT", "WRONG")

_JSON_LINE = re.compile(r"^\{.*\}$", re.MULTILINE)
_FIELD = re.compile(r'"(\w+)":\s*("<[^>]*>"|<[^>]*>|\[\.\.\.\])')
_OPTIONS = re.compile(r",\s*|\s+or\s+")
_GOLD = re.compile(r"^Ground-truth items \((\d+)[^)\n]*\):\n(.*?)(?:\n\s*\n|\Z)", re.MULTILINE | re.DOTALL)
_BULLET = re.compile(r"^- (.+)$", re.MULTILINE)


class UnknownPrompt(UnanswerableRequest):
    """A request the fake cannot answer as the real model would: a prompt it does not recognise, or
    one whose reply format the test's verdict does not fill."""


@dataclass(frozen=True)
class RawReply:
    """A reply sent as it is, whatever the prompt asks: for tests of a model that ignores the format."""

    text: str


@dataclass(frozen=True)
class Prompt:
    """A recognised request: which of membench's prompts it carries, that prompt's text, the model.

    On a re-ask after an unusable reply, ``kind`` and ``text`` are the original prompt's and
    ``retry`` is true: the fake answers the re-ask with the verdict it gives the question.
    """

    kind: str
    text: str
    model: str
    retry: bool = False

    def section(self, heading: str) -> str:
        """The text after the line ``heading:`` (or on it), up to the next blank line: one field."""
        pattern = rf"^{re.escape(heading)}:[ \t]*\n?(.*?)(?:\n\s*\n|\Z)"
        found = re.search(pattern, self.text, re.MULTILINE | re.DOTALL)
        if found is None:
            raise UnknownPrompt(f"the {self.kind} prompt has no '{heading}:' section")
        return found.group(1).strip()


HaluMemVerdict: TypeAlias = Fields | RawReply
HaluMemChoice: TypeAlias = HaluMemVerdict | Callable[[Prompt], HaluMemVerdict]

# The default verdicts: a judge that finds everything right (read-only, as they are shared).
POINT_PRESENT: Fields = MappingProxyType({"score": 2})
MEMORY_SUPPORTED: Fields = MappingProxyType({"score": 2, "included": True})
LABEL_CORRECT: Fields = MappingProxyType({"label": "correct"})


# ---------------------------------------------------------------- recognising a prompt


@dataclass(frozen=True)
class _Template:
    """One of membench's prompt templates: its kind, its fixed wording, what a re-ask message follows."""

    kind: str
    wording: tuple[str, ...]
    reasks: frozenset[str] = frozenset()


def _wording(path: Path) -> tuple[str, ...]:
    """The lines of fixed text a template renders whatever its inputs (its top-level literal text).

    Text inside ``{% for %}`` and ``{% if %}`` blocks (a "(none)" placeholder) is left out, since a
    rendering may skip it; each line is stripped, so whitespace control cannot break a match.
    """
    tree = Environment().parse(path.read_text("utf-8"))
    literal = [
        child.data
        for node in tree.body
        if isinstance(node, nodes.Output)
        for child in node.nodes
        if isinstance(child, nodes.TemplateData)
    ]
    return tuple(line.strip() for text in literal for line in text.splitlines() if line.strip())


@cache
def _templates() -> tuple[_Template, ...]:
    """Every prompt membench renders, read from the very files (and versions) the code renders."""
    halumem_dir, episodic_dir = halumem_judge.PROMPTS_DIR, episodic_judge.PROMPTS_DIR
    convomem_dir = convomem_judge.PROMPTS_DIR
    reader_dir = Path(str(resources.files("membench.readers") / "prompts"))
    versions = halumem_judge.TEMPLATES
    return (
        *(_Template(j, _wording(halumem_dir / f"{versions[j]}.j2")) for j in HALUMEM_JUDGMENTS),
        _Template(
            "halumem-reminder",
            _wording(halumem_dir / f"{versions['reminder']}.j2"),
            frozenset(HALUMEM_JUDGMENTS),
        ),
        _Template("episodic", _wording(episodic_dir / f"{episodic_judge.TEMPLATE}.j2")),
        _Template(
            "episodic-reminder",
            _wording(episodic_dir / f"{episodic_judge.REMINDER}.j2"),
            frozenset({"episodic"}),
        ),
        *(
            _Template(kind, _wording(convomem_dir / f"{name}.j2"))
            for kind, name in CONVOMEM_JUDGMENTS.items()
        ),
        _Template(
            "convomem-reminder",
            _wording(convomem_dir / f"{convomem_judge.REMINDER}.j2"),
            frozenset(CONVOMEM_JUDGMENTS),
        ),
        *(
            _Template(kind, _wording(longmemeval_judge.PROMPTS_DIR / f"{name}.j2"))
            for kind, name in LONGMEMEVAL_JUDGMENTS.items()
        ),
        _Template(
            "longmemeval-reminder",
            _wording(longmemeval_judge.PROMPTS_DIR / f"{longmemeval_judge.REMINDER}.j2"),
            frozenset(LONGMEMEVAL_JUDGMENTS),
        ),
        *(
            _Template(kind, _wording(locomo_judge.PROMPTS_DIR / f"{name}.j2"))
            for kind, name in LOCOMO_JUDGMENTS.items()
        ),
        _Template(
            "locomo-reminder",
            _wording(locomo_judge.PROMPTS_DIR / f"{locomo_judge.REMINDER}.j2"),
            frozenset(LOCOMO_JUDGMENTS),
        ),
        _Template("reader", _wording(reader_dir / f"{READER_TEMPLATE}.j2")),
        _Template(
            "reader-retry", _wording(reader_dir / f"{READER_TEMPLATE}.retry.j2"), frozenset({"reader"})
        ),
    )


def _template_of(text: str) -> _Template:
    """The one template whose fixed wording ``text`` contains in full."""
    found = [t for t in _templates() if all(line in text for line in t.wording)]
    if len(found) != 1:
        which = "no membench prompt" if not found else f"several prompts ({[t.kind for t in found]})"
        raise UnknownPrompt(f"{which} matches this message: {text[:300]!r}")
    return found[0]


def recognise(request: Mapping[str, Any]) -> Prompt:
    """Which prompt a chat request carries; on a re-ask, the prompt it re-asks."""
    messages = request.get("messages", [])
    model = str(request.get("model", ""))
    systems = [message_text(m.get("content")) for m in messages if m.get("role") == "system"]
    users = [message_text(m.get("content")) for m in messages if m.get("role") == "user"]
    if any(MEM0_EXTRACTOR in text for text in systems):
        return Prompt("extraction", "\n\n".join([*systems, *users]), model)
    if not users:
        raise UnknownPrompt(f"a request without a user message: {messages!r:.300}")
    last = _template_of(users[-1])
    if not last.reasks:
        return Prompt(last.kind, users[-1], model)
    first = _template_of(users[0])
    if first.kind not in last.reasks:
        raise UnknownPrompt(f"a {last.kind} message after a {first.kind} prompt")
    return Prompt(first.kind, users[0], model, retry=True)


# ---------------------------------------------------------------- answering as the prompt asks


def _asked_fields(prompt: Prompt) -> dict[str, str]:
    """The keys of the JSON object the prompt asks for (its last JSON line), each with its placeholder."""
    lines = _JSON_LINE.findall(prompt.text)
    if not lines:
        raise UnknownPrompt(f"the {prompt.kind} prompt states no JSON reply")
    return dict(_FIELD.findall(lines[-1]))


def _allows(placeholder: str, value: object) -> bool:
    """Whether a placeholder's list of values ("<0, 1 or 2>", '"<correct or omission>"') holds ``value``."""
    words = _OPTIONS.split(placeholder.strip('"<>'))
    if placeholder.startswith('"'):
        return isinstance(value, str) and value in words
    try:
        options = [json.loads(word) for word in words]
    except json.JSONDecodeError:
        return False
    return any(type(value) is type(option) and value == option for option in options)


def _halumem_reply(prompt: Prompt, verdict: Fields) -> str:
    """The JSON object the prompt asks for: the verdict's fields, free text for the others."""
    asked = _asked_fields(prompt)
    unasked = sorted(set(verdict) - set(asked))
    if unasked:
        raise UnknownPrompt(f"the {prompt.kind} prompt asks for {sorted(asked)}, not for {unasked}")
    return json.dumps({key: _value(prompt, key, placeholder, verdict) for key, placeholder in asked.items()})


def _value(prompt: Prompt, key: str, placeholder: str, verdict: Fields) -> object:
    """The verdict's value for one asked key, if the placeholder allows it; free text if it is text."""
    if key not in verdict:
        if not placeholder.startswith('"'):
            raise UnknownPrompt(f"the {prompt.kind} prompt asks for {key!r} ({placeholder}), not given")
        return FREE_TEXT
    if not _allows(placeholder, verdict[key]):
        raise UnknownPrompt(f"the {prompt.kind} prompt allows {placeholder} as {key!r}, not {verdict[key]!r}")
    return verdict[key]


def gold_items(prompt: Prompt) -> list[str]:
    """The ground-truth items an episodic judge prompt lists, as many as it announces."""
    found = _GOLD.search(prompt.text)
    if found is None:
        raise UnknownPrompt("the episodic prompt lists no ground-truth items")
    items = _BULLET.findall(found.group(2))
    if len(items) != int(found.group(1)):
        raise UnknownPrompt(f"the episodic prompt announces {found.group(1)} items but lists {len(items)}")
    return items


def _episodic_reply(prompt: Prompt, score: float | Callable[[Prompt, str], float]) -> str:
    """The object the episodic prompt asks for: the stated items, a score per item, their order."""
    asked = tuple(_asked_fields(prompt))
    if asked != EPISODIC_KEYS:
        raise UnknownPrompt(f"the episodic prompt asks for {list(asked)}, not {list(EPISODIC_KEYS)}")
    items = gold_items(prompt)
    scores = {item: score(prompt, item) if callable(score) else score for item in items}
    wrong = {item: score for item, score in scores.items() if score not in EPISODIC_SCORES}
    if wrong:
        raise UnknownPrompt(f"the episodic prompt allows item scores {EPISODIC_SCORES}, not {wrong}")
    stated = [item for item, score in scores.items() if score > 0]
    matches = [{"item": item, "score": score} for item, score in scores.items()]
    return json.dumps({"identified": stated, "matches": matches, "order": stated})


def _reader_reply(prompt: Prompt, answer: str) -> str:
    if READER_REPLY not in prompt.text:
        raise UnknownPrompt(f"the reader prompt no longer asks for {READER_REPLY!r}")
    return f"Answer: {answer}"


def _extraction_reply(prompt: Prompt, request: Mapping[str, Any]) -> str:
    """mem0's JSON: one memory per user line of the new messages (``mem0_responder``)."""
    if MEM0_REPLY not in prompt.text or (request.get("response_format") or {}).get("type") != "json_object":
        raise UnknownPrompt(f"mem0's extraction prompt no longer asks for JSON {MEM0_REPLY}...")
    return mem0_responder(dict(request))


def grade_abstention(prompt: Prompt) -> Fields:
    """The QA verdict the qa prompt's rules give an answer that says it does not know: correct where the
    reference says the information is unknown, omission where the reference gives it."""
    answer = prompt.section("Assistant's answer")
    if answer.rstrip(".") != "Unknown":
        raise UnknownPrompt(f"grade_abstention grades answers that abstain, not {answer!r}")
    reference = prompt.section("Reference answer")
    return {"label": "correct" if reference.startswith("Unknown") else "omission"}


def _one_word(
    prompt: Prompt, choice: str | RawReply | Callable[[Prompt], str | RawReply], allowed: tuple[str, ...]
) -> str:
    """A one-word verdict (ConvoMem's RIGHT/WRONG, LongMemEval's yes/no) the prompt allows, or a raw reply."""
    word = choice(prompt) if callable(choice) else choice
    if isinstance(word, RawReply):
        return word.text
    if word not in allowed:
        raise UnknownPrompt(f"the {prompt.kind} prompt allows {allowed}, not {word!r}")
    return word


# ---------------------------------------------------------------- the fake


class FakeLLM:
    """A responder for ``FakeOpenAIServer`` that answers every membench prompt as the prompt asks.

    Verdicts, each a constant or a function of the ``Prompt``: HaluMem's four judgments as the fields
    their prompts ask for (``integrity={"score": 2}``, ``accuracy={"score": 2, "included": True}``,
    ``update={"label": "correct"}``, ``qa={"label": "correct"}``; free-text fields such as the
    reason are filled in) or a ``RawReply``; ``episodic``, the score of each ground-truth item
    (a number, or a function of the prompt and the item); ``convomem``, ConvoMem's one-word verdict
    (RIGHT or WRONG, a function of the prompt, or a ``RawReply``); ``longmemeval``, LongMemEval's
    one-word verdict (yes or no, a function of the prompt, or a ``RawReply``); ``locomo``, LoCoMo's
    one-word verdict (RIGHT or WRONG, a function of the prompt, or a ``RawReply``); ``answer``, the reader's
    answer. mem0's extraction stores each user line of the new messages. ``prompts`` lists what was
    answered.
    """

    def __init__(
        self,
        *,
        integrity: HaluMemChoice = POINT_PRESENT,
        accuracy: HaluMemChoice = MEMORY_SUPPORTED,
        update: HaluMemChoice = LABEL_CORRECT,
        qa: HaluMemChoice = LABEL_CORRECT,
        episodic: float | Callable[[Prompt, str], float] = 1,
        convomem: str | RawReply | Callable[[Prompt], str | RawReply] = "RIGHT",
        longmemeval: str | RawReply | Callable[[Prompt], str | RawReply] = "yes",
        locomo: str | RawReply | Callable[[Prompt], str | RawReply] = "RIGHT",
        answer: str | Callable[[Prompt], str] = "Unknown",
    ) -> None:
        self._halumem: dict[str, HaluMemChoice] = {
            "integrity": integrity,
            "accuracy": accuracy,
            "update": update,
            "qa": qa,
        }
        self._episodic = episodic
        self._convomem = convomem
        self._longmemeval = longmemeval
        self._locomo = locomo
        self._answer = answer
        self._lock = threading.Lock()
        self._prompts: list[Prompt] = []
        self._refused: list[str] = []

    @property
    def prompts(self) -> list[Prompt]:
        """Every request answered, in order of arrival."""
        with self._lock:
            return list(self._prompts)

    @property
    def refused(self) -> list[str]:
        """Why each request the fake would not answer was refused."""
        with self._lock:
            return list(self._refused)

    def __call__(self, request: dict[str, Any]) -> str:
        try:
            prompt = recognise(request)
            reply = self._reply(prompt, request)
        except UnknownPrompt as exc:
            with self._lock:
                self._refused.append(str(exc))
            raise
        with self._lock:
            self._prompts.append(prompt)
        return reply

    def _reply(self, prompt: Prompt, request: Mapping[str, Any]) -> str:
        if prompt.kind == "extraction":
            return _extraction_reply(prompt, request)
        if prompt.kind == "reader":
            answer = self._answer
            return _reader_reply(prompt, answer(prompt) if callable(answer) else answer)
        if prompt.kind == "episodic":
            return _episodic_reply(prompt, self._episodic)
        if prompt.kind in CONVOMEM_JUDGMENTS:
            return _one_word(prompt, self._convomem, CONVOMEM_VERDICTS)
        if prompt.kind in LONGMEMEVAL_JUDGMENTS:
            return _one_word(prompt, self._longmemeval, LONGMEMEVAL_VERDICTS)
        if prompt.kind in LOCOMO_JUDGMENTS:
            return _one_word(prompt, self._locomo, LOCOMO_VERDICTS)
        choice = self._halumem[prompt.kind]
        verdict = choice(prompt) if callable(choice) else choice
        return verdict.text if isinstance(verdict, RawReply) else _halumem_reply(prompt, verdict)

    @contextmanager
    def serve(self, **options: Any) -> Iterator[FakeOpenAIServer]:
        """A loopback server answering with this fake; on a clean exit, fail if it refused a request.

        The code under test records a refused call as a failure and carries on, so without this
        check a refusal would only show as an error count.
        """
        with FakeOpenAIServer(self, **options) as server:
            yield server
        if self.refused:
            raise AssertionError("the fake LLM refused requests:\n" + "\n".join(self.refused))


def unscored_verdicts(records: Iterable[Record]) -> list[tuple[str, str]]:
    """Every verdict a run recorded as a failure, as (where, why): an errored record (its probe id),
    or a failed element of an extraction score (probe id and point or memory position)."""
    failures = []
    for record in records:
        if record.status == "error":
            why = record.error.message if record.error else record.score.explanation if record.score else None
            failures.append((record.probe_id, why or "no score"))
        for detail in record.score.details if record.score else []:
            if "error" in detail:
                element = detail.get("point_id", f"memory {detail.get('position')}")
                failures.append((f"{record.probe_id} {element}", str(detail["error"])))
    return failures
