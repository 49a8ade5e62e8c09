"""Sweeps: ``membench run`` with comma lists and ``membench sweep FILE.toml``, offline on tiny data.

Each pair of a sweep must be the run ``membench run`` makes alone (same records, same summary), a
re-run must resume every run, a broken system must fail only its own pairs, and bad input must be
refused before anything runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from membench.cli.main import main
from membench.core.records import latest_records, read_records
from membench.running.sweep_file import load_sweep_file
from membench.testing.configs import TINY_TASK_OPTIONS
from membench.testing.openai_server import FakeOpenAIServer, echo_responder

ROOT = Path(__file__).parents[2]
TOY = ROOT / "tests" / "fixtures" / "toy_plugin.py"
SYSTEMS = ("bm25", "no-memory", "full-context")
#: systems that break in the two ways a real one does: a crash on every episode's reset, and a
#: constructor that raises (a library that will not load).
BROKEN = """
from membench.systems.baselines import NoMemorySystem


class ResetFails(NoMemorySystem):
    name = "reset-fails"

    async def reset(self, episode):
        raise RuntimeError("the memory service is down")


class CannotStart(NoMemorySystem):
    name = "cannot-start"

    def __init__(self, options, workdir, llm=None):
        raise ImportError("no module named memlib")
"""


def one_line(text: str) -> str:
    return " ".join(text.split())


def paths(root: Path) -> list[str]:
    return ["--results-dir", str(root / "results"), "--data-dir", str(root / "data")]


def run_dirs(root: Path) -> dict[str, Path]:
    """The run directories under ``root``'s results, by "task × system"."""
    runs = root / "results" / "runs"
    found = {}
    for run_dir in sorted(runs.iterdir()) if runs.is_dir() else []:
        manifest = json.loads((run_dir / "manifest.json").read_text())
        found[f"{manifest['identity']['task']['name']} × {manifest['identity']['system']['name']}"] = run_dir
    return found


