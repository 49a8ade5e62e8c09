"""Seeded offline books for the episodic-memory task, written in the official release's table schema.

The published benchmark (Huet, Ben Houidi, Rossi, ICLR 2025) builds a synthetic universe, draws one
event (date, location, protagonist, event kind, detail) per chapter with a censored geometric skew so
that cues recur, has an LLM write each chapter, and derives questions deterministically from the
chapter table. This builder keeps the rules of that pipeline (research notes §2.2-2.4) and replaces what
needs a paid model or unreleased data:

- the universe lists are membench's own (``episodic_vocab.py``) and the random draws use Python's
  ``random`` with our seeds, so the rules are the same but the events are not the published ones;
- chapters are written from templates: ``nb_paragraphs`` paragraphs, each of the four cues (full date,
  full location, full name, and first name + detail) verbatim in its designated paragraph and nowhere
  else, secondary characters named from a separate list. With an ``LLMClient`` an LLM writes each
  chapter instead, checked by the same rules and redrawn up to ``attempts`` times; an event whose
  chapter never passes is dropped, as upstream drops them;
- questions follow the 36 upstream template shapes except "Full event details" (its reference is the
  chapter prose, which needs an LLM judge): 29 "all" templates, 3 "latest", 3 "chronological", binned
  by matching chapters (0, 1, 2, 3-5, 6+), at most 5 per template and bin.

The output is one JSONL line per book: ``book`` (the text of upstream ``book.json``), ``groundtruth``
(rows of ``df_book_groundtruth``), ``qa`` (rows of ``df_qa``) and ``universe`` (every value of each
closed vocabulary, which the deterministic matcher uses to spot hallucinated values). The same
arguments give byte-identical files.

    python -m membench_builders.episodic --out data/episodic.jsonl --books 20x10,200x2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.core.errors import ConfigError
from membench.core.records import write_atomic
from membench_builders import episodic_vocab as vocab

#: Bump whenever a change alters what is written for some options: it names the built file, so data
#: written by an older builder is rebuilt instead of silently reused.
BUILDER_VERSION = "1"

if TYPE_CHECKING:
    from membench.llm.client import LLMClient

#: Trait keys in cue order (t, s, ent, c), as upstream writes cues.
TRAITS: tuple[str, ...] = ("date", "location", "entity", "content")
CUE_SYMBOL = {"date": "t", "location": "s", "entity": "ent", "content": "c"}
RETRIEVAL_TYPE = {
    "date": "Times",
    "location": "Spaces",
    "entity": "Entities",
    "content": "Event contents",
    "post_entities": "Other entities",
}
BIN_NAMES: tuple[str, ...] = ("0", "1", "2", "3-5", "6+")
MAX_PER_TEMPLATE_BIN = 5
UNIVERSE_SIZE = 100
GEOMETRIC_P = 0.1
MAX_PARAGRAPHS = 10
#: 12 books, so 12 clusters: with 6, the smallest paired permutation p-value is 2/64 and no difference,
#: however large, survives Holm over four comparisons.
DEFAULT_BOOKS = "20x10,200x2"


def bin_of(n_chapters: int) -> str:
    """The matching-events bin of a question: 0, 1, 2, 3-5 or 6+ chapters."""
    if n_chapters < 3:
        return str(n_chapters)
    return "3-5" if n_chapters <= 5 else "6+"


def parse_books(spec: str) -> list[int]:
    """``"20x4,200x1"`` -> ``[20, 20, 20, 20, 200]``: book sizes in chapters, in build order."""
    sizes: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        size, _, count = part.partition("x")
        try:
            n, times = int(size), int(count or "1")
        except ValueError:
            raise ConfigError(f"books must look like 20x4,200x1 (chapters x books), got '{spec}'") from None
        if n < 1 or times < 1:
            raise ConfigError(f"books needs positive sizes and counts, got '{part}'")
        sizes.extend([n] * times)
    if not sizes:
        raise ConfigError("books names no book; use e.g. 20x4,200x1")
    return sizes


# ---------------------------------------------------------------- universe and events


@dataclass(frozen=True)
class Universe:
    """The closed vocabularies, each in the order the skewed draw indexes them (index 0 most frequent)."""

    dates: tuple[str, ...]
    locations: tuple[str, ...]
    entities: tuple[str, ...]
    contents: tuple[str, ...]
    details: dict[str, tuple[str, ...]]
    post_entities: tuple[str, ...]

    def values(self, trait: str) -> tuple[str, ...]:
        return {"date": self.dates, "location": self.locations, "entity": self.entities}.get(
            trait, self.contents
        )


def format_date(day: date) -> str:
    """Dates as the books write them: "September 13, 2025"."""
    return f"{day:%B} {day.day}, {day.year}"


def make_universe(seed: int) -> Universe:
    """Draw the universe; the same seed always gives the same lists in the same order."""
    rng = random.Random(f"episodic-universe-{seed}")
    first_day, span = date(2024, 1, 1), (date(2026, 12, 31) - date(2024, 1, 1)).days + 1
    dates = tuple(format_date(first_day + timedelta(days=d)) for d in rng.sample(range(span), UNIVERSE_SIZE))
    names = [f"{f} {last}" for f in vocab.DAY_FIRST_NAMES for last in vocab.DAY_LAST_NAMES]
    entities = tuple(rng.sample(names, UNIVERSE_SIZE))
    locations = tuple(rng.sample(vocab.LOCATIONS, len(vocab.LOCATIONS)))
    contents = tuple(rng.sample([c for c, _ in vocab.CONTENTS], len(vocab.CONTENTS)))
    posts = [f"{f} {last}" for f in vocab.SECONDARY_FIRST_NAMES for last in vocab.SECONDARY_LAST_NAMES]
    return Universe(
        dates=dates,
        locations=locations,
        entities=entities,
        contents=contents,
        details=dict(vocab.CONTENTS),
        post_entities=tuple(rng.sample(posts, len(posts))),
    )


@dataclass(frozen=True)
class Event:
    date: str
    location: str
    entity: str
    content: str
    detail: str


def _censored_geometric(rng: random.Random, size: int) -> int:
    """An index skewed toward 0: Geometric(p) - 1, redrawn while it falls outside the list."""
    while True:
        index = 0
        while rng.random() >= GEOMETRIC_P:
            index += 1
        if index < size:
            return index


def draw_events(universe: Universe, n: int, seed: int) -> list[Event]:
    """``n`` events, no (date, entity) and no (date, location) pair twice, as upstream requires.

    Candidates are drawn one per index with a seed of their own (so event i does not depend on how
    many were drawn before it), and the first ``n`` that keep both pairs unique are kept.
    """
    kept: list[Event] = []
    seen_te: set[tuple[str, str]] = set()
    seen_ts: set[tuple[str, str]] = set()
    for i in range(200 * n):
        rng = random.Random(f"episodic-event-{seed}-{i}")
        t, s, e, c = (universe.values(trait) for trait in TRAITS)
        event_date = t[_censored_geometric(rng, len(t))]
        location = s[_censored_geometric(rng, len(s))]
        entity = e[_censored_geometric(rng, len(e))]
        content = c[_censored_geometric(rng, len(c))]
        detail = rng.choice(universe.details[content])
        if (event_date, entity) in seen_te or (event_date, location) in seen_ts:
            continue
        seen_te.add((event_date, entity))
        seen_ts.add((event_date, location))
        kept.append(Event(event_date, location, entity, content, detail))
        if len(kept) == n:
            return kept
    raise ConfigError(f"could not draw {n} events with unique (date, entity) and (date, location) pairs")


@dataclass(frozen=True)
class Meta:
    """How a chapter is laid out: its paragraph count, where each cue goes, its style, its extras."""

    nb_paragraphs: int
    idx: dict[str, int]  # trait -> 1-based paragraph
    style: str
    tone: str
    post_entities: tuple[str, ...]


def draw_meta(universe: Universe, seed: int, index: int) -> Meta:
    rng = random.Random(f"episodic-meta-{seed}-{index}")
    k = rng.randint(1, MAX_PARAGRAPHS)
    idx = {trait: rng.randint(1, k) for trait in TRAITS}
    style, tone = rng.choice(vocab.STYLES)
    posts = tuple(rng.sample(universe.post_entities, rng.randint(0, min(3, k))))
    return Meta(k, idx, style, tone, posts)


# ---------------------------------------------------------------- chapters


def cue_phrases(event: Event) -> dict[str, str]:
    """The four strings that must each appear exactly once, in their designated paragraph."""
    first = event.entity.split()[0]
    return {
        "date": event.date,
        "location": event.location,
        "entity": event.entity,
        "content": f"{first} {event.detail}",
    }


_FILLER = (
    "The air felt {tone}, and the hours moved slowly.",
    "Nobody spoke for a while; the moment seemed {tone} and strangely long.",
    "A {tone} silence settled, broken only by distant footsteps.",
    "Later, it would be hard to say what made the day feel so {tone}.",
    "Small things stood out: a dropped glove, a cup left cooling, a door half open.",
    "The light changed twice before anything else happened.",
)
_WITH_POST = (
    "{post} waved from across the room and came over to talk.",
    "{post} told a long story that no one quite believed.",
    "{post} kept glancing at the clock, clearly waiting for someone.",
)


def _cue_sentence(here: set[str], event: Event) -> list[str]:
    """Sentences carrying exactly the cues designated for this paragraph, each once."""
    sentences: list[str] = []
    if "date" in here:
        sentences.append(f"It was {event.date}.")
    subject = event.entity if "entity" in here else "Our protagonist"
    if "location" in here:
        sentences.append(f"{subject} arrived at {event.location} early.")
    elif "entity" in here:
        sentences.append(f"{subject} had been looking forward to the day.")
    if "content" in here:
        first = event.entity.split()[0]
        sentences.append(f"At the {event.content}, {first} {event.detail}.")
    return sentences


def template_chapter(event: Event, meta: Meta, rng: random.Random) -> list[str]:
    """The chapter's paragraphs, written from templates under the upstream constraints."""
    posts = list(meta.post_entities)
    paragraphs: list[str] = []
    for p in range(1, meta.nb_paragraphs + 1):
        here = {trait for trait, where in meta.idx.items() if where == p}
        sentences = _cue_sentence(here, event)
        if posts and rng.random() < 0.6:
            sentences.append(rng.choice(_WITH_POST).format(post=posts.pop(0)))
        while len(sentences) < 2:
            sentences.append(rng.choice(_FILLER).format(tone=meta.tone))
        paragraphs.append(" ".join(sentences))
    for post in posts:  # every drawn secondary character appears somewhere
        paragraphs[-1] += " " + rng.choice(_WITH_POST).format(post=post)
    return paragraphs


