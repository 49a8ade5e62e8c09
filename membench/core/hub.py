"""Pulling an official release that lives on the Hugging Face hub, with the hub's own client.

Every task whose data is a hub dataset pulls it through here (``membench data pull``), so the rules
hold for all of them:

- the revision asked for (a branch, a tag or a commit id) is resolved to its commit once, and every
  listing and file is then taken at that commit, so one pull never mixes two states of ``main``;
- files land under ``<data dir>/<task>/<revision>/`` with their paths in the repository (the client's
  ``local_dir``: its bookkeeping sits in ``.cache/huggingface/`` there, and a file already in the
  client's cache, ``$HF_HUB_CACHE``, is copied instead of fetched);
- ``huggingface_hub`` resumes a transfer that was cut (HTTP Range) and checks its length; it does not
  hash what it fetched, so every file is checked here against the checksum the hub's listing gives
  (the sha256 of an LFS file, else its git blob id), and a file that does not match is removed;
- a file already present with the right checksum is kept without asking the hub for it, so an
  interrupted pull is finished by running it again;
- ``membench-pull.json`` (repo, revision, the commit it resolved to, every file's sha256) is removed
  when a pull starts and written last: a folder without it is incomplete;
- tokens for gated or private datasets are the client's: ``HF_TOKEN``, or ``hf auth login``; the
  endpoint is ``HF_ENDPOINT`` (a mirror) when set, else the public hub;
- each failure the client raises (no such dataset, gated without access, no such revision, the hub
  unreachable) becomes one line naming the dataset and the revision, and what to do.

``HF_HUB_OFFLINE=1`` is exported by membench's Makefile and runs, to keep model loaders off the
network. A pull is the user asking for the network, so the client's offline switch is turned off for
the pull and put back after it (``_online``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from membench.core.download import Checksum, Fetched, hash_file, verified_copy
from membench.core.errors import ConfigError, RunFailure
from membench.core.records import write_atomic
from membench.core.urls import public_url

if TYPE_CHECKING:
    from huggingface_hub import HfApi

DEFAULT_ENDPOINT = "https://huggingface.co"
#: the record of a complete pull, written last in the pulled folder.
MANIFEST = "membench-pull.json"
_LINE_WIDTH = 80


def hub_endpoint(endpoint: str | None = None) -> str:
    """The hub to pull from: ``endpoint``, else $HF_ENDPOINT (a mirror), else the public hub.

    Read at each call: the client reads $HF_ENDPOINT once, at import, and is given this explicitly."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def revision_folder(dest_dir: Path, revision: str) -> Path:
    """Where a pull of ``revision`` lands: one folder per revision, so a pinned commit never mixes
    with ``main``."""
    if not revision.strip():
        raise ConfigError("the revision is empty: give a branch (main), a tag or a commit id")
    return dest_dir / quote(revision, safe="")


@dataclass(frozen=True)
class HubFile:
    """One file of a hub listing: its path in the repo, its size and the checksum the hub records."""

    path: str
    size: int
    checksum: Checksum


@dataclass(frozen=True)
class PullProgress:
    """Where a pull is: file ``index`` (from 1) of ``files``, of ``size`` bytes, now in place;
    ``kept`` when it was already present with the right checksum and was not fetched again."""

    index: int
    files: int
    path: str
    size: int
    kept: bool


def print_progress(event: PullProgress) -> None:
    """One line per file on stderr, within 80 columns (the client draws byte bars on a terminal)."""
    head = f"{event.index}/{event.files} {'kept' if event.kept else 'fetched'} "
    tail = f" ({_size(event.size)})"
    print(
        head + _shortened(event.path, _LINE_WIDTH - len(head) - len(tail)) + tail, file=sys.stderr, flush=True
    )


def _shortened(path: str, room: int) -> str:
    """``path`` in ``room`` characters: its leading folders dropped first (``…/``), as the end of a
    path says most about which file it is."""
    if len(path) <= room:
        return path
    parts = path.split("/")
    for start in range(1, len(parts)):
        short = "…/" + "/".join(parts[start:])
        if len(short) <= room:
            return short
    return "…" + path[-(room - 1) :]


def _size(n: float) -> str:
    """A byte count as people read it: 6 B, 5.1 kB, 33.5 MB, 13.0 GB."""
    for unit in ("B", "kB", "MB"):
        if round(n, 1) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


