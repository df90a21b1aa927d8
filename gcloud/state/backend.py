"""Which backend holds the fleet's state, and the store govcloud keeps its own files in beside it.

The backend URL is the engine's (`state_location`: PULUMI_BACKEND_URL, else the state folder's file:// URL).
A `postgres://` URL (Pulumi's DIY PostgreSQL backend) puts govcloud's record, results and audit log in tables of
the same database; anything else keeps them as files in the state folder, as before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from gcloud.plan.record import AppliedRecord, AppliedTenant

POSTGRES_SCHEMES = ("postgres",)
"""What Pulumi's DIY backend registers (`postgresql://` is not one of its URLs)."""


def backend_url(state_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The engine's backend URL for this state folder (the environment's PULUMI_BACKEND_URL wins, as in Pulumi)."""
    from gcloud.engine.settings import state_location

    return state_location(environ=os.environ if environ is None else environ, state_dir=state_dir)[1]


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in POSTGRES_SCHEMES


def redact(url: str) -> str:
    """The URL as it may be shown: a password in it becomes `****` (PGPASSWORD or a passfile is the better way)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:****@{host}"))


class StateStore(Protocol):
    """govcloud's own state beside the stacks: the applied record and the results of checks."""

    def describe(self) -> str: ...

    def read_record(self) -> AppliedRecord: ...

    def update_record(self, applied: Mapping[str, AppliedTenant | None]) -> AppliedRecord: ...

    def replace_record(self, record: AppliedRecord) -> None: ...

    def put_result(self, kind: str, tenant: str, document: Any) -> None: ...

    def get_results(self, kind: str) -> dict[str, Any]: ...

    def all_results(self) -> dict[str, dict[str, Any]]: ...


def open_store(state_dir: Path | None = None, url: str | None = None,
               environ: Mapping[str, str] | None = None) -> StateStore:
    """The store for this state folder: PostgreSQL when the backend is `postgres://`, else the folder itself."""
    from gcloud.engine.settings import state_location

    env = os.environ if environ is None else environ
    folder, found = state_location(environ=env, state_dir=state_dir)
    chosen = url or found
    if is_postgres(chosen):
        from .postgres import PostgresStateStore

        return PostgresStateStore(chosen)
    from .local import LocalStateStore

    return LocalStateStore(folder)


def put_result(kind: str, tenant: str, document: Any, *, state_dir: Path | None = None,
               environ: Mapping[str, str] | None = None) -> None:
    """Keep one tenant's latest result of a kind (e.g. `drift`), JSON-able, where every runner sees it."""
    open_store(state_dir, environ=environ).put_result(kind, tenant, document)


def get_results(kind: str, *, state_dir: Path | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every tenant's latest result of a kind, by tenant."""
    return open_store(state_dir, environ=environ).get_results(kind)