def check_chapter(paragraphs: Sequence[str], event: Event, meta: Meta) -> str | None:
    """Why a chapter breaks the upstream rules, or None when it obeys them."""
    if len(paragraphs) != meta.nb_paragraphs:
        return f"has {len(paragraphs)} paragraphs, wanted {meta.nb_paragraphs}"
    for trait, phrase in cue_phrases(event).items():
        where = [i + 1 for i, text in enumerate(paragraphs) if phrase.lower() in text.lower()]
        count = sum(text.lower().count(phrase.lower()) for text in paragraphs)
        if where != [meta.idx[trait]] or count != 1:
            return f"{trait} '{phrase}' must appear once, in paragraph {meta.idx[trait]} (found in {where})"
    return None


_NUMBERED = re.compile(r"^\s*\((\d+)\)\s*", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\$entity_(\d+)")


def chapter_prompt(event: Event, meta: Meta) -> str:
    """Our own wording of the upstream generation request (research notes §2.3)."""
    cues = cue_phrases(event)
    lines = [
        f"Write an excerpt of a {meta.style} novel in exactly {meta.nb_paragraphs} paragraphs, numbered",
        "(1), (2), ... at the start of each paragraph. The whole excerpt happens on one day in one place.",
        f"{event.entity} attends a {event.content} on {event.date} at {event.location}.",
        "Each of these exact strings must appear once, in the paragraph given, and nowhere else:",
        f'- paragraph {meta.idx["date"]}: "{cues["date"]}"',
        f'- paragraph {meta.idx["location"]}: "{cues["location"]}"',
        f'- paragraph {meta.idx["entity"]}: "{cues["entity"]}"',
        f'- paragraph {meta.idx["content"]}: "{cues["content"]}"',
        _others_rule(len(meta.post_entities)),
        "Give no background about anyone.",
    ]
    return "\n".join(lines)


def _others_rule(available: int) -> str:
    if not available:
        return "Name no other character."
    names = ", ".join(f"$entity_{n}" for n in range(1, available + 1))
    return f"Name at most {available} other character(s), only as {names}."


def parse_llm_chapter(text: str, meta: Meta) -> tuple[list[str], tuple[str, ...]] | None:
    """Numbered paragraphs with placeholders replaced by secondary names, or None when malformed."""
    marks = list(_NUMBERED.finditer(text))
    if [int(m.group(1)) for m in marks] != list(range(1, len(marks) + 1)) or not marks:
        return None
    bounds = [*(m.start() for m in marks[1:]), len(text)]
    paragraphs = [" ".join(text[m.end() : end].split()) for m, end in zip(marks, bounds, strict=True)]
    numbers = sorted({int(n) for n in _PLACEHOLDER.findall(text)})
    if numbers and numbers[-1] > len(meta.post_entities):
        return None
    names = {n: meta.post_entities[n - 1] for n in numbers}
    paragraphs = [_PLACEHOLDER.sub(lambda m: names[int(m.group(1))], p) for p in paragraphs]
    return paragraphs, tuple(names[n] for n in numbers)


async def _llm_chapters(
    events: list[Event], metas: list[Meta], llm: LLMClient, attempts: int
) -> list[tuple[list[str], tuple[str, ...]] | None]:
    async def one(event: Event, meta: Meta) -> tuple[list[str], tuple[str, ...]] | None:
        messages = [{"role": "user", "content": chapter_prompt(event, meta)}]
        for _ in range(attempts):
            reply = await llm.complete(messages, max_tokens=4096, temperature=0.0)
            parsed = parse_llm_chapter(reply.text, meta)
            if parsed is not None and check_chapter(parsed[0], event, meta) is None:
                return parsed
            # A follow-up instead of the same request: the cache would return the same reply.
            messages = [
                *messages,
                {"role": "assistant", "content": reply.text},
                {"role": "user", "content": "That breaks a rule above. Write the excerpt again."},
            ]
        return None

    return list(await asyncio.gather(*(one(e, m) for e, m in zip(events, metas, strict=True))))


# ---------------------------------------------------------------- the chapter table and questions


def _chapter_row(number: int, event: Event, meta: Meta, posts: Iterable[str]) -> dict[str, Any]:
    return {
        "chapter": number,
        "date": event.date,
        "location": event.location,
        "entity": event.entity,
        "content": event.content,
        "content_detail": event.detail,
        "post_entities": list(posts),
        "nb_paragraphs": meta.nb_paragraphs,
        "style": meta.style,
        "idx_t": meta.idx["date"],
        "idx_s": meta.idx["location"],
        "idx_e": meta.idx["entity"],
        "idx_c": meta.idx["content"],
    }


def _add_counts(rows: list[dict[str, Any]]) -> None:
    for trait in TRAITS:
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[trait]] = counts.get(row[trait], 0) + 1
        for row in rows:
            row[f"n_{trait}"] = counts[row[trait]]


