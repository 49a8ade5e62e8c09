"""Seeded offline ConvoMem data, written as the official release's file tree.

The release (Salesforce/ConvoMem on Hugging Face) is a gigabyte-scale tree of LLM-written
conversations that machines reaching only package registries cannot fetch. This builder writes the
same tree and schema (research notes §1.3; the shared contract) from templates, so the loader, the
haystack generators, the runner and the judges run on the real format:

    ROOT/core_benchmark/evidence_questions/<folder>/<N>_evidence/<persona_id>.json
    ROOT/core_benchmark/filler_conversations/<persona_id>.json

What is kept from the paper's pipeline (§1.4): enterprise personas; the six evidence categories with
the release's evidence tiers (changing facts start at 2, preferences stop at 2); each evidence message
verbatim in exactly one conversation of its item, said by the right speaker; multi-message items that
need every message; filler written per persona in the evidence conversations' own style and
vocabulary. What is ours: the templates and word lists (``convomem_vocab.py``), the seeded draws, and
``membench_keys`` on every item (phrases the exact rule judge checks; official items never have them).

Why the data tests retrieval but is fair to a reader: every item is about a named subject of its
own ("the Falcon Offsite"), which filler mentions only in passing (*decoys*: the subject with no
fact), while filler is full of *distractors*: the same attributes of other subjects, in the
evidence's own templates (another project's budget code, another offsite's shortlist). A retriever
meets more near-duplicates of the evidence the longer the history, and must rank the few turns that
hold both the subject and the asked attribute; a reader shown every conversation still finds them,
because only the evidence names the subject together with the attribute. Filler never states an
item's subject with its attribute, and never a value any item of its persona uses, so no key becomes
ambiguous and filler alone answers nothing.

The same options give byte-identical files; persona ``p`` and filler conversation ``i`` draw from seeds
of their own, so adding personas or filler leaves what was written before unchanged.

    python -m membench_builders.convomem --out data/convomem --personas 6 --filler 300
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError
from membench.core.text import content_tokens
from membench_builders import convomem_vocab as vocab

#: Bump whenever a change alters what is written for some options, so data written by an older
#: builder is rebuilt instead of silently reused.
BUILDER_VERSION = "1"
CHECKPOINT = f"membench-convomem-builder-v{BUILDER_VERSION}"
MODEL_NAME = "membench-builder"
USER, ASSISTANT = "User", "Assistant"

#: evidence folder -> membench category label, as the contract names them.
LABELS: dict[str, str] = {
    "user_evidence": "user_facts",
    "assistant_facts_evidence": "assistant_facts",
    "changing_evidence": "changing_facts",
    "abstention_evidence": "abstention",
    "preference_evidence": "preferences",
    "implicit_connection_evidence": "implicit_connections",
}
#: evidence counts written per category, the release's tiers.
TIERS: dict[str, tuple[int, ...]] = {
    "user_facts": (1, 2, 3, 4, 5, 6),
    "assistant_facts": (1, 2, 3, 4),
    "changing_facts": (2, 3, 4, 5, 6),
    "abstention": (1, 2, 3, 4),
    "preferences": (1, 2),
    "implicit_connections": (1, 2, 3, 4),
}
#: items per persona and (category, N): enough for the task's ``per_cell`` up to 3 on one persona.
ITEMS_PER_CELL = 3
ITEMS_PER_PERSONA = ITEMS_PER_CELL * sum(len(tiers) for tiers in TIERS.values())
#: share of each value list reserved for items; filler draws only from the rest.
ITEM_SHARE = 2 / 3
MAX_PERSONAS = 1000

#: facts of every kind an abstention question may ask about (the answer is never stated).
ASKABLE: tuple[vocab.Fact, ...] = vocab.USER_FACTS + vocab.ASSISTANT_FACTS + vocab.CHANGING_FACTS
#: the constraint behind each fragment (implicit connections store fragments as their values).
CONSTRAINT_OF: dict[str, vocab.Constraint] = {
    c.fragment: c for constraints in vocab.CONSTRAINTS.values() for c in constraints
}
#: (subject kind, templates, value list) of every statement filler may make, by speaker.
_USER_SOURCES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    *((f.kind, f.statements, f.pool) for f in vocab.USER_FACTS),
    *((f.kind, f.statements + f.updates, f.pool) for f in vocab.CHANGING_FACTS),
    *((p.kind, s.statements, s.pool) for p in vocab.PREFERENCES for s in p.slots),
    *((i.kind, i.statements, i.pool) for i in vocab.IMPLICIT),
)
_ASSISTANT_SOURCES: tuple[tuple[str, tuple[str, ...], str], ...] = tuple(
    (f.kind, f.statements, f.pool) for f in vocab.ASSISTANT_FACTS
)


@dataclass(frozen=True)
class Persona:
    persona_id: str
    first: str
    last: str
    role: str
    company: str

    @property
    def description(self) -> str:
        return f"{self.first} {self.last} ({self.role} at {self.company})"


@dataclass(frozen=True)
class Decoy:
    """A subject filler may mention without a fact, and the words such a mention must not use (the
    words of the question about it, outside the subject's own name)."""

    subject: str
    banned: frozenset[str]


@dataclass
class World:
    """One persona's closed vocabularies: values split between items and filler, subject words."""

    persona: Persona
    item_values: dict[str, list[str]]
    filler_values: dict[str, list[str]]
    item_words: list[str]
    filler_words: list[str]
    decoys: list[Decoy]
    #: every evidence line of the persona's items, which filler must never repeat word for word.
    evidence_lines: set[str]


@dataclass(frozen=True)
class Draft:
    """An item before its conversations are written."""

    label: str
    n: int
    index: int
    question: str
    answer: str
    evidence: tuple[tuple[str, str], ...]  # (speaker, message text), in conversation order
    keys: dict[str, Any]
    use_case: str
    scenario: str


# ---------------------------------------------------------------- small helpers


def subject_phrase(word: str, kind: str) -> str:
    """How a subject is written mid-sentence: "Project Falcon", "the Falcon Offsite"."""
    return f"Project {word}" if kind == "Project" else f"the {word} {kind}"


def sentence(text: str) -> str:
    """``text`` with its first letter capitalised (templates may start with a subject or a value)."""
    return text[:1].upper() + text[1:]


def join_values(values: Sequence[str]) -> str:
    """Values as prose: "A", "A and B", "A, B and C"."""
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def key_phrase(value: str) -> str:
    """A preference value as a key: without its leading article ("a private room" -> "private room"),
    so an answer that says "the private room" still names it."""
    first, _, rest = value.partition(" ")
    return rest if first in ("a", "an") and rest else value


def banned_words(question: str, subject: str) -> frozenset[str]:
    """The question's content words outside its subject: what a decoy about the subject must avoid."""
    return frozenset(content_tokens(question)) - frozenset(content_tokens(subject))


def _decoy_lines(templates: Sequence[str], decoy: Decoy) -> list[str]:
    lines = (sentence(t.format(subject=decoy.subject)) for t in templates)
    return [line for line in lines if not decoy.banned.intersection(content_tokens(line))]


# ---------------------------------------------------------------- personas and their vocabularies


def make_persona(seed: int, index: int) -> Persona:
    rng = random.Random(f"convomem-persona-{seed}-{index}")
    return Persona(
        persona_id=f"persona_{index:03d}",
        first=rng.choice(vocab.PERSONA_FIRST_NAMES),
        last=rng.choice(vocab.PERSONA_LAST_NAMES),
        role=rng.choice(vocab.ROLES),
        company=rng.choice(vocab.COMPANIES),
    )


def make_world(seed: int, persona: Persona) -> World:
    """Split every value list and the code words between this persona's items and its filler."""
    rng = random.Random(f"convomem-pools-{seed}-{persona.persona_id}")
    lists = {
        **vocab.VALUES,
        **{name: tuple(c.fragment for c in cs) for name, cs in vocab.CONSTRAINTS.items()},
    }
    item_values: dict[str, list[str]] = {}
    filler_values: dict[str, list[str]] = {}
    for name in sorted(lists):
        shuffled = rng.sample(lists[name], len(lists[name]))
        cut = int(len(shuffled) * ITEM_SHARE)
        item_values[name], filler_values[name] = shuffled[:cut], shuffled[cut:]
    words = rng.sample(vocab.CODE_WORDS, len(vocab.CODE_WORDS))
    return World(
        persona=persona,
        item_values=item_values,
        filler_values=filler_values,
        item_words=words[:ITEMS_PER_PERSONA],
        filler_words=words[ITEMS_PER_PERSONA:],
        decoys=[],
        evidence_lines=set(),
    )


# ---------------------------------------------------------------- items

#: what each item maker returns: the answer (or rubric), the evidence (speaker, text) and the keys.
Shape = tuple[str, tuple[tuple[str, str], ...], dict[str, Any]]


def _fact_item(
    rng: random.Random, world: World, fact: vocab.Fact, subject: str, n: int, speaker: str
) -> Shape:
    """Answer, evidence and keys of a user or assistant fact: ``n`` values, one per message."""
    values = rng.sample(world.item_values[fact.pool], n)
    templates = rng.sample(fact.statements, len(fact.statements))
    evidence = tuple(
        (speaker, sentence(templates[j % len(templates)].format(subject=subject, value=v)))
        for j, v in enumerate(values)
    )
    answer = sentence(fact.answer.format(subject=subject, values=join_values(values)))
    return answer, evidence, {"require": values, "forbid": [], "abstain": False}


def _changing_item(rng: random.Random, world: World, fact: vocab.Fact, subject: str, n: int) -> Shape:
    """A value stated, then changed ``n - 1`` times; only the last one is right."""
    values = rng.sample(world.item_values[fact.pool], n)
    lines = [rng.choice(fact.statements).format(subject=subject, value=values[0])]
    lines += [rng.choice(fact.updates).format(subject=subject, value=v) for v in values[1:]]
    evidence = tuple((USER, sentence(line)) for line in lines)
    answer = sentence(fact.answer.format(subject=subject, values=values[-1]))
    return answer, evidence, {"require": [values[-1]], "forbid": values[:-1], "abstain": False}


def _abstention_item(rng: random.Random, fact: vocab.Fact, subject: str, question: str, n: int) -> Shape:
    """``n`` user messages about the subject that never state the asked attribute."""
    lines = rng.sample(_decoy_lines(vocab.USER_DECOYS, Decoy(subject, banned_words(question, subject))), n)
    topic = fact.topic.format(subject=subject)
    answer = f"The conversations never mention {topic}, so the answer is unknown."
    return answer, tuple((USER, line) for line in lines), {"require": [], "forbid": [], "abstain": True}


def _preference_item(rng: random.Random, world: World, pref: vocab.Preference, subject: str, n: int) -> Shape:
    """A stated preference (and, for two messages, an added condition) the recommendation must follow."""
    slots = pref.slots[:n]
    values = [rng.choice(world.item_values[slot.pool]) for slot in slots]
    evidence = tuple(
        (USER, sentence(rng.choice(slot.statements).format(subject=subject, value=v)))
        for slot, v in zip(slots, values, strict=True)
    )
    rubric = pref.rubric.format(first=values[0], subject=subject)
    if n > 1:
        rubric += pref.rubric_more.format(second=values[1])
    keys = {"require": [key_phrase(v) for v in values], "forbid": [], "abstain": False}
    return rubric + ".", evidence, keys


def _implicit_item(rng: random.Random, world: World, implicit: vocab.Implicit, subject: str, n: int) -> Shape:
    """``n`` constraints the user mentions; the later question asks for a plan without naming them."""
    constraints = [CONSTRAINT_OF[f] for f in rng.sample(world.item_values[implicit.pool], n)]
    evidence = tuple(
        (USER, sentence(rng.choice(implicit.statements).format(subject=subject, value=c.fragment)))
        for c in constraints
    )
    rubric = implicit.rubric.format(subject=subject, needs=join_values([c.need for c in constraints]))
    return rubric, evidence, {"require": [c.key for c in constraints], "forbid": [], "abstain": False}


Topic = vocab.Fact | vocab.Preference | vocab.Implicit
#: what an item of each category may ask about (user and assistant facts: see ``_eligible``).
_TOPICS: dict[str, Sequence[Topic]] = {
    "user_facts": vocab.USER_FACTS,
    "assistant_facts": vocab.ASSISTANT_FACTS,
    "changing_facts": vocab.CHANGING_FACTS,
    "abstention": ASKABLE,
    "preferences": vocab.PREFERENCES,
    "implicit_connections": vocab.IMPLICIT,
}


def _eligible(label: str, n: int) -> list[Topic]:
    """What an item of ``label`` with ``n`` evidence messages may ask about: a fact that holds one value
    serves only one-message user and assistant items, whose other tiers need a value per message."""
    if label in ("user_facts", "assistant_facts"):
        return [t for t in _TOPICS[label] if isinstance(t, vocab.Fact) and (t.multi or n == 1)]
    return list(_TOPICS[label])


def draft_items(seed: int, world: World) -> list[Draft]:
    """Every item of one persona, cell by cell (category, then evidence count), ``ITEMS_PER_CELL`` each;
    item ``k`` of the persona is about subject word ``k``."""
    persona = world.persona
    drafts: list[Draft] = []
    for label, tiers in TIERS.items():
        for n in tiers:
            rng = random.Random(f"convomem-cell-{seed}-{persona.persona_id}-{label}-{n}")
            eligible = _eligible(label, n)
            order = rng.sample(eligible, len(eligible))
            for index in range(ITEMS_PER_CELL):
                what = order[index % len(order)]
                subject = subject_phrase(world.item_words[len(drafts)], what.kind)
                question = what.question.format(subject=subject)
                if label == "abstention":
                    assert isinstance(what, vocab.Fact)
                    answer, evidence, keys = _abstention_item(rng, what, subject, question, n)
                elif isinstance(what, vocab.Fact) and label == "changing_facts":
                    answer, evidence, keys = _changing_item(rng, world, what, subject, n)
                elif isinstance(what, vocab.Fact):
                    speaker = ASSISTANT if label == "assistant_facts" else USER
                    answer, evidence, keys = _fact_item(rng, world, what, subject, n, speaker)
                elif isinstance(what, vocab.Preference):
                    answer, evidence, keys = _preference_item(rng, world, what, subject, n)
                else:
                    answer, evidence, keys = _implicit_item(rng, world, what, subject, n)
                drafts.append(
                    Draft(
                        label=label,
                        n=n,
                        index=index,
                        question=question,
                        answer=answer,
                        evidence=evidence,
                        keys=keys,
                        use_case=what.use_case,
                        scenario=f"{persona.description} {what.scenario}.",
                    )
                )
                world.decoys.append(Decoy(subject, banned_words(question, subject)))
                world.evidence_lines.update(text for _, text in evidence)
    return drafts


# ---------------------------------------------------------------- conversations


def _distractor(rng: random.Random, world: World, speaker: str) -> str:
    """An attribute statement about a filler subject, with a filler value."""
    kind, templates, pool = rng.choice(_USER_SOURCES if speaker == USER else _ASSISTANT_SOURCES)
    subject = subject_phrase(rng.choice(world.filler_words), kind)
    return sentence(
        rng.choice(templates).format(subject=subject, value=rng.choice(world.filler_values[pool]))
    )


def _decoy(rng: random.Random, world: World, speaker: str) -> str:
    """A mention with no fact: mostly of an item's subject (so similarity search meets it), else of a
    filler subject."""
    if rng.random() < 2 / 3:
        decoy = rng.choice(world.decoys)
    else:
        kind = rng.choice(_USER_SOURCES)[0]
        decoy = Decoy(subject_phrase(rng.choice(world.filler_words), kind), frozenset())
    lines = _decoy_lines(vocab.USER_DECOYS if speaker == USER else vocab.ASSISTANT_DECOYS, decoy)
    return rng.choice([line for line in lines if line not in world.evidence_lines])


def _filler_message(rng: random.Random, world: World, speaker: str) -> str:
    roll = rng.random()
    if speaker == USER:
        if roll < 0.65:
            core = _distractor(rng, world, USER)
        elif roll < 0.8:
            core = _decoy(rng, world, USER)
        else:
            core = rng.choice(vocab.USER_CHAT)
        return _dress(rng, USER, core)
    if roll < 0.35:
        return _dress(rng, ASSISTANT, _distractor(rng, world, ASSISTANT))
    if roll < 0.45:
        return _decoy(rng, world, ASSISTANT)
    return rng.choice(vocab.ASSISTANT_ACKS).format(first=world.persona.first)


def _dress(rng: random.Random, speaker: str, core: str) -> str:
    """``core`` with the small talk around it that chat messages have (an opener, a closing line)."""
    parts = [core]
    if speaker == USER:
        if rng.random() < 0.3:
            parts.insert(0, rng.choice(vocab.USER_OPENERS))
        if rng.random() < 0.25:
            parts.append(rng.choice(vocab.USER_CLOSERS))
    elif rng.random() < 0.35:
        parts.append(rng.choice(vocab.ASSISTANT_CLOSERS))
    return " ".join(parts)


def conversation(
    seed: int, world: World, conversation_id: str, messages: int, evidence: tuple[str, str] | None = None
) -> dict[str, Any]:
    """``messages`` alternating messages (User first); ``evidence`` (speaker, text), when given, is
    one of them, verbatim, at a seeded turn of its speaker."""
    rng = random.Random(f"convomem-conversation-{seed}-{conversation_id}")
    speakers = [USER if i % 2 == 0 else ASSISTANT for i in range(messages)]
    slot = rng.choice([i for i, s in enumerate(speakers) if s == evidence[0]]) if evidence else -1
    texts = [
        evidence[1] if evidence and i == slot else _filler_message(rng, world, speaker)
        for i, speaker in enumerate(speakers)
    ]
    return {
        "messages": [{"speaker": s, "text": t} for s, t in zip(speakers, texts, strict=True)],
        "id": conversation_id,
        "containsEvidence": evidence is not None,
        "model_name": MODEL_NAME,
    }


def item_json(seed: int, world: World, draft: Draft, messages: int) -> dict[str, Any]:
    """The EvidenceItem of ``draft``, its evidence conversations written."""
    pid = world.persona.persona_id
    stem = f"{pid}-{draft.label}-{draft.n}-{draft.index:03d}"
    dressed = [
        (speaker, _dress(random.Random(f"convomem-evidence-{seed}-{stem}-{j}"), speaker, text))
        for j, (speaker, text) in enumerate(draft.evidence)
    ]
    return {
        "question": draft.question,
        "answer": draft.answer,
        "message_evidences": [{"speaker": s, "text": t} for s, t in dressed],
        "conversations": [
            conversation(seed, world, f"{stem}-e{j + 1}", messages, ev) for j, ev in enumerate(dressed)
        ],
        "category": draft.use_case,
        "scenario_description": draft.scenario,
        "personId": pid,
        "use_case_model_name": MODEL_NAME,
        "core_model_name": MODEL_NAME,
        "membench_keys": draft.keys,
    }


def filler_json(seed: int, world: World, filler: int, messages: int) -> dict[str, Any]:
    """The persona's filler: one EvidenceItem with empty question and answer holding every conversation."""
    pid = world.persona.persona_id
    return {
        "question": "",
        "answer": "",
        "message_evidences": [],
        "conversations": [
            conversation(seed, world, f"{pid}-filler-{i:04d}", messages) for i in range(filler)
        ],
        "category": "Filler",
        "scenario_description": f"Everyday work conversations of {world.persona.description}.",
        "personId": pid,
        "use_case_model_name": MODEL_NAME,
        "core_model_name": MODEL_NAME,
    }


# ---------------------------------------------------------------- files


def _payload(items: list[dict[str, Any]]) -> str:
    return json.dumps({"evidence_items": items, "checkpoint": CHECKPOINT}, ensure_ascii=False) + "\n"


def persona_files(seed: int, index: int, filler: int, messages: int) -> dict[str, str]:
    """Every file of persona ``index``, by path under ``core_benchmark/``."""
    world = make_world(seed, make_persona(seed, index))
    drafts = draft_items(seed, world)
    pid = world.persona.persona_id
    folders = {label: folder for folder, label in LABELS.items()}
    files: dict[str, str] = {}
    for label, tiers in TIERS.items():
        for n in tiers:
            cell = [item_json(seed, world, d, messages) for d in drafts if d.label == label and d.n == n]
            files[f"evidence_questions/{folders[label]}/{n}_evidence/{pid}.json"] = _payload(cell)
    files[f"filler_conversations/{pid}.json"] = _payload([filler_json(seed, world, filler, messages)])
    return files


def check_options(personas: int, filler: int, messages: int) -> None:
    """Refuse options the tree cannot be written for, before any file is touched."""
    if not 1 <= personas <= MAX_PERSONAS:
        raise ConfigError(f"personas must be between 1 and {MAX_PERSONAS}, got {personas}")
    if filler < 0:
        raise ConfigError(f"filler must be 0 or more conversations per persona, got {filler}")
    if messages < 2:
        raise ConfigError(f"messages must be at least 2 (a user and an assistant turn), got {messages}")


def build_convomem(
    root: Path, *, personas: int = 6, filler: int = 300, messages: int = 4, seed: int = 0
) -> Path:
    """Write ``root/core_benchmark`` (replacing an older one whole); returns ``root``.

    The tree is written in a temporary folder beside ``root`` and renamed into place, so a reader sees
    the old tree or the new one, never a half-written mix."""
    check_options(personas, filler, messages)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.", suffix=".tmp"))
    try:
        tree = staging / "core_benchmark"
        for index in range(personas):
            for relative, text in persona_files(seed, index, filler, messages).items():
                path = tree / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(text.encode("utf-8"))
        root.mkdir(exist_ok=True)
        target = root / "core_benchmark"
        if target.exists():
            target.rename(staging / "replaced")
        tree.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m membench_builders.convomem",
        description="Write offline ConvoMem data in the official release's file tree.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the folder to hold core_benchmark/")
    parser.add_argument("--personas", type=int, default=6)
    parser.add_argument("--filler", type=int, default=300, help="filler conversations per persona")
    parser.add_argument("--messages", type=int, default=4, help="messages per conversation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        out = build_convomem(
            args.out, personas=args.personas, filler=args.filler, messages=args.messages, seed=args.seed
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
