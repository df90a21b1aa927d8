"""The storage seam: read every line, or append lines and a new head under one exclusive lock.

A local JSON-lines file today; a shared backend on a server later implements the same two calls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
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
