"""OpenStack quota sets: the keys of `openstack quota set`, grouped by service, merged tier-then-tenant."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Model, QuotaInt


class ComputeQuota(Model):
    instances: QuotaInt | None = None
    cores: QuotaInt | None = None
    ram_mb: QuotaInt | None = Field(None, alias="ramMB")
    key_pairs: QuotaInt | None = None
    server_groups: QuotaInt | None = None


class BlockStorageQuota(Model):
    volumes: QuotaInt | None = None
    gigabytes: QuotaInt | None = None
    snapshots: QuotaInt | None = None
    backups: QuotaInt | None = None
    backup_gigabytes: QuotaInt | None = None


class NetworkQuota(Model):
    networks: QuotaInt | None = None
    subnets: QuotaInt | None = None
    ports: QuotaInt | None = None
    routers: QuotaInt | None = None
    floating_ips: QuotaInt | None = None
    security_groups: QuotaInt | None = None
    security_group_rules: QuotaInt | None = None


class QuotaSet(Model):
    """A tier or a tenant's overrides; an omitted key is inherited, never zero."""

    compute: ComputeQuota | None = None
    block_storage: BlockStorageQuota | None = None
    network: NetworkQuota | None = None


QuotaDict = dict[str, dict[str, int]]
"""`{"compute": {"cores": 64, ...}, "blockStorage": {...}, "network": {...}}` with only the keys that are set."""


def quota_dict(quota: QuotaSet | None) -> QuotaDict:
    """The keys actually set, camelCase, grouped by service."""
    if quota is None:
        return {}
    dumped: dict[str, Any] = quota.model_dump(by_alias=True, exclude_none=True)
    return {service: dict(values) for service, values in dumped.items() if values}


def merge_quota(tier: QuotaDict, own: QuotaDict) -> QuotaDict:
    """Tier values overridden key by key by the tenant's own."""
    merged = {service: dict(values) for service, values in tier.items()}
    for service, values in own.items():
        merged.setdefault(service, {}).update(values)
    return merged
