"""The command line as a user meets it: help, listing, data building, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from membench.api import run
from membench.cli.main import COMMANDS, build_parser, main
from membench.cli.options import key_values
from membench.cli.run_output import print_outcome
from membench.core.config import RunConfig
from membench.core.errors import ConfigError, DataError, LLMError, OutputParseError
from membench.registry import Registry
from membench.running.display import NullDisplay
from membench.systems.mem0 import Mem0System

TOY = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py")


def membench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # rich wraps printed lines at the terminal width
    command = [sys.executable, "-m", "membench", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from membench.cli.main import build_parser; build_parser().format_help();"
        "heavy = [m for m in ('litellm', 'torch', 'mem0', 'pandas', 'scipy', 'bm25s', 'datasets')"
        " if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
    assert "run" in membench("--help").stdout


def test_a_run_summary_imports_neither_scipy_stats_nor_the_paired_tests(tmp_path: Path) -> None:
    # scipy.stats costs about a second per summary; only comparisons and power need it.
    code = (
        "import sys; from pathlib import Path; from membench.api import run;"
        "from membench.testing.configs import tiny_run_config;"
        f"outcome = run(tiny_run_config(Path({str(tmp_path)!r}), 'halumem', 'bm25', limit=1));"
        "assert outcome.summary['metrics'], 'summarized';"
        "print([m for m in ('scipy.stats', 'membench.stats.paired', 'membench.stats.power')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_list_shows_builtins_and_discovered_tasks(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["list", "systems"]) == 0
    systems = capsys.readouterr().out
    for name in ("no-memory", "full-context", "bm25", "mem0", "dense"):
        assert name in systems
    assert main(["list", "tasks"]) == 0
    assert "halumem" in capsys.readouterr().out
    assert main(["list", "judges"]) == 0
    assert "rule, lexical, llm" in capsys.readouterr().out


def test_data_build_writes_the_dataset(tmp_path: Path) -> None:
    result = membench("data", "build", "halumem", "-T", "users=2", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.split("wrote ", 1)[1].strip())
    assert written.exists() and written.read_text().count("\n") == 2


def test_bad_data_file_gives_one_line_naming_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "HaluMem-Medium.jsonl"
    bad.write_text(
        '{"uuid": "u1", "persona_info": "Name: A B; Gender: x", "sessions": [{"start_time": 3}]}\n'
    )
    result = membench(
        "run",
        "--task",
        "halumem",
        "--system",
        "bm25",
        "-T",
        f"data={bad}",
        "--results-dir",
        str(tmp_path / "results"),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(bad) in lines[0] and ":1" in lines[0] and "sessions[0]" in lines[0]
    assert not (tmp_path / "results").exists(), "nothing half-done is written"


def test_unknown_system_is_a_clear_error(tmp_path: Path) -> None:
    result = membench("run", "--task", "halumem", "--system", "nope", "--results-dir", str(tmp_path))
    assert result.returncode == 2 and "unknown system 'nope'" in result.stderr


def test_dry_run_counts_without_running(tmp_path: Path) -> None:
    result = membench(
        "run",
        "--task",
        "halumem",
        "--system",
        "bm25",
        "--dry-run",
        "--no-check",  # no key for openai/x: the endpoint check would refuse it
        "-T",
        "users=2",
        "--judge-llm",
        "openai/x",
        "--data-dir",
        str(tmp_path / "data"),
        "--results-dir",
        str(tmp_path / "results"),
    )
    assert result.returncode == 0, result.stderr
    assert "episodes: 2" in result.stdout and "expected LLM calls: reader 0, judge at least" in result.stdout
    assert "system-side LLM calls" not in result.stdout, "bm25 makes none and says nothing"
    assert not (tmp_path / "results" / "runs").exists()


def test_dry_run_prints_the_systems_own_word_on_its_llm_calls(tmp_path: Path) -> None:
    result = membench(
        *("run", "--task", "halumem", "--system", "mem0", "--dry-run", "-T", "users=1"),
        *("--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")),
    )
    assert result.returncode == 0, result.stderr
    assert f"system-side LLM calls: {Mem0System.llm_calls_note}" in result.stdout.splitlines()


def test_a_finished_run_says_where_it_is_and_what_to_do_next(tmp_path: Path) -> None:
    results = tmp_path / "results"
    common = ["--task", "halumem", "-T", "users=2", "--data-dir", str(tmp_path / "data")]
    result = membench("run", "--system", "bm25", *common, "--results-dir", str(results), "--display", "plain")
    assert result.returncode == 0, result.stderr
    said = result.stdout
    assert f"results: {results}/runs/halumem__bm25__" in said
    assert f"--systems bm25,OTHER --results-dir {results}" in said
    assert f"membench report {results} --out report" in said
    # Two episodes: the summary names its interval and says no comparison of this run could reject.
    assert "CI: t interval on episodes (2 episodes: below 50, the bootstrap under-covers)" in said
    assert "with 2 episode(s), the smallest possible permutation p is 0.5" in said


#: each command with what it needs besides the option under test (a toy run, so nothing is slow).
COMMAND_ARGS = {
    "run": ["run", "--task", "toy", "--system", "keyword", "--plugin", f"{TOY}:ToyTask",
            "--plugin", f"{TOY}:KeywordSystem", "--display", "none"],
    "score": ["score", "results/runs/x", "--judge", "lexical"],
    "compare": ["compare", "--task", "toy"],
    "report": ["report", "results", "--out", "site"],
}  # fmt: skip
#: every integer option of every command, with values it must refuse: out of range, or not a whole number.
BAD_NUMBERS = [
    *(("run", "--limit", v) for v in ("0", "-1", "two")),
    *(("run", "--max-episodes", v) for v in ("0", "-2", "1.5")),
    *(("run", "--max-connections", v) for v in ("0", "-1", "x")),
    *(("run", "--seed", v) for v in ("-1", "0.5")),
    *(("score", "--max-connections", v) for v in ("0", "-3")),
    *(("score", "--n-boot", v) for v in ("-1", "many")),
    *((cmd, "--n-boot", v) for cmd in ("compare", "report") for v in ("-1", "1e3")),
    *((cmd, "--seed", v) for cmd in ("compare", "report") for v in ("-1", "x")),
]


@pytest.mark.parametrize(("command", "option", "value"), BAD_NUMBERS)
def test_a_bad_number_is_a_usage_error_that_writes_nothing(
    command: str,
    option: str,
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the default results/ and data/ folders would be written here
    with pytest.raises(SystemExit) as stopped:
        main([*COMMAND_ARGS[command], f"{option}={value}"])
    assert stopped.value.code == 2
    said = capsys.readouterr()
    assert said.out == "" and f"error: argument {option}: " in said.err
    assert said.err.strip().splitlines()[-1].startswith(f"membench {command}: error: argument {option}")
    assert list(tmp_path.iterdir()) == [], "a usage error writes nothing"


def test_the_smallest_accepted_numbers_parse() -> None:
    """0 bootstrap resamples is allowed (it skips the interval, as the stats functions document), and 0
    is a seed; every count of workers or episodes starts at 1."""
    run_args = build_parser().parse_args(
        [*COMMAND_ARGS["run"], "--limit=1", "--max-episodes=1", "--max-connections=1", "--seed=0"]
    )
    assert (run_args.limit, run_args.max_episodes, run_args.max_connections, run_args.seed) == (1, 1, 1, 0)
    for command in ("compare", "report", "score"):
        assert build_parser().parse_args([*COMMAND_ARGS[command], "--n-boot=0"]).n_boot == 0


def test_printing_a_run_summary_writes_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps printed lines at the terminal width
    config = RunConfig(
        task="toy",
        system="keyword",
        results_dir=tmp_path / "results",
        data_dir=tmp_path / "data",
        plugins=(f"{TOY}:ToyTask", f"{TOY}:KeywordSystem"),
        display="none",
    )
    outcome = run(config, NullDisplay())
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    print_outcome(outcome)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert f"results: {outcome.run_dir}" in capsys.readouterr().out


def test_a_plugin_whose_constructor_raises_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "from membench.readers.extractive import ExtractiveReader\n"
        "class Broken(ExtractiveReader):\n"
        "    name = 'broken'\n"
        "    def __init__(self):\n"
        "        raise RuntimeError('no licence file')\n"
    )
    args = ["run", "--task", "halumem", "--system", "bm25", "--reader", "broken", "-T", "users=2"]
    paths = ["--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")]
    assert main([*args, *paths, "--plugin", f"{plugin}:Broken"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "membench: error: could not build reader 'broken': RuntimeError: no licence file"
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--run-dir", "a-file", "is a file, not a directory"),
        ("--results-dir", "a-file", "is a file, not a directory"),
        ("--run-dir", "a-file/run", "cannot be created: a-file is a file"),
        ("--data-dir", "/proc/x", "cannot be created: making a folder in /proc fails"),
    ],
)
def test_an_unusable_directory_is_one_line_before_any_work(  # type: ignore[no-untyped-def]
    option: str, value: str, problem: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder\n")
    toy = ["--plugin", f"{TOY}:ToyTask", "--plugin", f"{TOY}:KeywordSystem"]
    assert main(["run", "--task", "toy", "--system", "keyword", *toy, option, value]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith(f"membench: error: {option} {value} {problem}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing written


FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--task", "halumem", "--system", "bm25", "-T", "foo"],
        ["run", "--task", "halumem", "--system", "bm25", "-S", "=1"],
        ["data", "build", "halumem", "-T", "users"],
        ["data", "pull", "halumem", "-T", "variant"],
        ["score", "results/runs/x", "--judge", "lexical", "-T", "data"],
    ],
)
def test_a_pair_without_key_and_equals_sign_is_a_usage_error(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    flag, pair = argv[-2:]
    command = " ".join(argv[:2]) if argv[0] == "data" else argv[0]
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"membench {command}: error: argument {flag}: takes KEY=VALUE, got '{pair}'"
    assert list(tmp_path.iterdir()) == [], "a usage error writes nothing"


def test_key_values_splits_pairs_and_refuses_one_without_equals_sign() -> None:
    assert key_values(["users = 2", "seed=1", "users=3", "data="], "-T") == {
        "users": "3",
        "seed": "1",
        "data": "",
    }
    with pytest.raises(ConfigError, match=r"^-S takes KEY=VALUE, got 'mode'$"):
        key_values(["mode"], "-S")


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["run", "--task", "halumen", "--system", "bm25"],
            "unknown task 'halumen'; did you mean 'halumem'? (membench list tasks)",
        ),
        (
            ["run", "--task", "halumem", "--system", "bm52"],
            "unknown system 'bm52'; did you mean 'bm25'? (membench list systems)",
        ),
        (
            ["run", "--task", "halumem", "--system", "mem"],
            "unknown system 'mem'; did you mean 'mem0', 'amem' or 'memos'? (membench list systems)",
        ),
        (
            ["run", "--task", "halumem", "--system", "bm25", "--reader", "extractve"],
            "unknown reader 'extractve'; did you mean 'extractive'? (membench list readers); "
            "task 'halumem' readers: none",
        ),
        (
            ["run", "--task", "halumem", "--system", "bm25", "-T", "user=2"],
            "unknown halumem option 'user'; did you mean 'users'? (membench list tasks)",
        ),
        (
            ["data", "build", "halumem", "-T", "sesions=2"],
            "unknown halumem option 'sesions'; did you mean 'sessions'? (membench list tasks)",
        ),
        (["data", "build", "sorrt"], "unknown task 'sorrt'; did you mean 'sort'? (membench list tasks)"),
        (
            ["data", "pull", "convomen"],
            "unknown task 'convomen'; did you mean 'convomem'? (membench list tasks)",
        ),
        (
            ["systems", "install", "memso"],
            "unknown system 'memso'; did you mean 'memos'? (membench list systems)",
        ),
    ],
)
def test_an_unknown_name_is_a_usage_error_with_the_closest_names(
    argv: list[str],
    error: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err == f"membench: error: {error}\n"
    assert not (tmp_path / "results").exists(), "nothing is run"


def test_an_unknown_judge_gets_the_tasks_closest_judge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The task's own judges are resolved by ``running.components.build_judge``, which passes them to
    ``Registry.get(..., also=task.judge_names)`` so a typo of one is answered too."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--task", "halumem", "--system", "bm25", "--judge", "lexcal"]) == 2
    assert capsys.readouterr().err == (
        "membench: error: unknown judge 'lexcal'; did you mean 'lexical'? (membench list judges); "
        "task 'halumem' judges: rule, lexical, llm\n"
    )


#: ``membench list tasks`` for the toy task, exactly as printed at 80 columns.
TOY_LISTED = """\
toy  (--plugin toy_plugin.py:ToyTask)
  Toy: one colour stated per session, asked back after it (runner mechanics)
  judges: exact (first: default); reader: extractive
  -T options (KEY=DEFAULT):
    episodes=4    episodes, one memory each
    sessions=3    sessions per episode, each followed by its probe
    boom=         comma list of probe ids whose query makes FlakySystem raise
    judge_fails=  comma list of probe ids the judge errors on, on purpose
