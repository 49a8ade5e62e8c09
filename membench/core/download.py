"""Fetching a file from outside the Hugging Face hub onto the user's machine, safely.

Hub datasets are pulled with the hub's own client (``membench.core.hub``); this module is for data
published elsewhere (a GitHub release, a project's site), and holds the checksum rules both share.
A file is streamed to a temporary name beside its destination, hashed while it streams, checked
against the length the server announced and against the checksum the caller expects, fsynced, and
only then renamed into place. An interrupted, truncated or corrupt download therefore never sits
under the final name where a loader would pick it up, and an existing good copy is replaced only by
another good copy. A checksum is the sha256 of the bytes, or git's blob id (a sha1 over
``blob <size>\\0`` and the bytes), which is all a hub listing gives for a file outside LFS.

Only ``urllib`` is used. There are no retries: a failure says at once what to do, rather than
stalling a user whose machine cannot reach the server.
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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from membench.core.errors import RunFailure

if TYPE_CHECKING:
    from hashlib import _Hash

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0

#: called with (bytes received so far, total bytes or None when the server does not say).
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Checksum:
    """What a file must hash to. ``sha256`` is over the bytes; ``git-sha1`` is git's blob id, a sha1
    over ``blob <size>\\0`` followed by the bytes, so it needs the expected ``size``."""

    algorithm: Literal["sha256", "git-sha1"]
    hexdigest: str
    size: int | None = None

    def __post_init__(self) -> None:
        if self.algorithm == "git-sha1" and self.size is None:
            raise ValueError("a git blob checksum needs the blob's size")

    def matches(self, hexdigest: str) -> bool:
        return hexdigest == self.hexdigest.strip().lower()


@dataclass(frozen=True)
class Fetched:
    """A file in place: its path, its size in bytes and the sha256 of its bytes."""

    path: Path
    size: int
    sha256: str


class _Digests:
    """A stream's sha256 (what manifests record) and, in the same pass, the digest ``expected`` is in
    when that is another algorithm."""

    def __init__(self, expected: Checksum | None) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._blob: _Hash | None = None
        if expected is not None and expected.algorithm == "git-sha1":
            assert expected.size is not None  # Checksum.__post_init__ guarantees it
            self._blob = hashlib.sha1(usedforsecurity=False)
            self._blob.update(b"blob %d\0" % expected.size)

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        if self._blob is not None:
            self._blob.update(chunk)
        self.size += len(chunk)

    def checked(self) -> str:
        """The digest to compare with the expected checksum."""
        return (self._blob or self.sha256).hexdigest()


def download(
    url: str,
    final: Path,
    *,
    advice: str,
    expected: Checksum | None = None,
    progress: Progress | None = None,
) -> Fetched:
    """Download ``url`` to ``final`` atomically; when ``expected`` is given the bytes must match it or
    nothing is kept. ``advice`` ends the error a failed transfer raises: what the user can do instead."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digests = _stream(url, out, _Digests(expected), advice, progress)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and not expected.matches(digests.checked()):
            raise RunFailure(
                f"the download of {url} has {expected.algorithm} {digests.checked()}, expected "
                f"{expected.hexdigest.strip()}: {final.name} was not saved (a changed release or a "
                "corrupted transfer)"
            )
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Fetched(final, digests.size, digests.sha256.hexdigest())


def hash_file(path: Path, expected: Checksum | None) -> tuple[Fetched, str]:
    """``path`` as a ``Fetched`` (size, sha256) and its digest in ``expected``'s algorithm, in one read."""
    digests = _Digests(expected)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digests.update(chunk)
    return Fetched(path, digests.size, digests.sha256.hexdigest()), digests.checked()


def verified_copy(path: Path, expected: Checksum) -> Fetched | None:
    """``path`` as a ``Fetched`` when it exists and matches ``expected``, else None: a file a resumed
    pull keeps instead of fetching it again."""
    if not path.is_file() or (expected.size is not None and path.stat().st_size != expected.size):
        return None
    fetched, digest = hash_file(path, expected)
    return fetched if expected.matches(digest) else None


def _stream(url: str, out: IO[bytes], digests: _Digests, advice: str, progress: Progress | None) -> _Digests:
    """Copy the body of ``url`` into ``out``, through ``digests``; a short body is an error."""
    with _open(url, advice) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        while chunk := _read(response, url, advice, _CHUNK):
            out.write(chunk)
            digests.update(chunk)
            if progress is not None:
                progress(digests.size, total)
    if total is not None and digests.size != total:
        raise _unreachable(url, f"the transfer stopped after {digests.size} of {total} bytes", advice)
    return digests


def _open(url: str, advice: str) -> http.client.HTTPResponse:
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(url, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        said = exc.headers.get("X-Error-Message") if exc.headers else None
        exc.close()
        raise _unreachable(
            url, f"HTTP {exc.code} {exc.reason}" + (f": {said}" if said else ""), advice
        ) from None
    except urllib.error.URLError as exc:
        raise _unreachable(url, str(exc.reason) or type(exc).__name__, advice) from None
    except (http.client.HTTPException, OSError) as exc:
        raise _unreachable(url, str(exc) or type(exc).__name__, advice) from None
    return response


def _read(response: http.client.HTTPResponse, url: str, advice: str, size: int | None) -> bytes:
    """The next ``size`` bytes of the body (all of it when None); a dropped connection is the user's
    one-line error, while a failing write to disk (outside this call) keeps its own."""
    try:
        return response.read(size)
    except (http.client.HTTPException, OSError) as exc:
        raise _unreachable(url, str(exc) or type(exc).__name__, advice) from None


def _unreachable(url: str, reason: str, advice: str) -> RunFailure:
    return RunFailure(f"could not download {url} ({reason}). {advice}")
