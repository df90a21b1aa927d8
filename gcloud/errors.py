"""The one family of errors a user can cause.

The CLI maps every `InputError` to exit code 2 and one readable line; anything else escaping is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class SourceLocation:
    """Where a value came from: 1-based line and column in a file."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, rendered as `file:line:col field: message`."""

    location: SourceLocation
    field: str
    message: str
    code: str = "invalid-input"
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.location} {self.field}:" if self.field else f"{self.location}:"
        text = f"{where} {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class GovcloudError(Exception):
    """Base of every error govcloud raises on purpose."""


@dataclass
class InputError(GovcloudError):
    """Bad input: one or more problems, each naming file, line and field. Exit code 2."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, message: str, *, line: int = 0, column: int = 0, field: str = "",
               code: str = "invalid-input", hint: str = "") -> InputError:
        return cls([Problem(SourceLocation(file, line, column), field, message, code, hint)])


class EnvironmentProblem(GovcloudError):
    """The machine lacks something govcloud needs (engine, passphrase, cloud); carries a fix hint."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message
