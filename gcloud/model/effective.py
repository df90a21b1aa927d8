"""The effective spec of a tenant: tier values overridden by its own keys, CIDRs allocated, a digest.

This JSON-like dict is what policies evaluate and what the Pulumi program provisions; its digest is how plan
tells a changed tenant from an unchanged one without calling any cloud.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Network
from typing import Any

from .platform import Platform
from .quota import QuotaDict, merge_quota, quota_dict
from .tenant import Tenant


def effective_spec(tenant: Tenant, platform: Platform, cidrs: Mapping[str, IPv4Network],
                   inbound: list[dict[str, Any]] | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """The tenant as provisioned: camelCase keys as in the file, every quota key resolved, every CIDR set.

    `inboundInterconnects` lists other tenants' approved flows into this one (`{from, ports, protocol,
    expires}`), so the receiving side opens too; being in the digest, a new flow re-applies both ends.
    Interconnects (both sides) and waivers carry `active` as of `today`: the digest changes on the day one
    expires, so the next plain apply closes the flow, and a tenant whose waiver ran out is checked again.
    """
    day = today or dt.date.today()
    data: dict[str, Any] = tenant.model_dump(by_alias=True, mode="json")
    data["inboundInterconnects"] = [dict(link) for link in inbound or []]
    stamp_active([*data["spec"]["interconnects"], *data["inboundInterconnects"], *data["spec"]["exceptions"]], day)
    openstack = data["spec"]["openstack"]
    if openstack is not None and tenant.spec.openstack is not None:
        openstack["quota"] = effective_quota(tenant, platform)
        for network in openstack["networks"]:
            network["cidr"] = str(cidrs.get(network["name"], network["cidr"]))
    data["digest"] = spec_digest(data)
    return data


def stamp_active(items: Iterable[dict[str, Any]], today: dt.date) -> None:
    """`active`: no expiry, or the expiry day not yet past (an item holds through the day it expires)."""
    for item in items:
        expires = item.get("expires")
        item["active"] = not expires or dt.date.fromisoformat(str(expires)) >= today


def inbound_interconnects(tenants: list[Tenant]) -> dict[str, list[dict[str, Any]]]:
    """For each tenant, the interconnects other tenants declare towards it."""
    inbound: dict[str, list[dict[str, Any]]] = {}
    for tenant in tenants:
        for link in tenant.spec.interconnects:
            inbound.setdefault(link.to, []).append({
                "from": tenant.metadata.name, "ports": [str(port) for port in link.ports], "protocol": link.protocol,
                "ticket": link.ticket, "expires": link.expires.isoformat() if link.expires else None})
    return inbound


def effective_quota(tenant: Tenant, platform: Platform) -> QuotaDict:
    """The tenant's OpenStack quota: its tier's keys overridden by its own; absent keys stay absent."""
    if tenant.spec.openstack is None:
        return {}
    tier = platform.tier_quotas.get(tenant.spec.tier or "", {})
    return merge_quota(tier, quota_dict(tenant.spec.openstack.quota))


def spec_digest(data: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of everything but the digest itself."""
    body = {key: value for key, value in data.items() if key != "digest"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
