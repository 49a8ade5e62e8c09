"""Pull the official Book-SORT release (hub dataset ``memari/booksort``, CC0), only when a user asks.

The release is one parquet file per condition and split, ``test_e{L_E}_s{L_S}.parquet`` and
``validation_e{L_E}_s{L_S}.parquet`` (research note §1.1); a pull takes both splits of the asked
excerpt and segment lengths into ``<dest_dir>/<revision>/``, keeping the repository's paths, and the
loader's parquet form reads that folder (``-T data=``; ``-T split=`` then picks the rows). The
transfer, the checksums, the resume and the ``membench-pull.json`` record are ``membench.core.hub``'s.
Reading parquet needs pyarrow (``pip install membench[official]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from membench.core.errors import ConfigError
from membench.core.hub import PullProgress, hub_dataset, print_progress, revision_folder

REPO = "memari/booksort"
#: a release file's name: its split and condition (excerpt length, segment length).
_RELEASE_FILE = re.compile(r"(?:.*/)?(?:test|validation)_e(?P<e>\d+)_s(?P<s>\d+)\.parquet")
_ADVICE = (
    "The Hugging Face hub may be unreachable from this machine: download the parquet files of the "
    f"dataset {REPO} on another machine, copy them here and pass their folder with -T data=PATH "
    "(or set HF_ENDPOINT to a reachable mirror)"
)


def pull_booksort(
    dest_dir: Path,
    *,
    excerpt_lengths: Sequence[int],
    segment_lengths: Sequence[int],
    revision: str = "main",
    endpoint: str | None = None,
    progress: Callable[[PullProgress], None] = print_progress,
) -> Path:
    """Pull both splits of every asked condition into ``dest_dir/<revision>/``; that folder.

    A condition the release does not have is an error naming it, before anything is fetched.
    """
    wanted = {(e, s) for e in excerpt_lengths for s in segment_lengths}
    root = revision_folder(dest_dir, revision)
    with hub_dataset(REPO, revision, advice=_ADVICE, endpoint=endpoint) as hub:
        files = hub.files(select=lambda path: _condition(path) in wanted)
        missing = sorted(wanted - {_condition(f.path) for f in files})
        if missing:
            names = ", ".join(f"e{e}_s{s}" for e, s in missing)
            raise ConfigError(f"{REPO} at revision {revision} (commit {hub.commit}) has no condition {names}")
        record = {
            "excerpt_lengths": sorted(set(excerpt_lengths)),
            "segment_lengths": sorted(set(segment_lengths)),
        }
        hub.pull(files, root, record=record, progress=progress)
    return root


def _condition(path: str) -> tuple[int, int] | None:
    """The (excerpt length, segment length) a release file holds, None for any other file."""
    name = _RELEASE_FILE.fullmatch(path)
    return (int(name["e"]), int(name["s"])) if name else None
