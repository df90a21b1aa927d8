"""The tenant file, format v1 (`apiVersion: govcloud/v1`, `kind: Tenant`): one department, one file."""

from __future__ import annotations

import datetime as dt
import re
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from .base import Address, Cidr, DnsLabel, Flag, KubeQuota, Labels, Model, NonEmpty, PrivateNetwork, TenantId
from .orgcode import org_code_problem
from .quota import QuotaSet

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PORTS = re.compile(r"^([0-9]{1,5})(?:-([0-9]{1,5}))?$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _ports(value: str | int) -> str:
    text = str(value)
    match = _PORTS.match(text)
    if not match or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a port or range such as 443 or 8000-8080")
    low, high = int(match.group(1)), int(match.group(2) or match.group(1))
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"{text} is outside 1-65535 or the range is reversed")
    return text


Email = Annotated[str, Field(strict=True), AfterValidator(_email)]
Ports = Annotated[str | int, AfterValidator(_ports)]
Duty = Literal["system", "security", "audit"]


class Metadata(Model):
    name: TenantId
    display_name: NonEmpty
    org_code: NonEmpty | None = None
    parent: TenantId | None = None
    labels: Labels = Field(default_factory=dict)

    @field_validator("org_code")
    @classmethod
    def _org_code(cls, value: str | None) -> str | None:
        problem = value and org_code_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class Person(Model):
    name: NonEmpty
    email: Email
    phone: NonEmpty | None = None


class Contacts(Model):
    owner: Person | None = None
    system_admin: Person | None = None
    security_admin: Person | None = None
    audit_admin: Person | None = None


class AccessGrant(Model):
    """An identity-provider group and the tenant role it gets (admin | member | reader in platform.yaml)."""

    group: DnsLabel
    role: NonEmpty
    duty: Duty | None = None
    """Which of the three administrative duties (三权分立) the group carries, if any; kept apart by policy
    (GOV-IAM-007) and checked live by `verify` (no person in two duty groups)."""


class Network(Model):
    name: DnsLabel
    cidr: PrivateNetwork | None = None
    dns_nameservers: list[Address] = Field(default_factory=list)


class Router(Model):
    external_network: NonEmpty
    snat: Flag = False


class SecurityRule(Model):
    direction: Literal["ingress", "egress"]
    protocol: Literal["tcp", "udp", "icmp", "any"]
    ports: Ports | None = None
    remote_cidr: Cidr = IPv4Network("0.0.0.0/0")


class SecurityGroup(Model):
    name: DnsLabel
    description: str = ""
    remove_default_egress: Flag = False
    rules: list[SecurityRule] = Field(default_factory=list)


class OpenStackSpec(Model):
    cloud: NonEmpty
    quota: QuotaSet | None = None
    networks: list[Network] = Field(default_factory=list)
    router: Router | None = None
    security_groups: list[SecurityGroup] = Field(default_factory=list)


class LimitRange(Model):
    default_cpu: Annotated[str, Field(strict=True)] | None = None
    default_memory: Annotated[str, Field(strict=True)] | None = None
    default_request_cpu: Annotated[str, Field(strict=True)] | None = None
    default_request_memory: Annotated[str, Field(strict=True)] | None = None


class Namespace(Model):
    name: DnsLabel
    quota: KubeQuota = Field(default_factory=dict)
    limit_range: LimitRange | None = None
    pod_security: Literal["privileged", "baseline", "restricted"] = "restricted"
    image_registries: list[NonEmpty] = Field(default_factory=list)


class KubernetesSpec(Model):
    cluster: NonEmpty
    namespaces: list[Namespace] = Field(default_factory=list)
    quota: KubeQuota = Field(default_factory=dict)
    network_isolation: Literal["tenant", "none"] = "tenant"


class Interconnect(Model):
    to: TenantId
    ports: list[Ports] = Field(default_factory=list)
    protocol: Literal["tcp", "udp"] = "tcp"
    ticket: NonEmpty | None = None
    expires: dt.date | None = None


class AcceptedInterconnect(Model):
    """An inbound flow this tenant agrees to, under its own ticket: the target's half of an interconnect.

    A flow opens only when both files state it: `from`'s `spec.interconnects` names this tenant with the same
    protocol and ports (GOV-NET-016/017 report either half alone). While it is in effect, the source's subnets
    are admitted on those ports in `securityGroups` (default: every group of this tenant) and by a NetworkPolicy.
    """

    from_: TenantId = Field(alias="from")
    ports: Annotated[list[Ports], Field(min_length=1)]
    protocol: Literal["tcp", "udp"] = "tcp"
    ticket: NonEmpty
    expires: dt.date | None = None
    security_groups: list[DnsLabel] = Field(default_factory=list)


class Lifecycle(Model):
    prevent_deletion: Flag = False
    frozen: Flag = False


class WaiverEntry(Model):
    """A security-approved exception to one policy; void after it expires."""

    policy: NonEmpty
    reason: NonEmpty
    ticket: NonEmpty
    approved_by: NonEmpty
    expires: dt.date


class TenantSpec(Model):
    mlps_level: Annotated[int, Field(strict=True, ge=1, le=4)]
    tier: NonEmpty | None = None
    contacts: Contacts = Field(default_factory=Contacts)
    access: list[AccessGrant] = Field(default_factory=list)
    openstack: OpenStackSpec | None = None
    kubernetes: KubernetesSpec | None = None
    interconnects: list[Interconnect] = Field(default_factory=list)
    accepted_interconnects: list[AcceptedInterconnect] = Field(default_factory=list)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    exceptions: list[WaiverEntry] = Field(default_factory=list)


class Tenant(Model):
    api_version: Literal["govcloud/v1"]
    kind: Literal["Tenant"]
    metadata: Metadata
    spec: TenantSpec
