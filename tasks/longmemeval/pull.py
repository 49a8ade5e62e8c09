"""Download an official LongMemEval file (hub dataset ``xiaowu0162/longmemeval-cleaned``), only when a
user asks.

Licence: LongMemEval's code (github.com/xiaowu0162/LongMemEval) is MIT, and the card of the original
hub dataset ``xiaowu0162/longmemeval`` declares ``license: mit``; the card of the cleaned dataset
(the September 2025 release this pulls) could not be read from here, so check it before sharing the
data. membench never ships, redistributes or commits it: this module fetches one file onto the
user's own machine, under ``data/``, which git ignores.

The cleaned release is three JSON files at the repository's root (``FILES``): ``s`` (about 115k
tokens, some 50 sessions per question), ``m`` (about 500 sessions per question, 2.7 GB) and
``oracle`` (the evidence sessions only). A pull takes one into ``<dest_dir>/<revision>/`` with
``membench.core.hub`` (the revision resolved to one commit, checksums, resume, ``membench-pull.json``);
pin a commit (``-T revision=``) for results others can reproduce.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from membench.core.errors import ConfigError
from membench.core.hub import PullProgress, print_progress, pull_one_file

REPO = "xiaowu0162/longmemeval-cleaned"
FILES = {
    "s": "longmemeval_s_cleaned.json",
    "m": "longmemeval_m_cleaned.json",
    "oracle": "longmemeval_oracle.json",
}
_ADVICE = (
    "The Hugging Face hub may be unreachable from this machine: download the file on another machine "
    "(check the licence on the dataset card; never commit it), copy it here and pass it with "
    "-T data=PATH (or set HF_ENDPOINT to a reachable mirror)"
)


def pull_longmemeval(
    file: str,
    dest_dir: Path,
    *,
    revision: str = "main",
    endpoint: str | None = None,
    sha256: str | None = None,
    progress: Callable[[PullProgress], None] = print_progress,
) -> Path:
    """Pull the ``file`` (s, m or oracle) into ``dest_dir/<revision>/``; returns its path (``-T data=``).

    ``sha256``, when given, must also match the file (the hub's own checksum always must), or the file
    is not kept. ``endpoint`` defaults to $HF_ENDPOINT, then the public hub.
    """
    name = file_name(file)
    return pull_one_file(
        REPO,
        name,
        dest_dir,
        revision=revision,
        record={"file": file},
        advice=_ADVICE,
        endpoint=endpoint,
        sha256=sha256,
        progress=progress,
    )


def file_name(file: str) -> str:
    """The release's file name for ``-T file=`` (s, m or oracle)."""
    try:
        return FILES[file]
    except KeyError:
        raise ConfigError(f"LongMemEval file must be one of {', '.join(FILES)}, got '{file}'") from None
