"""ConvoMem haystacks as a membench Dataset: the paper's stratified sample and its two generators.

ConvoMem's difficulty is the filler: each item's 1-6 evidence conversations are hidden, in their own
order, among same-persona filler until the haystack holds the context size (research note §1.5).
Harnesses that ingest only the evidence conversations measure something else, so this module either
rebuilds the haystacks from ``evidence_questions`` + ``filler_conversations`` (form ``evidence``) or
reads the release's ``pre_mixed_testcases`` (form ``pre_mixed``), and records where the evidence sits.

The sample: in each (category, N) cell, ``per_cell`` items, taken round-robin over the cell's personas
in a seeded order, each persona's items in a seeded order, so the items spread over as many personas
(the statistical clusters) as the sample allows. Rankings are sha256 of the seed and an id, never
Python's ``hash()`` or a listing order, and do not depend on the context size, so the same items are
asked at every size (the paper's repeated measure).

The rebuilt haystacks (``random.Random`` seeded from sha256 of seed, haystack owner and size):
- below ``batch_from``, standard: one haystack per (item, size): ``size - E`` filler conversations
  drawn without replacement from the item's persona, the item's ``E`` evidence conversations at sorted
  random positions;
- at and above it, batched: one haystack per (persona, size) holding every sampled item of the persona
  with N <= size, ``max(size, ΣE) - ΣE`` filler, and the items' evidence interleaved in a shuffled order
  that keeps each item's own order.

Files are read twice rather than held: a first pass indexes what the selected folders hold, the
sample and the draws are decided on the index, and a second pass reads back only the files that hold
a chosen item, test case or filler conversation.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from membench.core.errors import ConfigError
from membench.core.retrieval import EVIDENCE_LABEL, Evidence, evidence_label
from membench.core.types import Dataset, Episode, Probe, Session, Turn
from membench_tasks.convomem.loader import (
    CATEGORIES,
    EVIDENCE_FOLDER,
    FILLER_FOLDER,
    FORM_FOLDERS,
    PRE_MIXED_FOLDER,
    Cell,
    Conversation,
    EvidenceItem,
    Release,
    contains_evidence,
    read_evidence_file,
    read_filler_file,
    read_test_cases,
    require_evidence_present,
    selected_labels,
)

__all__ = ["CATEGORIES", "PAPER_SIZES", "load_convomem", "pick"]

#: the context sizes (conversations per haystack) of the paper's evaluation grid.
PAPER_SIZES = (1, 2, 3, 4, 5, 6, 10, 20, 30, 50, 70, 100, 150, 200, 300)
#: the release has no dates: conversation i of a haystack starts i days after this.
BASE_TIME = datetime(2024, 1, 1, 9, 0, 0)

_Ref = tuple[Path, int]  # a filler conversation: its file and its place in read_filler_file's list


@dataclass(frozen=True)
class _Options:
    sizes: tuple[int, ...]
    per_cell: int
    seed: int
    batch_from: int
    top_k: int


def load_convomem(
    path: Path,
    *,
    form: str,
    sizes: Sequence[int],
    categories: Sequence[str] | None,
    evidence: Sequence[int] | None,
    per_cell: int,
    seed: int,
    batch_from: int,
    top_k: int,
) -> Dataset:
    """The sampled haystacks (episodes) and their questions (probes) of the release at ``path``.

    ``categories`` are labels (values of ``CATEGORIES``) and ``evidence`` evidence counts N; ``None``
    selects all. Sizes below an item's N are not asked (as upstream).
    """
    if form not in FORM_FOLDERS:
        raise ConfigError(f"ConvoMem form must be one of {', '.join(FORM_FOLDERS)}, got '{form}'")
    numbers = {"per_cell": per_cell, "batch_from": batch_from, "top_k": top_k}
    numbers |= {f"sizes[{i}]": s for i, s in enumerate(sizes)}
    numbers |= {f"evidence[{i}]": n for i, n in enumerate(evidence or ())}
    for name, number in numbers.items():
        if number < 1:
            raise ConfigError(f"ConvoMem option {name} must be at least 1, got {number}")
    if not sizes:
        raise ConfigError("ConvoMem option sizes is empty")
    labels = selected_labels(categories)
    counts = None if evidence is None else set(evidence)
    options = _Options(tuple(sorted(set(sizes))), per_cell, seed, batch_from, top_k)
    release = Release(path, form)
    if form == "evidence":
        episodes, probes = _rebuilt(release, labels, counts, options)
    else:
        episodes, probes = _pre_mixed(release, labels, counts, options)
    if not probes:
        raise ConfigError(
            f"no ConvoMem items in {release.base} for categories {', '.join(labels)}, evidence "
            f"{'all' if counts is None else sorted(counts)} and sizes {list(options.sizes)}"
        )
    return Dataset(
        name="convomem",
        episodes=episodes,
        probes=probes,
        fingerprint=release.fingerprint(),
        source=str(path),
        metadata={
            "form": form,
            "items": len({p.labels["item_id"] for p in probes}),
            "haystacks": len(episodes),
            "conversations": sum(len(e.sessions) for e in episodes),
        },
    )


# ---------------------------------------------------------------- the stratified sample


def pick(candidates: Iterable[tuple[str, str]], per_cell: int, seed: int, cell: str) -> list[str]:
    """Up to ``per_cell`` item ids of ``candidates`` ((item id, persona id) pairs, repeats allowed):
    round-robin over the personas in a seeded order, each persona's items in a seeded order."""
    by_persona: dict[str, set[str]] = {}
    for item_id, persona in candidates:
        by_persona.setdefault(persona, set()).add(item_id)
    personas = sorted(by_persona, key=lambda p: (_rank(f"{seed}:{cell}:{p}"), p))
    queues = [sorted(by_persona[p], key=lambda i: (_rank(f"{seed}:{i}"), i)) for p in personas]
    picked: list[str] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if depth < len(queue) and len(picked) < per_cell:
                picked.append(queue[depth])
    return picked


