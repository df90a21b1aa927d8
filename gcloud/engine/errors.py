"""Typed engine errors, classified from what the Pulumi CLI printed.

The Automation API raises one `CommandError` carrying the CLI's text; callers need to know *which* failure it was
(another run holds the stack, the passphrase is missing, a provider refused a resource...) to decide what to tell
the user and whether to retry. `classify_failure` turns the text into one of the classes below, masking every
known secret value first. All classes pickle with their fields (they cross process boundaries in `runner`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gcloud.errors import EnvironmentProblem, GovcloudError

MASK = "[secret]"
PASSPHRASE_HINT = ("export PULUMI_CONFIG_PASSPHRASE=... or PULUMI_CONFIG_PASSPHRASE_FILE=/path/to/file "
                   "(keep it: it decrypts every tenant's secrets)")
BOOTSTRAP_HINT = ("run scripts/bootstrap.sh: it finds the pinned Pulumi engine or builds it from Go modules into the "
                  "user cache (a few minutes, once), and writes its plugin launcher")


class EngineError(GovcloudError):
    """Base of the engine's errors: a message, a hint, and where it happened (stack, operation, resource)."""

    def __init__(self, message: str, *, hint: str = "", stack: str = "", operation: str = "",
                 resource: str = "", resource_type: str = "", detail: str = "") -> None:
        GovcloudError.__init__(self, message)  # args == (message,): default pickling rebuilds cls(message) + __dict__
        self.message = message
        self.hint = hint
        self.stack = stack
        self.operation = operation
        self.resource = resource
        self.resource_type = resource_type
        self.detail = detail

    def __str__(self) -> str:
        where = f"{self.stack}: " if self.stack else ""
        if self.operation:
            where += f"{self.operation}: "
        text = where + self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


class EngineMissing(EngineError, EnvironmentProblem):
    """The pinned Pulumi engine (or its Python plugin launcher) is not installed where govcloud looks."""


class MissingPassphrase(EngineError, EnvironmentProblem):
    """No passphrase to encrypt/decrypt stack secrets (PULUMI_CONFIG_PASSPHRASE or _FILE)."""


class WrongPassphrase(EngineError, EnvironmentProblem):
    """The passphrase given is not the one the stack's secrets were encrypted with."""


class EngineFailure(EngineError):
    """The engine failed for a reason not classified more precisely; `detail` holds the engine's error lines."""


class ConcurrentUpdate(EngineFailure):
    """Another run holds the stack's lock: two runs on one tenant never interleave."""


class StackNotFound(EngineFailure):
    """The stack does not exist in the backend."""


class ProviderFailure(EngineFailure):
    """A resource provider refused an operation; `resource` is the URN, the message is the provider's own."""


class ProgramFailure(EngineFailure):
    """The Pulumi program (our stack code) raised before or while registering resources."""


