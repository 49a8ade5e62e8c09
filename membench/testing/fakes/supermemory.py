"""A loopback fake of Supermemory's v5 REST API, as the ``supermemory`` 5.x SDK calls it.

Read from ``supermemory/{raw_client,documents/raw_client,namespaces/raw_client}.py`` and
``supermemory/types``: paths under ``/ns/{namespace}`` (a namespace matches ``^[a-zA-Z0-9_:-]+$``, at
most 100 characters), the ``Authorization: Bearer <key>`` header, the camel-case request bodies and
the JSON the SDK parses (``DocumentRef``, ``Document`` with its ``system.status`` and
``system.dreamingStatus``, ``SearchResponse``, ``NamespaceDeleted``, errors as ``{"error",
"details"}``). What it serves:

* ``POST /ns/{ns}/document``: a document is queued (a namespace exists once it holds one);
* ``GET /ns/{ns}/document/{id}``: the document's ``status`` walks through the processing stages for
  the first ``processing_polls`` polls, then is ``document_outcome`` (``done`` or ``failed``); its
  ``dreamingStatus`` (memory generation) stays ``dreaming`` for ``dreaming_polls`` polls more;
* ``POST /ns/{ns}/search``: Supermemory learns memories with an LLM; here each line of a document is
  one memory, searchable once the document's memories are generated, and the whole document is one
  chunk, searchable once its status is ``done``. ``searchMode`` picks memories, chunks or both
  (``hybrid``); results are ranked by token overlap with the query (``similarity``), within the
  namespace, best first, at most ``limit``;
* ``DELETE /ns/{ns}``: the namespace and everything in it are gone at once (404 if it holds nothing).

It counts the status polls per document and records, for each search, how many documents of the
namespace were not fully processed (``searches``), so a test can show no search met a half-built one.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from membench.testing.fakes import ApiCall, FakeRestServer, Reply, Route, now_iso, overlap_score

DocumentOutcome = Literal["done", "failed"]
_NAMESPACE = re.compile(r"[a-zA-Z0-9_:-]{1,100}")
_STAGES = ("queued", "extracting", "chunking", "embedding", "indexing")
_SEARCH_MODES = ("hybrid", "memories", "chunks")


def _error(status: int, error: str, details: str | None = None) -> Reply:
    return status, {"error": error, **({"details": details} if details else {})}


@dataclass
class _Document:
    id: str
    namespace: str
    content: str
    metadata: dict[str, Any]
    created_at: str
    outcome: DocumentOutcome
    polls: int = 0
    status: str = "queued"
    dreaming: str = "dreaming"

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.content.splitlines() if line.strip()]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": None,
            "type": "text",
            "content": self.content,
            "metadata": self.metadata,
            "system": {
                "status": self.status,
                "dreamingStatus": self.dreaming,
                "createdAt": self.created_at,
                "updatedAt": now_iso(),
            },
        }


class FakeSupermemory(FakeRestServer):
    """Supermemory's v5 API for one organisation whose key is ``api_key``.

    ``processing_polls``, ``dreaming_polls`` and ``document_outcome`` script the next documents;
    ``document_polls`` counts the status polls of each document, and ``searches`` records
    ``(namespace, query, documents not fully processed)`` per search.
    """

    def __init__(self, api_key: str, *, processing_polls: int = 2, dreaming_polls: int = 0) -> None:
        self.processing_polls = processing_polls
        self.dreaming_polls = dreaming_polls
        self.document_outcome: DocumentOutcome = "done"
        self.documents: dict[str, _Document] = {}
        self.document_polls: Counter[str] = Counter()
        self.searches: list[tuple[str, str, int]] = []
        super().__init__(api_key)

    def expected_authorization(self) -> str:
        return f"Bearer {self.api_key}"

    def unauthorized(self) -> Reply:
        return _error(401, "Unauthorized", "Invalid or missing API key")

    def not_found(self, what: str) -> Reply:
        return _error(404, "Not found", what)

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/ns/{namespace}/document", self._add),
            Route("GET", "/ns/{namespace}/document/{id}", self._get),
            Route("POST", "/ns/{namespace}/search", self._search),
            Route("DELETE", "/ns/{namespace}", self._delete_namespace),
        ]

    def in_namespace(self, namespace: str) -> list[_Document]:
        return [d for d in self.documents.values() if d.namespace == namespace]

    # ------------------------------------------------------------ documents

    def _add(self, call: ApiCall) -> Reply:
        namespace = call.params["namespace"]
        if _NAMESPACE.fullmatch(namespace) is None:
            return _error(400, "Invalid namespace", "must match ^[a-zA-Z0-9_:-]+$, at most 100 characters")
        body = call.body or {}
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            return _error(400, "Invalid request", "content must be a non-empty string")
        metadata = body.get("metadata") or {}
        if not all(_metadata_value(v) for v in metadata.values()):
            return _error(
                400, "Invalid request", "metadata values must be strings, numbers, booleans or string lists"
            )
        document = _Document(
            id=f"doc_{uuid.uuid4().hex[:20]}",
            namespace=namespace,
            content=content,
            metadata=metadata,
            created_at=now_iso(),
            outcome=self.document_outcome,
        )
        self.documents[document.id] = document
        return 200, {"id": document.id, "status": document.status}

    def _get(self, call: ApiCall) -> Reply:
        document = self.documents.get(call.params["id"])
        if document is None or document.namespace != call.params["namespace"]:
            return self.not_found(f"document {call.params['id']}")
        self.document_polls[document.id] += 1
        document.polls += 1
        if document.polls <= self.processing_polls:
            document.status = _STAGES[min(document.polls, len(_STAGES) - 1)]
        elif document.outcome == "failed":
            document.status, document.dreaming = "failed", "done"
        else:
            document.status = "done"
            if document.polls > self.processing_polls + self.dreaming_polls:
                document.dreaming = "done"
        return 200, document.as_json()

    def _delete_namespace(self, call: ApiCall) -> Reply:
        namespace = call.params["namespace"]
        documents = self.in_namespace(namespace)
        if not documents:
            return self.not_found(f"namespace {namespace}")
        memories = sum(len(d.lines) for d in documents if d.dreaming == "done" and d.status == "done")
        for document in documents:
            del self.documents[document.id]
        return 200, {
            "status": "deleted",
            "namespace": namespace,
            "deletedDocumentsCount": len(documents),
            "deletedMemoriesCount": memories,
        }

    # ------------------------------------------------------------ search

    def _search(self, call: ApiCall) -> Reply:
        namespace = call.params["namespace"]
        body = call.body or {}
        query = str(body.get("query") or "")
        mode = body.get("searchMode") or "hybrid"
        if mode not in _SEARCH_MODES:
            return _error(400, "Invalid request", f"searchMode must be one of {', '.join(_SEARCH_MODES)}")
        documents = self.in_namespace(namespace)
        unfinished = sum(d.status != "done" or d.dreaming != "done" for d in documents)
        self.searches.append((namespace, query, unfinished))
        results = []
        for document in documents:
            if document.status != "done":
                continue
            if mode != "chunks" and document.dreaming == "done":
                results += [
                    self._result(document, "memory", i, line, query) for i, line in enumerate(document.lines)
                ]
            if mode != "memories":
                results.append(self._result(document, "chunk", 0, document.content, query))
        threshold = float(body.get("threshold") or 0.0)
        ranked = sorted(
            (r for r in results if r["similarity"] > 0 and r["similarity"] >= threshold),
            key=lambda r: -r["similarity"],
        )
        return 200, {"results": ranked[: int(body.get("limit") or 10)], "searchTime": 1.0}

    @staticmethod
    def _result(document: _Document, kind: str, index: int, text: str, query: str) -> dict[str, Any]:
        return {
            "id": f"{kind}_{document.id}_{index}",
            kind: text,
            "metadata": document.metadata,
            "similarity": overlap_score(query, text),
            "isLatest": True,
            "isInference": False,
            "system": {"createdAt": document.created_at, "updatedAt": document.created_at},
        }


def _metadata_value(value: Any) -> bool:
    """A value of Supermemory's ``MetadataValue``: a string, a number, a boolean or a list of strings."""
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    return isinstance(value, (str, int, float, bool))
