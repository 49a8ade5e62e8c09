"""The cognee adapter: the real ``cognee`` (1.6.5) async API, run in its own environment.

Each session is one document, ``cognee.add``-ed to the episode's dataset (a line with the session time,
then one ``role: content`` line per turn). ``settle()`` runs ``cognee.cognify`` on what was added since
the last one: cognify is cognee's indexing step (chunking, graph extraction and summaries, each by an
LLM call, then embedding), so the runner records it apart, as index wait, while the add time is the
ingest proper. Retrieval is ``cognee.search`` with option ``search_type`` (default CHUNKS: the stored
chunks nearest the query, no LLM call) and ``top_k=k``.

Storage is cognee's embedded default (SQLite, LanceDB, Ladybug) under ``workdir/cognee``. cognee reads
its roots once per process, so they are set, with the rest of its environment, before it is first
imported; each ``reset`` prunes everything and the episode gets its own dataset. The LLM is
``llm_endpoint()``; cognee also embeds through an OpenAI-compatible embeddings server, which
membench's endpoint is not (it serves chat only), so ``embedding_api_base`` must name one.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError, LLMError
from membench.core.types import Episode, Memory, Session
from membench.llm.env import known_secrets, scrub
from membench.llm.proxy import llm_error_of, openai_error_kind
from membench.llm.types import LLM
from membench.systems.base import ENDPOINT_PLACEHOLDER_KEY, LLMEndpoint, MemorySystem

#: search types whose results carry a cosine distance (lower is better) as ``score``.
_DISTANCE_SEARCHES = frozenset({"CHUNKS", "SUMMARIES"})
#: cognee refuses dataset names with dots or spaces; anything outside this set is replaced.
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
#: roles whose turns are stored: a system prompt instructs the assistant, it is not conversation.
_STORED_ROLES = frozenset({"user", "assistant"})
_FAILED_RUNS = ("PipelineRunErrored",)
#: the fields of a search hit kept in a Memory's metadata (what locates it in cognee's store).
_HIT_METADATA = ("id", "document_id", "chunk_index", "source_chunk_id")

_IMPORT_LOCK = threading.Lock()


def dataset_name(episode_id: str) -> str:
    """A cognee dataset name for an episode: readable, and unique thanks to a short hash."""
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:8]
    return f"{_UNSAFE_NAME_CHARS.sub('_', episode_id)[:64]}-{digest}"


def session_document(session: Session) -> str:
    """The text cognee stores for ``session``: its time, then its turns; empty if it has none."""
    lines = [f"{t.role}: {t.content}" for t in session.turns if t.role in _STORED_ROLES and t.content.strip()]
    if lines and session.start_time:
        lines.insert(0, f"Session time: {session.start_time}")
    return "\n".join(lines)


def _litellm_tokenizers() -> Path:
    """The tiktoken files litellm ships (cl100k_base, o200k_base): cognee counts tokens with tiktoken,
    which otherwise downloads them."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"cognee's litellm is not installed: {CogneeSystem.install_hint}")
    return Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"


def _as_llm_error(exc: BaseException) -> LLMError | None:
    """membench's LLMError for a failed LLM or embedding call inside cognee, or None for other errors.

    A call the proxy failed carries membench's own error (its kind and attempts). Any other provider
    failure (the embeddings server's) is found by walking cognee's wrappers, through causes and
    contexts, to litellm's exception, which subclasses openai's.
    """
    import openai

    proxied = llm_error_of(exc)
    if proxied is not None:
        return proxied
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen and not isinstance(cause, openai.APIError):
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    if not isinstance(cause, openai.APIError):
        return None
    kind = openai_error_kind(cause)
    return LLMError(kind, scrub(f"cognee: {cause}", known_secrets()))


