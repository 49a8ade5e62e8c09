"""The process environment every run sets before any adapter is imported: the one list of it.

No telemetry, no hub, no cost-map fetch: the machines reach package registries and nothing else, and a
library that phones home at import must never get the chance.
"""

from __future__ import annotations

import os

#: Environment every run sets before any adapter is imported: no telemetry, no hub, no cost-map fetch.
OFFLINE_ENV = {
    "MEM0_TELEMETRY": "False",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    # LangChain/LangSmith tracing (LangMem) sends every call to a hosted service when switched on.
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    # Ray (--executor ray) reports usage statistics to a hosted service unless told not to.
    "RAY_USAGE_STATS_ENABLED": "0",
}


def apply_offline_env() -> None:
    """Set every variable of ``OFFLINE_ENV`` that is not set yet: a value the user exported wins."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