@dataclass(frozen=True)
class Template:
    q_idx: int
    cue: tuple[str, ...]  # traits given in the question
    retrieve: str  # a trait, or "post_entities"
    get: str  # all | latest | chronological


#: the release's id of its "Full event details" template, which is not asked here; ids after it keep
#: the release's numbers so ``q_idx`` means the same template in built and official data.
FULL_EVENT_DETAILS_Q_IDX = 29


def templates() -> list[Template]:
    """29 "all" templates (every cue of 1-3 traits asking each missing trait, and the full cue asking
    the secondary characters), then 3 "latest" and 3 "chronological" on the protagonist, in the
    release's order and with its ids (0-28, then 30-35)."""
    out: list[Template] = []

    def add(cue: tuple[str, ...], retrieve: str, get: str) -> None:
        q_idx = len(out) if len(out) < FULL_EVENT_DETAILS_Q_IDX else len(out) + 1
        out.append(Template(q_idx, cue, retrieve, get))

    for size in (1, 2, 3):
        for cue in combinations(TRAITS, size):
            for trait in TRAITS:
                if trait not in cue:
                    add(cue, trait, "all")
    add(TRAITS, "post_entities", "all")
    for get in ("latest", "chronological"):
        for trait in ("date", "location", "content"):
            add(("entity",), trait, get)
    return out


