"""Download the official HaluMem release from the Hugging Face hub, only when a user asks for it.

Licence: the HaluMem data (hub dataset ``IAAR-Shanghai/HaluMem``) is CC-BY-NC-ND-4.0: non-commercial
use only, no derivatives may be redistributed. membench therefore never ships, redistributes or
commits it; this module fetches the file onto the user's own machine, and generated data lives under
``data/``, which git ignores.

The download goes to a temporary file next to the destination and is renamed into place only after
it is complete and (when a checksum is given) verified, so an interrupted or corrupt download never
sits under the final name where the loader would pick it up. Only ``urllib`` is used: a one-file
download does not justify a hub client dependency.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from membench.core.errors import ConfigError

FILENAMES = {"medium": "HaluMem-Medium.jsonl", "long": "HaluMem-Long.jsonl"}
DEFAULT_ENDPOINT = "https://huggingface.co"
REPO_PATH = "datasets/IAAR-Shanghai/HaluMem/resolve/main"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0

#: called with (bytes received so far, total bytes or None when the server does not say).
Progress = Callable[[int, int | None], None]


def hub_url(variant: str, endpoint: str | None = None) -> str:
    """Where ``variant``'s file lives; ``endpoint`` defaults to $HF_ENDPOINT, then the public hub."""
    base = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    return f"{base.rstrip('/')}/{REPO_PATH}/{_filename(variant)}"


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
    filename = _filename(variant)
    url = hub_url(variant, endpoint)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{filename}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _download(url, out, progress)
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and digest != sha256.strip().lower():
            raise ConfigError(
                f"the download of {url} has sha256 {digest}, expected {sha256.strip()}: "
                f"{filename} was not saved (a changed release or a corrupted transfer)"
            )
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return final


def _filename(variant: str) -> str:
    try:
        return FILENAMES[variant]
    except KeyError:
        raise ConfigError(f"HaluMem variant must be one of {', '.join(FILENAMES)}, got '{variant}'") from None


def _download(url: str, out: BinaryIO, progress: Progress | None) -> str:
    """Stream ``url`` into the binary file ``out``; returns the hex sha256 of the bytes written."""
    hasher = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
    except urllib.error.HTTPError as exc:
        raise _unreachable(url, f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise _unreachable(url, str(reason) or type(exc).__name__) from None
    if total is not None and received != total:
        raise _unreachable(url, f"the transfer stopped after {received} of {total} bytes")
    return hasher.hexdigest()


def _unreachable(url: str, reason: str) -> ConfigError:
    return ConfigError(
        f"could not download {url} ({reason}). The Hugging Face hub may be unreachable from this machine: "
        "download the file on another machine (CC-BY-NC-ND-4.0: do not redistribute or commit it), copy it "
        "here and pass it with -T data=PATH (or set HF_ENDPOINT to a reachable mirror)"
    )
