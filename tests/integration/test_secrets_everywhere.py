"""A memory system whose exception quotes API keys: no key reaches a record, the console or a report.

Keys of several providers sit in the environment; the system raises with them in its message on every
retrieval (as an SDK does when it echoes a failed request). The run records the errors, the report
renders the run page that shows them, and the keys appear nowhere, on disk or on screen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KEYS = {
    "OPENAI_API_KEY": "sk-proj-leakcheck-0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-leakcheck-abcdef0123456789",
    "MYHOSTED_MEMORY_TOKEN": "hosted-leakcheck-token-42",
}

PLUGIN = """
import os
from membench.systems.baselines import NoMemorySystem

class LeakySystem(NoMemorySystem):
    name = "leaky"

    async def retrieve(self, query, k):
        raise RuntimeError(
            "401 for " + os.environ["OPENAI_API_KEY"] + " and " + os.environ["ANTHROPIC_API_KEY"]
            + " (token " + os.environ["MYHOSTED_MEMORY_TOKEN"] + ")"
        )
"""


def membench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **KEYS, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "membench", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def test_keys_inside_a_system_exception_reach_no_record_console_or_report(tmp_path: Path) -> None:
    (tmp_path / "leaky.py").write_text(PLUGIN)
    plugin = ["--plugin", f"{tmp_path / 'leaky.py'}:LeakySystem"]
    ran = membench(
        "run",
        "--task",
        "halumem",
        "--system",
        "leaky",
        "-T",
        "users=2",
        "-T",
        "sessions=3",
        *plugin,
        "--display",
        "plain",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    records = next((tmp_path / "results" / "runs").glob("halumem__leaky__*")) / "records.jsonl"
    text = records.read_text()
    assert '"stage":"system"' in text and "401 for" in text, "the errors are recorded, with their cause"
    reported = membench("report", "results", "--out", "site", *plugin, cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    outputs = [ran.stdout, ran.stderr, reported.stdout, reported.stderr]
    outputs += [
        p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".py"
    ]
    for name, key in KEYS.items():
        assert not any(key in out for out in outputs), f"{name}'s value reached an output"
