"""The tamper-evident audit trail: a hash-chained JSON-lines log with Ed25519-signed checkpoints.

Commands that change anything append an `AuditEvent`; `AuditLog.verify()` says whether the log is intact.
`cryptography` is imported only where a key is used, so importing this package stays cheap.
"""

from __future__ import annotations

from .event import AuditEntry, AuditEvent, AuditVerification, resolve_actor
from .log import AuditLog

__all__ = ["AuditEntry", "AuditEvent", "AuditLog", "AuditVerification", "resolve_actor"]
