"""Download the official ConvoMem release (hub dataset ``Salesforce/ConvoMem``), only when a user asks.

Licence: ConvoMem's code is Apache-2.0. The data licence, as one third-party registry records it, is
CC BY-NC 4.0 (research use only); that was not verified on the dataset card from here, so the user
must check the card before using or sharing the data. membench never ships, redistributes or commits
it: this module fetches it onto the user's own machine, under ``data/``, which git ignores.

The release is a file tree, not a table, so a pull mirrors the hub's paths under
``<dest_dir>/<revision>/``: part ``evidence`` is ``core_benchmark/evidence_questions/<folder>/<N>_evidence/``
for the selected categories and evidence counts, plus every ``core_benchmark/filler_conversations/``
file (the haystacks are rebuilt from them); part ``pre_mixed`` is the same cells of
``core_benchmark/pre_mixed_testcases/`` (13 GB in full, so only when asked). The transfer, the
checksums (each file against the one the hub lists for it, so the user's ``--sha256`` has no place
here), the resume and the ``membench-pull.json`` record are ``membench.core.hub``'s.

``main`` moves when the release is updated; the record names the commit a pull of ``main`` got, and
pinning a commit (``-T revision=<40 hex>``) gives results that others can reproduce. Each revision
gets its own folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path

from membench.core.errors import ConfigError
from membench.core.hub import HubDataset, HubFile, PullProgress, hub_dataset, print_progress, revision_folder
from membench_tasks.convomem.loader import (
    CATEGORIES,
    EVIDENCE_FOLDER,
    FILLER_FOLDER,
    FORM_FOLDERS,
    PRE_MIXED_FOLDER,
)

REPO = "Salesforce/ConvoMem"
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
    "The Hugging Face hub may be unreachable from this machine: download "
    f"core_benchmark/ of the dataset {REPO} on another machine (check its licence on the dataset card; "
    "never commit it), copy it here and pass its folder with -T data=PATH (or set HF_ENDPOINT to a "
    "reachable mirror). Files already downloaded are kept: running the pull again fetches only the rest"
)


def pull_convomem(
    dest_dir: Path,
    *,
    parts: Collection[str],
    categories: Collection[str] | None,
    evidence: Collection[int] | None,
    revision: str = "main",
    endpoint: str | None = None,
    progress: Callable[[PullProgress], None] = print_progress,
) -> Path:
    """Pull the selected parts into ``dest_dir/<revision>/`` and return that folder (``-T data=``).

    ``parts``: ``evidence`` and/or ``pre_mixed``. ``categories``: labels (``user_facts``) or folder
    names (``user_evidence``), None for all six. ``evidence``: evidence counts N, None for every N on
    the hub. ``endpoint`` defaults to $HF_ENDPOINT, then the public hub.
    """
    chosen_parts = _parts(parts)
    folders = _folders(categories)
    counts = None if evidence is None else sorted(set(evidence))
    if counts is not None and (not counts or counts[0] < 1):
        raise ConfigError(f"ConvoMem evidence counts are positive integers, got {counts or 'none'}")
    root = revision_folder(dest_dir, revision)
    with hub_dataset(REPO, revision, advice=_ADVICE, endpoint=endpoint) as hub:
        files = _select(hub, chosen_parts, folders, counts)
        record = {
            "parts": chosen_parts,
            "categories": [CATEGORIES[f] for f in folders],
            "evidence": counts if counts is not None else sorted(_counts(files)),
        }
        hub.pull(files, root, record=record, progress=progress)
    return root


def _select(hub: HubDataset, parts: list[str], folders: list[str], counts: list[int] | None) -> list[HubFile]:
    """The hub's files the selection asks for, sorted by path; a part with no matching cell is an error."""
    chosen: list[HubFile] = []
    for part in parts:
        cells = hub.files(PARTS[part], select=lambda path: _wanted_cell(path, folders, counts))
        if not cells:
            raise ConfigError(
                f"no {PARTS[part]} file of {REPO} at revision {hub.revision} matches categories "
                f"{', '.join(CATEGORIES[f] for f in folders)} and evidence "
                f"{', '.join(map(str, counts)) if counts else 'all'}"
            )
        chosen.extend(cells)
        if FILLER_FOLDER in FORM_FOLDERS[part]:
            chosen.extend(hub.files(FILLER, select=lambda path: _FILLER_FILE.fullmatch(path) is not None))
    return sorted(chosen, key=lambda f: f.path)


def _wanted_cell(path: str, folders: list[str], counts: list[int] | None) -> bool:
    """Whether ``path`` is a cell file of a selected category folder and evidence count."""
    cell = _CELL_FILE.fullmatch(path)
    return cell is not None and cell["folder"] in folders and (counts is None or int(cell["n"]) in counts)


def _counts(files: list[HubFile]) -> set[int]:
    """The evidence counts N the pulled cell files cover."""
    found = (_CELL_FILE.fullmatch(f.path) for f in files)
    return {int(cell["n"]) for cell in found if cell}


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