class CogneeSystem(MemorySystem):
    """cognee with one document per session, cognified in ``settle``, searched per dataset."""

    name = "cognee"
    environment = "cognee"
    modules = ("cognee",)
    needs = "an LLM endpoint (--system-llm) and an embeddings server (-S embedding_api_base)"
    install_hint = "membench systems install cognee"
    llm_calls_note = (
        "cognify: one graph-extraction and one summary call per chunk of each session (more when a reply "
        "fails validation); search_type=CHUNKS or SUMMARIES retrieves with none"
    )
    default_options: ClassVar[Mapping[str, str]] = {
        "llm": "",
        "api_base": "",
        "embedding_api_base": "",
        "embedding_model": "openai/text-embedding-3-small",
        "embedding_dimensions": "",
        "search_type": "CHUNKS",
    }

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        self.require_modules(*self.modules)  # first: without its library nothing else matters
        super().__init__(options, workdir, llm)
        self.root = workdir / "cognee"
        self._cognee: Any = None
        self._search_type: Any = None
        self._dataset: str | None = None
        self._documents: dict[str, Session] = {}  # cognee data id -> the session it holds
        self._pending = False  # added since the last cognify

    def check_options(self) -> None:
        opts = self.options
        if not opts["llm"]:
            raise ConfigError("cognee calls an LLM to cognify: give --system-llm MODEL (or -S llm=MODEL)")
        if not opts["embedding_api_base"]:
            raise ConfigError(
                "cognee needs an OpenAI-compatible embeddings server: -S embedding_api_base=URL (e.g. "
                "http://127.0.0.1:8080/v1); membench's LLM endpoint serves chat completions only"
            )
        dims = opts["embedding_dimensions"]
        if dims and not (dims.isdigit() and int(dims) > 0):
            raise ConfigError(f"cognee: embedding_dimensions must be a positive integer, got {dims!r}")

    # ------------------------------------------------------------ cognee's environment

    def cognee_env(self, endpoint: LLMEndpoint) -> dict[str, str]:
        """The variables cognee reads (once, at import or first use), all set before it is imported.

        Besides the roots and the endpoints: no telemetry; no ``.env`` from the working directory
        (cognee loads one over the environment); no search-session cache, which would feed earlier
        questions into later answers and add a feedback LLM call to each; no connection-test calls;
        tiktoken's files from litellm's copy; logs under the workdir; and HOME there too, since cognee
        (``~/.cognee``) and its graph store Ladybug (``~/.lbdb``) keep files in the user's home. The
        worker process runs nothing else, so moving its HOME moves nobody else's.
        """
        opts = self.options
        model = endpoint.model if endpoint.model.startswith("openai/") else f"openai/{endpoint.model}"
        env = {
            "COGNEE_ENV_FILE": str(self.root / "no.env"),
            "TELEMETRY_DISABLED": "1",
            "CACHING": "false",
            "COGNEE_SKIP_CONNECTION_TEST": "true",
            "SYSTEM_ROOT_DIRECTORY": str(self.root / "system"),
            "DATA_ROOT_DIRECTORY": str(self.root / "data"),
            "CACHE_ROOT_DIRECTORY": str(self.root / "cache"),
            "COGNEE_LOGS_DIR": str(self.root / "logs"),
            "COGNEE_REPOS_DIR": str(self.root / "repos"),
            "HOME": str(self.root / "home"),
            "TIKTOKEN_CACHE_DIR": str(_litellm_tokenizers()),
            # "openai/" routes litellm to the endpoint whatever the model's own provider is.
            "LLM_PROVIDER": "openai",
            "LLM_MODEL": model,
            "LLM_ENDPOINT": endpoint.base_url,
            "LLM_API_KEY": endpoint.api_key,
            "EMBEDDING_PROVIDER": "openai",
            "EMBEDDING_MODEL": opts["embedding_model"],
            "EMBEDDING_ENDPOINT": opts["embedding_api_base"],
            # A key for the embeddings server, if it needs one, comes only from the environment.
            "EMBEDDING_API_KEY": os.environ.get("EMBEDDING_API_KEY") or ENDPOINT_PLACEHOLDER_KEY,
        }
        if opts["embedding_dimensions"]:
            env["EMBEDDING_DIMENSIONS"] = opts["embedding_dimensions"]
        return env

    def _import(self, endpoint: LLMEndpoint) -> tuple[Any, Any]:
        """``cognee`` and the chosen ``SearchType``, imported with ``cognee_env`` in place."""
        env = self.cognee_env(endpoint)
        with _IMPORT_LOCK:
            if (
                "cognee" in sys.modules
                and os.environ.get("SYSTEM_ROOT_DIRECTORY") != env["SYSTEM_ROOT_DIRECTORY"]
            ):
                raise ConfigError(
                    "cognee reads its storage roots once per process: run one cognee instance per process"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "no.env").write_text("")
            os.environ.update(env)
            os.environ.setdefault("LOG_LEVEL", "WARNING")
            apply_offline_env()
            try:
                import cognee
            except ImportError as exc:
                raise ConfigError(f"cognee is not installed ({exc}): {self.install_hint}") from exc
        try:
            search_type = cognee.SearchType(self.options["search_type"])
        except ValueError:
            known = ", ".join(t.value for t in cognee.SearchType)
            raise ConfigError(
                f"cognee: search_type must be one of {known}; got {self.options['search_type']!r}"
            ) from None
        return cognee, search_type

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        if self._cognee is None:
            endpoint = await self.llm_endpoint()
            self._cognee, self._search_type = await asyncio.to_thread(self._import, endpoint)
        # Also on the first reset: a workdir reused by a resumed run may hold the last run's data.
        await self._call(self._cognee.prune.prune_data)
        await self._call(self._cognee.prune.prune_system, metadata=True)
        self._dataset = dataset_name(episode.episode_id)
        self._documents = {}
        self._pending = False

    async def ingest(self, session: Session) -> None:
        cognee, dataset = self._ready()
        text = session_document(session)
        if not text:
            return
        run = await self._call(cognee.add, text, dataset_name=dataset)
        self._check_run(run, "add")
        for item in run.data_ingestion_info or []:
            self._documents[str(item["data_id"])] = session
        self._pending = True

    async def settle(self) -> None:
        """cognify what was added since the last call (nothing to do otherwise)."""
        cognee, dataset = self._ready()
        if not self._pending:
            return
        runs = await self._call(cognee.cognify, datasets=[dataset])
        for run in runs.values():
            self._check_run(run, "cognify")
        self._pending = False

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        """cognee's top ``k`` for ``query``. For CHUNKS and SUMMARIES ``score`` is the cosine
        similarity, ``1 - distance`` (cognee returns LanceDB's cosine distance, lower is better)."""
        cognee, dataset = self._ready()
        if k <= 0 or not self._documents:
            return []
        await self.settle()  # a caller that did not settle would search a half-built memory
        found = await self._call(
            cognee.search, query_text=query, query_type=self._search_type, datasets=[dataset], top_k=k
        )
        hits = [hit for group in found for hit in self._hits(group)]
        return [self._memory(hit) for hit in hits[:k]]

    async def close(self) -> None:
        self._cognee = None

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _hits(group: Any) -> list[Any]:
        """The results of one dataset (cognee groups them so when access control is on, as by default)."""
        if isinstance(group, dict) and "search_result" in group:
            result = group["search_result"]
            return list(result) if isinstance(result, list) else [result]
        return [group]

    def _memory(self, hit: Any) -> Memory:
        if not isinstance(hit, dict):  # a completion search answers with text
            return Memory(text=str(hit))
        distance = hit.get("score")
        score = None
        if self.options["search_type"] in _DISTANCE_SEARCHES and distance is not None:
            score = 1.0 - float(distance)
        session = self._documents.get(str(hit.get("document_id")))
        metadata = {key: str(hit[key]) for key in _HIT_METADATA if hit.get(key) is not None}
        return Memory(
            text=str(hit.get("text", "")),
            score=score,
            session_id=session.session_id if session else None,
            timestamp=session.start_time if session else None,
            metadata=metadata,
        )

    @staticmethod
    def _check_run(run: Any, step: str) -> None:
        """cognee may return a failed pipeline run instead of raising: raise it here."""
        status = getattr(run, "status", None)
        if status in _FAILED_RUNS:
            detail = getattr(run, "error_message", None) or getattr(run, "error_class", None) or status
            raise RuntimeError(f"cognee {step} failed: {scrub(str(detail), known_secrets())}")

    def _ready(self) -> tuple[Any, str]:
        if self._cognee is None or self._dataset is None:
            raise RuntimeError("cognee: reset(episode) must be called before ingest or retrieve")
        return self._cognee, self._dataset

    @staticmethod
    async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Await one cognee call; LLM and embedding failures become membench LLMErrors."""
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            mapped = _as_llm_error(exc)
            if mapped is None:
                raise
            raise mapped from None  # the chained original could quote request headers
