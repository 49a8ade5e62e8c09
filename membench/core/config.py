"""What a user asked for, in one typed object the CLI builds and the runner reads."""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from membench.core.errors import ConfigError


@dataclass(frozen=True)
class LLMSpec:
    """An LLM for one role: a litellm model string and an optional OpenAI-compatible base URL."""

    model: str
    api_base: str | None = None


@dataclass(frozen=True)
class RunConfig:
    task: str
    system: str
    task_options: dict[str, str] = field(default_factory=dict)
    system_options: dict[str, str] = field(default_factory=dict)
    #: None: the task's default reader (extractive for most tasks).
    reader: str | None = None
    judge: str | None = None
    reader_llm: LLMSpec | None = None
    judge_llm: LLMSpec | None = None
    #: the system's own LLM (mem0's extraction); becomes the options llm=, api_base= and mode=llm.
    system_llm: LLMSpec | None = None
    limit: int | None = None
    seed: int = 0
    max_episodes: int = 2
    #: probes of one episode in flight at once: those due after the same session overlap (retrieval
    #: too when the system declares ``concurrent_retrieval``); 1 runs them one after another.
    max_probes: int = 8
    max_connections: int = 8
    results_dir: Path = Path("results")
    data_dir: Path = Path("data")
    run_dir: Path | None = None
    retry_errors: bool = False
    #: move unreadable lines of records.jsonl and ingest.jsonl aside (their probes are redone).
    repair: bool = False
    fresh: bool = False
    dry_run: bool = False
    #: send one 1-token request to every configured LLM endpoint before the first episode (and on a
    #: dry run), and refuse to start when one does not answer. The command line turns it on (off with
    #: --no-check, e.g. for a re-run served from the cache while offline); a Python caller opts in,
    #: since a check is one more request to whatever endpoint it scripts.
    check_endpoints: bool = False
    #: stop the run when this many failures in a row have the same stage and error type (an endpoint
    #: that went down); 0 never stops.
    max_consecutive_errors: int = 5
    display: str = "auto"
    use_cache: bool = True
    cache_path: Path | None = None
    plugins: tuple[str, ...] = ()
    #: where episodes run: "local", in this process; "ray", each episode worker a Ray actor, this
    #: process still the one writer of the run directory (``running/ray_executor.py``). Neither this
    #: nor ``ray_address`` is part of the run identity: they do not decide results.
    executor: Literal["local", "ray"] = "local"
    #: the Ray cluster to join (``ray.init(address=...)``); None: ``RAY_ADDRESS``, else a local one.
    ray_address: str | None = None

    def __post_init__(self) -> None:
        # An empty selection would write a run that is "complete" with nothing in it, which reports
        # could then pick over a real one.
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"RunConfig.limit (--limit) must be at least 1 episode, got {self.limit}")
        for name, value, least in (
            ("max_episodes", self.max_episodes, 1),
            ("max_probes", self.max_probes, 1),
            ("max_connections", self.max_connections, 1),
            ("max_consecutive_errors", self.max_consecutive_errors, 0),
        ):
            if value < least:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"RunConfig.{name} ({flag}) must be at least {least}, got {value}")
        if self.executor not in ("local", "ray"):
            raise ConfigError(f"RunConfig.executor (--executor) must be local or ray, got {self.executor!r}")
        if self.executor == "ray" and importlib.util.find_spec("ray") is None:
            raise ConfigError("--executor ray needs ray, which is not installed: pip install 'membench[ray]'")
        for option, path in (
            ("--results-dir", self.results_dir),
            ("--data-dir", self.data_dir),
            ("--run-dir", self.run_dir),
        ):
            if path is not None:
                check_directory(option, path)


def check_directory(option: str, path: Path) -> None:
    """Refuse a directory option that cannot be one, before any work: a file, or a folder that cannot
    be created (``/proc/x``); otherwise the run fails part-way, or after all its work, on the write.

    A missing folder is tried by creating (and removing) a temporary one in its nearest existing
    parent: permission bits alone cannot tell, for root or for a filesystem like /proc.
    """
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        what = "is a file" if parent == path else f"cannot be created: {parent} is a file"
        raise ConfigError(f"{option} {path} {what}, not a directory")
    if parent == path:
        return
    try:
        Path(tempfile.mkdtemp(dir=parent, prefix=".membench-probe-")).rmdir()
    except OSError as exc:
        raise ConfigError(
            f"{option} {path} cannot be created: making a folder in {parent} fails ({exc.strerror})"
        ) from exc