@dataclass(frozen=True)
class HubDataset:
    """A dataset on the hub at one resolved commit: list its files, pull some of them."""

    api: HfApi
    repo: str
    revision: str
    commit: str
    endpoint: str

    def files(self, folder: str = "", select: Callable[[str], bool] | None = None) -> list[HubFile]:
        """Every file under ``folder`` (recursively) at the commit, that ``select`` accepts, by path."""
        from huggingface_hub.hf_api import RepoFile

        entries = self.api.list_repo_tree(
            self.repo, path_in_repo=folder or None, recursive=True, revision=self.commit, repo_type="dataset"
        )
        found = [
            _hub_file(entry)
            for entry in entries
            if isinstance(entry, RepoFile) and (select is None or select(entry.path))
        ]
        return sorted(found, key=lambda f: f.path)

    def pull(
        self,
        files: Sequence[HubFile],
        root: Path,
        *,
        record: Mapping[str, Any],
        required_sha256: Mapping[str, str] | None = None,
        progress: Callable[[PullProgress], None] = print_progress,
    ) -> None:
        """Put ``files`` under ``root``, each checked, then write the manifest (``record`` plus what
        was pulled). ``required_sha256``: digests the caller also demands (a user's ``--sha256``)."""
        from huggingface_hub import hf_hub_download

        root.mkdir(parents=True, exist_ok=True)
        (root / MANIFEST).unlink(missing_ok=True)
        fetched: dict[str, Fetched] = {}
        for index, file in enumerate(files, start=1):
            final = root / file.path
            have = verified_copy(final, file.checksum)
            kept = have is not None
            if have is None:
                hf_hub_download(
                    self.repo,
                    file.path,
                    repo_type="dataset",
                    revision=self.commit,
                    local_dir=root,
                    endpoint=self.endpoint,
                    force_download=final.exists(),
                    library_name="membench",
                )
                have = self._checked(final, file)
            demanded = (required_sha256 or {}).get(file.path)
            if demanded is not None and not Checksum("sha256", demanded).matches(have.sha256):
                final.unlink()
                raise RunFailure(
                    f"{file.path} of {self.repo} at revision {self.revision} (commit {self.commit}) has "
                    f"sha256 {have.sha256}, not the {demanded.strip()} asked for: it was not kept (the "
                    "release changed since that digest; pin the revision it belongs to)"
                )
            fetched[file.path] = have
            progress(PullProgress(index, len(files), file.path, have.size, kept))
        manifest = {
            "repo": self.repo,
            "revision": self.revision,
            "commit": self.commit,
            "endpoint": public_url(self.endpoint),
            **record,
            "files": len(files),
            "bytes": sum(f.size for f in fetched.values()),
            "sha256": {path: f.sha256 for path, f in fetched.items()},
        }
        write_atomic(root / MANIFEST, json.dumps(manifest, indent=2) + "\n")

    def _checked(self, final: Path, file: HubFile) -> Fetched:
        """The file the client wrote, when it matches the listing; else it is removed and refused."""
        have, digest = hash_file(final, file.checksum)
        if not file.checksum.matches(digest):
            final.unlink()
            raise RunFailure(
                f"the download of {file.path} of {self.repo} at revision {self.revision} has "
                f"{file.checksum.algorithm} {digest}, expected {file.checksum.hexdigest}: it was not kept "
                "(a changed release or a corrupted transfer; pulling again fetches it again)"
            )
        return have


def _hub_file(entry: Any) -> HubFile:
    """A listing entry as a ``HubFile``: checked by its LFS sha256 when in LFS, else by its git blob id."""
    if entry.lfs is not None:
        return HubFile(entry.path, entry.size, Checksum("sha256", entry.lfs.sha256, entry.size))
    return HubFile(entry.path, entry.size, Checksum("git-sha1", entry.blob_id, entry.size))


