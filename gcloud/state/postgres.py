"""govcloud's state in the PostgreSQL database of Pulumi's DIY `postgres://` backend.

Pulumi keeps every stack, and every stack's lock, as a row of one table (`pulumi_state`, or the URL's `table=`):
key `<db>/.pulumi/stacks/<project>/<stack>.json`, lock `<db>/.pulumi/locks/<org>/<project>/<stack>/<uuid>.json`,
the data a JSON `{"data": base64}`. govcloud adds tables of its own beside it, so one database (one URL, one
backup) holds the whole fleet: the applied record (a row per tenant: two runners recording different tenants never
touch the same row), results (a row per kind and tenant) and the audit log (a row per line, appended under an advisory
lock). Schema changes are made under an advisory lock too: two first runs must not race on CREATE TABLE.

psycopg is imported only here, and only when a PostgreSQL backend is used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gcloud.errors import EnvironmentProblem
from gcloud.plan.record import AppliedRecord, AppliedTenant

from .backend import redact

if TYPE_CHECKING:
    import psycopg

DEFAULT_TABLE = "pulumi_state"
CONNECT_TIMEOUT_S = 5
LOCKS_PREFIX = ".pulumi/locks/"
"""Inside a key: Pulumi prefixes every key with the URL's path (the database name), `govcloud/.pulumi/...`."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS govcloud_applied (
    tenant TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    cidrs JSONB NOT NULL DEFAULT '{}',
    applied_at TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS govcloud_results (
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    data JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, tenant)
);
CREATE TABLE IF NOT EXISTS govcloud_audit (
    n BIGINT PRIMARY KEY,
    line BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS govcloud_audit_head (
    id INT PRIMARY KEY CHECK (id = 1),
    head BYTEA NOT NULL
);
"""
"""The audit log keeps its lines as bytes: their hashes chain over the exact bytes written."""


def advisory_key(name: str) -> int:
    """A stable 64-bit advisory-lock key for a name (the same on every machine)."""
    return int.from_bytes(hashlib.sha256(f"govcloud:{name}".encode()).digest()[:8], "big", signed=True)


SCHEMA_LOCK = advisory_key("schema")
AUDIT_LOCK = advisory_key("audit")


class BackendUnreachable(EnvironmentProblem):
    """The PostgreSQL server of the backend URL does not answer, or refuses us."""


def libpq_url(url: str) -> str:
    """The backend URL as libpq takes it: without Pulumi's own `table=` parameter."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "table"]
    if not any(k == "connect_timeout" for k, _ in query):
        query.append(("connect_timeout", str(CONNECT_TIMEOUT_S)))
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))


def pulumi_table(url: str) -> str:
    """The table Pulumi keeps stacks and locks in (an identifier from the operator's URL, quoted when used)."""
    return dict(parse_qsl(urlsplit(url).query)).get("table") or DEFAULT_TABLE


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection to the backend's database; BackendUnreachable (with what to check) when there is none."""
    import psycopg

    try:
        return psycopg.connect(libpq_url(url), autocommit=autocommit, application_name="govcloud")
    except psycopg.Error as err:
        reason = " ".join(str(err).split())[:200]
        raise BackendUnreachable(f"the state backend {redact(url)} does not answer: {reason}",
                                 hint="check the server is up and the URL, PGPASSWORD or ~/.pgpass "
                                      "(a local server without TLS needs ?sslmode=disable)") from None


_SCHEMA_READY: set[str] = set()


def ensure_schema(url: str) -> None:
    """Create govcloud's tables once per process (idempotent; serialised across runners)."""
    if url in _SCHEMA_READY:
        return
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(SCHEMA)
    _SCHEMA_READY.add(url)


@contextmanager
def transaction(url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """One transaction on the backend's database (committed on success, rolled back on error), schema ready."""
    ensure_schema(url)
    with connect(url) as conn:
        yield conn


class PostgresStateStore:
    """The record and results as rows of the backend's database."""

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self) -> str:
        return f"tables govcloud_* in {redact(self.url)}"

    # --- the applied record -----------------------------------------------------------------------------------

    def read_record(self) -> AppliedRecord:
        with transaction(self.url) as conn:
            return _record(conn)

    def update_record(self, applied: Mapping[str, AppliedTenant | None]) -> AppliedRecord:
        with transaction(self.url) as conn:
            gone = [name for name, entry in applied.items() if entry is None]
            if gone:
                conn.execute("DELETE FROM govcloud_applied WHERE tenant = ANY(%s)", (gone,))
            rows = [(name, e.digest, json.dumps(e.cidrs), e.applied_at) for name, e in sorted(applied.items())
                    if e is not None]
            if rows:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO govcloud_applied (tenant, digest, cidrs, applied_at) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (tenant) DO UPDATE SET digest = EXCLUDED.digest, cidrs = EXCLUDED.cidrs, "
                        "applied_at = EXCLUDED.applied_at, updated_at = now()", rows)
            return _record(conn)

    def replace_record(self, record: AppliedRecord) -> None:
        with transaction(self.url) as conn:
            conn.execute("DELETE FROM govcloud_applied")
        self.update_record(record.tenants)

    # --- results ----------------------------------------------------------------------------------------------

    def put_result(self, kind: str, tenant: str, document: Any) -> None:
        with transaction(self.url) as conn:
            conn.execute("INSERT INTO govcloud_results (kind, tenant, data) VALUES (%s, %s, %s) "
                         "ON CONFLICT (kind, tenant) DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
                         (kind, tenant, json.dumps(document, ensure_ascii=False)))

    def get_results(self, kind: str) -> dict[str, Any]:
        with transaction(self.url) as conn:
            rows = conn.execute("SELECT tenant, data FROM govcloud_results WHERE kind = %s ORDER BY tenant",
                                (kind,)).fetchall()
        return {str(tenant): data for tenant, data in rows}

    def all_results(self) -> dict[str, dict[str, Any]]:
        with transaction(self.url) as conn:
            rows = conn.execute("SELECT kind, tenant, data FROM govcloud_results ORDER BY kind, tenant").fetchall()
        found: dict[str, dict[str, Any]] = {}
        for kind, tenant, data in rows:
            found.setdefault(kind, {})[tenant] = data
        return found

    def replace_results(self, results: Mapping[str, Mapping[str, Any]]) -> None:
        with transaction(self.url) as conn:
            conn.execute("DELETE FROM govcloud_results")
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO govcloud_results (kind, tenant, data) VALUES (%s, %s, %s)",
                                   [(kind, tenant, json.dumps(doc, ensure_ascii=False))
                                    for kind, docs in sorted(results.items()) for tenant, doc in sorted(docs.items())])


def _record(conn: psycopg.Connection[tuple[Any, ...]]) -> AppliedRecord:
    rows = conn.execute("SELECT tenant, digest, cidrs, applied_at FROM govcloud_applied ORDER BY tenant").fetchall()
    return AppliedRecord({tenant: AppliedTenant(digest, dict(cidrs), applied_at)
                          for tenant, digest, cidrs, applied_at in rows})
