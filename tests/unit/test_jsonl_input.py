"""The JSONL reader and field helpers: every problem is one line naming file, line and field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from membench.core.errors import ConfigError, DataError
from membench.core.jsonl_input import Where, check, each_object, iter_jsonl, list_of, optional, require


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    return path


def _one_line(error: DataError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_yields_objects_with_their_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"a": 1}\n\n   \r\n{"b": "\xc3\xa9"}\r\n{"c": []}')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"b": "é"}), (5, {"c": []})]


def test_invalid_json_in_the_middle_names_the_line_without_guessing_truncation(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"a": 1}\n{"a": 1,, }\n{"a": 2}\n')
    with pytest.raises(DataError) as info:
        list(iter_jsonl(path))
    message = _one_line(info.value)
    assert message.startswith(f"{path}:2: is not valid JSON (")
    assert "column 9" in message
    assert "truncated" not in message
    assert info.value.line == 2


def test_truncated_last_line_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"a": 1}\n{"uuid": "x", "sessions": [{"start')
    with pytest.raises(DataError) as info:
        list(iter_jsonl(path))
    message = _one_line(info.value)
    assert message.startswith(f"{path}:2: is not valid JSON (")
    assert message.endswith("truncated?")


def test_non_utf8_bytes_name_the_byte_and_its_column(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"a": 1}\n{"a": 1}\n{"name": "caf\xff"}\n')
    with pytest.raises(DataError) as info:
        list(iter_jsonl(path))
    assert _one_line(info.value) == f"{path}:3: is not valid UTF-8 (byte 0xff at column 14)"


def test_a_top_level_value_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"a": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r":2: holds a list, expected a JSON object$"):
        list(iter_jsonl(path))


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        list(iter_jsonl(tmp_path / "absent.jsonl"))


def test_where_builds_dotted_field_paths() -> None:
    at = Where(Path("f.jsonl"), 7).key("sessions").item(3).key("dialogue").item(5).key("content")
    assert at.field == "sessions[3].dialogue[5].content"
    assert str(at.error("is odd")) == "f.jsonl:7: field 'sessions[3].dialogue[5].content' is odd"


def test_require_reports_a_missing_field_with_its_full_path() -> None:
    at = Where(Path("f.jsonl"), 2).key("sessions").item(0)
    with pytest.raises(DataError) as info:
        require({}, "start_time", str, at)
    assert str(info.value) == "f.jsonl:2: field 'sessions[0].start_time' is missing"
    assert info.value.field == "sessions[0].start_time"


def test_require_reports_a_wrong_type_with_the_value() -> None:
    at = Where(Path("f.jsonl"), 4)
    with pytest.raises(DataError) as info:
        require({"content": 42}, "content", str, at)
    assert str(info.value) == "f.jsonl:4: field 'content' must be a string, got an integer (42)"


def test_long_or_multiline_values_are_shown_short_on_one_line() -> None:
    at = Where(Path("f.jsonl"), 1)
    with pytest.raises(DataError) as info:
        require({"n": "line one\nline two " * 20}, "n", int, at)
    message = _one_line(info.value)
    assert '("line one\\nline two' in message
    assert message.endswith("...)")
    assert len(message) < 120


def test_booleans_are_not_numbers_but_integers_are_floats() -> None:
    at = Where(Path("f.jsonl"), 1)
    with pytest.raises(DataError, match="must be an integer, got a boolean"):
        require({"index": True}, "index", int, at)
    value = require({"importance": 1}, "importance", float, at)
    assert value == 1.0 and isinstance(value, float)
    assert require({"flag": "True"}, "flag", (bool, str), at) == "True"
    with pytest.raises(DataError, match="must be a boolean or a string, got null"):
        require({"flag": None}, "flag", (bool, str), at)


def test_optional_returns_the_default_only_when_absent() -> None:
    at = Where(Path("f.jsonl"), 1)
    assert optional({}, "importance", float, at, None) is None
    assert optional({"importance": 0.5}, "importance", float, at, None) == 0.5
    with pytest.raises(DataError, match="field 'importance' must be a number"):
        optional({"importance": "high"}, "importance", float, at, None)


def test_list_of_names_the_bad_element() -> None:
    at = Where(Path("f.jsonl"), 3).key("original_memories")
    assert list_of(["a", "b"], str, at) == ["a", "b"]
    with pytest.raises(DataError, match=r"field 'original_memories\[1\]' must be a string, got an object"):
        list_of(["a", {}], str, at)


def test_each_object_yields_places_and_refuses_non_objects() -> None:
    at = Where(Path("f.jsonl"), 1)
    places = [(place.field, item) for place, item in each_object({"q": [{"x": 1}, {"x": 2}]}, "q", at)]
    assert places == [("q[0]", {"x": 1}), ("q[1]", {"x": 2})]
    with pytest.raises(DataError, match=r"field 'q\[1\]' must be an object, got a string"):
        list(each_object({"q": [{}, "oops"]}, "q", at))
    with pytest.raises(DataError, match="field 'q' is missing"):
        list(each_object({}, "q", at))
    assert list(each_object({}, "q", at, missing_ok=True)) == []


def test_check_accepts_any_of_several_types() -> None:
    at = Where(Path("f.jsonl"), 1)
    assert check(None, (float, type(None)), at) is None
    assert check(0.25, (float, type(None)), at) == 0.25


def test_json_nested_too_deeply_is_a_data_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"ok": 1}\n{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    with pytest.raises(DataError) as caught:
        list(iter_jsonl(path))
    assert _one_line(caught.value) == f"{path}:2: is not valid JSON (nested too deeply)"


def test_a_lone_surrogate_escape_is_refused_with_its_field_and_a_pair_is_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"emoji": "\\ud83d\\ude00"}\n{"turns": [{"content": "x\\udfff"}]}\n')
    lines = iter_jsonl(path)
    assert next(lines) == (1, {"emoji": "\N{GRINNING FACE}"})
    with pytest.raises(DataError) as caught:
        next(lines)
    message = _one_line(caught.value)
    assert (
        message == f"{path}:2: field 'turns[0].content' holds a lone surrogate escape \\udfff, "
        "which is not a character"
    )


def test_an_integer_too_long_to_convert_is_a_data_error(tmp_path: Path) -> None:
    path = _write(tmp_path, b'{"n": ' + b"9" * 5000 + b"}\n")
    with pytest.raises(DataError, match=r"data.jsonl:1: is not valid JSON \(Exceeds the limit"):
        list(iter_jsonl(path))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (float("nan"), "must be a finite number, got nan"),
        (float("inf"), "must be a finite number, got inf"),
        (10**400, "is too large a number"),
    ],
)
def test_a_float_field_must_be_finite(value: object, problem: str) -> None:
    at = Where(Path("f.jsonl"), 3)
    with pytest.raises(DataError, match=f"^f.jsonl:3: field 'w' {problem}"):
        require({"w": value}, "w", float, at)
    with pytest.raises(DataError, match=f"^f.jsonl:3: field 'w' {problem}"):
        optional({"w": value}, "w", (float, type(None)), at, None)