@contextlib.contextmanager
def hub_dataset(
    repo: str, revision: str, *, advice: str, endpoint: str | None = None
) -> Iterator[HubDataset]:
    """``repo`` at ``revision``, resolved to its commit, for the ``with`` block; inside it the client
    may reach the hub whatever $HF_HUB_OFFLINE says, and its errors become one-line ``ConfigError``s
    ending with ``advice`` (what the user can do instead)."""
    from huggingface_hub import HfApi

    base = hub_endpoint(endpoint)
    with _online(), _explained(repo, revision, public_url(base) or base, advice):
        api = HfApi(endpoint=base, library_name="membench")
        commit = api.dataset_info(repo, revision=revision).sha
        if commit is None:
            raise ConfigError(f"{base} did not say which commit revision {revision} of {repo} is")
        yield HubDataset(api, repo, revision, commit, base)


def pull_one_file(
    repo: str,
    name: str,
    dest_dir: Path,
    *,
    revision: str,
    record: Mapping[str, Any],
    advice: str,
    endpoint: str | None,
    sha256: str | None,
    progress: Callable[[PullProgress], None],
) -> Path:
    """Pull the one file ``name`` of ``repo`` at ``revision`` into ``dest_dir/<revision>/``; its path
    (what ``-T data=`` takes). ``sha256``, when given, must also match the file (the hub's own checksum
    always must), or it is not kept; ``record`` goes into the pull's metadata beside the commit."""
    root = revision_folder(dest_dir, revision)
    with hub_dataset(repo, revision, advice=advice, endpoint=endpoint) as hub:
        files = hub.files(select=lambda path: path == name)
        if not files:
            raise ConfigError(f"{repo} at revision {revision} (commit {hub.commit}) has no {name}")
        required = {name: sha256} if sha256 else None
        hub.pull(files, root, record=record, required_sha256=required, progress=progress)
    return root / name


@contextlib.contextmanager
def _online() -> Iterator[None]:
    """The client's offline switch off for the block, then back as it was.

    The client reads $HF_HUB_OFFLINE into ``huggingface_hub.constants.HF_HUB_OFFLINE`` at import and
    every request checks that attribute (``constants.is_offline_mode``), so setting the attribute is
    what reaches it; the environment is left alone for everything else in the process."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


@contextlib.contextmanager
def _explained(repo: str, revision: str, endpoint: str, advice: str) -> Iterator[None]:
    """The client's failures as one line each, naming the dataset, the revision and what to do;
    ``endpoint`` is the one messages show (without any ``user:password@``)."""
    import httpx2
    from huggingface_hub import errors

    where = f"{repo} at revision {revision}"
    try:
        yield
    except errors.GatedRepoError as exc:
        asked = "the token sent has no access" if exc.response.status_code == 403 else "no token was sent"
        raise ConfigError(
            f"the dataset {repo} is gated and {asked}: accept its conditions at "
            f"{endpoint}/datasets/{repo}, then log in (hf auth login) or set HF_TOKEN"
        ) from None
    except errors.RepositoryNotFoundError:
        raise ConfigError(
            f"the dataset {repo} was not found on {endpoint} (if it is private, log in with "
            "hf auth login or set HF_TOKEN to a token that can read it)"
        ) from None
    except errors.RevisionNotFoundError:
        raise ConfigError(
            f"the dataset {repo} has no revision '{revision}' on {endpoint}: give a branch, a tag "
            "or a commit id that exists"
        ) from None
    except errors.RemoteEntryNotFoundError as exc:
        raise ConfigError(f"{where} has no {_requested(exc)} on {endpoint}") from None
    except errors.HfHubHTTPError as exc:
        said = f": {exc.server_message}" if exc.server_message else ""
        raise RunFailure(
            f"{endpoint} answered HTTP {exc.response.status_code} for {where}{said}. {advice}"
        ) from None
    except (httpx2.TransportError, errors.LocalEntryNotFoundError, ConnectionError) as exc:
        cause = exc.__cause__ if isinstance(exc, errors.LocalEntryNotFoundError) and exc.__cause__ else exc
        reason = " ".join(str(cause).split()) or type(cause).__name__
        raise RunFailure(f"could not pull {where} from {endpoint} ({reason}). {advice}") from None
    except OSError as exc:  # the local side: a full disk, a folder that cannot be written
        raise RunFailure(f"could not save the pull of {where}: {exc.strerror or exc}") from None


def _requested(exc: Any) -> str:
    """What a 404 was for, from its URL: the path after the revision."""
    url = str(exc.response.url)
    for marker in ("/resolve/", "/tree/"):
        if marker in url:
            return url.split(marker, 1)[1].split("/", 1)[-1].split("?")[0] or "such path"
    return url
