"""platform.yaml, format v1: what all tenants share (clouds, clusters, pools, tiers, roles, rules)."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StrictFloat, StrictInt, model_validator

from .base import DnsLabel, Flag, KubeQuota, Model, NonEmpty, PrivateNetwork
from .quota import QuotaDict, QuotaSet, quota_dict

Ratio = Annotated[StrictFloat | StrictInt, Field(gt=0)]


class PlatformMetadata(Model):
    name: DnsLabel
    display_name: NonEmpty


class Cloud(Model):
    name: NonEmpty
    external_networks: list[NonEmpty] = Field(default_factory=list)
    cleanup_cloud: NonEmpty | None = None
    """A clouds.yaml entry of a cloud admin, used for the one call Neutron reserves to an admin: deleting a destroyed
    project's `default` security group (gcloud.privileges). Unset: govcloud's own identity tries it."""
    capacity: dict[str, Annotated[StrictInt, Field(ge=0)]] = Field(default_factory=dict)
    overcommit: dict[str, Ratio] = Field(default_factory=dict)
    dedicated: Flag = False


class Cluster(Model):
    name: NonEmpty
    capacity: KubeQuota = Field(default_factory=dict)
    dedicated: Flag = False
    identity: NonEmpty | None = None
    """The username govcloud's kubeconfig context authenticates as (e.g. `system:serviceaccount:govcloud:govcloud`):
    the admission guardrails let only it change govcloud's objects. Unset: asked of the cluster at run time."""


class OpenStackPlatform(Model):
    clouds: list[Cloud] = Field(default_factory=list)
    domain: NonEmpty = "Default"
    default_quotas: QuotaSet | None = None


class KubernetesPlatform(Model):
    clusters: list[Cluster] = Field(default_factory=list)


class IpPool(Model):
    name: DnsLabel
    cidr: PrivateNetwork
    prefix_length: Annotated[int, Field(strict=True, ge=8, le=30)] = 24


class RoleMapping(Model):
    keystone: NonEmpty
    kubernetes: NonEmpty


class AutoApprove(Model):
    """What goes through without people (Adjutant's rule): decreases, and one tier step up now and then."""

    decreases: Flag = True
    tier_steps: Annotated[int, Field(strict=True, ge=0)] = 1
    window_days: Annotated[int, Field(strict=True, ge=0)] = 30
    """No auto-approved step up when the tenant had an approved change in this many days."""


class Approvers(Model):
    """Who may approve in each role; an empty list accepts any name (a platform without a roster yet)."""

    ops: list[NonEmpty] = Field(default_factory=list)
    security: list[NonEmpty] = Field(default_factory=list)


class Approvals(Model):
    """Quota request approval rules (`govcloud quota ...`)."""

    auto_approve: AutoApprove = Field(default_factory=AutoApprove)
    security_from_level: Annotated[int, Field(strict=True, ge=1, le=5)] = 3
    """From this MLPS level on every request, even an automatic one, needs a security approval."""
    parent_owner: Flag = True
    """A sub-unit's increase is also approved by its parent tenant's owner (spec.contacts.owner)."""
    approvers: Approvers = Field(default_factory=Approvers)


class WaiverApprover(Model):
    """A security officer (`name`) or a security office (`group`, with its `members`) who may sign a waiver.

    A waiver's `approvedBy` is accepted when it is a listed name, a listed group, or a member of one.
    """

    name: NonEmpty | None = None
    group: NonEmpty | None = None
    members: list[NonEmpty] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of(self) -> WaiverApprover:
        if (self.name is None) == (self.group is None):
            raise ValueError("an approver is either a person (name) or a security office (group, members)")
        if self.name is not None and self.members:
            raise ValueError("members belong to a group, not to a named person")
        return self


Days = Annotated[int, Field(strict=True, ge=0, le=3660)]


class WaiverMaxDays(Model):
    """The longest a waiver may run (from the day of the check to its `expires`), by the waived policy's severity."""

    critical: Days = 30
    high: Days = 90
    medium: Days = 180
    low: Days = 180


class WaiverRules(Model):
    """Who may approve waivers (spec.exceptions) and for how long. No approvers listed: no waiver is valid."""

    approvers: list[WaiverApprover] = Field(default_factory=list)
    max_days: WaiverMaxDays = Field(default_factory=WaiverMaxDays)

    @property
    def approver_names(self) -> frozenset[str]:
        """Every name an `approvedBy` may carry: the people, the offices and their members."""
        names = {entry.name or "" for entry in self.approvers} | {entry.group or "" for entry in self.approvers}
        names |= {member for entry in self.approvers for member in entry.members}
        return frozenset(names - {""})


