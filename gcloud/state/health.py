"""`govcloud doctor`'s view of a shared backend: which one, whether it answers, whether locking works.

For a file backend the doctor's own state check says it all (a folder, writable or not); these checks are for
`postgres://`: a runner that cannot reach the server, or cannot take and see a lock, must learn it before a run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from gcloud.doctor import Check, Health
from gcloud.errors import GovcloudError

from .backend import is_postgres, redact


def backend_checks(project_dir: Path | None, env: Mapping[str, str]) -> tuple[Check, ...]:
    """The shared backend's checks ((), for a file backend); never raises for what it finds."""
    from gcloud.engine.settings import state_location

    url = state_location(project_dir, env)[1]
    if not is_postgres(url):
        return ()
    answer = _answers(url)
    if answer.status is not Health.OK:
        return (answer, Check("state lock", Health.MISSING, "not checked: the backend does not answer",
                              answer.hint, required=True))
    return answer, _lock_check(url), _stale_check(url)


def _answers(url: str) -> Check:
    from .postgres import ensure_schema, transaction

    started = time.monotonic()
    try:
        ensure_schema(url)
        with transaction(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            tenants = conn.execute("SELECT count(*) FROM govcloud_applied").fetchone()
    except GovcloudError as err:
        return Check("shared state", Health.MISSING, getattr(err, "message", str(err)), getattr(err, "hint", ""),
                     required=True)
    except Exception as err:  # a refusal of the server (permissions, read-only replica) is a finding
        return Check("shared state", Health.MISSING, f"{redact(url)}: {' '.join(str(err).split())[:200]}",
                     "the URL's role needs CREATE on the database (govcloud keeps its tables beside Pulumi's)",
                     required=True)
    took = (time.monotonic() - started) * 1000
    return Check("shared state", Health.OK,
                 f"PostgreSQL {version[0] if version else '?'} at {redact(url)} answers ({took:.0f} ms); "
                 f"{tenants[0] if tenants else 0} tenant(s) recorded; record, results and audit log kept there",
                 required=True)


def _lock_check(url: str) -> Check:
    """Hold a lock on one connection and see that a second one cannot take it; and that a Pulumi-style lock row
    can be written and removed (what every engine run does)."""
    from psycopg import sql

    from .postgres import LOCKS_PREFIX, advisory_key, connect, pulumi_table

    probe = advisory_key(f"doctor-{uuid.uuid4()}")
    try:
        with connect(url, autocommit=True) as first, connect(url, autocommit=True) as second:
            first.execute("SELECT pg_advisory_lock(%s)", (probe,))
            blocked = second.execute("SELECT pg_try_advisory_lock(%s)", (probe,)).fetchone()
            first.execute("SELECT pg_advisory_unlock(%s)", (probe,))
            free = second.execute("SELECT pg_try_advisory_lock(%s)", (probe,)).fetchone()
            second.execute("SELECT pg_advisory_unlock(%s)", (probe,))
            table = sql.Identifier(pulumi_table(url))
            key = f"doctor/{LOCKS_PREFIX}doctor/govcloud/.probe/{uuid.uuid4()}.json"
            exists = first.execute("SELECT to_regclass(%s) IS NOT NULL", (pulumi_table(url),)).fetchone()
            if exists and exists[0]:
                first.execute(sql.SQL("INSERT INTO {} (key, data) VALUES (%s, %s)").format(table),
                              (key, '{"data": ""}'))
                first.execute(sql.SQL("DELETE FROM {} WHERE key = %s").format(table), (key,))
    except Exception as err:
        return Check("state lock", Health.MISSING, f"cannot take a lock: {' '.join(str(err).split())[:200]}",
                     "the URL's role needs to write the Pulumi table", required=True)
    if not blocked or blocked[0] or not free or not free[0]:
        return Check("state lock", Health.MISSING, "a lock held by one connection was not seen by another",
                     "point every runner at the primary server, not a pooler in transaction mode or a replica",
                     required=True)
    return Check("state lock", Health.OK, "a lock held by one session blocks another; lock rows can be written "
                 "and removed (two runners never update one tenant at once)", required=True)


def _stale_check(url: str) -> Check:
    from .locks import list_locks

    try:
        locks = list_locks(url)
    except Exception as err:
        return Check("stack locks", Health.WARN, f"cannot list: {' '.join(str(err).split())[:200]}")
    if not locks:
        return Check("stack locks", Health.OK, "no stack is locked")
    gone = [lock for lock in locks if lock.owner_gone]
    live = [lock for lock in locks if not lock.owner_gone]
    parts = [f"{lock.stack} by {lock.holder}" for lock in live]
    if gone:
        return Check("stack locks", Health.WARN,
                     f"{len(gone)} lock(s) left by runs that ended: {', '.join(lock.stack for lock in gone)}"
                     + (f"; in progress: {'; '.join(parts)}" if parts else ""),
                     "govcloud state unlock --stale clears them (their owner is gone)")
    return Check("stack locks", Health.OK, f"in progress (or held by another host): {'; '.join(parts)}",
                 f"if such a run is dead: {live[0].clear_command}")
