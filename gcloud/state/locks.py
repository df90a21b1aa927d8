"""Stack locks in the shared PostgreSQL backend: which runs hold them, and clearing the ones whose owner is gone.

Pulumi's DIY backend locks a stack by writing a row `<db>/.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` (the
URL's path is the key prefix) holding
the engine's pid, user, host and time, then checking that no other lock row exists for the stack (two runs that
race both see each other and both stop: a stack is never updated by two runs at once). A run that is killed
leaves its row behind, and every later run on that stack stops with "the stack is currently locked".

A lock is cleared here only when its owner is provably gone: it was taken on this host and its pid is no longer
a running `pulumi` process. A lock of another host cannot be judged from here: it is reported with the command
that clears it (`govcloud state unlock TENANT --force`), for an operator who has checked that run is dead.
A row is deleted only if it still holds what was read (`data` compared in the DELETE), so a lock taken again
meanwhile is never removed.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .postgres import LOCKS_PREFIX, connect, pulumi_table

UNLOCK_COMMAND = "govcloud state unlock {stack} --force"


@dataclass(frozen=True)
class StackLock:
    """One lock row: who holds the stack, and whether that owner is gone."""

    stack: str
    key: str
    pid: int
    username: str
    hostname: str
    timestamp: str
    owner_gone: bool
    """Taken on this host by a process that is no longer running: safe to clear."""

    @property
    def holder(self) -> str:
        return f"{self.username}@{self.hostname} (pid {self.pid}) since {self.timestamp}"

    @property
    def clear_command(self) -> str:
        return UNLOCK_COMMAND.format(stack=self.stack)


@dataclass(frozen=True)
class LockReport:
    """What a clearing pass did: locks removed, and locks left (held by live runs, or by other hosts)."""

    cleared: tuple[StackLock, ...]
    kept: tuple[StackLock, ...]


def pid_running_pulumi(pid: int) -> bool:
    """Whether `pid` is a live process of this host that may be the engine (a reused pid of another program
    is not: its `comm` names that program)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        comm = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # cannot tell: count it as alive
    # a killed engine whose parent died too stays a zombie (Z) until init reaps it, and some container inits
    # never do: a zombie or dead (X) process holds nothing
    return state not in ("Z", "X") and "pulumi" in comm


def owner_gone(hostname: str, pid: int, *, this_host: str | None = None,
               running: Callable[[int], bool] = pid_running_pulumi) -> bool:
    """Same host and the pid is not a running engine: the run that took the lock has ended without releasing it."""
    return hostname == (this_host or socket.gethostname()) and not running(pid)


def stack_of(key: str) -> str:
    """The stack a lock row belongs to: `<db>/.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` -> `<stack>`."""
    parts = key.partition(LOCKS_PREFIX)[2].split("/")
    return parts[-2] if len(parts) >= 2 else key


def _parse(key: str, data: Any, this_host: str, running: Callable[[int], bool]) -> StackLock:
    stack = stack_of(key)
    try:
        raw = json.loads(base64.b64decode(data["data"]))
        pid, user, host, when = int(raw["pid"]), str(raw["username"]), str(raw["hostname"]), str(raw["timestamp"])
    except (KeyError, TypeError, ValueError):
        return StackLock(stack, key, 0, "?", "?", "?", owner_gone=False)  # unreadable: never cleared on a guess
    return StackLock(stack, key, pid, user, host, when, owner_gone(host, pid, this_host=this_host, running=running))


def _rows(url: str, stacks: Iterable[str] | None) -> list[tuple[str, Any, str]]:
    from psycopg import sql

    query = sql.SQL("SELECT key, data, data::text FROM {} WHERE key LIKE %s ORDER BY key").format(
        sql.Identifier(pulumi_table(url)))
    wanted = set(stacks) if stacks is not None else None
    with connect(url) as conn:
        if not _table_exists(conn, pulumi_table(url)):
            return []
        rows = conn.execute(query, ("%" + LOCKS_PREFIX + "%",)).fetchall()
    return [(key, data, text) for key, data, text in rows if wanted is None or stack_of(key) in wanted]


def _table_exists(conn: Any, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0] is True


def list_locks(url: str, stacks: Iterable[str] | None = None, *, this_host: str | None = None,
               running: Callable[[int], bool] = pid_running_pulumi) -> list[StackLock]:
    """Every lock in the backend (of the given stacks only, when named)."""
    host = this_host or socket.gethostname()
    return [_parse(key, data, host, running) for key, data, _ in _rows(url, stacks)]


def _delete(url: str, locks: Iterable[tuple[StackLock, str]]) -> list[StackLock]:
    from psycopg import sql

    statement = sql.SQL("DELETE FROM {} WHERE key = %s AND data::text = %s").format(
        sql.Identifier(pulumi_table(url)))
    removed = []
    with connect(url) as conn:
        for lock, text in locks:
            if conn.execute(statement, (lock.key, text)).rowcount:
                removed.append(lock)
    return removed


def clear_stale(url: str, stacks: Iterable[str] | None = None, *, this_host: str | None = None,
                running: Callable[[int], bool] = pid_running_pulumi) -> LockReport:
    """Remove the locks whose owner is gone (same host, engine not running); keep and report the others.

    Call it before a run on the stacks it will touch: a runner killed earlier then does not block the next one.
    """
    host = this_host or socket.gethostname()
    found = [(_parse(key, data, host, running), text) for key, data, text in _rows(url, stacks)]
    cleared = _delete(url, [(lock, text) for lock, text in found if lock.owner_gone])
    gone = {lock.key for lock in cleared}
    return LockReport(tuple(cleared), tuple(lock for lock, _ in found if lock.key not in gone))


def unlock(url: str, stacks: Iterable[str], *, force: bool = False, this_host: str | None = None,
           running: Callable[[int], bool] = pid_running_pulumi) -> LockReport:
    """Clear the named stacks' locks: those whose owner is gone, or every one with `force` (the operator has
    made sure the run holding it is dead: a live run would then race the next one)."""
    if not force:
        return clear_stale(url, stacks, this_host=this_host, running=running)
    host = this_host or socket.gethostname()
    found = [(_parse(key, data, host, running), text) for key, data, text in _rows(url, list(stacks))]
    cleared = _delete(url, found)
    gone = {lock.key for lock in cleared}
    return LockReport(tuple(cleared), tuple(lock for lock, _ in found if lock.key not in gone))
