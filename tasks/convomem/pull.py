"""Download the official ConvoMem release (hub dataset ``Salesforce/ConvoMem``), only when a user asks.

Licence: ConvoMem's code is Apache-2.0. The data licence, as one third-party registry records it, is
CC BY-NC 4.0 (research use only); that was not verified on the dataset card from here, so the user
must check the card before using or sharing the data. membench never ships, redistributes or commits
it: this module fetches it onto the user's own machine, under ``data/``, which git ignores.

The release is a file tree, not a table, so a pull mirrors the hub's paths under
``<dest_dir>/<revision>/``: part ``evidence`` is ``core_benchmark/evidence_questions/<folder>/<N>_evidence/``
for the selected categories and evidence counts, plus every ``core_benchmark/filler_conversations/``
file (the haystacks are rebuilt from them); part ``pre_mixed`` is the same cells of
``core_benchmark/pre_mixed_testcases/`` (13 GB in full, so only when asked). Every file is checked
against the checksum the hub lists for it (``membench.core.download``), so the user's ``--sha256``
has no place here. A file already present with the right checksum is kept, so a pull that was
interrupted is finished by running it again. ``membench-pull.json``, the record of what was pulled,
is written last and removed while a pull runs: a folder without it is incomplete.

``main`` moves when the release is updated; pin a commit id (``-T revision=<40 hex>``) for results
that others can reproduce. Each revision gets its own folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from membench.core.download import HubFile, download, hub_endpoint, list_hub_files, resolve_url, verified_copy
from membench.core.errors import ConfigError
from membench.core.records import write_atomic
from membench.core.urls import public_url
from membench_tasks.convomem.loader import (
    CATEGORIES,
    EVIDENCE_FOLDER,
    FILLER_FOLDER,
    FORM_FOLDERS,
    PRE_MIXED_FOLDER,
)

REPO = "Salesforce/ConvoMem"
MANIFEST = "membench-pull.json"
_TOP = "core_benchmark"
#: each part: the hub folder of its per-cell files (the loader's form of the same name reads them).
PARTS = {"evidence": f"{_TOP}/{EVIDENCE_FOLDER}", "pre_mixed": f"{_TOP}/{PRE_MIXED_FOLDER}"}
FILLER = f"{_TOP}/{FILLER_FOLDER}"
#: the files a pull takes: a cell's file (its category folder and evidence count N), or a filler file.
_CELL_FILE = re.compile(
    rf"{_TOP}/(?:{EVIDENCE_FOLDER}|{PRE_MIXED_FOLDER})/(?P<folder>[^/]+)/(?P<n>\d+)_evidence/[^/]+\.json"
)
_FILLER_FILE = re.compile(rf"{FILLER}/[^/]+\.json")
_ADVICE = (
    "The Hugging Face hub may be unreachable from this machine, or the revision may not exist: download "
    f"core_benchmark/ of the dataset {REPO} on another machine (check its licence on the dataset card; "
    "never commit it), copy it here and pass its folder with -T data=PATH (or set HF_ENDPOINT to a "
    "reachable mirror). Files already downloaded are kept: running the pull again fetches only the rest"
)


@dataclass(frozen=True)
class PullProgress:
    """Where a pull is: file ``index`` (from 1) of ``files``, ``received`` of its ``size`` bytes;
    ``skipped`` when the file was already present with the right checksum and is not fetched again."""

    index: int
    files: int
    path: str
    received: int
    size: int
    skipped: bool


def pull_convomem(
    dest_dir: Path,
    *,
    parts: Collection[str],
    categories: Collection[str] | None,
    evidence: Collection[int] | None,
    revision: str = "main",
    endpoint: str | None = None,
    progress: Callable[[PullProgress], None] | None = None,
) -> Path:
    """Download the selected parts into ``dest_dir/<revision>/`` and return that folder (``-T data=``).

    ``parts``: ``evidence`` and/or ``pre_mixed``. ``categories``: labels (``user_facts``) or folder
    names (``user_evidence``), None for all six. ``evidence``: evidence counts N, None for every N on
    the hub. ``endpoint`` defaults to $HF_ENDPOINT, then the public hub.
    """
    chosen_parts = _parts(parts)
    folders = _folders(categories)
    counts = None if evidence is None else sorted(set(evidence))
    if counts is not None and (not counts or counts[0] < 1):
        raise ConfigError(f"ConvoMem evidence counts are positive integers, got {counts or 'none'}")
    if not revision.strip():
        raise ConfigError("the ConvoMem revision is empty: give a branch (main) or a commit id")
    base = hub_endpoint(endpoint)
    files = _select(base, revision, chosen_parts, folders, counts)
    root = dest_dir / quote(revision, safe="")
    (root / MANIFEST).unlink(missing_ok=True)
    sha256: dict[str, str] = {}
    total = 0
    for index, file in enumerate(files, start=1):
        final = root / file.path
        fetched = verified_copy(final, file.checksum)
        if fetched is not None:
            if progress is not None:
                progress(PullProgress(index, len(files), file.path, file.size, file.size, skipped=True))
        else:
            url = resolve_url(base, REPO, revision, file.path)
            step = _reporter(progress, index, len(files), file)
            fetched = download(url, final, advice=_ADVICE, expected=file.checksum, progress=step)
        sha256[file.path] = fetched.sha256
        total += fetched.size
    record = {
        "repo": REPO,
        "revision": revision,
        "endpoint": public_url(base),
        "parts": chosen_parts,
        "categories": [CATEGORIES[f] for f in folders],
        "evidence": counts if counts is not None else sorted(_counts(files)),
        "files": len(files),
        "bytes": total,
        "sha256": sha256,
    }
    write_atomic(root / MANIFEST, json.dumps(record, indent=2) + "\n")
    return root


def _select(
    base: str, revision: str, parts: list[str], folders: list[str], counts: list[int] | None
) -> list[HubFile]:
    """The hub's files the selection asks for, sorted by path; a part with no matching cell is an error."""
    chosen: list[HubFile] = []
    for part in parts:
        cells = [
            f
            for f in list_hub_files(base, REPO, revision, PARTS[part], advice=_ADVICE)
            if (cell := _CELL_FILE.fullmatch(f.path))
            and cell["folder"] in folders
            and (counts is None or int(cell["n"]) in counts)
        ]
        if not cells:
            raise ConfigError(
                f"no {PARTS[part]} file of {REPO} at revision {revision} matches categories "
                f"{', '.join(CATEGORIES[f] for f in folders)} and evidence "
                f"{', '.join(map(str, counts)) if counts else 'all'}"
            )
        chosen.extend(cells)
        if FILLER_FOLDER in FORM_FOLDERS[part]:
            filler = list_hub_files(base, REPO, revision, FILLER, advice=_ADVICE)
            chosen.extend(f for f in filler if _FILLER_FILE.fullmatch(f.path))
    return sorted(chosen, key=lambda f: f.path)


