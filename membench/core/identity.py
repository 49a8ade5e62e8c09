"""Canonical hashing: what makes two runs the same run, and two inputs the same input."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def run_id_for(identity: dict[str, Any]) -> str:
    """A short, stable id for a run identity (12 hex digits: collisions are not a practical concern)."""
    return sha256_hex(identity)[:12]


def identity_differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
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
