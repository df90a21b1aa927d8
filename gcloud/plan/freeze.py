"""Freeze windows: the days in platform.yaml (`spec.freezeWindows`) on which `apply` changes nothing, except what
an operator declares an emergency with a ticket (`--emergency --ticket T`, kept in the audit trail).

Pure: given the windows, the moment of the run and the flags, `decide` says whether the run is frozen and why.
It is the platform's calendar, not a tenant's own `lifecycle.frozen` (which holds one tenant back always and
stays as it is: an emergency does not lift it). A window's dates are whole days, inclusive, in its timezone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gcloud.errors import InputError
from gcloud.model.platform import FreezeWindow


@dataclass(frozen=True)
class FreezeDecision:
    """Whether a run inside `window` (None: outside every window) may change anything."""

    window: FreezeWindow | None
    emergency: bool = False
    ticket: str | None = None

    @property
    def frozen(self) -> bool:
        """Changes are refused: inside a window and not an emergency."""
        return self.window is not None and not self.emergency

    @property
    def reason(self) -> str:
        """One line for a refused tenant's outcome (and its audit entry), or for an emergency's record."""
        if self.window is None:
            return ""
        days = f"{self.window.start}..{self.window.end} ({self.window.timezone})"
        if self.emergency:
            return f"emergency change in freeze window {days}: {self.window.reason}; ticket {self.ticket}"
        return (f"freeze window {days}: {self.window.reason}; not applied (an emergency change: "
                "--emergency --ticket T)")


def active_window(windows: Sequence[FreezeWindow], now: dt.datetime) -> FreezeWindow | None:
    """The first window whose days (in its own timezone) include the moment `now` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for window in windows:
        today = now.astimezone(ZoneInfo(window.timezone)).date()
        if window.start <= today <= window.end:
            return window
    return None


def decide(windows: Sequence[FreezeWindow], now: dt.datetime, *, emergency: bool = False,
           ticket: str | None = None) -> FreezeDecision:
    """The run's freeze decision. `--emergency` without a ticket is bad input (InputError, exit 2): an emergency
    change is only allowed on the record."""
    if emergency and not (ticket or "").strip():
        raise InputError.single("--emergency", "an emergency change needs the ticket that authorises it",
                                field="--ticket", code="emergency-without-ticket",
                                hint="add --ticket <change ticket>, e.g. --ticket CHG-2026-0042")
    return FreezeDecision(active_window(windows, now), emergency, ticket if emergency else None)