class FreezeWindow(Model):
    """Days (inclusive, in `timezone`) on which apply changes nothing but emergencies (`--emergency --ticket`)."""

    start: dt.date
    end: dt.date
    reason: NonEmpty
    timezone: NonEmpty = "Asia/Shanghai"
    """Where the dates are days: a window of 1 October starts at midnight there, not in UTC."""

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r} (an IANA name, e.g. Asia/Shanghai)") from None
        return self


class EtcdAccess(Model):
    """How to read the cluster's etcd (client URL, and for TLS the CA and a client certificate): lets `doctor --mlps`
    see how Secrets are really stored, not only what the encryption config says."""

    endpoint: Annotated[str, Field(strict=True, pattern=r"^https?://")]
    ca: NonEmpty | None = None
    cert: NonEmpty | None = None
    key: NonEmpty | None = None


class KubernetesDeployment(Model):
    """Where one cluster's API server settings can be read: its static-pod manifest, or a file of its flags."""

    cluster: NonEmpty
    api_server_manifest: NonEmpty | None = None
    """A static-pod manifest, e.g. kubeadm's /etc/kubernetes/manifests/kube-apiserver.yaml."""
    api_server_args: NonEmpty | None = None
    """A file of the API server's flags (one a line, or one command line), e.g. what a systemd unit passes."""
    etcd: EtcdAccess | None = None

    @model_validator(mode="after")
    def _one_source(self) -> KubernetesDeployment:
        if (self.api_server_manifest is None) == (self.api_server_args is None):
            raise ValueError("name the API server's flags in one place: apiServerManifest or apiServerArgs")
        return self


class OpenStackDeployment(Model):
    """Where one cloud's service configuration files are (the ones the services themselves read)."""

    cloud: NonEmpty
    keystone_conf: NonEmpty | None = None
    cinder_conf: NonEmpty | None = None


class Deployment(Model):
    """The platform's own settings files, read by `govcloud doctor --mlps`; relative paths are from platform.yaml."""

    kubernetes: list[KubernetesDeployment] = Field(default_factory=list)
    openstack: list[OpenStackDeployment] = Field(default_factory=list)


class PlatformSpec(Model):
    mlps_level: Annotated[int, Field(strict=True, ge=1, le=4)]
    openstack: OpenStackPlatform = Field(default_factory=OpenStackPlatform)
    kubernetes: KubernetesPlatform = Field(default_factory=KubernetesPlatform)
    ip_pools: list[IpPool] = Field(default_factory=list)
    tiers: dict[str, QuotaSet] = Field(default_factory=dict)
    roles: dict[str, RoleMapping] = Field(default_factory=dict)
    allowed_registries: list[NonEmpty] = Field(default_factory=list)
    admin_networks: list[PrivateNetwork] = Field(default_factory=list)
    gateway_networks: list[PrivateNetwork] = Field(default_factory=list)
    """The platform's reviewed gateways (reverse proxies, WAF) that publish tenants' services to others."""
    official_email_domains: list[NonEmpty] = Field(default_factory=list)
    cloud_admin_roles: list[NonEmpty] = Field(default_factory=lambda: ["admin"])
    approvals: Approvals = Field(default_factory=Approvals)
    waivers: WaiverRules = Field(default_factory=WaiverRules)
    freeze_windows: list[FreezeWindow] = Field(default_factory=list)
    deployment: Deployment | None = None

    @model_validator(mode="after")
    def _deployment_names(self) -> PlatformSpec:
        """A deployment entry describes a cluster or cloud this file declares, not a typo of one."""
        if self.deployment is None:
            return self
        clusters = {cluster.name for cluster in self.kubernetes.clusters}
        clouds = {cloud.name for cloud in self.openstack.clouds}
        unknown = [f"cluster {k.cluster!r}" for k in self.deployment.kubernetes if k.cluster not in clusters]
        unknown += [f"cloud {o.cloud!r}" for o in self.deployment.openstack if o.cloud not in clouds]
        if unknown:
            raise ValueError(f"deployment names {', '.join(unknown)}, not in spec.kubernetes / spec.openstack")
        return self


class Platform(Model):
    api_version: Literal["govcloud/v1"]
    kind: Literal["Platform"]
    metadata: PlatformMetadata
    spec: PlatformSpec

    @cached_property
    def tier_quotas(self) -> dict[str, QuotaDict]:
        """Each tier's quota keys as plain dicts, computed once per platform."""
        return {name: quota_dict(tier) for name, tier in self.spec.tiers.items()}

    def cloud(self, name: str) -> Cloud | None:
        return next((cloud for cloud in self.spec.openstack.clouds if cloud.name == name), None)

    def cluster(self, name: str) -> Cluster | None:
        return next((cluster for cluster in self.spec.kubernetes.clusters if cluster.name == name), None)