@dataclass(frozen=True)
class Diagnostic:
    """An error line the engine attached to a resource (taken from the event stream)."""

    urn: str
    message: str
    severity: str = "error"


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every known secret value in text; longest first so overlapping values leave no fragment."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def urn_parts(urn: str) -> tuple[str, str]:
    """(type, name) of a Pulumi URN `urn:pulumi:stack::project::[parent$]type::name`."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[2].rsplit("$", 1)[-1], "::".join(parts[3:])


_LOCKED = ("the stack is currently locked by", "[409] Conflict", "Another update is currently in progress")
_NO_PASSPHRASE = re.compile(r"PULUMI_CONFIG_PASSPHRASE.{0,40}(must be set|unable to find|not set)|unable to find "
                            r"either `?PULUMI_CONFIG_PASSPHRASE|passphrase must be set", re.I | re.S)
_BAD_PASSPHRASE = re.compile(r"incorrect passphrase", re.I)
_NO_STACK = re.compile(r"no stack named .* found", re.I)
_NO_PLUGIN = re.compile(r"no resource plugin '([^']+)' found|could not find (?:a )?plugin|"
                        r"failed to load plugin|no language plugin", re.I)
_INLINE_PROGRAM = re.compile(r"python inline source runtime error:?\s*(.*)", re.I | re.S)
_DIAG_HEADER = re.compile(r"^  (\S+) \((.+)\):$")
_ERROR_LINE = re.compile(r"^\s*error:\s*(.*)$")
STACK_TYPE = "pulumi:pulumi:Stack"


def classify_failure(stdout: str, stderr: str, *, stack: str = "", operation: str = "",
             diagnostics: Sequence[Diagnostic] = (), secrets: Iterable[str] = ()) -> EngineError:
    """The typed error for a failed engine run, with every known secret value masked out of its text."""
    secrets = list(secrets)
    out, err = mask(stdout, secrets), mask(stderr, secrets)
    text = f"{err}\n{out}"
    where = {"stack": stack, "operation": operation}
    detail = _error_lines(text)
    if any(marker in text for marker in _LOCKED):
        return ConcurrentUpdate(
            f"stack {stack or '?'} is being updated by another run ({_lock_holder(text)})",
            hint="wait for the other run to finish (a lock whose run died on this host is removed by the next run)",
            detail=detail, **where)
    if _NO_PASSPHRASE.search(text):
        return MissingPassphrase("no passphrase for the stack's secrets", hint=PASSPHRASE_HINT, detail=detail, **where)
    if _BAD_PASSPHRASE.search(text):
        return WrongPassphrase("the passphrase does not decrypt this stack's secrets",
                               hint="use the passphrase the stack was created with", detail=detail, **where)
    if _NO_STACK.search(text):
        return StackNotFound(f"stack {stack or '?'} does not exist", detail=detail, **where)
    resource_errors = [d for d in diagnostics
                       if d.severity == "error" and d.urn and urn_parts(d.urn)[0] != STACK_TYPE]
    if resource_errors:
        first = resource_errors[0]
        kind, name = urn_parts(first.urn)
        return ProviderFailure(f"{name} ({kind}): {_provider_message(mask(first.message, secrets))}",
                               resource=first.urn, resource_type=kind, detail=detail, **where)
    parsed = _diagnostic_section(out)
    for kind, name, message in parsed:
        if kind != STACK_TYPE:
            return ProviderFailure(f"{name} ({kind}): {_provider_message(message)}", resource=name,
                                   resource_type=kind, detail=detail, **where)
    inline = _INLINE_PROGRAM.search(text)
    if inline:
        return ProgramFailure(f"the program failed: {_first_line(inline.group(1))}", detail=detail, **where)
    for kind, _name, message in parsed:
        if kind == STACK_TYPE:
            return ProgramFailure(f"the program failed: {message}", detail=detail, **where)
    plugin = _NO_PLUGIN.search(text)
    if plugin:
        return EngineMissing(f"the engine could not load a plugin: {_first_line(plugin.group(0))}",
                             hint=BOOTSTRAP_HINT, detail=detail, **where)
    return EngineFailure(_first_line(detail) or "the engine failed without an error line", detail=detail, **where)



def _error_lines(text: str) -> str:
    """The engine's `error:` lines, de-duplicated, in order."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        match = _ERROR_LINE.match(line)
        if match and match.group(1).strip():
            seen.setdefault(match.group(1).strip(), None)
    return "\n".join(seen)


def _diagnostic_section(stdout: str) -> list[tuple[str, str, str]]:
    """(type, name, first error) per resource of the `Diagnostics:` block the CLI prints at the end."""
    found: list[tuple[str, str, str]] = []
    lines = stdout.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Diagnostics:")
    except StopIteration:
        return found
    current: tuple[str, str] | None = None
    for line in lines[start + 1:]:
        header = _DIAG_HEADER.match(line)
        if header:
            current = (header.group(1), header.group(2))
            continue
        error = _ERROR_LINE.match(line)
        if current and error:
            found.append((*current, error.group(1).strip()))
            current = None
        elif line and not line.startswith(" "):
            break
    return found


def _lock_holder(text: str) -> str:
    match = re.search(r"created by (\S+) \(pid (\d+)\) at (\S+)", text)
    return f"locked by {match.group(1)}, pid {match.group(2)}, since {match.group(3)}" if match else "stack locked"


def _provider_message(text: str) -> str:
    """The provider's own words: without the gRPC wrapper Python dynamic providers add."""
    return _first_line(text).removeprefix("Exception calling application:").strip()


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
