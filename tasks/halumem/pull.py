"""Download the official HaluMem release from the Hugging Face hub, only when a user asks for it.

Licence: the HaluMem data (hub dataset ``IAAR-Shanghai/HaluMem``) is CC-BY-NC-ND-4.0: non-commercial
use only, no derivatives may be redistributed. membench therefore never ships, redistributes or
commits it; this module fetches the file onto the user's own machine, and generated data lives under
``data/``, which git ignores.

The transfer itself (a temporary file renamed into place only once complete and, when a checksum is
given, verified) is ``membench.core.download``'s, shared with every task that pulls a release.
"""

from __future__ import annotations

from pathlib import Path

from membench.core.download import Checksum, Progress, download, hub_endpoint, resolve_url
from membench.core.errors import ConfigError

FILENAMES = {"medium": "HaluMem-Medium.jsonl", "long": "HaluMem-Long.jsonl"}
REPO = "IAAR-Shanghai/HaluMem"
REVISION = "main"
_ADVICE = (
    "The Hugging Face hub may be unreachable from this machine: download the file on another machine "
    "(CC-BY-NC-ND-4.0: do not redistribute or commit it), copy it here and pass it with -T data=PATH "
    "(or set HF_ENDPOINT to a reachable mirror)"
)


def hub_url(variant: str, endpoint: str | None = None) -> str:
    """Where ``variant``'s file lives; ``endpoint`` defaults to $HF_ENDPOINT, then the public hub."""
    return resolve_url(hub_endpoint(endpoint), REPO, REVISION, _filename(variant))


def pull_halumem(
    variant: str,
    dest_dir: Path,
    *,
    endpoint: str | None = None,
    sha256: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download HaluMem-Medium.jsonl or HaluMem-Long.jsonl into ``dest_dir``; returns the file's path.

    ``sha256``, when given, must match the downloaded bytes or nothing is kept. An existing file of
    the same name is replaced only by a complete (and verified) download.
    """
    expected = Checksum("sha256", sha256) if sha256 is not None else None
    final = dest_dir / _filename(variant)
    return download(
        hub_url(variant, endpoint), final, advice=_ADVICE, expected=expected, progress=progress
    ).path


def _filename(variant: str) -> str:
    try:
        return FILENAMES[variant]
    except KeyError:
        raise ConfigError(f"HaluMem variant must be one of {', '.join(FILENAMES)}, got '{variant}'") from None
