"""The values of the audit trail: what a command reports (AuditEvent) and what the log holds (AuditEntry)."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ACTOR_ENV = "GOVCLOUD_ACTOR"
OUTCOMES = ("success", "failure", "refused")

Change = tuple[str, str, str]
"""(op, kind, name) of one resource a command changed, e.g. ("create", "openstack:Project", "gov-tax"); no values."""


@dataclass(frozen=True)
class AuditEvent:
    """One change a command made (or refused to make) to one tenant, as the command knows it."""

    actor: str
    action: str  # "apply", "destroy", "quota.approve", "import", "drift.repair", ...
    tenant: str
    outcome: str  # "success" | "failure" | "refused"
    digest_before: str | None = None
    digest_after: str | None = None
    ticket: str | None = None
    changes: tuple[Change, ...] = ()
    detail: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if not self.action or not self.actor:
            raise ValueError("an audit event needs an actor and an action")
        object.__setattr__(self, "changes", tuple(tuple(change) for change in self.changes))
        object.__setattr__(self, "detail", MappingProxyType(dict(self.detail)))


@dataclass(frozen=True)
class AuditEntry:
    """One event as stored: where it sits in the chain (line, seq), when, and the record's own hash."""

    line: int
    seq: int
    id: str
    time: dt.datetime
    event: AuditEvent
    hash: str
    prev: str


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of `audit verify`: intact, or the first line (1-based) and sequence that is not."""

    ok: bool
    entries: int
    first_broken: int | None
    reason: str
    first_broken_seq: int | None = None
    checkpoints: int = 0


def resolve_actor(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Who is acting: `--actor`, else GOVCLOUD_ACTOR, else the OS user (never empty)."""
    env = os.environ if environ is None else environ
    for candidate in (explicit, env.get(ACTOR_ENV)):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): the uid still names someone
        return f"uid:{os.getuid()}"
