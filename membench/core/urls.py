"""Endpoint URLs as they may be recorded: with their host and path, never with credentials.

A base URL can carry ``user:password@``; run identities, cache keys and printed descriptions keep
the endpoint (a generic model name means a different model on every endpoint) but not the secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def public_url(url: str | None) -> str | None:
    """``url`` without any ``user:password@`` part: endpoints are recorded, credentials are not."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url.rstrip("/")
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc)).rstrip("/")
