"""Flows between tenants, worked out once in Python for the fleet rules (`usage.flows` in CEL).

Like the quota sums beside them (usage.py), these would cost seconds in CEL at 10,000 tenants: the evaluator
converts every tenant it is handed, and the overlap search nests four comprehensions. Here it is one sorted
sweep; what is allowed stays in the reviewed policy file (GOV-NET-014, GOV-NET-015).

```
usage.flows.crossTenant   # ["sjj exchange-api 443 from 10.16.0.0/12 reaches czj, daj", ...]
usage.flows.crossTenantOwners   # ["sjj", ...]: the tenants whose rules those are
usage.flows.upward        # [{from, to, fromLevel, toLevel, targetWaivers: [policy ids of its live waivers]}]
```
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from .functions import _network, _port_range, cidr_bounds, cidr_is_private


def _ranges_cover(wanted: Any, allowed: Sequence[Any]) -> bool:
    low, high = _port_range(None if wanted is None else str(wanted))
    return any(a_low <= low and high <= a_high for a_low, a_high in (_port_range(str(port)) for port in allowed))


def _tenant_ranges(tenant: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(first, last) address of each of a tenant's networks."""
    openstack = (tenant.get("spec") or {}).get("openstack") or {}
    ranges = [cidr_bounds(str(network.get("cidr"))) for network in openstack.get("networks") or []]
    return [bounds for bounds in ranges if bounds is not None]


REACHED_SHOWN = 5
"""Tenants named per offending rule; more are summed up as "and more" (a rule open to 10.0.0.0/8 reaches all)."""


def cross_tenant_ingress(tenants: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Ingress rules admitting another tenant's networks without its interconnect.

    For each tenant's private ingress range (public ranges are the public-ingress rules' business), every
    other tenant whose networks it overlaps must have an active interconnect into this tenant (its
    `inboundInterconnects`) whose ports cover the rule's. One entry per offending rule: the tenant whose rule it
    is, and the rule as text ("sjj exchange-api 443 from 10.16.0.0/12 reaches czj, daj"). Python, not CEL (which
    would nest four comprehensions deep): tenant networks never overlap, so sorted by start they are sorted by end
    too, and the networks a range overlaps are one slice found by bisection; the scan stops once enough are named.
    """
    owned = sorted((start, end, str((t.get("metadata") or {}).get("name")))
                   for t in tenants for start, end in _tenant_ranges(t))
    starts = [start for start, _, _ in owned]
    ends = [end for _, end, _ in owned]
    found: list[tuple[str, str]] = []
    for tenant in tenants:
        name = str((tenant.get("metadata") or {}).get("name"))
        openstack = (tenant.get("spec") or {}).get("openstack") or {}
        inbound = [link for link in tenant.get("inboundInterconnects") or [] if link.get("active", True)]
        for group in openstack.get("securityGroups") or []:
            for rule in group.get("rules") or []:
                remote = str(rule.get("remoteCidr"))
                bounds = cidr_bounds(remote)
                if rule.get("direction") != "ingress" or bounds is None or not cidr_is_private(remote):
                    continue
                allowed = {str(link.get("from")) for link in inbound
                           if _ranges_cover(rule.get("ports"), link.get("ports") or [])}
                low, high = bounds
                reached: list[str] = []
                for _, _, owner in owned[bisect_left(ends, low):bisect_right(starts, high)]:
                    if owner != name and owner not in allowed and owner not in reached:
                        reached.append(owner)
                        if len(reached) > REACHED_SHOWN:
                            break
                if reached:
                    names = ", ".join(reached[:REACHED_SHOWN]) + (" and more" if len(reached) > REACHED_SHOWN else "")
                    found.append((name, f"{name} {group.get('name')} {rule.get('ports') or 'every port'} "
                                        f"from {_network(remote)} reaches {names}"))
    return found


def upward_flows(tenants: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Active interconnects from a lower MLPS level into a higher one, with the receiving tenant's live waivers."""
    levels = {str((t.get("metadata") or {}).get("name")): (t.get("spec") or {}).get("mlpsLevel") for t in tenants}
    flows: list[dict[str, Any]] = []
    for tenant in tenants:
        name = str((tenant.get("metadata") or {}).get("name"))
        level = levels[name]
        waivers = sorted({str(w.get("policy")) for w in (tenant.get("spec") or {}).get("exceptions") or []
                          if w.get("active", True)})
        for link in tenant.get("inboundInterconnects") or []:
            source = levels.get(str(link.get("from")))
            if link.get("active", True) and source is not None and level is not None and source < level:
                flows.append({"from": str(link.get("from")), "to": name, "fromLevel": source, "toLevel": level,
                              "targetWaivers": waivers})
    return flows


def fleet_flows(tenants: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    cross = cross_tenant_ingress(tenants)
    return {"crossTenant": [text for _, text in cross], "crossTenantOwners": sorted({owner for owner, _ in cross}),
            "upward": upward_flows(tenants)}
