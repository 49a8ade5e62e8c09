"""How the contract suite builds each system as a run would, with what it needs to run here (the
``make`` fixture of tests/contract/test_every_system.py).

Most systems need nothing: ``Setup()`` builds them from the registry with no options. The others
need something started or handed over first (``setup_of``): the oracle its evidence (the test
module's ``EVIDENCE``); a system with an environment of its own runs in its worker (and is
skipped, with the install command, where that environment is not installed); a hosted system's
loopback fake with its key in the environment. A setup is a context manager, so a fake server lives
for exactly one test.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from membench.core.plugins import import_object
from membench.llm.client import LLMClient
from membench.llm.types import LLM
from membench.registry import Registry
from membench.running.components import runnable_system
from membench.systems.base import MemorySystem
from membench.systems.envs import ENVS_VAR, env_status, envs_root
from membench.systems.oracle import OracleSystem
from membench.testing.openai_server import FakeOpenAIServer


@dataclass
class Setup:
    """What a system is built with here: ``-S`` options, its LLM, and a step after it is built."""

    options: Mapping[str, str] = field(default_factory=dict)
    llm: LLM | None = None
    after_build: Callable[[MemorySystem], None] | None = None

    def build(self, name: str, workdir: Path) -> MemorySystem:
        workdir.mkdir(parents=True, exist_ok=True)  # as the runner's system factory does
        system = runnable_system(Registry([]).get("system", name))(self.options, workdir, self.llm)
        if self.after_build is not None:
            self.after_build(system)
        return system


SetupFactory = Callable[[pytest.MonkeyPatch], contextlib.AbstractContextManager[Setup]]


def oracle_setup(facts: Mapping[str, str]) -> SetupFactory:
    """The oracle, handed each session's fact as its evidence (what Task.evidence gives it in a run)."""

    @contextlib.contextmanager
    def setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
        def hand(system: MemorySystem) -> None:
            assert isinstance(system, OracleSystem)
            system.use_evidence({sid: [fact] for sid, fact in facts.items()})

        yield Setup(after_build=hand)

    return setup


#: where the systems' environments are, read before any test moves HOME (``envs_root`` follows it).
ENVS_ROOT = envs_root()
INTEGRATION = Path(__file__).parents[1] / "integration"


@dataclass(frozen=True)
class FakeLLMFor:
    """How a system whose library calls an LLM for every add is given one here: the responder
    (``file.py:function``) of a loopback fake LLM that answers what the library asks, the options
    that take the fake's URL, and any others."""

    responder: str
    url_options: tuple[str, ...] = ("api_base",)
    options: Mapping[str, str] = field(default_factory=dict)


def environment_setup(environment: str, llm: FakeLLMFor | None = None) -> SetupFactory:
    """A system run in its worker, in its own environment: skipped where that is not installed."""

    @contextlib.contextmanager
    def setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
        monkeypatch.setenv(ENVS_VAR, str(ENVS_ROOT))
        problem = env_status(environment).problem()
        if problem is not None:
            pytest.skip(problem)
        if llm is None:
            yield Setup()
            return
        with FakeOpenAIServer(import_object(llm.responder), embedding_dim=256) as server:
            urls = {option: server.base_url for option in llm.url_options}
            yield Setup(
                options={"llm": "openai/fake-model", **urls, **llm.options},
                llm=LLMClient("openai/fake-model", role="system", api_base=server.base_url),
            )

    return setup


#: systems whose library calls an LLM for every add, and how they get one here.
LLM_BACKED: dict[str, FakeLLMFor] = {
    "amem": FakeLLMFor(f"{INTEGRATION / 'test_amem_adapter.py'}:amem_responder"),
    "cognee": FakeLLMFor(
        f"{INTEGRATION / 'test_cognee_adapter.py'}:cognee_responder",
        url_options=("api_base", "embedding_api_base"),
        options={"embedding_dimensions": "256"},
    ),
}


def hosted_setup(
    fake_module: str,
    fake_class: str,
    key_var: str,
    options: Mapping[str, str] | None = None,
    **fake_options: Any,
) -> SetupFactory:
    """A hosted or server system against its loopback fake (``membench.testing.fakes``), driven through
    its real SDK: the fake runs for the test, its key is in the environment, ``-S base_url`` points at it."""

    @contextlib.contextmanager
    def setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
        fake_cls = getattr(importlib.import_module(fake_module), fake_class)
        key = "contract-test-key-0123456789"
        with fake_cls(key, **fake_options) as fake:
            monkeypatch.setenv(key_var, key)
            yield Setup(options={"base_url": fake.base_url, **(options or {})})

    return setup


#: the hosted and server systems: their fake, the variable holding their key, the fake's options.
HOSTED: dict[str, SetupFactory] = {
    "zep": hosted_setup("membench.testing.fakes.zep", "FakeZep", "ZEP_API_KEY", processing_polls=1),
    "supermemory": hosted_setup(
        "membench.testing.fakes.supermemory", "FakeSupermemory", "SUPERMEMORY_API_KEY", processing_polls=1
    ),
    # the fake's overlap scores for the contract's questions fall below memobase's default threshold
    "memobase": hosted_setup(
        "membench.testing.fakes.memobase",
        "FakeMemobase",
        "MEMOBASE_API_KEY",
        options={"similarity_threshold": "0"},
    ),
    "letta": hosted_setup("membench.testing.fakes.letta", "FakeLetta", "LETTA_API_KEY"),
}


@contextlib.contextmanager
def default_setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    yield Setup()


def setup_of(name: str, evidence: Mapping[str, str]) -> SetupFactory:
    if name == "oracle":
        return oracle_setup(evidence)
    if name in HOSTED:
        return HOSTED[name]
    environment = Registry([]).get("system", name).environment
    return environment_setup(environment, LLM_BACKED.get(name)) if environment else default_setup


@pytest.fixture
def make(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Path], MemorySystem]]:
    """Builds the test's system (its ``name`` parameter) as a run would, with what it needs here."""
    name = request.node.callspec.params["name"]
    with setup_of(name, getattr(request.module, "EVIDENCE", {}))(monkeypatch) as setup:
        yield lambda workdir: setup.build(name, workdir)
