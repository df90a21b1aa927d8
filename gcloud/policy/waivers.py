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
