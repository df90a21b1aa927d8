"""`AuditLog`: append events under one lock (each run ends in a signed checkpoint), read them back, verify."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .chain import (
    GENESIS,
    canonical,
    checkpoint_record,
    event_from_record,
    is_checkpoint,
    parse_time,
    record_hash,
    signed_payload,
)
from .chain import event_record as _event_record
from .event import AuditEntry, AuditEvent, AuditVerification
from .keys import PublicKey, load_or_create_private, load_private, load_public, public_of, sign, verifier
from .keys import public_fingerprint as _fingerprint
from .paths import LOG_ENV, AuditPaths, audit_paths
from .scrub import environment_secrets
from .store import AuditLogDamaged, AuditStore, LocalFileStore, PostgresStore, StoredLog
from .verify import verify_stored

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuditLog:
    """The audit trail of one state directory (or of GOVCLOUD_AUDIT_LOG), signed with one key."""

    def __init__(self, store: AuditStore, key_path: Path, *, clock: Clock = _utc_now,
                 environ: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.key_path = key_path
        self._clock = clock
        self._environ = environ

    @classmethod
    def at(cls, state_dir: Path | None = None, *, environ: Mapping[str, str] | None = None,
           clock: Clock = _utc_now) -> AuditLog:
        """The log beside `state_dir` (None: resolved as the engine does), honouring GOVCLOUD_AUDIT_LOG/_KEY."""
        paths = audit_paths(state_dir, environ)
        return cls(_store(paths, state_dir, environ), paths.key, clock=clock, environ=environ)

    @property
    def paths(self) -> AuditPaths | None:
        return self.store.paths if isinstance(self.store, LocalFileStore) else None

    def append(self, event: AuditEvent) -> AuditEntry:
        """Append one event and a signed checkpoint over it."""
        return self.append_many([event])[0]

    def append_many(self, events: Iterable[AuditEvent]) -> list[AuditEntry]:
        """Append a whole run's events under one lock, contiguous, followed by one signed checkpoint."""
        batch = list(events)
        if not batch:
            return []
        written: list[AuditEntry] = []
        known = environment_secrets(self._environ)

        def build(last: bytes | None) -> tuple[Sequence[bytes], bytes]:
            key = load_or_create_private(self.key_path)
            fingerprint = public_of(key).fingerprint
            seq, prev = _tail(last)
            lines: list[bytes] = []
            when = self._clock()
            for event in batch:
                seq += 1
                record = _event_record(event, seq=seq, prev=prev, id_=str(uuid.uuid4()), when=when,
                                       known_secrets=known)
                lines.append(canonical(record))
                prev = record_hash(record)
                written.append(_entry(seq, record, prev))
            seq += 1
            checkpoint = checkpoint_record(seq=seq, prev=prev, id_=str(uuid.uuid4()), when=when, key=fingerprint,
                                           signature=sign(key, signed_payload("checkpoint", seq - 1, prev)))
            lines.append(canonical(checkpoint))
            last_hash = record_hash(checkpoint)
            head = {"seq": seq, "hash": last_hash, "key": fingerprint,
                    "signature": sign(key, signed_payload("head", seq, last_hash))}
            return lines, canonical(head) + b"\n"

        self.store.append_under_lock(build)
        return written

    def entries(self, *, tenant: str | None = None, since: dt.datetime | None = None) -> list[AuditEntry]:
        """The events (checkpoints left out) in log order, optionally of one tenant and from a time on.

        Lines that do not parse are skipped here; `verify()` is what reports them.
        """
        stored = self.store.read_all()
        found: list[AuditEntry] = []
        for line, raw in enumerate(stored.lines, 1):
            try:
                record = json.loads(raw)
                if is_checkpoint(record):
                    continue
                entry = _entry(line, record, record_hash(record))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if tenant is not None and entry.event.tenant != tenant:
                continue
            if since is not None and entry.time < _aware(since):
                continue
            found.append(entry)
        return found

    def public_key(self) -> PublicKey:
        """The public half of the signing key (made on first use, under the log's lock)."""
        with self.store.locked():
            return public_of(load_or_create_private(self.key_path))

    def verify(self, public_key_pem: bytes | None = None, source: str = "--public-key") -> AuditVerification:
        """Check the chain, every checkpoint's signature and the signed head.

        With `public_key_pem` an auditor verifies without the private key; otherwise the key file's public half
        is used (never created here: a fresh key would make every signature look forged).
        """
        stored = self._read_consistent()
        if not stored.lines and not stored.partial and stored.head is None:
            return AuditVerification(True, 0, None, "the audit log is empty")
        if public_key_pem is not None:
            public = load_public(public_key_pem, source)
        else:
            public = load_private(self.key_path).public_key()
        return verify_stored(stored, verifier(public), _fingerprint(public))

    def _read_consistent(self) -> StoredLog:
        """Log and head as one snapshot: read under the writers' lock when we may take it (not on a read-only copy)."""
        with contextlib.ExitStack() as stack:
            with contextlib.suppress(OSError):
                stack.enter_context(self.store.locked())
            return self.store.read_all()


def _store(paths: AuditPaths, state_dir: Path | None, environ: Mapping[str, str] | None) -> AuditStore:
    """The log lives with the stacks: in the shared PostgreSQL backend when they do (unless GOVCLOUD_AUDIT_LOG
    names a file), else in the file beside the state."""
    from gcloud.state.backend import backend_url, is_postgres

    env = os.environ if environ is None else environ
    url = backend_url(state_dir, env)
    if is_postgres(url) and not env.get(LOG_ENV):
        return PostgresStore(url)
    return LocalFileStore(paths)


def _tail(last: bytes | None) -> tuple[int, str]:
    """(seq, hash) of the last record, to chain onto."""
    if last is None:
        return 0, GENESIS
    try:
        record = json.loads(last)
        return int(record["seq"]), record_hash(record)
    except (ValueError, KeyError, TypeError) as err:
        raise AuditLogDamaged(f"the audit log's last line cannot be read ({type(err).__name__}); "
                              "run `govcloud audit verify`") from None


def _entry(line: int, record: Mapping[str, Any], own_hash: str) -> AuditEntry:
    return AuditEntry(line=line, seq=int(record["seq"]), id=str(record["id"]),
                      time=parse_time(str(record["eventTime"])), event=event_from_record(record),
                      hash=own_hash, prev=str(record["prev"]))


def _aware(when: dt.datetime) -> dt.datetime:
    """A naive time given on the command line is read as UTC, like every stored time."""
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


