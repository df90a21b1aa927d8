"""The audit log as JSON-ready data and as lines for people (pure: the CLI only writes what these return)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .chain import timestamp
from .event import AuditEntry, AuditVerification
from .keys import PublicKey


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    """One event in CADF terms, plus its place in the chain."""
    event = entry.event
    return {
        "line": entry.line, "seq": entry.seq, "id": entry.id, "eventTime": timestamp(entry.time),
        "action": event.action, "outcome": event.outcome,
        "initiator": {"name": event.actor}, "target": {"id": event.tenant},
        "ticket": event.ticket, "digestBefore": event.digest_before, "digestAfter": event.digest_after,
        "changes": [{"op": op, "kind": kind, "name": name} for op, kind, name in event.changes],
        "detail": dict(event.detail), "hash": entry.hash, "prev": entry.prev,
    }


def entries_document(entries: Sequence[AuditEntry]) -> dict[str, Any]:
    return {"count": len(entries), "entries": [entry_dict(entry) for entry in entries]}


def changes_text(entry: AuditEntry) -> str:
    """`create openstack:Project gov-tax; ...`, or `-` when the command changed no resource."""
    return "; ".join(f"{op} {kind} {name}" for op, kind, name in entry.event.changes) or "-"


def verification_dict(result: AuditVerification, log: str) -> dict[str, Any]:
    broken = None if result.ok else {"line": result.first_broken, "seq": result.first_broken_seq}
    return {"ok": result.ok, "log": log, "entries": result.entries, "checkpoints": result.checkpoints,
            "firstBroken": broken, "reason": result.reason}


def verification_text(result: AuditVerification, log: str) -> str:
    if result.ok:
        return f"ok: {log}: {result.reason}\n"
    return (f"BROKEN: {log}: first broken entry at line {result.first_broken} (sequence "
            f"{result.first_broken_seq}): {result.reason}\n")


def key_dict(key: PublicKey, key_file: str) -> dict[str, Any]:
    return {"fingerprint": key.fingerprint, "publicKey": key.pem, "keyFile": key_file}
