"""WorM trials (built, or the official ``data_rand_trials.json`` files) as membench episodes.

One trial is one episode: a fresh memory per trial, as the original resets its network's state per
trial. Sharing one memory across a block of trials would let an earlier trial's frames answer a later
trial's probes, an interference the original never measures. Trials are drawn independently, so each
episode is its own statistical cluster.

Each frame is one session holding one user message, with start times a minute apart; a retention
interval is that many blank sessions after its frame; the trial's questions are probes asked after the
last session, so no probe reaches the write stream. A probe's retrieval query is its question and
what it shows (a test array, the options): what an agent shown the probe would search its memory
with. Both sources share one schema: the builder writes
the official one (``{"train": [...], "test": [...], "gen_test": [...]}`` per variant folder), and every
trial goes through its variant's ``check`` and ``encode``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError, DataError
from membench.core.jsonl_input import Where, check, parse_json
from membench.core.types import Dataset, Episode, Probe, Session, Turn
from membench_builders.worm import TRIALS_FILE
from membench_tasks.worm.variant import Encoded, Variant

SPLITS = ("train", "test", "gen_test")
BLANK = "(blank)"
_START = datetime(2024, 1, 1, 9, 0, 0)


def session_id(index: int) -> str:
    """The id of the episode's session ``index``: the reader reads the write order back from it."""
    return f"s{index:03d}"


def session_texts(encoded: Encoded) -> list[str]:
    """The texts of a trial's sessions in write order: each frame, then its retention blanks."""
    texts: list[str] = []
    for frame_index, frame in enumerate(encoded.frames):
        texts.append(frame)
        texts.extend([BLANK] * encoded.retention.get(frame_index, 0))
    return texts


def load_worm(
    root: Path,
    variants: Sequence[Variant],
    *,
    split: str,
    per_cell: int | None,
    seed: int,
    top_k: int,
) -> Dataset:
    """Every selected variant's trials of ``split`` under ``root/<folder>/``, ``per_cell`` of them per
    condition cell (seeded; None keeps all), as episodes and probes."""
    if split not in SPLITS:
        raise ConfigError(f"task option split must be one of {', '.join(SPLITS)}, got '{split}'")
    missing = [v.folder for v in variants if not (root / v.folder / TRIALS_FILE).is_file()]
    if missing:
        raise ConfigError(
            f"{root} has no {TRIALS_FILE} for {', '.join(missing)}: point -T data at the release's "
            "wm_bench_data folder (one folder per task), or choose -T variants=..."
        )
    digest = hashlib.sha256()
    episodes: list[Episode] = []
    probes: list[Probe] = []
    for variant in variants:
        path = root / variant.folder / TRIALS_FILE
        raw = path.read_bytes()
        digest.update(f"{variant.folder}/{TRIALS_FILE}\n".encode())
        digest.update(hashlib.sha256(raw).digest())
        trials = _trials(path, raw, split, variant)
        for index in _sample(trials, variant, per_cell, seed):
            episode, asked = _episode(variant, split, index, trials[index][1], top_k)
            episodes.append(episode)
            probes.extend(asked)
    return Dataset(
        name="worm",
        episodes=episodes,
        probes=probes,
        fingerprint=digest.hexdigest(),
        source=str(root),
        metadata={"split": split, "variants": [v.name for v in variants], "trials": len(episodes)},
    )


def _trials(path: Path, raw: bytes, split: str, variant: Variant) -> list[tuple[dict[str, Any], Encoded]]:
    """The split's trials, each checked by its variant, with its encoding."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, None, None, f"is not valid UTF-8 (byte {exc.start})") from None
    document = check(parse_json(text, path, None), dict, Where(path, None))
    at = Where(path, None).key(split)
    if split not in document:
        raise at.error("is missing")
    out = []
    for i, trial in enumerate(check(document[split], list, at)):
        checked = variant.check(trial, at.item(i))
        out.append((checked, variant.encode(checked)))
    return out


def _cell(encoded: Encoded, variant: Variant) -> tuple[str, ...]:
    labels = encoded.questions[0].labels if encoded.questions else {}
    return tuple(str(labels.get(factor, "")) for factor in variant.factors)


def _sample(
    trials: list[tuple[dict[str, Any], Encoded]], variant: Variant, per_cell: int | None, seed: int
) -> list[int]:
    """Indices of the trials kept, in file order: all, or in each condition cell the first
    ``per_cell`` of the cell's trials in a seeded shuffle (so a larger ``per_cell`` keeps every trial a
    smaller one kept)."""
    if per_cell is None:
        return list(range(len(trials)))
    by_cell: dict[tuple[str, ...], list[int]] = {}
    for index, (_, encoded) in enumerate(trials):
        by_cell.setdefault(_cell(encoded, variant), []).append(index)
    kept: list[int] = []
    for cell, indices in by_cell.items():
        rng = random.Random(f"{seed}:{variant.name}:{':'.join(cell)}")
        shuffled = indices[:]
        rng.shuffle(shuffled)
        kept.extend(shuffled[:per_cell])
    return sorted(kept)


def _episode(
    variant: Variant, split: str, index: int, encoded: Encoded, top_k: int
) -> tuple[Episode, list[Probe]]:
    episode_id = f"{variant.name}-{split}-{index:05d}"
    texts = session_texts(encoded)
    sessions = []
    for i, text in enumerate(texts):
        start = (_START + timedelta(minutes=i)).isoformat()
        turn = Turn(role="user", content=text, timestamp=start)
        sessions.append(Session(session_id=session_id(i), turns=[turn], start_time=start, end_time=start))
    episode = Episode(
        episode_id=episode_id,
        sessions=sessions,
        metadata={"variant": variant.name, "split": split, "trial": index, "frames": len(encoded.frames)},
    )
    probes = [
        Probe(
            probe_id=f"{episode_id}:{question.key}",
            episode_id=episode_id,
            after_session=len(sessions) - 1,
            kind=question.format,
            mode="answer",
            question=question.text,
            query=" ".join([question.text, *question.inputs.values()]),
            top_k=top_k,
            inputs=dict(question.inputs),
            gold={"format": question.format, **question.gold},
            labels={**question.labels, "variant": variant.name},
        )
        for question in encoded.questions
    ]
    return episode, probes
