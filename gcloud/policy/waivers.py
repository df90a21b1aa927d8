"""Waivers (`spec.exceptions`): security-approved, one policy each, void after their date.

A waiver is live through its `expires` date (inclusive) as seen by the injected clock; from the next day it no
longer covers anything, and it is itself reported so someone renews it with a new approval or removes it.
This is the point where Kyverno's exceptions go wrong (kyverno#17473): expiry must void, not just warn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gcloud.model.platform import WaiverRules


@dataclass(frozen=True)
class Waiver:
    policy: str
    reason: str
    ticket: str
    approved_by: str
    expires: dt.date
    index: int
    """Position in spec.exceptions, for pointing at it."""

    @property
    def field(self) -> str:
        return f"spec.exceptions[{self.index}]"

    def live(self, today: dt.date) -> bool:
        return today <= self.expires

    def describe(self) -> str:
        return f"waiver {self.ticket} by {self.approved_by} until {self.expires.isoformat()}: {self.reason}"


def waivers_of(tenant: Mapping[str, Any]) -> list[Waiver]:
    """The waivers of an effective tenant (dates as ISO strings or date objects)."""
    entries = (tenant.get("spec") or {}).get("exceptions") or []
    return [Waiver(str(entry["policy"]), str(entry.get("reason", "")), str(entry.get("ticket", "")),
                   str(entry.get("approvedBy", "")), _date(entry["expires"]), index)
            for index, entry in enumerate(entries)]


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Cover:
    """What the waivers say about one policy for one tenant."""

    live: Waiver | None
    expired: tuple[Waiver, ...]


def cover(waivers: Sequence[Waiver], policy_id: str, today: dt.date) -> Cover:
    """The live waiver for a policy (the one lasting longest), and the expired ones naming it."""
    mine = [waiver for waiver in waivers if waiver.policy == policy_id]
    live = [waiver for waiver in mine if waiver.live(today)]
    best = max(live, key=lambda waiver: waiver.expires) if live else None
    return Cover(best, tuple(waiver for waiver in mine if not waiver.live(today)))


@dataclass(frozen=True)
class Waived:
    """What a waiver needs to know of the policy it names."""

    severity: str
    waivable: bool


NOT_WAIVABLE = "GOV-WVR-002"
UNKNOWN_APPROVER = "GOV-WVR-003"
TOO_LONG = "GOV-WVR-004"


@dataclass(frozen=True)
class Flaw:
    """Why a live waiver is void: the rule it breaks and the field of the waiver to point at."""

    waiver: Waiver
    rule: str
    key: str
    message: str

    @property
    def field(self) -> str:
        return f"{self.waiver.field}.{self.key}"


def waiver_rules(platform: Mapping[str, Any]) -> WaiverRules:
    """platform.yaml's `spec.waivers` (approvers, maximum days per severity) from the platform's data."""
    return WaiverRules.model_validate((platform.get("spec") or {}).get("waivers") or {})


def flaws(waiver: Waiver, waived: Waived | None, rules: WaiverRules, today: dt.date) -> list[Flaw]:
    """What makes a live waiver void; empty for a sound one (an expired waiver is void anyway: not judged).

    A waiver of a policy that cannot be waived, signed by someone platform.yaml does not list, or running
    longer than its policy's severity allows covers nothing: the finding it meant to waive counts again.
    """
    if not waiver.live(today):
        return []
    found: list[Flaw] = []
    if waived is not None and not waived.waivable:
        found.append(Flaw(waiver, NOT_WAIVABLE, "policy", (
            f"waiver {waiver.ticket} names {waiver.policy}, which cannot be waived (waivable: false); "
            "meet the policy instead")))
    if waiver.approved_by not in rules.approver_names:
        listed = ", ".join(sorted(rules.approver_names)) or "nobody"
        found.append(Flaw(waiver, UNKNOWN_APPROVER, "approvedBy", (
            f"waiver {waiver.ticket} for {waiver.policy} is approved by {waiver.approved_by}, who is not a waiver "
            f"approver in platform.yaml spec.waivers.approvers (listed: {listed})")))
    if waived is not None and waived.waivable:
        limit: int = getattr(rules.max_days, waived.severity)
        days = (waiver.expires - today).days
        if days > limit:
            found.append(Flaw(waiver, TOO_LONG, "expires", (
                f"waiver {waiver.ticket} for {waiver.policy} ({waived.severity}) runs {days} days, until "
                f"{waiver.expires.isoformat()}; platform.yaml allows {limit} days for a {waived.severity} "
                "policy (spec.waivers.maxDays)")))
    return found
