"""The process environment as the LLM layer needs it: a quiet, offline litellm, and secrets kept out of text.

litellm is imported here and nowhere else, lazily: importing it takes seconds, and by default it
fetches its model-cost map from the network and prints help banners on every error. ``load_litellm``
sets the environment first so that neither happens, and imports it once per process: a run calls it
before its event loop starts (``LLMClient.warm``), since the import inside a call would stall every
coroutine of the run for those seconds. ``scrub`` is the single place that removes API
keys from any text leaving the LLM layer (error messages, logs).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from types import ModuleType

from membench.core.env import apply_offline_env

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
# Environment variables whose values are credentials, whatever the provider.
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|_SECRET|SECRET_KEY|_PASSWORD)$")
# Shapes of credentials even when we were never told their value.
_SECRET_SHAPES = (
    (re.compile(r"sk-[A-Za-z0-9_\-]{4,}"), "sk-***"),
    (re.compile(r"(?i)(bearer\s+)[^\s'\"]+"), r"\1***"),
    (re.compile(r"(?i)(api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"), r"\1***"),
)
_MIN_SECRET_LEN = 6


_litellm: ModuleType | None = None


def load_litellm() -> ModuleType:
    """Import litellm configured for evaluation runs: the offline environment (local cost map), no
    banners, no message logging. Blocks for seconds the first time: call it outside a coroutine."""
    global _litellm
    if _litellm is None:
        apply_offline_env()
        import litellm

        litellm.suppress_debug_info = True
        litellm.turn_off_message_logging = True
        litellm.disable_hf_tokenizer_download = True
        for name in _LITELLM_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        _litellm = litellm
    return _litellm


def loaded_litellm() -> ModuleType | None:
    """litellm if ``load_litellm`` already imported it, else None (the check a coroutine can afford)."""
    return _litellm


def known_secrets(*explicit: str | None) -> list[str]:
    """The explicit keys plus every credential-looking environment variable's value."""
    values = [v for v in explicit if v]
    values += [v for k, v in os.environ.items() if _SECRET_ENV.search(k.upper())]
    return sorted({v for v in values if len(v) >= _MIN_SECRET_LEN})


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given secret and anything shaped like a key replaced by ``***``."""
    # Longest first, so a secret that contains another is replaced whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LEN:
            text = text.replace(secret, "***")
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text
