"""The policy file, format v1: what the security team reviews and signs, one or more policies per file.

```yaml
apiVersion: govcloud/v1
kind: PolicySet
policies:
  - id: GOV-NET-001
    title: No ingress from anywhere (0.0.0.0/0) at level 3 and above
    severity: critical            # critical | high | medium | low
    enforcement: mandatory        # mandatory (fails the check) | advisory (reported only)
    waivable: false               # optional, default true: false = no waiver (spec.exceptions) covers it
    appliesTo: {mlpsLevels: [3, 4], labels: {environment: prod}}   # optional; default every tenant
    field: spec.openstack.securityGroups    # where findings point (tenant file; platform.yaml for fleet rules)
    rule: tenant.spec.openstack == null || ...            # CEL, true = compliant
    message: "{tenant.metadata.name} opens ..."           # {CEL} placeholders, rendered for findings only
    rationale: why a reviewer should want this
    references: ["GB/T 22239-2019 8.1.3.2 a) ..."]
    examples: {pass: {tenant: {...}}, fail: [{tenant: {...}, platform: {...}, today: 2026-01-01}]}
```
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from gcloud.model.base import Labels, Model, NonEmpty

Severity = Literal["critical", "high", "medium", "low"]
Enforcement = Literal["mandatory", "advisory"]

POLICY_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-[0-9]{3}$")
FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*(\[[0-9]+\])?(\.[A-Za-z_][A-Za-z0-9_.-]*(\[[0-9]+\])?)*$")


def _policy_id(value: str) -> str:
    if not POLICY_ID.match(value):
        raise ValueError("must look like GOV-NET-003: upper-case words joined by '-', ending in three digits")
    return value


def _field_path(value: str) -> str:
    if not FIELD_PATH.match(value):
        raise ValueError("must be a field path such as spec.openstack.securityGroups or spec.access[0].role")
    return value


Text = Annotated[str, Field(strict=True, min_length=1)]


class AppliesTo(Model):
    """Which tenants a policy judges; every condition must hold. Empty = every tenant."""

    mlps_levels: list[Annotated[int, Field(strict=True, ge=1, le=4)]] = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)


class Example(Model):
    """A snippet merged over the reference tenant/platform (maps merge, lists replace); `today` pins the clock."""

    tenant: dict[str, Any] = Field(default_factory=dict)
    platform: dict[str, Any] = Field(default_factory=dict)
    tenants: list[dict[str, Any]] | None = None
    today: dt.date | None = None


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


class Examples(Model):
    pass_: Annotated[list[Example], Field(alias="pass", min_length=1)]
    fail: Annotated[list[Example], Field(min_length=1)]

    @field_validator("pass_", "fail", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_list(value)


class PolicySpec(Model):
    """One policy as written; `rule` and `message` are compiled by the loader."""

    id: Annotated[str, Field(strict=True), AfterValidator(_policy_id)]
    title: Text
    severity: Severity
    enforcement: Enforcement
    waivable: Annotated[bool, Field(strict=True)] = True
    """False for the rules whose breach no accepted risk can justify (a waiver of one is void and a finding)."""
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    field: Annotated[str, Field(strict=True), AfterValidator(_field_path)] = "metadata.name"
    rule: Text
    message: Text
    offenders: Text | None = None
    """Fleet rules only: CEL giving the names of the tenants a failure is about (a list of strings). Each gets
    the finding, so a run holds back those tenants and applies the others; without it, or when it names none,
    a failing fleet rule stops the whole run."""
    rationale: Text
    references: Annotated[list[NonEmpty], Field(min_length=1)]
    examples: Examples


class PolicyFile(Model):
    api_version: Literal["govcloud/v1"]
    kind: Literal["PolicySet"]
    policies: Annotated[list[PolicySpec], Field(min_length=1)]
