"""A quota request file (`requests/<id>.yaml`): what was asked, by whom and why, and what was decided.

The file is reviewed like a tenant file (it lives in the repository beside `tenants/`), so it is plain YAML
with the asked and the decided both kept: a request is never deleted, it changes state.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, StrictInt

from gcloud.errors import InputError
from gcloud.localfs import display_path
from gcloud.model.base import Model, NonEmpty, TenantId
from gcloud.model.parse import parse_file

QuotaValue = StrictInt | str
"""An OpenStack count (int) or a Kubernetes quantity (str, e.g. "64Gi")."""


class State(StrEnum):
    OPEN = "open"
    """Waiting for approvals."""
    APPROVED = "approved"
    """Written into the tenant file; an ordinary `apply` provisions it."""
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    """Checked and refused when asked (below usage, over capacity, over the parent's allocation, policies)."""


CLOSED = frozenset({State.APPROVED, State.REJECTED, State.WITHDRAWN, State.REFUSED})


class Role(StrEnum):
    OPS = "ops"
    SECURITY = "security"
    PARENT = "parent"
    """The owner of the parent tenant (spec.contacts.owner), for a sub-unit's request."""


class Kind(StrEnum):
    """How the rules classed the request; decides which approvals it needs."""

    DECREASE = "decrease"
    TIER_STEP = "tier-step"
    REVIEW = "review"


class QuotaChange(Model):
    """One quota key: its value now (effective, tier included; None when unset) and the value asked."""

    key: NonEmpty
    current: QuotaValue | None = None
    requested: QuotaValue


class Approval(Model):
    approver: NonEmpty
    role: Role
    at: dt.datetime


class Usage(Model):
    """Live usage of the changed keys where a cloud answered; `unknown` says which did not and why."""

    values: dict[str, QuotaValue] = Field(default_factory=dict)
    unknown: dict[str, str] = Field(default_factory=dict)
    """Cloud or cluster -> why its usage could not be read."""


class Decision(Model):
    outcome: Literal["approved", "rejected", "withdrawn", "refused"]
    by: list[NonEmpty] = Field(default_factory=list)
    at: dt.datetime
    reason: str = ""
    automatic: bool = False
    digest_before: str | None = None
    digest_after: str | None = None
    """Effective spec digests of the tenant before and after the change (approved requests only)."""


class RequestSpec(Model):
    tenant: TenantId
    requester: NonEmpty
    reason: NonEmpty
    ticket: NonEmpty | None = None
    changes: list[QuotaChange]


class RequestStatus(Model):
    state: State
    kind: Kind
    note: str = ""
    """Why the rules classed it so (e.g. "2 tier steps up")."""
    required: list[Role] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    parent_needs: list[QuotaChange] = Field(default_factory=list)
    """For a sub-unit: the increase of the parent's allocation that would make the request fit."""
    problems: list[str] = Field(default_factory=list)
    """Why a refused request was refused."""
    decision: Decision | None = None


class RequestMetadata(Model):
    id: Annotated[str, Field(strict=True, pattern=r"^[a-z0-9-]+$")]
    created: dt.datetime


class QuotaRequest(Model):
    api_version: Literal["govcloud/v1"]
    kind: Literal["QuotaRequest"]
    metadata: RequestMetadata
    spec: RequestSpec
    status: RequestStatus

    @property
    def id(self) -> str:
        return self.metadata.id

    @property
    def tenant(self) -> str:
        return self.spec.tenant

    @property
    def is_open(self) -> bool:
        return self.status.state is State.OPEN


def request_path(folder: Path, request_id: str) -> Path:
    return folder / f"{request_id}.yaml"


def load_request(path: Path) -> QuotaRequest:
    request, _ = parse_file(path, QuotaRequest, display_path(path))
    return request


def load_requests(folder: Path) -> list[QuotaRequest]:
    """Every request in the folder, oldest first (an absent folder holds none)."""
    if not folder.is_dir():
        return []
    requests = [load_request(path) for path in sorted(folder.glob("*.yaml"))]
    return sorted(requests, key=lambda request: (request.metadata.created, request.id))


def find_request(folder: Path, request_id: str) -> QuotaRequest:
    path = request_path(folder, request_id)
    if not path.is_file():
        known = ", ".join(request.id for request in load_requests(folder)[-5:]) or "none"
        raise InputError.single(display_path(path), f"no quota request {request_id!r}", code="unknown-request",
                                hint=f"latest: {known} (govcloud quota list)")
    return load_request(path)


def save_request(folder: Path, request: QuotaRequest) -> Path:
    """Write the request file (header comment, then the document; Chinese kept as is)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = request_path(folder, request.id)
    data = request.model_dump(by_alias=True, mode="json", exclude_none=True)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110)
    header = f"# Quota request {request.id} of tenant {request.tenant}; written by govcloud quota, reviewed as code.\n"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(header + text, encoding="utf-8")
    tmp.replace(path)
    return path


def next_id(folder: Path, tenant: str, day: dt.date) -> str:
    """`<tenant>-<yyyymmdd>-<n>`: readable, sorted by date, unique within the folder."""
    stem = f"{tenant}-{day:%Y%m%d}-"
    taken = {path.stem for path in folder.glob(f"{stem}*.yaml")} if folder.is_dir() else set()
    number = 1
    while f"{stem}{number}" in taken:
        number += 1
    return f"{stem}{number}"
