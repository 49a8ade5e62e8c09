"""Reading JSONL datasets with errors that point at the exact file, line and field.

Official benchmark files are large, hand-assembled and sometimes damaged (a truncated download, a
stray byte, a field that changed type between releases). A bare ``KeyError`` or ``JSONDecodeError``
from deep inside a loader tells the user nothing; every problem found here is a one-line
``DataError`` naming the file, the 1-based line and a dotted field path such as
``sessions[3].dialogue[5].content``, so the user can open the file at the right place.

Usage in a loader::

    for line, obj in iter_jsonl(path):
        at = Where(path, line)
        uuid = require(obj, "uuid", str, at)
        for s_at, session in each_object(obj, "sessions", at):
            start = require(session, "start_time", str, s_at)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

from membench.core.errors import ConfigError, DataError

T = TypeVar("T")
D = TypeVar("D")

_JSON_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
    type(None): "null",
}
_SHOWN_VALUE_CHARS = 40
_TOO_DEEP = "is not valid JSON (nested too deeply)"


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for every non-blank line of a JSONL file, streaming.

    The file is read as bytes and each line decoded on its own, so a bad byte is reported with its
    line and column instead of failing the whole file at an unknown offset.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            text = _decode(raw, path, number)
            if not text.strip():
                continue
            try:
                value = parse_json(text, path, number)
            except DataError as exc:
                if not raw.endswith(b"\n") and "is not valid JSON" in exc.problem:
                    raise DataError(path, number, None, f"{exc.problem}; truncated?") from None
                raise
            if not isinstance(value, dict):
                raise DataError(path, number, None, f"holds {_json_name(value)}, expected a JSON object")
            yield number, value


def parse_json(text: str, path: Path, line: int | None) -> Any:
    """``text`` parsed as JSON, or a one-line DataError at ``path:line``.

    Besides syntax errors this refuses what ``json.loads`` accepts but nothing downstream survives:
    nesting so deep that parsing exhausts the recursion limit, and a lone surrogate escape such as
    ``"\\udfff"``, which loads as a string no UTF-8 file can hold (the run would crash later, when
    it writes a record quoting it).
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, line, None, f"is not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # an integer with more digits than Python converts
        raise DataError(path, line, None, f"is not valid JSON ({exc})") from None
    except RecursionError:
        raise DataError(path, line, None, _TOO_DEEP) from None
    if "\\u" in text:
        try:
            _refuse_lone_surrogates(value, Where(path, line))
        except RecursionError:
            raise DataError(path, line, None, _TOO_DEEP) from None
    return value


def _refuse_lone_surrogates(value: Any, at: Where) -> None:
    """A DataError at the first string (key or value) inside ``value`` that is not encodable UTF-8."""
    if isinstance(value, str):
        _check_encodable(value, at)
    elif isinstance(value, dict):
        for key, element in value.items():
            _check_encodable(key, at.key(key))
            _refuse_lone_surrogates(element, at.key(key))
    elif isinstance(value, list):
        for i, element in enumerate(value):
            _refuse_lone_surrogates(element, at.item(i))


def _check_encodable(text: str, at: Where) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise at.error(f"holds a lone surrogate escape \\u{code:04x}, which is not a character") from None


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        raise DataError(
            path, number, None, f"is not valid UTF-8 (byte 0x{bad:02x} at column {exc.start + 1})"
        ) from None


class Where:
    """A place in a JSONL file: the file, the line and the field path inside the line's object.

    Loaders create one per field they read, hundreds of thousands for a large file, so the dotted
    path is only spelled out when an error needs it.
    """

    __slots__ = ("_parent", "_step", "line", "path")

    def __init__(
        self, path: Path, line: int | None, parent: Where | None = None, step: str | int | None = None
    ) -> None:
        self.path = path
        self.line = line
        self._parent = parent
        self._step = step

    def key(self, name: str) -> Where:
        """The place of ``name`` inside this object."""
        return Where(self.path, self.line, self, name)

    def item(self, index: int) -> Where:
        """The place of element ``index`` inside this list."""
        return Where(self.path, self.line, self, index)

    @property
    def field(self) -> str:
        """The dotted path, e.g. ``sessions[3].dialogue[5].content`` ("" for the whole line)."""
        steps: list[str | int] = []
        place: Where | None = self
        while place is not None and place._step is not None:
            steps.append(place._step)
            place = place._parent
        text = ""
        for step in reversed(steps):
            text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
        return text

    def error(self, problem: str) -> DataError:
        """A ``DataError`` about this place (raise it)."""
        return DataError(self.path, self.line, self.field or None, problem)


