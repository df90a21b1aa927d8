"""The storage seam: read every line, or append lines and a new head under one exclusive lock.

A local JSON-lines file (`LocalFileStore`), or rows of the shared PostgreSQL backend (`PostgresStore`) when the
stacks live there, so runners on several machines append to one trail.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gcloud.errors import GovcloudError
from gcloud.localfs import display_path, file_lock

from .paths import AuditPaths

_TAIL_CHUNK = 65536


class AuditLogDamaged(GovcloudError):
    """The log ends in a partial line: appending would chain onto garbage. `audit verify` shows where."""


@dataclass(frozen=True)
class StoredLog:
    """The log as stored: complete lines (no newline), any bytes after the last newline, and the head."""

    lines: tuple[bytes, ...]
    partial: bytes = b""
    head: bytes | None = None


Build = Callable[[bytes | None], tuple[Sequence[bytes], bytes]]
"""Given the last complete line (None when the log is empty), the lines to append and the new head."""


class AuditStore(Protocol):
    def read_all(self) -> StoredLog: ...

    def append_under_lock(self, build: Build) -> None: ...

    def locked(self) -> contextlib.AbstractContextManager[None]: ...

    def replace_all(self, stored: StoredLog) -> None: ...


class LocalFileStore:
    """A JSON-lines file, its head beside it, and a lock file so concurrent commands append one after another."""

    def __init__(self, paths: AuditPaths) -> None:
        self.paths = paths

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.paths.lock)

    def read_all(self) -> StoredLog:
        try:
            data = self.paths.log.read_bytes()
        except FileNotFoundError:
            data = b""
        *lines, partial = data.split(b"\n")
        try:
            head: bytes | None = self.paths.head.read_bytes()
        except FileNotFoundError:
            head = None
        return StoredLog(tuple(lines), partial, head)

    def append_under_lock(self, build: Build) -> None:
        with self.locked():
            last = self._last_line()
            lines, head = build(last)
            if lines:
                self._write(b"".join(line + b"\n" for line in lines))
            self._replace_head(head)

    def replace_all(self, stored: StoredLog) -> None:
        """Make the log exactly `stored` (a restore from a backup), under the lock."""
        with self.locked():
            self.paths.log.unlink(missing_ok=True)
            self._write(b"".join(line + b"\n" for line in stored.lines) + stored.partial)
            if stored.head is not None:
                self._replace_head(stored.head)
            else:
                self.paths.head.unlink(missing_ok=True)

    def _last_line(self) -> bytes | None:
        """The last complete line, read from the end (the log only grows; never read it all to append)."""
        try:
            handle = self.paths.log.open("rb")
        except FileNotFoundError:
            return None
        with handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return None
            chunk = b""
            position = size
            while position > 0:
                step = min(_TAIL_CHUNK, position)
                position -= step
                handle.seek(position)
                chunk = handle.read(step) + chunk
                if not chunk.endswith(b"\n"):
                    raise AuditLogDamaged(f"{display_path(self.paths.log)} ends in a partial line; "
                                          "run `govcloud audit verify` and restore the log from a backup")
                cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
                if cut >= 0:
                    return chunk[cut + 1:-1]
            return chunk[:-1]

    def _write(self, data: bytes) -> None:
        self.paths.log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.paths.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _replace_head(self, head: bytes) -> None:
        temporary = self.paths.head.with_name(self.paths.head.name + f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, head)
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(self.paths.head)
        _fsync_dir(self.paths.head.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditKeyMismatch(GovcloudError):
    """This runner signs with another key than the shared log's: its checkpoints would not verify."""


class PostgresStore:
    """The log as rows of the shared backend's database (`govcloud_audit`, one row per line) and its head.

    The same semantics as the file: an append reads the last line, builds on it and writes the new lines and head
    in one transaction under an advisory lock (`pg_advisory_xact_lock`), so runners on several machines append one
    after another and never fork the chain; a reader sees lines and head of one snapshot. A partial line cannot
    happen (a transaction is all or nothing). One log has one signing key: an append signed by another key is
    refused, so every runner must be given the fleet's key (GOVCLOUD_AUDIT_KEY).
    """

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self) -> str:
        from gcloud.state.backend import redact

        return f"audit log in {redact(self.url)}"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from gcloud.state.postgres import AUDIT_LOCK, connect, ensure_schema

        ensure_schema(self.url)
        with connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (AUDIT_LOCK,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (AUDIT_LOCK,))

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return self._locked()

    def read_all(self) -> StoredLog:
        from gcloud.state.postgres import transaction

        with transaction(self.url) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            lines = tuple(bytes(row[0]) for row in conn.execute("SELECT line FROM govcloud_audit ORDER BY n"))
            row = conn.execute("SELECT head FROM govcloud_audit_head WHERE id = 1").fetchone()
        return StoredLog(lines, b"", bytes(row[0]) if row else None)

    def append_under_lock(self, build: Build) -> None:
        from gcloud.state.postgres import AUDIT_LOCK, transaction

        with transaction(self.url) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
            last = conn.execute("SELECT n, line FROM govcloud_audit ORDER BY n DESC LIMIT 1").fetchone()
            count = int(last[0]) if last else 0
            lines, head = build(bytes(last[1]) if last else None)
            stored = conn.execute("SELECT head FROM govcloud_audit_head WHERE id = 1").fetchone()
            _same_key(bytes(stored[0]) if stored else None, head)
            if lines:
                with conn.cursor() as cursor:
                    cursor.executemany("INSERT INTO govcloud_audit (n, line) VALUES (%s, %s)",
                                       [(count + i, line) for i, line in enumerate(lines, 1)])
            conn.execute("INSERT INTO govcloud_audit_head (id, head) VALUES (1, %s) "
                         "ON CONFLICT (id) DO UPDATE SET head = EXCLUDED.head", (head,))

    def replace_all(self, stored: StoredLog) -> None:
        """Make the log exactly `stored` (a restore from a backup)."""
        from gcloud.state.postgres import AUDIT_LOCK, transaction

        with transaction(self.url) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
            conn.execute("DELETE FROM govcloud_audit")
            conn.execute("DELETE FROM govcloud_audit_head")
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO govcloud_audit (n, line) VALUES (%s, %s)",
                                   list(enumerate(stored.lines, 1)))
            if stored.head is not None:
                conn.execute("INSERT INTO govcloud_audit_head (id, head) VALUES (1, %s)", (stored.head,))


def _same_key(stored_head: bytes | None, new_head: bytes) -> None:
    """Refuse a head signed by another key than the log's (a runner that made a key of its own)."""
    if stored_head is None:
        return
    try:
        old, new = json.loads(stored_head).get("key"), json.loads(new_head).get("key")
    except ValueError:
        return  # a damaged head is `audit verify`'s to report, not a reason to stop recording
    if old and new and old != new:
        raise AuditKeyMismatch(f"this runner's audit key ({new}) is not the shared log's ({old}); nothing was "
                               "recorded. Give every runner the fleet's key: GOVCLOUD_AUDIT_KEY=/path/to/key.pem "
                               "(`govcloud audit key` on a runner that has it shows its fingerprint)")