"""


def test_list_tasks_shows_each_tasks_description_and_options_with_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(FIXTURES)  # a short plugin path, so the golden block is the same on any machine
    assert main(["list", "tasks", "--plugin", "toy_plugin.py:ToyTask"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    blocks = out.split("\n\n")
    assert TOY_LISTED in [block.rstrip("\n") + "\n" for block in blocks]
    registry = Registry()
    for name, origin in registry.names("task"):
        task_cls = registry.get("task", name)
        block = next(b for b in blocks if b.startswith(f"{name}  ({origin})\n"))
        assert " ".join(task_cls.description.split()) in " ".join(block.split())
        starts = [
            line.split()[0] for line in block.splitlines() if line.startswith("    ") and line[4] != " "
        ]
        assert starts == [f"{key}={value}" for key, value in task_cls.default_options.items()]


def test_a_long_option_default_puts_its_help_on_the_next_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("    excerpt_lengths=250,1000")  # sort's: too long to share a line with its help
    assert lines[at + 1] == " " * 26 + "words per excerpt, a comma list (Book-SORT's: 250,"


def test_list_systems_is_the_systems_table_with_each_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "systems"]) == 0
    listed = capsys.readouterr().out
    assert main(["systems", "list"]) == 0
    assert capsys.readouterr().out == listed
    rows = {line.split()[0]: line for line in listed.splitlines()[1:] if line[:1].strip()}
    mode_of = {name: row[len(name) :].strip().split("  ")[0] for name, row in rows.items()}
    assert mode_of["bm25"] == mode_of["mem0"] == "in process"
    assert mode_of["zep"] == mode_of["letta"] == mode_of["supermemory"] == mode_of["memobase"] == "service"
    assert mode_of["memos"] == "worker: memos"


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (LLMError("transient", "Connection error", attempts=6), 1),
        (OutputParseError("the reply held no JSON object"), 1),
        (ConfigError("task 'x' has no offline builder"), 2),
        (DataError("data/x.jsonl", 3, "sessions[0]", "start_time is not a string"), 2),
    ],
)
def test_a_failure_at_run_time_exits_1_and_a_usage_error_2(
    failure: Exception, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def command(args: object) -> int:
        raise failure

    add_parser, _ = COMMANDS["list"]
    monkeypatch.setitem(COMMANDS, "list", (add_parser, command))
    assert main(["list", "tasks"]) == code
    assert capsys.readouterr().err == f"membench: error: {failure}\n"