def _rank(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


# ---------------------------------------------------------------- rebuilt haystacks


@dataclass(frozen=True)
class _Plan:
    """One haystack to build: whose, how big, and which items it asks."""

    episode_id: str
    layout: str  # "standard" | "batched"
    persona_id: str
    size: int
    items: tuple[EvidenceItem, ...]
    owner: str  # what seeds its draws with the size: the item id (standard) or the persona (batched)

    @property
    def evidence_total(self) -> int:
        return sum(len(item.conversations) for item in self.items)

    @property
    def total(self) -> int:
        """All evidence conversations are always included, even past the target size (as upstream)."""
        return max(self.size, self.evidence_total)

    @property
    def filler_count(self) -> int:
        return self.total - self.evidence_total


@dataclass(frozen=True)
class _Draw:
    filler: list[int]  # indices into the persona's filler pool, in haystack order
    owners: list[int]  # the item (index into plan.items) of each evidence conversation, in haystack order
    positions: list[int]  # the sorted haystack positions of the evidence conversations


def _rebuilt(
    release: Release, labels: Collection[str], counts: Collection[int] | None, options: _Options
) -> tuple[list[Episode], list[Probe]]:
    items = _sampled_items(release, labels, counts, options)
    plans = _plans(items, options)
    pools = _filler_pools(release, plans, items)
    draws = [_draw(plan, len(pools.get(plan.persona_id, [])), options.seed) for plan in plans]
    wanted = {pools[plan.persona_id][i] for plan, draw in zip(plans, draws, strict=True) for i in draw.filler}
    filler = _read_filler(release, wanted)
    episodes: list[Episode] = []
    probes: list[Probe] = []
    for plan, draw in zip(plans, draws, strict=True):
        conversations, positions = _assemble(
            plan, draw, [filler[pools[plan.persona_id][i]] for i in draw.filler]
        )
        asked = [(item, positions[item.item_id]) for item in plan.items]
        episode, asks = _haystack(
            plan.episode_id, plan.layout, plan.persona_id, conversations, asked, None, options
        )
        episodes.append(episode)
        probes.extend(asks)
    return episodes, probes


def _sampled_items(
    release: Release, labels: Collection[str], counts: Collection[int] | None, options: _Options
) -> list[EvidenceItem]:
    """The sampled items of every selected cell (cell order, then sample order), each checked to hold
    its evidence in its own conversations."""
    sampled: list[EvidenceItem] = []
    for cell in release.cells(EVIDENCE_FOLDER, labels, counts):
        where: dict[str, tuple[Path, int]] = {}
        personas: list[tuple[str, str]] = []
        for file in release.json_files(cell.path):
            for k, item in enumerate(read_evidence_file(release, cell, file)):
                where[item.item_id] = (file, k)
                personas.append((item.item_id, item.persona_id))
        chosen = pick(personas, options.per_cell, options.seed, cell.key)
        files = {
            file: read_evidence_file(release, cell, file) for file in sorted({where[i][0] for i in chosen})
        }
        sampled.extend(files[where[i][0]][where[i][1]] for i in chosen)
    for item in sampled:
        require_evidence_present(item)
    return sampled


def _plans(items: Sequence[EvidenceItem], options: _Options) -> list[_Plan]:
    """The haystacks to build, by size, then item (standard) or persona (batched)."""
    plans: list[_Plan] = []
    for size in options.sizes:
        fitting = [item for item in items if item.evidence_count <= size]
        if size < options.batch_from:
            plans.extend(
                _Plan(f"{i.item_id}-n{size}", "standard", i.persona_id, size, (i,), i.item_id)
                for i in fitting
            )
            continue
        for persona in sorted({item.persona_id for item in fitting}):
            own = tuple(item for item in fitting if item.persona_id == persona)
            plans.append(_Plan(f"{persona}-n{size}", "batched", persona, size, own, persona))
    return plans


def _filler_pools(
    release: Release, plans: Sequence[_Plan], items: Sequence[EvidenceItem]
) -> dict[str, list[_Ref]]:
    """Each persona's filler pool (references in sorted-file, in-file order) for the personas that need
    filler. The files named like a persona or its evidence files are read first; the others only when
    a pool is still short of what the persona's largest haystack needs."""
    need: dict[str, _Plan] = {}  # persona -> its haystack needing the most filler
    for plan in sorted(plans, key=lambda p: p.filler_count):
        if plan.filler_count:
            need[plan.persona_id] = plan
    if not need:
        return {}
    named = {item.persona_id for item in items} | {item.file.stem for item in items}
    files = release.filler_files()
    pools: dict[str, list[_Ref]] = {persona: [] for persona in need}
    _index_filler(release, [f for f in files if f.stem in named], pools)
    if any(len(pools[p]) < plan.filler_count for p, plan in need.items()):
        _index_filler(release, [f for f in files if f.stem not in named], pools)
        for pool in pools.values():
            pool.sort()
    for persona, plan in sorted(need.items()):
        if len(pools[persona]) < plan.filler_count:
            raise ConfigError(
                f"ConvoMem persona {persona}: a haystack of size {plan.size} needs {plan.filler_count} "
                f"filler conversations, but {release.base / FILLER_FOLDER} holds {len(pools[persona])} for "
                "it; choose smaller sizes"
            )
    return pools


def _index_filler(release: Release, files: Sequence[Path], pools: dict[str, list[_Ref]]) -> None:
    for file in files:
        for k, (persona, _conversation) in enumerate(read_filler_file(release, file)):
            if persona in pools:
                pools[persona].append((file, k))


def _read_filler(release: Release, wanted: Collection[_Ref]) -> dict[_Ref, Conversation]:
    """The drawn filler conversations, each file read once more."""
    found: dict[_Ref, Conversation] = {}
    for file in sorted({file for file, _ in wanted}):
        conversations = read_filler_file(release, file)
        found.update({(f, k): conversations[k][1] for f, k in wanted if f == file})
    return found


def _draw(plan: _Plan, pool_size: int, seed: int) -> _Draw:
    """The plan's filler draw and evidence positions, from a generator seeded by seed, owner and size."""
    rng = random.Random(_rank(f"{seed}:{plan.owner}:{plan.size}"))
    filler = rng.sample(range(pool_size), plan.filler_count)
    owners = [k for k, item in enumerate(plan.items) for _ in item.conversations]
    if plan.layout == "batched":
        rng.shuffle(owners)
    positions = sorted(rng.sample(range(plan.total), len(owners)))
    return _Draw(filler, owners, positions)


def _assemble(
    plan: _Plan, draw: _Draw, filler: Sequence[Conversation]
) -> tuple[list[Conversation], dict[str, list[int]]]:
    """The haystack's conversations in order, and each item's evidence positions in it."""
    slots: list[Conversation | None] = [None] * plan.total
    used = [0] * len(plan.items)
    positions: dict[str, list[int]] = {item.item_id: [] for item in plan.items}
    for position, k in zip(draw.positions, draw.owners, strict=True):
        item = plan.items[k]
        slots[position] = item.conversations[used[k]]
        used[k] += 1
        positions[item.item_id].append(position)
    rest = iter(filler)
    return [slot if slot is not None else next(rest) for slot in slots], positions


# ---------------------------------------------------------------- pre-mixed test cases


def _pre_mixed(
    release: Release, labels: Collection[str], counts: Collection[int] | None, options: _Options
) -> tuple[list[Episode], list[Probe]]:
    """One episode per kept test case, asking only its sampled items."""
    episodes: list[Episode] = []
    probes: list[Probe] = []
    for cell in release.cells(PRE_MIXED_FOLDER, labels, counts):
        kept = _kept_cases(release, cell, options)
        for file in sorted({file for file, _ in kept}):
            for case in read_test_cases(release, cell, file):
                asked_ids = kept.get((file, case.index))
                if not asked_ids:
                    continue
                items = [item for item in case.items if item.item_id in asked_ids]
                for item in items:
                    require_evidence_present(item)
                asked = [(item, _located(item, case.conversations)) for item in items]
                episode, asks = _haystack(
                    f"{cell.label}-{cell.evidence_count}e-{file.stem}-{case.index}",
                    "pre_mixed",
                    ",".join(sorted({item.persona_id for item in case.items})),
                    case.conversations,
                    asked,
                    case.context_size,
                    options,
                )
                episodes.append(episode)
                probes.extend(asks)
    return episodes, probes


def _kept_cases(release: Release, cell: Cell, options: _Options) -> dict[tuple[Path, int], set[str]]:
    """(file, case index) -> the sampled item ids it asks, for the cell's cases at the selected sizes.

    Items are sampled per size, but with rankings that ignore the size, so the same items recur."""
    index: dict[int, list[tuple[Path, int, list[tuple[str, str]]]]] = {size: [] for size in options.sizes}
    for file in release.json_files(cell.path):
        for case in read_test_cases(release, cell, file):
            if case.context_size in index:
                members = [(item.item_id, item.persona_id) for item in case.items]
                index[case.context_size].append((file, case.index, members))
    kept: dict[tuple[Path, int], set[str]] = {}
    for cases in index.values():
        members = [member for _, _, listed in cases for member in listed]
        chosen = set(pick(members, options.per_cell, options.seed, cell.key))
        for file, i, listed in cases:
            asked = chosen & {item_id for item_id, _ in listed}
            if asked:
                kept[(file, i)] = asked
    return kept


def _located(item: EvidenceItem, conversations: Sequence[Conversation]) -> list[int]:
    """Positions of the item's evidence in a pre-mixed haystack: the conversations carrying one of the
    item's own conversation ids, else those containing one of its evidence messages verbatim."""
    own = {c.conversation_id for c in item.conversations if c.conversation_id}
    by_id = [p for p, c in enumerate(conversations) if c.conversation_id in own]
    if by_id:
        return by_id
    evidences = item.message_evidences
    return [p for p, c in enumerate(conversations) if any(contains_evidence(m, c) for m in evidences)]


# ---------------------------------------------------------------- episodes and probes


def _haystack(
    episode_id: str,
    layout: str,
    persona_id: str,
    conversations: Sequence[Conversation],
    asked: Sequence[tuple[EvidenceItem, list[int]]],
    context_size: int | None,
    options: _Options,
) -> tuple[Episode, list[Probe]]:
    """The episode of one haystack and a probe per asked item, after its last conversation.

    ``context_size`` is the pre-mixed ``contextSize``; a rebuilt haystack's is its length.
    """
    ids = session_ids(conversations)
    sessions = []
    for position, (session_id, conversation) in enumerate(zip(ids, conversations, strict=True)):
        stamp = (BASE_TIME + timedelta(days=position)).isoformat()
        turns = [Turn(role=m.speaker.lower(), content=m.text, timestamp=stamp) for m in conversation.messages]
        sessions.append(Session(session_id=session_id, turns=turns, start_time=stamp))
    size = len(sessions) if context_size is None else context_size
    episode = Episode(
        episode_id=episode_id,
        sessions=sessions,
        metadata={
            "context_size": size,
            "persona_id": persona_id,
            "layout": layout,
            "evidence_positions": {item.item_id: positions for item, positions in asked},
        },
    )
    probes = [
        Probe(
            probe_id=f"{episode_id}:{item.item_id}",
            episode_id=episode_id,
            after_session=len(sessions) - 1,
            kind="qa",
            mode="answer",
            question=item.question,
            query=item.question,
            top_k=options.top_k,
            gold={
                "answer": item.answer,
                "category": item.label,
                "message_evidences": [m.as_gold() for m in item.message_evidences],
                "keys": item.keys,
            },
            labels={
                "category": item.label,
                "evidence_count": str(item.evidence_count),
                "context_size": str(size),
                "persona_id": item.persona_id,
                "haystack_id": episode_id,
                "item_id": item.item_id,
                EVIDENCE_LABEL: evidence_label(
                    [_evidence(item, ids[p], conversations[p]) for p in positions]
                ),
            },
        )
        for item, positions in asked
    ]
    return episode, probes


def _evidence(item: EvidenceItem, session_id: str, conversation: Conversation) -> Evidence:
    """One evidence conversation as session-level evidence (the retrieval metrics' unit, as the
    paper's "retrieved evidence conversations"), with the item's evidence messages it holds as the
    text that matches a memory without provenance; all of them for a conversation that is the item's
    by its id but holds none verbatim (a pre-mixed case's reworded message)."""
    held = [m.text for m in item.message_evidences if contains_evidence(m, conversation)]
    return Evidence(session_id, None, "\n".join(held or [m.text for m in item.message_evidences]))


def session_ids(conversations: Sequence[Conversation]) -> list[str]:
    """Each conversation's id when it has one that no other conversation of the haystack shares, else
    ``c<position>`` (all positional if a real id happens to look like one)."""
    seen = Counter(c.conversation_id for c in conversations if c.conversation_id)
    ids = [
        c.conversation_id if c.conversation_id and seen[c.conversation_id] == 1 else f"c{p:03d}"
        for p, c in enumerate(conversations)
    ]
    if len(set(ids)) < len(ids):
        return [f"c{p:03d}" for p in range(len(conversations))]
    return ids