def question_text(template: Template, cue: dict[str, str]) -> str:
    """Short, plain questions: the cue values and the trait asked, little else."""
    entity = cue.get("entity")
    event = f"the {cue['content']}" if "content" in cue else "an event"
    where = f" at {cue['location']}" if "location" in cue else ""
    when = f" on {cue['date']}" if "date" in cue else ""
    if template.get == "latest":
        asked = {"date": "On what date", "location": "At which location", "content": "At which event"}
        return f"{asked[template.retrieve]} was {entity} seen most recently, by story date?"
    if template.get == "chronological":
        what = {
            "date": f"dates on which {entity} attended an event",
            "location": f"locations where {entity} attended an event",
            "content": f"events {entity} attended",
        }
        return f"List, in chronological order, all the {what[template.retrieve]}."
    if template.retrieve == "post_entities":
        return f"Which other people were with {entity} at the {cue['content']}{where}{when}?"
    if template.retrieve == "entity":
        return f"Who attended {event}{where}{when}?"
    if template.retrieve == "date":
        return (
            f"On which dates did {entity} attend {event}{where}?"
            if entity
            else f"On which dates was there {event}{where}?"
        )
    if template.retrieve == "location":
        return f"Where did {entity} attend {event}{when}?" if entity else f"Where was {event}{when}?"
    return (
        f"Which events did {entity} attend{where}{when}?"
        if entity
        else f"Which events took place{where}{when}?"
    )