def results(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """What a run decided, without its timings: its records by probe, its summary's estimates of every
    metric that is not a time, and its run id."""
    records = []
    for record in latest_records(read_records(run_dir)):
        data = record.model_dump(mode="json", exclude={"completed_at"})
        data["prediction"].pop("latency_s", None)
        records.append(data)
    summary = json.loads((run_dir / "summary.json").read_text())
    estimates = [e for e in summary["metrics"] if not e["metric"].endswith("_time_s")]
    return sorted(records, key=lambda r: r["probe_id"]), estimates, run_dir.name


def toml_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


#: the command-line sweep of the fixture below: 2 tasks × 3 systems, one episode each.
SWEEP = ["run", "--task", "halumem,sort", "--system", ",".join(SYSTEMS), "--limit", "1", "--display", "plain"]
PAIRS = [(task, system) for task in ("halumem", "sort") for system in SYSTEMS]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    """The sweep run once for the tests below: its root, exit code and standard output."""
    root = tmp_path_factory.mktemp("sweep")
    out = io.StringIO()  # capsys is for one test; the module's fixture redirects stdout itself
    with contextlib.redirect_stdout(out):
        code = main([*SWEEP, *paths(root)])
    return root, code, out.getvalue()


def test_comma_lists_run_every_pair_then_compare_each_task(swept: tuple[Path, int, str]) -> None:
    root, code, out = swept
    assert code == 0
    assert list(run_dirs(root)) == [f"{t} × {s}" for t in ("halumem", "sort") for s in sorted(SYSTEMS)]
    headers = [line for line in out.splitlines() if line.startswith("[")]
    assert headers == [f"[{i}/6] {task} × {system}" for i, (task, system) in enumerate(PAIRS, 1)]
    assert out.count("  complete: ") == 6
    # per task, the compare table of its three runs, after all the runs
    tables = out[out.index("halumem: 3 complete run(s)") :]
    assert "[6/6]" not in tables and "QA correct (qa_correct; higher is better)" in tables
    holm = "Holm over the family of 3 comparison(s) of QA correct (all pairs of runs)"
    assert holm in one_line(tables)
    assert tables.index("sort: 3 complete run(s)") > tables.index("QA correct (qa_correct")
    assert "(accuracy_guess; higher is better)" in tables[tables.index("sort: 3 complete run(s)") :]
    assert out.rstrip().endswith("sweep: 6 of 6 runs complete")
    assert max(len(line) for line in out.splitlines()) <= 80
    # one data build per task, read by all its systems
    assert [len(list((root / "data" / task).iterdir())) for task in ("halumem", "sort")] == [1, 1]


def test_each_pair_is_the_run_membench_run_makes_alone(
    swept: tuple[Path, int, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = swept[0]
    for task, system in PAIRS:
        single = ["run", "--task", task, "--system", system, "--limit", "1", "--display", "none"]
        assert main([*single, *paths(tmp_path)]) == 0
    capsys.readouterr()
    alone, together = run_dirs(tmp_path), run_dirs(root)
    assert list(alone) == list(together)
    for pair, run_dir in together.items():
        assert results(run_dir) == results(alone[pair]), pair


def test_the_same_sweep_again_resumes_every_run(
    swept: tuple[Path, int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root = swept[0]
    before = {pair: (d / "records.jsonl").read_bytes() for pair, d in run_dirs(root).items()}
    built = {path: path.stat().st_mtime_ns for path in (root / "data").rglob("*") if path.is_file()}
    assert main([*SWEEP, *paths(root)]) == 0
    out = capsys.readouterr().out
    assert {pair: (d / "records.jsonl").read_bytes() for pair, d in run_dirs(root).items()} == before
    assert {path: path.stat().st_mtime_ns for path in built} == built, "the data is read, not built again"
    assert out.count("(resuming: ") == 6 and "sort: 3 complete run(s)" in out


def test_a_sweep_file_runs_its_pairs_and_a_broken_system_fails_only_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.py").write_text(BROKEN)
    file = toml_file(
        tmp_path / "sweep.toml",
        f"""
plugins = ["{TOY}:ToyTask", "{tmp_path / "broken.py"}:ResetFails", "{tmp_path / "broken.py"}:CannotStart"]
max_consecutive_errors = 1
max_episodes = 1  # two episodes at once could both fail before the stop: "2 failures in a row"
results_dir = "{tmp_path / "results"}"
data_dir = "{tmp_path / "data"}"
systems = ["bm25", "reset-fails", "no-memory"]

[tasks.toy]
episodes = 2
sessions = 2
""",
    )
    assert main(["sweep", str(file), "--display", "none"]) == 1
    out, err = capsys.readouterr()
    runs = run_dirs(tmp_path)
    assert sorted(runs) == ["toy × bm25", "toy × no-memory", "toy × reset-fails"]
    manifests = {pair: json.loads((d / "manifest.json").read_text()) for pair, d in runs.items()}
    assert {pair: m["status"] for pair, m in manifests.items()} == {
        "toy × bm25": "complete",
        "toy × no-memory": "complete",
        "toy × reset-fails": "failed",
    }
    # each failure's cause is printed as it happens, the sweep goes on, and the end lists them
    flat = one_line(out)
    reset_cause = (
        "stopped: 1 failures in a row at the ingest stage (RuntimeError): the memory service is down"
    )
    assert f"[2/3] toy × reset-fails failed: {reset_cause}" in flat
    assert flat.index("[3/3] toy × no-memory complete: Accuracy") > flat.index(reset_cause)
    assert one_line(err) == f"membench: 1 of 3 runs failed: toy × reset-fails: {reset_cause}"
    # the two runs that completed are compared; the error summary names the sweep to redo them
    assert "toy: 2 complete run(s)" in out and "Accuracy (accuracy; higher is better)" in out
    assert f"redo them with: membench sweep {file} --retry-errors" in flat.replace(" \\ ", " ")
    assert "sweep: 2 of 3 runs complete" in out


@pytest.mark.parametrize(
    ("systems", "problem"),
    [
        ("[systems.no-memory]\n[systems.cannot-start]", "could not build system 'cannot-start': ImportError"),
        ('[systems.no-memory]\n[systems.bm25]\nunit = "bogus"', "option unit must be one of"),
    ],
)
def test_a_system_that_cannot_be_built_as_asked_stops_the_sweep_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], systems: str, problem: str
) -> None:
    # Its option values are checked where it is built: that is done for every pair first.
    (tmp_path / "broken.py").write_text(BROKEN)
    file = toml_file(
        tmp_path / "sweep.toml",
        f"""
plugins = ["{TOY}:ToyTask", "{tmp_path / "broken.py"}:CannotStart"]
results_dir = "{tmp_path / "results"}"
data_dir = "{tmp_path / "data"}"
[tasks.toy]
""" + systems,
    )
    assert main(["sweep", str(file), "--display", "none"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and problem in err and len(err.splitlines()) == 1, err
    assert run_dirs(tmp_path) == {}, "no pair ran"


def test_the_example_sweep_file_is_the_sweep_the_readme_shows() -> None:
    sweep = load_sweep_file(ROOT / "examples" / "sweep.toml")
    configs = sweep.runs()
    assert [(c.task, c.system) for c in configs] == [(t, s) for t in ("halumem", "sort") for s in SYSTEMS]
    assert configs[0].task_options == TINY_TASK_OPTIONS["halumem"]
    assert configs[3].task_options == {"excerpt_lengths": "250", "n": "4"}
    assert configs[0].system_options == {"k1": "1.5"} and configs[1].system_options == {}
    assert {(c.limit, c.max_episodes, c.results_dir, c.data_dir) for c in configs} == {
        (2, 2, Path("results"), Path("data"))
    }
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "sweep.toml").read_text()
    assert f"```toml\n{example}```" in readme, "the README shows the example file as it is"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("limt = 2\n[tasks.sort]\n[systems.bm25]", "unknown sweep file key 'limt'; did you mean 'limit'?"),
        ("[tasks.halumem]\nuserz = 2\n[systems.bm25]", "[tasks.halumem] unknown halumem option 'userz'; did"),
        (
            "[tasks.halumen]\n[systems.bm25]",
            "[tasks.halumen] unknown task 'halumen'; did you mean 'halumem'?",
        ),
        (
            "[tasks.sort]\nn = [4]\n[systems.bm25]",
            "[tasks.sort] n: expected a string or a number, got a list",
        ),
        ("systems = ['bm25']", "no tasks: name at least one, e.g. [tasks.halumem]"),
        (
            "limit = 'two'\n[tasks.sort]\n[systems.bm25]",
            "limit: expected a whole number, got the string 'two'",
        ),
        ("limit = 0\n[tasks.sort]\n[systems.bm25]", "RunConfig.limit (--limit) must be at least 1 episode"),
        (
            "[tasks.sort]\n[systems.bm25]\n[llm.reader]\napi_base = 'x'",
            "[llm.reader] model: expected a model",
        ),
        ("[tasks.sort\n", "not valid TOML: "),
        ("reader = 'extractve'\n[tasks.sort]\n[systems.bm25]", "unknown reader 'extractve'; did you mean"),
        (
            "executor = 'spark'\n[tasks.sort]\n[systems.bm25]",
            "RunConfig.executor (--executor) must be local or ray, got 'spark'",
        ),
    ],
)
def test_a_bad_sweep_file_is_one_line_naming_file_and_key_and_nothing_runs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    problem: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # where the file's default results and data directories would be
    file = toml_file(tmp_path / "bad.toml", text)
    assert main(["sweep", str(file)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"membench: error: {file}: {problem}"), err
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()


def test_a_sweep_file_chooses_the_executor_of_every_pair(tmp_path: Path) -> None:
    text = "executor = 'local'\nray_address = '127.0.0.1:6379'\n[tasks.sort]\n[systems.bm25]\n[systems.dense]"
    configs = load_sweep_file(toml_file(tmp_path / "sweep.toml", text)).runs()
    assert [(c.system, c.executor, c.ray_address) for c in configs] == [
        ("bm25", "local", "127.0.0.1:6379"),
        ("dense", "local", "127.0.0.1:6379"),
    ]


def test_a_command_line_option_one_task_lacks_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["run", "--task", "halumem,sort", "--system", "bm25", "-T", "users=2", *paths(tmp_path)]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert one_line(err).startswith(
        "membench: error: -T users: unknown sort option 'users'; known: chunk_words, data,"
    )
    assert one_line(err).endswith(
        "-T applies to every task: options for one task or system only go in a "
        "sweep file (membench sweep FILE.toml)"
    )
    assert main(["run", "--task", "halumem", "--system", "bm25,bm25", *paths(tmp_path)]) == 2
    assert capsys.readouterr().err == "membench: error: --system bm25,bm25: bm25 named twice\n"
    assert (
        main(["run", "--task", "halumem,sort", "--system", "bm25", "--run-dir", "x", *paths(tmp_path)]) == 2
    )
    assert "a sweep writes one per run under --results-dir" in capsys.readouterr().err
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_endpoint_check_is_made_once_for_the_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], closed_port: int
) -> None:
    plugins = ["--plugin", f"{TOY}:ToyTask", "--plugin", f"{TOY}:KeywordSystem"]
    toy = ["--task", "toy", "-T", "episodes=1", "-T", "sessions=2"]
    command = ["run", *toy, "--system", "keyword,no-memory", *plugins, *paths(tmp_path)]
    with FakeOpenAIServer(echo_responder) as server:
        assert main([*command, "--llm", "openai/fake-model", "--llm-api-base", server.base_url]) == 0
        pings = [r for r in server.requests if r.body.get("max_tokens") == 1]
    out = capsys.readouterr().out
    assert len(pings) == 1 and out.count("checking LLM endpoints (reader) ...") == 1
    assert len(run_dirs(tmp_path)) == 2

    closed = f"http://127.0.0.1:{closed_port}/v1"
    assert main([*command, "--llm", "openai/fake-model", "--llm-api-base", closed, "--fresh"]) == 1
    out, err = capsys.readouterr()
    assert err.count("failed the endpoint check, so nothing was run") == 1
    assert "[1/2]" not in out, "no run started"


def test_the_python_api_runs_a_sweep_and_refuses_a_setting_runs_do_not_have(tmp_path: Path) -> None:
    import membench
    from membench.core.errors import ConfigError

    settings = {
        "plugins": (f"{TOY}:ToyTask", f"{TOY}:KeywordSystem"),
        "results_dir": tmp_path / "results",
        "data_dir": tmp_path / "data",
        "display": "none",
    }
    config = membench.SweepConfig({"toy": {"episodes": "1"}}, {"keyword": {}, "no-memory": {}}, settings)
    outcome = membench.sweep(config)
    assert outcome.completed and outcome.failed() == []
    statuses = [(p.config.system, p.outcome.manifest.status) for p in outcome.pairs if p.outcome]
    assert statuses == [("keyword", "complete"), ("no-memory", "complete")]
    assert [p.run_dir for p in outcome.completed_by_task()["toy"]] == list(run_dirs(tmp_path).values())
    with pytest.raises(ConfigError, match="'limt' is not a run setting"):
        membench.sweep(membench.SweepConfig({"toy": {}}, {"keyword": {}}, {**settings, "limt": 1}))
    with pytest.raises(ConfigError, match="a sweep sets 'run_dir' for each of its runs"):
        membench.sweep(membench.SweepConfig({"toy": {}}, {"keyword": {}}, {"run_dir": tmp_path}))
