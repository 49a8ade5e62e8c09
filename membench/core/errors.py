"""Exceptions with messages a user can act on."""

from __future__ import annotations


class MembenchError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""


class DataError(MembenchError):
    """Bad input data. The message names the file, the line (record) and the field."""

    def __init__(self, path: object, line: int | None, field: str | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        what = f" field '{field}'" if field else ""
        super().__init__(f"{where}:{what} {problem}".replace(": :", ":"))


class ConfigError(MembenchError):
    """A bad option, an unknown plugin, a judge that cannot score this data."""


class IdentityMismatch(MembenchError):
    """An existing run directory was made by a different configuration."""


class NotSupported(MembenchError):
    """A system was asked for a capability it does not declare."""


class RunFailure(MembenchError):
    """Something failed while the work ran, not in what the user asked for: a service or an endpoint that
    did not answer, a download cut or corrupted, an environment that did not install, a run another
    process holds. The CLI exits 1 for these and 2 for every other MembenchError (a usage error)."""


class LLMError(RunFailure):
    """An LLM call that failed for good. ``kind`` is rate_limit, transient, timeout or fatal."""

    def __init__(self, kind: str, message: str, attempts: int = 1) -> None:
        self.kind = kind
        self.attempts = attempts
        super().__init__(f"{kind}: {message}")


class OutputParseError(RunFailure):
    """An LLM answered, but not in the format the prompt demanded."""
