"""Canonical hashing: what makes two runs the same run, and two inputs the same input."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

#: A system's, reader's or judge's identity: its ``name`` and whatever decides its outputs. A component
#: that calls an LLM puts its client's identity (``LLMClient.identity()``: model, api_base, params)
#: under ``LLM_KEY``, so a report can name the model without guessing.
ComponentIdentity = dict[str, Any]
LLM_KEY = "llm"


class TaskIdentity(TypedDict):
    name: str
    version: str
    options: dict[str, str]


class DatasetIdentity(TypedDict):
    fingerprint: str
    name: str


class RunIdentity(TypedDict):
    """Everything that decides a run's results, and nothing that does not (paths, concurrency, display).

    Its canonical JSON hashes to the run id; a rescore adds ``rescored_from`` (the source's run id and
    judge). Stored as plain JSON in the manifest, read back typed by ``LoadedRun.identity``.
    """

    task: TaskIdentity
    dataset: DatasetIdentity
    system: ComponentIdentity
    reader: ComponentIdentity
    judge: ComponentIdentity
    seed: int
    limit: int | None
    rescored_from: NotRequired[dict[str, Any]]


def component_model(identity: Mapping[str, Any]) -> str | None:
    """The model a component's LLM client calls, or None for one that calls no LLM."""
    client = identity.get(LLM_KEY)
    return str(client["model"]) if isinstance(client, Mapping) and client.get("model") else None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def run_id_for(identity: Mapping[str, Any]) -> str:
    """A short, stable id for a run identity (12 hex digits: collisions are not a practical concern)."""
    return sha256_hex(identity)[:12]


def identity_differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the fields whose values differ, for a message a user can act on."""
    differences: list[str] = []
    for key in sorted(set(old) | set(new)):
        name = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            differences.extend(identity_differences(a, b, prefix=f"{name}."))
        elif a != b:
            differences.append(f"{name}: {a!r} -> {b!r}")
    return differences


def limit_selection(ids: list[str], limit: int | None, seed: int) -> set[str]:
    """The same ``limit`` ids for every system: ranked by a seeded hash, so dataset order is irrelevant."""
    if limit is None or limit >= len(ids):
        return set(ids)
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    return set(ranked[:limit])
