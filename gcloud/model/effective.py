"""The effective spec of a tenant: tier values overridden by its own keys, CIDRs allocated, a digest.

This JSON-like dict is what policies evaluate and what the Pulumi program provisions; its digest is how plan
tells a changed tenant from an unchanged one without calling any cloud.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from ipaddress import IPv4Network
from typing import Any

from .platform import Platform
from .quota import QuotaDict, merge_quota, quota_dict
from .tenant import Tenant

Sides = dict[str, list[dict[str, Any]]]
"""One tenant's part in the fleet's interconnects (`interconnect_sides`): `inbound` (the agreed flows into it),
`outbound` (per entry of its `spec.interconnects`: the keys OUTBOUND_KEYS) and `accepted` (per entry of its
`spec.acceptedInterconnects`: the keys ACCEPTED_KEYS)."""
OUTBOUND_KEYS = ("acceptance", "targetAccepts")
"""Stamped on a source's interconnect: the target's matching acceptance (`{ticket, expires, active}`, or null
when the target does not accept this flow) and, when null, what the target does accept from it ("tcp 8443", "" for
nothing). Every interconnect and acceptance also carries `flow`, itself as text ("tcp 443,8000-8080")."""
ACCEPTED_KEYS = ("declared", "sourceDeclares")
"""Stamped on a target's acceptance: whether the source declares the same flow and, if not, what it declares to
this tenant ("tcp 443; udp 53", "" for nothing)."""


def effective_spec(tenant: Tenant, platform: Platform, cidrs: Mapping[str, IPv4Network],
                   inbound: list[dict[str, Any]] | None = None, today: dt.date | None = None,
                   sides: Mapping[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The tenant as provisioned: camelCase keys as in the file, every quota key resolved, every CIDR set.

    `inboundInterconnects` lists the flows into this tenant that both sides agree to (`{from, ports, protocol,
    ticket, expires, acceptedTicket, acceptedExpires, acceptedIndex, securityGroups, cidrs}`), so the receiving
    side opens too; being in the digest, a new flow re-applies both ends. `sides` (from `interconnect_sides`)
    also stamps each own interconnect with its acceptance and each acceptance with whether it is declared;
    without it only `inbound` is known and no own interconnect counts as accepted.
    Interconnects (both sides) and waivers carry `active` as of `today` (a flow: both halves' dates): the digest
    changes on the day one expires, so the next plain apply closes the flow, and a tenant whose waiver ran out is
    checked again. An active inbound flow adds ingress rules (`interconnect: <source>`) to the target's security
    groups, from each of the source's subnets on each port: OpenStack provisions them like the file's rules.
    """
    day = today or dt.date.today()
    data: dict[str, Any] = tenant.model_dump(by_alias=True, mode="json")
    facts = sides if sides is not None else {"inbound": inbound or []}
    spec = data["spec"]
    data["inboundInterconnects"] = [dict(link) for link in facts.get("inbound") or []]
    _merge_stamps(spec["interconnects"], facts.get("outbound") or [], {"acceptance": None, "targetAccepts": ""})
    _merge_stamps(spec["acceptedInterconnects"], facts.get("accepted") or [], {"declared": False,
                                                                               "sourceDeclares": ""})
    for link in [*spec["interconnects"], *spec["acceptedInterconnects"]]:
        link["flow"] = _flow_text(link["protocol"], link["ports"])
    acceptances = [link["acceptance"] for link in spec["interconnects"] if link["acceptance"] is not None]
    stamp_active([*spec["interconnects"], *spec["acceptedInterconnects"], *acceptances, *spec["exceptions"]], day)
    for link in data["inboundInterconnects"]:
        link["active"] = _day_holds(link.get("expires"), day) and _day_holds(link.get("acceptedExpires"), day)
    openstack = spec["openstack"]
    if openstack is not None and tenant.spec.openstack is not None:
        openstack["quota"] = effective_quota(tenant, platform)
        for network in openstack["networks"]:
            network["cidr"] = str(cidrs.get(network["name"], network["cidr"]))
        _interconnect_rules(openstack["securityGroups"], data["inboundInterconnects"])
    data["digest"] = spec_digest(data)
    return data


def _merge_stamps(items: list[dict[str, Any]], stamps: list[dict[str, Any]], default: Mapping[str, Any]) -> None:
    for index, item in enumerate(items):
        item.update(copy.deepcopy(dict(stamps[index] if index < len(stamps) else default)))


def _interconnect_rules(groups: list[dict[str, Any]], inbound: list[dict[str, Any]]) -> None:
    """Ingress from the source's subnets on the flow's ports, in the groups the acceptance names (default: all)."""
    for link in inbound:
        if not link["active"]:
            continue
        named = set(link.get("securityGroups") or [])
        for group in groups:
            if named and group["name"] not in named:
                continue
            group["rules"] += [{"direction": "ingress", "protocol": link["protocol"], "ports": str(port),
                                "remoteCidr": cidr, "interconnect": link["from"]}
                               for cidr in link.get("cidrs") or [] for port in link.get("ports") or []]


def stamp_active(items: Iterable[dict[str, Any]], today: dt.date) -> None:
    """`active`: no expiry, or the expiry day not yet past (an item holds through the day it expires)."""
    for item in items:
        item["active"] = _day_holds(item.get("expires"), today)


