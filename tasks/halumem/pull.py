"""Pull the official HaluMem release from the Hugging Face hub, only when a user asks for it.

Licence: the HaluMem data (hub dataset ``IAAR-Shanghai/HaluMem``) is CC-BY-NC-ND-4.0: non-commercial
use only, no derivatives may be redistributed. membench therefore never ships, redistributes or
commits it; this module fetches the file onto the user's own machine, and pulled data lives under
``data/``, which git ignores.

The release is two JSONL files at the repository's root; a pull takes one variant's file into
``<dest_dir>/<revision>/`` with ``membench.core.hub`` (resolved commit, checksums, resume, the
``membench-pull.json`` record). A third-party registry pins revision ``6c4dbab``; pin a commit
(``-T revision=``) for results others can reproduce.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from membench.core.errors import ConfigError
from membench.core.hub import PullProgress, print_progress, pull_one_file

FILENAMES = {"medium": "HaluMem-Medium.jsonl", "long": "HaluMem-Long.jsonl"}
REPO = "IAAR-Shanghai/HaluMem"
_ADVICE = (
    "The Hugging Face hub may be unreachable from this machine: download the file on another machine "
    "(CC-BY-NC-ND-4.0: do not redistribute or commit it), copy it here and pass it with -T data=PATH "
    "(or set HF_ENDPOINT to a reachable mirror)"
)


def pull_halumem(
    variant: str,
    dest_dir: Path,
    *,
    revision: str = "main",
    endpoint: str | None = None,
    sha256: str | None = None,
    progress: Callable[[PullProgress], None] = print_progress,
) -> Path:
    """Pull HaluMem-Medium.jsonl or HaluMem-Long.jsonl into ``dest_dir/<revision>/``; its path.

    ``sha256``, when given, must also match the file (the hub's own checksum always must), or the
    file is not kept. ``endpoint`` defaults to $HF_ENDPOINT, then the public hub.
    """
    name = _filename(variant)
    return pull_one_file(
        REPO,
        name,
        dest_dir,
        revision=revision,
        record={"variant": variant},
        advice=_ADVICE,
        endpoint=endpoint,
        sha256=sha256,
        progress=progress,
    )


def _filename(variant: str) -> str:
    try:
        return FILENAMES[variant]
    except KeyError:
        raise ConfigError(f"HaluMem variant must be one of {', '.join(FILENAMES)}, got '{variant}'") from None