def _cue_strings(template: Template, cue: dict[str, str]) -> tuple[str, str]:
    symbols = ", ".join(CUE_SYMBOL[t] if t in template.cue else "*" for t in TRAITS)
    values = ", ".join(cue[t] if t in template.cue else "*" for t in TRAITS)
    return f"({symbols})", f"({values})"


class ChapterIndex:
    """Chapters by trait value, so matching a cue is a set intersection (2,000-chapter books stay fast)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.by_value: dict[tuple[str, str], set[int]] = {}
        for i, row in enumerate(rows):
            for trait in TRAITS:
                self.by_value.setdefault((trait, row[trait]), set()).add(i)

    def matching(self, cue: dict[str, str], traits: Sequence[str]) -> list[dict[str, Any]]:
        sets = [self.by_value.get((t, cue[t]), set()) for t in traits]
        return [self.rows[i] for i in sorted(set.intersection(*sets))]


def _answer(template: Template, cue: dict[str, str], index: ChapterIndex) -> dict[str, Any]:
    """The ground truth of one instantiated template over the chapter table."""
    matching = index.matching(cue, template.cue)
    by_date = sorted(matching, key=lambda r: date_key(r["date"]))
    if template.get == "all":
        items: list[str] = sorted(
            {
                p
                for r in matching
                for p in (
                    r["post_entities"] if template.retrieve == "post_entities" else [r[template.retrieve]]
                )
            }
        )
    elif template.get == "latest":
        items = [by_date[-1][template.retrieve]] if by_date else []
    else:
        items = list(dict.fromkeys(r[template.retrieve] for r in by_date))
    # A "latest" row lists only the latest chapter, as the release's does; it still counts them all.
    answering = by_date[-1:] if template.get == "latest" else by_date
    detailed = {
        str(r["chapter"]): (
            r["post_entities"] if template.retrieve == "post_entities" else r[template.retrieve]
        )
        for r in answering
    }
    return {
        "correct_answer": items,
        "correct_answer_chapters": [r["chapter"] for r in answering],
        "correct_answer_detailed": json.dumps(detailed, sort_keys=True),
        "n_items_correct_answer": len(items),
        "n_chapters_correct_answer": len(matching),
        "bins_items_correct_answer": bin_of(len(matching)),
    }


def date_key(text: str) -> date:
    """Story-date order of a book date string ("September 13, 2025")."""
    return datetime.strptime(text, "%B %d, %Y").date()


def _perturbed_cues(
    rows: list[dict[str, Any]], universe: Universe, seed: int
) -> list[tuple[dict[str, str], int]]:
    """Per chapter, a copy of its cue with 1-4 traits changed (to another value of the book, or to an
    unused universe value), and whether an existing value was used: the empty-answer candidates."""
    rng = random.Random(f"episodic-empty-{seed}")
    used = {t: sorted({r[t] for r in rows}) for t in TRAITS}
    unused = {t: [v for v in universe.values(t) if v not in set(used[t])] for t in TRAITS}
    out: list[tuple[dict[str, str], int]] = []
    for row in rows:
        cue = {t: row[t] for t in TRAITS}
        existing = int(rng.random() < 0.5)
        for trait in rng.sample(TRAITS, rng.randint(1, 4)):
            pool = [v for v in (used[trait] if existing else unused[trait]) if v != cue[trait]]
            pool = pool or [v for v in universe.values(trait) if v != cue[trait]]
            cue[trait] = rng.choice(pool)
        out.append((cue, existing))
    return out


def make_questions(rows: list[dict[str, Any]], universe: Universe, seed: int) -> list[dict[str, Any]]:
    """Every template on every chapter's cue (non-empty answers) and on perturbed cues (empty answers),
    deduplicated by question, binned, and cut to ``MAX_PER_TEMPLATE_BIN`` per template and bin."""
    candidates: dict[str, dict[str, Any]] = {}
    sources = [({t: r[t] for t in TRAITS}, 0, False) for r in rows]
    sources += [(cue, existing, True) for cue, existing in _perturbed_cues(rows, universe, seed)]
    index = ChapterIndex(rows)
    for template in templates():
        for cue, existing, perturbed in sources:
            question = question_text(template, {t: cue[t] for t in template.cue})
            if question in candidates:
                continue
            answer = _answer(template, cue, index)
            if perturbed and answer["n_chapters_correct_answer"] != 0:
                continue
            cue_symbols, cue_completed = _cue_strings(template, cue)
            candidates[question] = {
                "q_idx": template.q_idx,
                "question": question,
                "cue": cue_symbols,
                "cue_completed": cue_completed,
                "retrieval_type": RETRIEVAL_TYPE[template.retrieve],
                "get": template.get,
                **answer,
                "debug_existing_change": existing if perturbed else None,
            }
    kept: list[dict[str, Any]] = []
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in candidates.values():
        groups.setdefault((row["q_idx"], row["bins_items_correct_answer"]), []).append(row)
    for key in sorted(groups, key=lambda k: (k[0], BIN_NAMES.index(k[1]))):
        kept.extend(sorted(groups[key], key=lambda r: r["cue_completed"])[:MAX_PER_TEMPLATE_BIN])
    return kept


# ---------------------------------------------------------------- books


def book_text(chapters: Sequence[Sequence[str]]) -> str:
    """Upstream ``book.json`` layout: "Chapter k", a blank line, paragraphs; two blank lines between."""
    return "\n\n\n".join(f"Chapter {k}\n\n" + "\n\n".join(p) for k, p in enumerate(chapters, 1))


def build_book(
    universe: Universe,
    n_chapters: int,
    seed: int,
    written: Callable[[list[Event], list[Meta]], list[tuple[list[str], tuple[str, ...]] | None]]
    | None = None,
) -> dict[str, Any]:
    """One book (chapter table, text, questions) of ``n_chapters`` targeted events."""
    events = draw_events(universe, n_chapters, seed)
    metas = [draw_meta(universe, seed, i) for i in range(len(events))]
    if written is None:
        chapters = [
            (template_chapter(e, m, random.Random(f"episodic-prose-{seed}-{i}")), m.post_entities)
            for i, (e, m) in enumerate(zip(events, metas, strict=True))
        ]
        generated: list[tuple[list[str], tuple[str, ...]] | None] = list(chapters)
    else:
        generated = written(events, metas)
    rows: list[dict[str, Any]] = []
    texts: list[list[str]] = []
    for event, meta, chapter in zip(events, metas, generated, strict=True):
        if chapter is None:
            continue  # dropped, as upstream drops events whose chapter never passed the checks
        paragraphs, posts = chapter
        rows.append(_chapter_row(len(rows) + 1, event, meta, posts))
        texts.append(paragraphs)
    if not rows:
        raise ConfigError("no chapter passed the checks; the book is empty")
    _add_counts(rows)
    return {
        "targeted_events": n_chapters,
        "book": book_text(texts),
        "groundtruth": rows,
        "qa": make_questions(rows, universe, seed),
    }


def build_episodic(
    out: Path,
    books: str = DEFAULT_BOOKS,
    seed: int = 0,
    llm: LLMClient | None = None,
    attempts: int = 3,
) -> Path:
    """Write every book of ``books`` (e.g. "20x4,200x1") to ``out``, one JSONL line each; returns ``out``.

    Book j draws its events, layouts and questions with seed ``1000 * seed + j``, so books of the same
    size differ and adding a book never changes the ones before it.
    """
    universe = make_universe(seed)
    written = None
    if llm is not None:
        client = llm

        def written(events: list[Event], metas: list[Meta]) -> list[tuple[list[str], tuple[str, ...]] | None]:
            return asyncio.run(_llm_chapters(events, metas, client, attempts))

    lines = []
    for j, size in enumerate(parse_books(books)):
        book_seed = 1000 * seed + j
        book = build_book(universe, size, book_seed, written)
        name = f"episodic-seed{book_seed}-ch{len(book['groundtruth'])}"
        line = {
            "book_dir": name,
            "seed": book_seed,
            "generator": "llm:" + llm.model if llm is not None else "templates",
            **book,
            "universe": {
                "date": list(universe.dates),
                "location": list(universe.locations),
                "entity": list(universe.entities),
                "content": list(universe.contents),
                "post_entities": list(universe.post_entities),
            },
        }
        lines.append(json.dumps(line, ensure_ascii=False, sort_keys=True))
    write_atomic(out, "\n".join(lines) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--books", default=DEFAULT_BOOKS, help="chapters x books, e.g. 20x4,200x1,2000x1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        print(build_episodic(args.out, args.books, args.seed))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
