"""Pure: a tenant's effective spec -> the arguments of its OpenStack resources.

No Pulumi and no cloud client here, so every naming and mapping rule is unit-tested with plain dicts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

from gcloud.providers.conventions import (
    QUOTA_SERVICES,
    keystone_domain,
    openstack_quota_args,
    project_tags,
    resource_name,
)


@dataclass(frozen=True)
class ProjectArgs:
    name: str
    domain: str
    description: str
    tags: list[str]
    cleanup_cloud: str | None = None
    """platform.yaml's admin entry for the one call Neutron reserves to an admin (gcloud.privileges)."""


@dataclass(frozen=True)
class QuotaArgs:
    service: str
    quota: dict[str, int]
    reset: dict[str, int]


@dataclass(frozen=True)
class NetworkArgs:
    key: str
    """The network's name in the tenant file (`app`); the cloud name is prefixed (`czj-app`)."""
    name: str
    subnet: dict[str, Any]


@dataclass(frozen=True)
class RouterArgs:
    name: str
    external_network: str
    snat: bool


@dataclass(frozen=True)
class RuleArgs:
    key: str
    """A digest of the rule's content: reordering rules in the file replaces nothing."""
    args: dict[str, Any]


@dataclass(frozen=True)
class SecurityGroupArgs:
    key: str
    name: str
    description: str
    remove_default_egress: bool
    rules: list[RuleArgs] = field(default_factory=list)


def tenant_id(effective: Mapping[str, Any]) -> str:
    return str(effective["metadata"]["name"])


def openstack_spec(effective: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec: Mapping[str, Any] | None = effective["spec"].get("openstack")
    return spec


def project_args(effective: Mapping[str, Any], platform: Mapping[str, Any]) -> ProjectArgs:
    tenant = tenant_id(effective)
    cloud = str((openstack_spec(effective) or {}).get("cloud", ""))
    clouds = (platform["spec"].get("openstack") or {}).get("clouds") or []
    entry: Mapping[str, Any] = next((c for c in clouds if c.get("name") == cloud), {})
    return ProjectArgs(name=tenant, domain=keystone_domain(platform),
                       description=str(effective["metadata"]["displayName"]),
                       tags=project_tags(tenant, str(effective["digest"])), cleanup_cloud=entry.get("cleanupCloud"))


def _set_keys(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (values or {}).items() if value is not None}


def quota_args(effective: Mapping[str, Any], platform: Mapping[str, Any]) -> list[QuotaArgs]:
    """One quota set per service the effective spec sets keys for; reset = platform.yaml defaultQuotas."""
    spec = openstack_spec(effective) or {}
    quota: Mapping[str, Any] = spec.get("quota") or {}
    defaults: Mapping[str, Any] = ((platform["spec"].get("openstack") or {}).get("defaultQuotas") or {})
    result = []
    for service in QUOTA_SERVICES:
        values = _set_keys(quota.get(service))
        if values:
            result.append(QuotaArgs(service, openstack_quota_args(service, values),
                                    openstack_quota_args(service, _set_keys(defaults.get(service)))))
    return result


def network_args(effective: Mapping[str, Any]) -> list[NetworkArgs]:
    """Networks with their one IPv4 subnet; the gateway is the CIDR's first host, written down explicitly."""
    tenant = tenant_id(effective)
    result = []
    for network in (openstack_spec(effective) or {}).get("networks") or []:
        cidr = IPv4Network(network["cidr"])
        name = resource_name(tenant, network["name"])
        result.append(NetworkArgs(network["name"], name, {
            "name": name, "cidr": str(cidr), "gatewayIp": str(next(cidr.hosts())),
            "dnsNameservers": list(network.get("dnsNameservers") or []), "enableDhcp": True}))
    return result


def router_args(effective: Mapping[str, Any]) -> RouterArgs | None:
    router = (openstack_spec(effective) or {}).get("router")
    if not router:
        return None
    return RouterArgs(resource_name(tenant_id(effective), "router"), str(router["externalNetwork"]),
                      bool(router.get("snat", False)))


def port_range(ports: str | int | None) -> tuple[int, int] | None:
    """"443" -> (443, 443); "8000-8080" -> (8000, 8080); None -> None (all ports)."""
    if ports is None or ports == "":
        return None
    low, _, high = str(ports).partition("-")
    return int(low), int(high or low)


def rule_args(rule: Mapping[str, Any]) -> RuleArgs:
    """A tenant-file rule as Neutron wants it; protocol `any` = no protocol, no ports."""
    protocol = "" if rule["protocol"] == "any" else str(rule["protocol"])
    args: dict[str, Any] = {"direction": rule["direction"], "ethertype": "IPv4", "protocol": protocol,
                            "remoteCidr": str(rule.get("remoteCidr") or "0.0.0.0/0"), "description": ""}
    ports = port_range(rule.get("ports")) if protocol in ("tcp", "udp") else None
    if ports is not None:
        args["portMin"], args["portMax"] = ports
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"))
    return RuleArgs(hashlib.sha256(canonical.encode()).hexdigest()[:10], args)


def security_group_args(effective: Mapping[str, Any]) -> list[SecurityGroupArgs]:
    tenant = tenant_id(effective)
    result = []
    for group in (openstack_spec(effective) or {}).get("securityGroups") or []:
        rules: dict[str, RuleArgs] = {}
        for rule in group.get("rules") or []:
            converted = rule_args(rule)
            rules.setdefault(converted.key, converted)  # Neutron refuses duplicate rules: keep one
        result.append(SecurityGroupArgs(group["name"], resource_name(tenant, group["name"]),
                                        str(group.get("description") or ""),
                                        bool(group.get("removeDefaultEgress", False)), list(rules.values())))
    return result
