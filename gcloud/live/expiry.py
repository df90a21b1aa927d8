"""Interconnects and waivers that ran out but still hold in the clouds: the last apply came while they were active.

Pure: the effective spec marks each item `active` as of today (gcloud.model.effective), the applied record says
when the tenant was last applied; an item inactive now whose expiry day came after that apply is still in effect
until the next apply (which a plain `apply` runs, the digest having changed on the expiry day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Expiry:
    """One time-bound item past its day whose effect is still in the cloud."""

    kind: str
    """"interconnect" (this tenant's flow out), "inbound interconnect" (another's flow in), or "waiver"."""
    name: str
    expires: dt.date
    field: str
    """Where its date is: in this tenant's file, or `<other tenant>: <field>` when the other half ran out first."""


def still_in_effect(effective: Mapping[str, Any], applied_at: str | None) -> list[Expiry]:
    """The inactive items of a tenant whose expiry is on or after its last apply's day.

    A flow ends on the earlier of its two halves' dates (the source's interconnect, the target's acceptance): on
    the source's side its NetworkPolicy, on the target's its security-group rules and NetworkPolicy stay until the
    next apply. A flow the target never accepted was never provisioned, so it cannot still be in effect.
    """
    if not applied_at:
        return []
    applied = dt.datetime.fromisoformat(applied_at).date()
    found: list[Expiry] = []
    spec = effective["spec"]
    for index, link in enumerate(spec.get("interconnects") or []):
        acceptance = link.get("acceptance")
        if acceptance is None:
            continue
        own = link.get("expires")
        name = f"to {link['to']} ports {','.join(map(str, link.get('ports') or []))}"
        if _ends_first(acceptance.get("expires"), own):
            found += _expired("interconnect", f"{name} (accepted by {link['to']})", acceptance, applied,
                              f"{link['to']}: spec.acceptedInterconnects")
        else:
            found += _expired("interconnect", name, link, applied, f"spec.interconnects[{index}].expires")
    for link in effective.get("inboundInterconnects") or []:
        ports = ",".join(map(str, link.get("ports") or []))
        name = f"from {link['from']} ports {ports} (security-group rules, NetworkPolicy)"
        if _ends_first(link.get("acceptedExpires"), link.get("expires")):
            found += _expired("inbound interconnect", name, {"expires": link.get("acceptedExpires"),
                                                              "active": link.get("active", True)}, applied,
                              f"spec.acceptedInterconnects[{link.get('acceptedIndex', 0)}].expires")
        else:
            found += _expired("inbound interconnect", name, link, applied, f"{link['from']}: spec.interconnects")
    for index, waiver in enumerate(spec.get("exceptions") or []):
        found += _expired("waiver", f"{waiver['policy']} ({waiver.get('ticket', '')})", waiver, applied,
                          f"spec.exceptions[{index}].expires")
    return sorted(found)


def _ends_first(day: object, other: object) -> bool:
    """Whether a dated half ends a flow no later than the other half (undated: never ends)."""
    return bool(day) and (not other or str(day) < str(other))


def _expired(kind: str, name: str, item: Mapping[str, Any], applied: dt.date, field: str) -> list[Expiry]:
    expires = item.get("expires")
    if item.get("active", True) or not expires:
        return []
    day = dt.date.fromisoformat(str(expires))
    return [Expiry(kind, name, day, field)] if day >= applied else []
