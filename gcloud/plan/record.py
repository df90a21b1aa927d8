"""What was last applied per tenant: spec digest and allocated CIDRs, kept beside the engine state.

The record lets `plan` skip unchanged tenants without a single engine or cloud call (a no-op over hundreds
of tenants takes a second), and pins allocated CIDRs so a network never moves once it exists. It lives where the
stacks live (`gcloud.state`): a file in the state folder, rewritten atomically under a lock, or rows of a
PostgreSQL table when the backend is `postgres://`, so CI runners on several machines share one record. Either
way concurrent runs never lose each other's entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

RECORD_NAME = "govcloud-applied.json"


@dataclass(frozen=True)
class AppliedTenant:
    """One tenant as last applied successfully."""

    digest: str
    cidrs: dict[str, str] = field(default_factory=dict)
    applied_at: str = ""


@dataclass(frozen=True)
class AppliedRecord:
    """Every tenant's last successful apply."""

    tenants: dict[str, AppliedTenant]

    def pinned_cidrs(self) -> dict[tuple[str, str], IPv4Network]:
        return {(tenant, network): IPv4Network(cidr) for tenant, entry in self.tenants.items()
                for network, cidr in entry.cidrs.items()}


def record_document(record: AppliedRecord) -> dict[str, Any]:
    """The record as JSON (the file's format, and the backup bundle's)."""
    return {"tenants": {name: {"digest": e.digest, "cidrs": e.cidrs, "appliedAt": e.applied_at}
                        for name, e in sorted(record.tenants.items())}}


def record_from_document(raw: Mapping[str, Any]) -> AppliedRecord:
    return AppliedRecord({name: AppliedTenant(entry["digest"], dict(entry.get("cidrs", {})),
                                              entry.get("appliedAt", ""))
                          for name, entry in raw.get("tenants", {}).items()})


def read_record(state_dir: Path, *, backend_url: str | None = None) -> AppliedRecord:
    """The record beside the stacks of this state folder (empty when there is none yet).

    `backend_url` None: the engine's (PULUMI_BACKEND_URL, else the folder itself).
    """
    from gcloud.state.backend import open_store

    return open_store(state_dir, backend_url).read_record()


def update_record(state_dir: Path, applied: Mapping[str, AppliedTenant | None], *,
                  backend_url: str | None = None) -> AppliedRecord:
    """Merge entries into the record (None removes a tenant), atomically; returns the record as now stored."""
    from gcloud.state.backend import open_store

    return open_store(state_dir, backend_url).update_record(applied)