def _day_holds(expires: object, today: dt.date) -> bool:
    return not expires or dt.date.fromisoformat(str(expires)) >= today


def port_set(ports: Iterable[str | int]) -> tuple[str, ...]:
    """Ports as a set in canonical spelling ("0443" and 443 are "443", "80-80" is "80"), in numeric order."""
    ranges = set()
    for port in ports:
        low, _, high = str(port).partition("-")
        ranges.add((int(low), int(high or low)))
    return tuple(str(low) if low == high else f"{low}-{high}" for low, high in sorted(ranges))


def _flow_text(protocol: str, ports: Iterable[str | int]) -> str:
    return f"{protocol} {','.join(port_set(ports)) or 'every port'}"


def _date(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def interconnect_sides(tenants: list[Tenant], cidrs: Mapping[str, Mapping[str, IPv4Network]] | None = None
                       ) -> dict[str, Sides]:
    """Each tenant's part in the interconnects: a flow is agreed when the source's `spec.interconnects` and the
    target's `spec.acceptedInterconnects` name each other with the same protocol and the same set of ports.

    `cidrs` are the allocated CIDRs by tenant and network (default: the CIDRs the files set); an agreed flow
    carries its source's, sorted, so the target's security groups can admit them. Dates are not compared here:
    an expired flow stays agreed and is stamped inactive by `effective_spec`.
    """
    by_name = {tenant.metadata.name: tenant for tenant in tenants}
    sides: dict[str, Sides] = {name: {"inbound": [], "outbound": [], "accepted": []} for name in by_name}
    accepting: dict[tuple[str, str, str, tuple[str, ...]], int] = {}
    for tenant in tenants:
        for index, accept in enumerate(tenant.spec.accepted_interconnects):
            accepting.setdefault((accept.from_, tenant.metadata.name, accept.protocol, port_set(accept.ports)), index)
    declared: set[tuple[str, str, str, tuple[str, ...]]] = set()
    for tenant in tenants:
        source = tenant.metadata.name
        for link in tenant.spec.interconnects:
            key = (source, link.to, link.protocol, port_set(link.ports))
            target = by_name.get(link.to)
            matched = accepting.get(key)
            if target is None or matched is None:
                offers: list[str] = [] if target is None else [_flow_text(a.protocol, a.ports)
                                                    for a in target.spec.accepted_interconnects if a.from_ == source]
                sides[source]["outbound"].append({"acceptance": None, "targetAccepts": "; ".join(offers)})
                continue
            declared.add(key)
            accept = target.spec.accepted_interconnects[matched]
            sides[source]["outbound"].append({"acceptance": {"ticket": accept.ticket,
                                                             "expires": _date(accept.expires)},
                                              "targetAccepts": ""})
            sides[link.to]["inbound"].append({
                "from": source, "ports": [str(port) for port in link.ports], "protocol": link.protocol,
                "ticket": link.ticket, "expires": _date(link.expires), "acceptedTicket": accept.ticket,
                "acceptedExpires": _date(accept.expires), "acceptedIndex": matched,
                "securityGroups": list(accept.security_groups), "cidrs": _source_cidrs(tenant, cidrs)})
    for tenant in tenants:
        for accept in tenant.spec.accepted_interconnects:
            key = (accept.from_, tenant.metadata.name, accept.protocol, port_set(accept.ports))
            source_tenant = by_name.get(accept.from_)
            wanted = [] if key in declared or source_tenant is None else [
                _flow_text(link.protocol, link.ports) for link in source_tenant.spec.interconnects
                if link.to == tenant.metadata.name]
            sides[tenant.metadata.name]["accepted"].append({"declared": key in declared,
                                                             "sourceDeclares": "; ".join(wanted)})
    for side in sides.values():  # the same flows whatever order the files were named in: a stable digest
        side["inbound"].sort(key=lambda link: (link["from"], link["protocol"], port_set(link["ports"])))
    return sides


def _source_cidrs(tenant: Tenant, cidrs: Mapping[str, Mapping[str, IPv4Network]] | None) -> list[str]:
    if tenant.spec.openstack is None:
        return []
    allocated = (cidrs or {}).get(tenant.metadata.name, {})
    found = {allocated.get(net.name, net.cidr) for net in tenant.spec.openstack.networks}
    return [str(cidr) for cidr in sorted(cidr for cidr in found if cidr is not None)]


def inbound_interconnects(tenants: list[Tenant], cidrs: Mapping[str, Mapping[str, IPv4Network]] | None = None
                          ) -> dict[str, list[dict[str, Any]]]:
    """For each tenant, the agreed interconnects into it (the `inbound` of `interconnect_sides`)."""
    return {name: side["inbound"] for name, side in interconnect_sides(tenants, cidrs).items() if side["inbound"]}


def sides_of(effective: Mapping[str, Any]) -> Sides:
    """The interconnect sides an effective spec was made with: to remake it after an edit of its own file."""
    spec = effective["spec"]
    return {"inbound": [dict(link) for link in effective.get("inboundInterconnects") or []],
            "outbound": [{key: link.get(key) for key in OUTBOUND_KEYS} for link in spec.get("interconnects") or []],
            "accepted": [{key: link.get(key) for key in ACCEPTED_KEYS}
                         for link in spec.get("acceptedInterconnects") or []]}


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
