"""Fetching an official release from the Hugging Face hub onto the user's machine, safely.

Every task that can ``membench data pull`` its official data downloads through here, so the rules
hold for all of them: a file is streamed to a temporary name beside its destination, hashed while it
streams, checked against the length the server announced and against the checksum the caller expects,
fsynced, and only then renamed into place. An interrupted, truncated or corrupt download therefore
never sits under the final name where a loader would pick it up, and an existing good copy is replaced
only by another good copy.

The hub's two endpoints used (as the ``huggingface_hub`` client calls them): a file's bytes at
``{endpoint}/datasets/{repo}/resolve/{revision}/{path}`` (LFS files redirect to a CDN, which urllib
follows), and a folder's recursive listing at ``{endpoint}/api/datasets/{repo}/tree/{revision}/{path}``,
paginated with a ``Link: <...>; rel="next"`` header. The listing gives each file's checksum: the
sha256 of its bytes for a file kept in LFS, else only its git blob id, a sha1 over ``blob <size>\\0``
and the bytes; both are checked here, so every listed file is verified.

Only ``urllib`` is used: fetching a few files does not justify the hub client as a dependency. There
are no retries: a failure says at once what to do (and a multi-file pull is resumable by re-running),
rather than stalling a user whose machine cannot reach the hub.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urljoin

from membench.core.errors import ConfigError

if TYPE_CHECKING:
    from hashlib import _Hash

DEFAULT_ENDPOINT = "https://huggingface.co"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')

#: called with (bytes received so far, total bytes or None when the server does not say).
Progress = Callable[[int, int | None], None]


def hub_endpoint(endpoint: str | None = None) -> str:
    """The hub to download from: ``endpoint``, else $HF_ENDPOINT (a mirror), else the public hub."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def resolve_url(endpoint: str, repo: str, revision: str, path: str) -> str:
    """Where the bytes of ``path`` in dataset ``repo`` at ``revision`` are served."""
    return f"{endpoint}/datasets/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"


def tree_url(endpoint: str, repo: str, revision: str, path: str) -> str:
    """The first page of the recursive listing of folder ``path`` in dataset ``repo`` at ``revision``."""
    return (
        f"{endpoint}/api/datasets/{repo}/tree/{quote(revision, safe='')}/{quote(path, safe='')}"
        "?recursive=true"
    )


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


@dataclass(frozen=True)
class HubFile:
    """One file of a hub listing: its path in the repo, its size and the checksum the hub records."""

    path: str
    size: int
    checksum: Checksum


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
            raise ConfigError(
                f"the download of {url} has {expected.algorithm} {digests.checked()}, expected "
                f"{expected.hexdigest.strip()}: {final.name} was not saved (a changed release or a "
                "corrupted transfer)"
            )
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Fetched(final, digests.size, digests.sha256.hexdigest())


def verified_copy(path: Path, expected: Checksum) -> Fetched | None:
    """``path`` as a ``Fetched`` when it exists and matches ``expected``, else None: a file a resumed
    pull keeps instead of fetching it again."""
    if not path.is_file() or (expected.size is not None and path.stat().st_size != expected.size):
        return None
    digests = _Digests(expected)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digests.update(chunk)
    return (
        Fetched(path, digests.size, digests.sha256.hexdigest())
        if expected.matches(digests.checked())
        else None
    )


def list_hub_files(endpoint: str, repo: str, revision: str, folder: str, *, advice: str) -> list[HubFile]:
    """Every file under ``folder`` (recursively) in dataset ``repo`` at ``revision``, page by page."""
    files: list[HubFile] = []
    url: str | None = tree_url(endpoint, repo, revision, folder)
    while url is not None:
        page, next_url = _fetch_json(url, advice)
        if not isinstance(page, list):
            raise ConfigError(f"the hub listing {url} is not a JSON list of entries")
        for index, entry in enumerate(page):
            if not (isinstance(entry, dict) and entry.get("type") == "directory"):
                files.append(_hub_file(f"the hub listing {url}: entry {index}", entry))
        url = next_url
    return files


def _hub_file(where: str, entry: Any) -> HubFile:
    """One file entry of a listing: checked by ``lfs.oid`` (a sha256) when in LFS, else by its git ``oid``."""
    if not isinstance(entry, dict) or entry.get("type") != "file" or not isinstance(entry.get("path"), str):
        raise ConfigError(f"{where} is neither a file nor a directory with a path")
    path, size, lfs = entry["path"], entry.get("size"), entry.get("lfs")
    if not isinstance(size, int) or size < 0:
        raise ConfigError(f"{where} ({path}) has no byte size")
    if isinstance(lfs, dict):
        return HubFile(path, size, Checksum("sha256", _hex(f"{where} ({path})", lfs.get("oid"), 64), size))
    return HubFile(path, size, Checksum("git-sha1", _hex(f"{where} ({path})", entry.get("oid"), 40), size))


def _hex(where: str, value: Any, length: int) -> str:
    if not isinstance(value, str) or not re.fullmatch(rf"[0-9a-f]{{{length}}}", value.lower()):
        raise ConfigError(f"{where} has no {length}-digit hex checksum: {value!r}")
    return value.lower()


def _fetch_json(url: str, advice: str) -> tuple[Any, str | None]:
    """The JSON body of ``url`` and the absolute URL of its next page (``Link: rel="next"``), if any."""
    with _open(url, advice) as response:
        raw = _read(response, url, advice, None)
        link = _NEXT_LINK.search(response.headers.get("Link") or "")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the hub listing {url} is not JSON ({exc}). {advice}") from None
    return value, urljoin(url, link.group(1)) if link else None


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


def _unreachable(url: str, reason: str, advice: str) -> ConfigError:
    return ConfigError(f"could not download {url} ({reason}). {advice}")
