"""Download the official LoCoMo file (snap-research/locomo ``data/locomo10.json``), only when a user asks.

Licence: the data is CC BY-NC 4.0 (non-commercial use, with attribution). membench never ships,
redistributes or commits it: this module fetches it onto the user's own machine, under ``data/``,
which git ignores.

The file is on GitHub, not on the Hugging Face hub, so it is fetched over HTTP from the repository's
raw files at one revision (``-T revision=``, a commit by default: ``PINNED_COMMIT``), into
``<dest_dir>/<revision>/locomo10.json``, with ``membench.core.download`` (streamed to a temporary name,
checked, then renamed into place). Its sha256 must be the one the user gives (``--sha256``), else, at
the pinned commit, the one known for it (``KNOWN_SHA256``); at any other revision it is recorded, not
checked. A copy already there with the expected digest is kept, not fetched again.
``membench-pull.json`` is removed when a pull starts and written last (source, revision, size, sha256),
as the hub pulls write it: a folder without it holds no complete pull.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from membench.core.download import Checksum, download, verified_copy
from membench.core.hub import MANIFEST, PullProgress, print_progress, revision_folder
from membench.core.records import write_atomic
from membench.core.urls import public_url
from membench_tasks.locomo.loader import FILE_NAME

RAW_BASE = "https://raw.githubusercontent.com/snap-research/locomo"
REPO_PATH = f"data/{FILE_NAME}"
#: the commit a default pull takes, and the sha256 of its locomo10.json as several independent
#: reproductions record it (membench could not fetch it from here to check).
PINNED_COMMIT = "3eb6f2c585f5e1699204e3c3bdf7adc5c28cb376"
KNOWN_SHA256 = {PINNED_COMMIT: "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4"}
_ADVICE = (
    "GitHub may be unreachable from this machine: download data/locomo10.json of snap-research/locomo "
    "on another machine (CC BY-NC 4.0: never commit it), copy it here and pass it with -T data=PATH"
)


def pull_locomo(
    dest_dir: Path,
    *,
    revision: str = PINNED_COMMIT,
    sha256: str | None = None,
    base_url: str = RAW_BASE,
    progress: Callable[[PullProgress], None] = print_progress,
) -> Path:
    """Fetch ``locomo10.json`` at ``revision`` into ``dest_dir/<revision>/``; returns the file, the
    path to give as ``-T data=``."""
    root = revision_folder(dest_dir, revision)
    final = root / FILE_NAME
    digest = sha256 or KNOWN_SHA256.get(revision)
    expected = Checksum("sha256", digest) if digest else None
    url = f"{base_url.rstrip('/')}/{quote(revision, safe='')}/{REPO_PATH}"
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).unlink(missing_ok=True)
    have = verified_copy(final, expected) if expected is not None else None
    kept = have is not None
    if have is None:
        have = download(url, final, advice=_ADVICE, expected=expected)
    progress(PullProgress(1, 1, REPO_PATH, have.size, kept))
    manifest = {
        "source": public_url(url),
        "revision": revision,
        "checked": "the given --sha256" if sha256 else ("the pinned commit's sha256" if digest else "no"),
        "files": 1,
        "bytes": have.size,
        "sha256": {REPO_PATH: have.sha256},
    }
    write_atomic(root / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return final