@overload
def check(value: Any, kind: type[T], at: Where) -> T: ...
@overload
def check(value: Any, kind: tuple[type, ...], at: Where) -> Any: ...
def check(value: Any, kind: type | tuple[type, ...], at: Where) -> Any:
    """``value`` if it has JSON type ``kind`` (a type or a tuple of types), else a DataError at ``at``.

    Python's ``True`` is an ``int``, but a JSON ``true`` where a count was expected is a data error, so
    booleans are never accepted as numbers; an integer is accepted (returned as a float) for a float.
    """
    if type(value) is kind and kind is not float:
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for wanted in kinds:
        if isinstance(value, bool) and wanted is not bool:
            continue
        if wanted is float and isinstance(value, (int, float)):
            return _finite(value, at)
        if isinstance(value, wanted):
            return value
    expected = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in kinds)
    raise at.error(f"must be {expected}, got {_json_name(value)} ({shown(value)})")


def _finite(value: float, at: Where) -> float:
    """``value`` as a finite float: JSON has no NaN or Infinity (Python's parser accepts them, and
    ``1e999`` overflows to infinity), and arithmetic on them poisons every mean it enters."""
    try:
        number = float(value)
    except OverflowError:
        raise at.error(f"is too large a number ({shown(value)})") from None
    if not math.isfinite(number):
        raise at.error(f"must be a finite number, got {number}")
    return number


@overload
def require(obj: Mapping[str, Any], key: str, kind: type[T], at: Where) -> T: ...
@overload
def require(obj: Mapping[str, Any], key: str, kind: tuple[type, ...], at: Where) -> Any: ...
def require(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], at: Where) -> Any:
    """Field ``key`` of ``obj`` (found at ``at``), which must be present and of type ``kind``."""
    if key not in obj:
        raise at.key(key).error("is missing")
    value = obj[key]
    if type(value) is kind and kind is not float:  # the common case, without building a Where for check()
        return value
    return check(value, kind, at.key(key))


@overload
def optional(obj: Mapping[str, Any], key: str, kind: type[T], at: Where, default: D) -> T | D: ...
@overload
def optional(obj: Mapping[str, Any], key: str, kind: tuple[type, ...], at: Where, default: D) -> Any: ...
def optional(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], at: Where, default: Any) -> Any:
    """Field ``key`` of ``obj`` if present (and then of type ``kind``), else ``default``."""
    if key not in obj:
        return default
    return check(obj[key], kind, at.key(key))


def list_of(values: list[Any], kind: type[T], at: Where) -> list[T]:
    """``values`` (a list found at ``at``) after checking that every element has type ``kind``."""
    return [check(value, kind, at.item(i)) for i, value in enumerate(values)]


def each_object(
    obj: Mapping[str, Any], key: str, at: Where, *, missing_ok: bool = False
) -> Iterator[tuple[Where, dict[str, Any]]]:
    """``(place, element)`` for each element of the list-of-objects field ``key``.

    The field is required unless ``missing_ok``, in which case an absent field yields nothing.
    """
    field_at = at.key(key)
    elements = optional(obj, key, list, at, []) if missing_ok else require(obj, key, list, at)
    for i, element in enumerate(elements):
        element_at = field_at.item(i)
        yield element_at, check(element, dict, element_at)


def _json_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def shown(value: Any) -> str:
    """A short one-line rendering of ``value`` for error messages (newlines escaped by JSON)."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 3] + "..."