def _counts(files: list[HubFile]) -> set[int]:
    """The evidence counts N the pulled cell files cover."""
    found = (_CELL_FILE.fullmatch(f.path) for f in files)
    return {int(cell["n"]) for cell in found if cell}


def _reporter(
    progress: Callable[[PullProgress], None] | None, index: int, files: int, file: HubFile
) -> Callable[[int, int | None], None] | None:
    """The byte-level callback of one file's download, reporting as ``PullProgress``."""
    if progress is None:
        return None
    report = progress
    return lambda received, _total: report(PullProgress(index, files, file.path, received, file.size, False))


def _parts(parts: Collection[str]) -> list[str]:
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ConfigError(f"ConvoMem parts are {' and/or '.join(PARTS)}, got {', '.join(unknown) or 'none'}")
    return [p for p in PARTS if p in parts]


def _folders(categories: Collection[str] | None) -> list[str]:
    """The release folders of ``categories`` (labels or folder names), in the release's order."""
    if categories is None:
        return list(CATEGORIES)
    by_name = {label: folder for folder, label in CATEGORIES.items()} | {f: f for f in CATEGORIES}
    unknown = [c for c in categories if c not in by_name]
    if unknown or not categories:
        raise ConfigError(
            f"ConvoMem categories are {', '.join(CATEGORIES.values())} (or their folder names), "
            f"got {', '.join(unknown) or 'none'}"
        )
    wanted = {by_name[c] for c in categories}
    return [f for f in CATEGORIES if f in wanted]
