"""What was last applied per tenant: spec digest and allocated CIDRs, kept beside the engine state.

The record lets `plan` skip unchanged tenants without a single engine or cloud call (a no-op over hundreds
of tenants takes a second), and pins allocated CIDRs so a network never moves once it exists. It is
rewritten atomically (temp file + rename) under a lock, so concurrent runs never lose each other's entries.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from gcloud.localfs import file_lock

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


def read_record(state_dir: Path) -> AppliedRecord:
    """The record in a state folder (empty when there is none yet)."""
    path = state_dir / RECORD_NAME
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AppliedRecord({})
    return AppliedRecord({name: AppliedTenant(entry["digest"], dict(entry.get("cidrs", {})),
                                              entry.get("appliedAt", ""))
                          for name, entry in raw.get("tenants", {}).items()})


def update_record(state_dir: Path, applied: Mapping[str, AppliedTenant | None]) -> AppliedRecord:
    """Merge entries into the record (None removes a tenant) and write it atomically."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(state_dir / f"{RECORD_NAME}.lock"):
        current = dict(read_record(state_dir).tenants)
        for name, entry in applied.items():
            if entry is None:
                current.pop(name, None)
            else:
                current[name] = entry
        document = {"tenants": {name: {"digest": e.digest, "cidrs": e.cidrs, "appliedAt": e.applied_at}
                                for name, e in sorted(current.items())}}
        fd, temp = tempfile.mkstemp(dir=state_dir, prefix=f".{RECORD_NAME}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(state_dir / RECORD_NAME)
        return AppliedRecord(current)
