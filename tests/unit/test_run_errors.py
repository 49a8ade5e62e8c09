"""The error summary: failures grouped by stage and type, laid out at 80 columns, and the redo command;
and the streak that stops a run."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from membench.cli.main import build_parser
from membench.cli.run_errors import error_summary_lines, print_error_summary, retry_command
from membench.cli.terminal import command
from membench.core.records import RECORDS, JsonlAppender
from membench.core.types import ErrorInfo, Prediction, Record, Score
from membench.running.failures import NO_VERDICT, ErrorGroup, FailureStreak, error_groups, failure_of

CONNECTION = (
    "transient: gave up after 6 attempts; last: InternalServerError: OpenAIException - Connection error."
)


def record(probe_id: str, error: ErrorInfo | None = None, score: Score | None = None) -> Record:
    return Record(
        run_id="r",
        task="halumem",
        task_version="1",
        system="bm25",
        episode_id=probe_id.split(":")[0],
        probe_id=probe_id,
        after_session=0,
        kind="qa",
        input_hash="0" * 16,
        prediction=Prediction(answer="x") if score else None,
        score=score,
        error=error,
        completed_at="2026-12-02T00:00:00.000+00:00",
    )


def reader_error(message: str = CONNECTION) -> ErrorInfo:
    return ErrorInfo(stage="reader", type="LLMError", message=message, attempts=6)


def test_errors_are_grouped_by_stage_and_type_most_first_with_the_first_message() -> None:
    records = [
        record("e:1", reader_error()),
        record("e:2", score=Score(judge="llm", label="correct")),
        record("e:3", ErrorInfo(stage="system", type="ConnectionError", message="down")),
        record("e:4", reader_error("a later message")),
        record("e:5", score=Score(judge="llm", status="error", explanation="unusable judge reply")),
    ]
    assert error_groups(records) == [
        ErrorGroup("reader", "LLMError", 2, CONNECTION),
        ErrorGroup("judge", NO_VERDICT, 1, "unusable judge reply"),
        ErrorGroup("system", "ConnectionError", 1, "down"),
    ]
    assert error_groups(records[1:2]) == []


def test_the_summary_reads_at_80_columns() -> None:
    groups = [
        ErrorGroup("reader", "LLMError", 27, CONNECTION + " " + "and then some more words " * 6),
        ErrorGroup("judge", NO_VERDICT, 1, "unusable judge reply after one re-ask: no JSON object"),
    ]
    retry = (
        "membench run --task halumem --system bm25 --llm openai/gpt-4o-mini "
        "--llm-api-base http://127.0.0.1:9/v1 --limit 1 --retry-errors"
    )
    lines = error_summary_lines(groups, retry, 80)
    assert "\n".join(lines) == (
        "errors: 28 probes errored; by stage and type, with one example each:\n"
        "     27  reader LLMError\n"
        "         transient: gave up after 6 attempts; last: InternalServerError:\n"
        "         OpenAIException - Connection error. and then some more words and then …\n"
        "      1  judge no verdict\n"
        "         unusable judge reply after one re-ask: no JSON object\n"
        "redo them with:\n"
        "  membench run --task halumem --system bm25 --llm openai/gpt-4o-mini \\\n"
        "    --llm-api-base http://127.0.0.1:9/v1 --limit 1 --retry-errors"
    )
    assert max(len(line) for line in lines) <= 80


def test_a_key_in_an_example_is_scrubbed() -> None:
    lines = error_summary_lines(
        [ErrorGroup("judge", "LLMError", 1, "bad key sk-abcdef123456")], "membench run", 80
    )
    assert "sk-abcdef123456" not in "\n".join(lines) and "bad key sk-***" in lines[2]


def test_the_redo_command_repeats_the_options_given_and_not_fresh() -> None:
    args = build_parser().parse_args(
        [
            *("run", "--task", "halumem", "--system", "bm25", "-T", "users=2", "-T", "sessions=3"),
            *("--llm", "openai/gpt-4o-mini", "--results-dir", "my results", "--fresh", "--no-check"),
        ]
    )
    assert retry_command(args.run_parser, args) == (
        "membench run --task halumem --system bm25 -T users=2 -T sessions=3 --llm openai/gpt-4o-mini "
        "--no-check --results-dir 'my results' --retry-errors"
    )
    again = build_parser().parse_args(
        ["run", "--task", "t", "--system", "s", "--retry-errors", "--limit", "3"]
    )
    assert (
        retry_command(again.run_parser, again) == "membench run --task t --system s --limit 3 --retry-errors"
    )


def test_a_streak_is_failures_of_one_kind_in_a_row() -> None:
    streak = FailureStreak(3)
    other = ErrorInfo(stage="system", type="ConnectionError", message="down")
    assert [streak.failed(reader_error()) for _ in range(2)] == [False, False]
    assert streak.failed(other) is False, "another kind starts the streak over"
    assert [streak.failed(reader_error()) for _ in range(3)] == [False, False, True]
    streak.succeeded()
    assert streak.failed(reader_error()) is False and streak.count == 1
    never = FailureStreak(0)
    assert not any(never.failed(reader_error()) for _ in range(100))


def test_the_redo_command_keeps_quoted_words_whole_when_it_breaks_lines() -> None:
    args = build_parser().parse_args(
        [
            *("run", "--task", "halumem", "--system", "bm25", "-T", "name=a b c"),
            *("--results-dir", "my results/with a long folder name", "--data-dir", "it's data"),
        ]
    )
    retry = retry_command(args.run_parser, args)
    lines = command(retry, 40)
    assert lines == [
        "  membench run --task halumem --system \\",
        "    bm25 -T 'name=a b c' --results-dir \\",
        "    'my results/with a long folder name' \\",
        "    --data-dir 'it'\"'\"'s data' \\",
        "    --retry-errors",
    ]
    pasted = " ".join(line.rstrip("\\").strip() for line in lines)
    assert shlex.split(pasted) == shlex.split(retry), "the lines pasted together are the same command"
    assert shlex.split(pasted)[6:8] == ["-T", "name=a b c"]


def test_the_redo_command_leaves_out_the_credentials_of_every_url() -> None:
    args = build_parser().parse_args(
        [
            *("run", "--task", "halumem", "--system", "mem0", "--llm", "openai/gpt-4o-mini"),
            *("--llm-api-base", "http://bob:pass@llm.example:8000/v1"),
            *("-S", "api_base=https://alice:s3cret@mem.example/v1", "-S", "mode=llm"),
        ]
    )
    assert retry_command(args.run_parser, args) == (
        "membench run --task halumem --system mem0 -S api_base=https://mem.example/v1 -S mode=llm "
        "--llm openai/gpt-4o-mini --llm-api-base http://llm.example:8000/v1 --retry-errors"
    )


def test_a_judge_without_a_verdict_fails_as_the_kind_its_problem_names() -> None:
    down = "judge call failed: transient: gave up after 6 attempts; last: HTTP 503"
    unusable = "unusable judge reply after one re-ask: no JSON object"
    several = Score(
        judge="llm",
        status="error",
        explanation="llm judge: 2 judgments, 1 failed",
        details=[{"element": "point", "g": 1}, {"element": "memory", "error": down}],
    )
    records = [
        record("e:1", score=Score(judge="llm", status="error", explanation=down)),
        record("e:2", score=several),
        record("e:3", score=Score(judge="llm", status="error", explanation=unusable)),
        record("e:4", score=Score(judge="llm", status="error")),
    ]
    assert [failure_of(r) for r in records] == [
        ErrorInfo(stage="judge", type="LLMError", message=down),
        ErrorInfo(
            stage="judge", type="LLMError", message=f"llm judge: 2 judgments, 1 failed; the first: {down}"
        ),
        ErrorInfo(stage="judge", type="unusable reply", message=unusable),
        ErrorInfo(stage="judge", type=NO_VERDICT, message="no verdict given"),
    ]
    assert failure_of(record("e:5", score=Score(judge="llm", label="correct"))) is None


def test_a_word_longer_than_the_screen_is_printed_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deep --results-dir is longer than 80 columns: folded by the console, the pasted command broke.
    monkeypatch.setenv("COLUMNS", "80")
    deep = "/tmp/" + "a-long-folder-name/" * 6 + "[results]"
    appender = JsonlAppender(tmp_path / RECORDS)
    appender.append(record("ep1:q1", reader_error()))
    appender.close()
    print_error_summary(tmp_path, shlex.join(["membench", "run", "--results-dir", deep, "--retry-errors"]))
    lines = capsys.readouterr().out.splitlines()
    redo = lines[lines.index("redo them with:") + 1 :]
    assert f"    {shlex.quote(deep)} \\" in redo, "whole, on a line of its own, markup left alone"
    assert shlex.split(" ".join(line.rstrip(" \\") for line in redo))[3] == deep
