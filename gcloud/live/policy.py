"""`policy check --live`: the policies on what the clouds hold, read by a drift check of each named tenant."""

from __future__ import annotations

import datetime as dt

from gcloud.engine.events import EventSink
from gcloud.engine.settings import EngineSettings
from gcloud.model import Fleet
from gcloud.policy.check import check_fleet
from gcloud.policy.finding import CheckResult
from gcloud.policy.policy import PolicySet

from .drift import DriftReport, run_drift
from .view import live_effective


def live_check(fleet: Fleet, policies: PolicySet, today: dt.date, settings: EngineSettings, *, parallel: int = 4,
               on_event: EventSink | None = None) -> tuple[CheckResult, DriftReport]:
    """Refresh the targets (preview only), map what is live back into their specs, and check those."""
    drift = run_drift(fleet, settings, parallel=parallel, on_event=on_event)
    docs = {doc.name: doc for doc in fleet.tenants}
    views = {t.tenant: live_effective(docs[t.tenant].effective, t) for t in drift.tenants
             if not t.never_applied and not t.error}
    return check_fleet(fleet, policies, today, views=views), drift
