"""Build ReportData from library calls: the fleet, a policy check, the applied record and the other sources.

Nothing here calls a cloud: the report is made from the repository and the state folder, so an auditor can
produce it anywhere. Facts only the clouds know (usage, drift, live checks) come through `Sources` readers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from gcloud.audit.event import AuditEntry, AuditEvent
from gcloud.model import Fleet, TenantDocument, load_fleet
from gcloud.model.quantity import format_quantity
from gcloud.policy.check import check_fleet
from gcloud.policy.finding import FLEET, CheckResult, Finding, Status
from gcloud.policy.functions import quantity
from gcloud.policy.loader import load_policies
from gcloud.policy.usage import fleet_usage

from .data import (
    AppliedInfo,
    AuditInfo,
    ChangeRow,
    Changes,
    Meter,
    Person,
    PolicyRow,
    Pool,
    ReportData,
    Summary,
    TenantReport,
    WaiverRow,
)
from .evidence import evidence_table
from .sources import Sources, Usage

WARN_DAYS = 30
"""Waivers expiring within this many days are highlighted."""

ROLES = (("owner", "owner 负责人"), ("system_admin", "system administrator 系统管理员"),
         ("security_admin", "security administrator 安全管理员"), ("audit_admin", "audit administrator 审计管理员"))
"""Contacts attribute -> the label shown: the owner, then the three administrators MLPS separates."""


def amount(key: str, value: float | None) -> str:
    """A quota value as people read it: binary units for Kubernetes bytes, GiB for ramMB, separators."""
    if value is None:
        return "—"
    if math.isinf(value):
        return "unlimited"
    if "memory" in key or "storage" in key:
        return format_quantity(Decimal(round(value)))
    if key == "ramMB" and value >= 1024:
        return f"{value / 1024:,.0f} GiB"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def meter(key: str, allocated: float, capacity: float | None, overcommit: float, used: float | None) -> Meter:
    limit = capacity * overcommit if capacity is not None else None
    return Meter(key, allocated, limit, capacity, overcommit, used, amount(key, allocated), amount(key, limit),
                 amount(key, capacity), amount(key, used) if used is not None else "not known")


def _capacities(fleet: Fleet) -> dict[tuple[str, str], tuple[dict[str, float], dict[str, float], bool]]:
    """(kind, pool name) -> (capacity per key, overcommit per key, dedicated)."""
    spec = fleet.platform.spec
    pools: dict[tuple[str, str], tuple[dict[str, float], dict[str, float], bool]] = {}
    for cloud in spec.openstack.clouds:
        pools["openstack", cloud.name] = ({k: float(v) for k, v in cloud.capacity.items()},
                                          {k: float(v) for k, v in cloud.overcommit.items()}, cloud.dedicated)
    for cluster in spec.kubernetes.clusters:
        pools["kubernetes", cluster.name] = ({k: quantity(v) for k, v in cluster.capacity.items()}, {},
                                             cluster.dedicated)
    return pools


KIND_LABEL = {"openstack": "OpenStack", "kubernetes": "Kubernetes"}
CHANGES_SHOWN = 50
"""The newest audit entries the page lists (`govcloud audit show` lists them all)."""
NAMES_SHOWN = 3
"""Resources named in one change row before "and N more"."""


def pools_of(fleet: Fleet, effectives: Sequence[Mapping[str, Any]], used: Usage | None,
             only: set[tuple[str, str]] | None = None) -> tuple[Pool, ...]:
    """Allocations of `effectives` summed per cloud and cluster, each key as a Meter against the pool."""
    capacities = _capacities(fleet)
    usage = fleet_usage(fleet.platform_data, effectives)
    pools = []
    for kind in ("openstack", "kubernetes"):
        for name, allocated in sorted(usage[kind].items()):
            if only is not None and (kind, name) not in only:
                continue
            capacity, overcommit, dedicated = capacities.get((kind, name), ({}, {}, False))
            live = (used or {}).get(name, {})
            pools.append(Pool(KIND_LABEL[kind], name, tuple(
                meter(key, value, capacity[key], overcommit.get(key, 1.0), live.get(key))
                for key, value in allocated.items() if key in capacity), dedicated,
                tuple((key, amount(key, value)) for key, value in allocated.items() if key not in capacity)))
    return tuple(pools)


def _tenant_pools(doc: TenantDocument) -> set[tuple[str, str]]:
    spec = doc.tenant.spec
    pools = set()
    if spec.openstack is not None:
        pools.add(("openstack", spec.openstack.cloud))
    if spec.kubernetes is not None:
        pools.add(("kubernetes", spec.kubernetes.cluster))
    return pools


def fleet_used(tenants: Sequence[TenantDocument], used: Mapping[str, Usage | None]) -> Usage:
    """Live usage per pool and key summed over the tenants on it, for the pools where every tenant on them was
    read (a pool with one tenant unread is not known, rather than understated)."""
    totals: dict[str, dict[str, float]] = {}
    unread: set[str] = set()
    for doc in tenants:
        found = used.get(doc.name) or {}
        for _kind, pool in _tenant_pools(doc):
            if pool not in found:
                unread.add(pool)
                continue
            summed = totals.setdefault(pool, {})
            for key, value in found[pool].items():
                summed[key] = summed.get(key, 0.0) + value
    return {pool: keys for pool, keys in totals.items() if pool not in unread}


def _is_waiver_finding(finding: Finding) -> bool:
    return finding.field.startswith("spec.exceptions[")


def policy_rows(result: CheckResult, tenant: str) -> tuple[PolicyRow, ...]:
    """Every policy evaluated on the tenant (passes included), then findings about its waivers."""
    findings = {f.policy_id: f for f in result.findings if f.tenant == tenant and not _is_waiver_finding(f)}
    rows = []
    for policy in result.policies:
        if tenant not in result.evaluated.get(policy.id, ()):
            continue
        found = findings.get(policy.id)
        rows.append(PolicyRow(policy.id, policy.spec.title, policy.severity, policy.enforcement,
                              found.status.value if found else "pass", found.message if found else "",
                              found.note if found else ""))
    titles = {policy.id: policy.spec.title for policy in result.policies}
    rows += [PolicyRow(f.policy_id, titles.get(f.policy_id, "waiver"), f.severity, f.enforcement, f.status.value,
                       f.message, f.note)
             for f in result.findings if f.tenant == tenant and _is_waiver_finding(f)]
    return tuple(rows)


def waiver_rows(doc: TenantDocument, today: dt.date, warn_days: int) -> tuple[WaiverRow, ...]:
    rows = []
    for waiver in doc.tenant.spec.exceptions:
        days = (waiver.expires - today).days
        state = "expired" if days < 0 else "expiring" if days <= warn_days else "live"
        rows.append(WaiverRow(waiver.policy, waiver.ticket, waiver.approved_by, waiver.expires, waiver.reason, days,
                              state))
    return tuple(rows)


def people(doc: TenantDocument) -> tuple[Person, ...]:
    contacts = doc.tenant.spec.contacts
    result = []
    for attribute, label in ROLES:
        person = getattr(contacts, attribute)
        result.append(Person(label, person.name if person else None, person.email if person else None))
    return tuple(result)


def change_text(event: AuditEvent) -> str:
    """What one entry changed, in a line: counts per operation and the first resources, or a request's keys."""
    if not event.changes:
        detail = event.detail
        return " · ".join(part for part in (detail.get("request", ""), detail.get("changes", ""),
                                            detail.get("state", "")) if part)
    ops = Counter(op for op, _kind, _name in event.changes)
    names = ", ".join(f"{kind} {name}" for _op, kind, name in event.changes[:NAMES_SHOWN])
    more = len(event.changes) - NAMES_SHOWN
    return (", ".join(f"{count} {op}" for op, count in sorted(ops.items())) + f": {names}"
            + (f" and {more} more" if more > 0 else ""))


def changes_of(entries: Sequence[AuditEntry] | None, only: set[str] | None) -> Changes | None:
    """The newest entries, newest first: all of them for a whole-fleet report (destroyed tenants included),
    else those of the tenants `only` names."""
    if entries is None:
        return None
    relevant = [entry for entry in entries if only is None or entry.event.tenant in only]
    rows = tuple(ChangeRow(entry.time.strftime("%Y-%m-%d %H:%M:%S UTC"), entry.event.actor, entry.event.action,
                           entry.event.tenant, entry.event.ticket or "", entry.event.outcome, change_text(entry.event))
                 for entry in reversed(relevant[-CHANGES_SHOWN:]))
    return Changes(rows, len(relevant))


Appliers = Mapping[tuple[str, str], tuple[str, str]]
"""(tenant, spec digest) -> (actor, ticket) of the newest successful apply that left the tenant at that spec."""


def appliers(entries: Sequence[AuditEntry] | None) -> Appliers:
    """Who applied what, from one pass over the trail (a later apply of the same spec wins)."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for entry in entries or ():
        event = entry.event
        if event.action.startswith("apply") and event.outcome == "success" and event.digest_after:
            found[event.tenant, event.digest_after] = (event.actor, event.ticket or "")
    return found


def tenant_report(fleet: Fleet, doc: TenantDocument, result: CheckResult, sources: Sources,
                  applied: Mapping[str, Any], today: dt.date, warn_days: int, used: Usage | None,
                  applied_by: Appliers) -> TenantReport:
    spec = doc.tenant.spec
    clouds = tuple(f"{KIND_LABEL[kind]} {name}" for kind, name in sorted(_tenant_pools(doc)))
    entry = applied.get(doc.name)
    last = AppliedInfo(entry.applied_at or "unknown time", entry.digest[:12], entry.digest == doc.digest,
                       *applied_by.get((doc.name, entry.digest), ("", ""))) if entry is not None else None
    return TenantReport(
        doc.name, doc.tenant.metadata.display_name, spec.mlps_level, spec.tier or "", doc.tenant.metadata.parent or "",
        people(doc), clouds,
        pools_of(fleet, [doc.effective], used, _tenant_pools(doc)),
        policy_rows(result, doc.name), waiver_rows(doc, today, warn_days), last,
        sources.drift(sources.state_dir, doc.name))


def summary(tenants: Sequence[TenantReport], pools: Sequence[Pool], result: CheckResult,
            requests: int | None, audit: AuditInfo | None) -> Summary:
    levels: dict[int, int] = {}
    for tenant in tenants:
        levels[tenant.mlps_level] = levels.get(tenant.mlps_level, 0) + 1
    waivers = [waiver for tenant in tenants for waiver in tenant.waivers]
    open_findings = [f for f in result.findings if f.status in (Status.FAIL, Status.ERROR)]
    audit_text = ("no audit log yet" if audit is None else
                  f"intact ({audit.entries} entries)" if audit.ok else f"BROKEN at line {audit.first_broken}")
    return Summary(
        len(tenants), tuple(sorted(levels.items(), reverse=True)), len(pools), len(result.policies),
        sum(1 for f in result.findings if f.blocking), sum(1 for f in open_findings if not f.blocking),
        sum(1 for f in result.findings if f.status is Status.WAIVED),
        sum(1 for w in waivers if w.state == "expiring"), sum(1 for w in waivers if w.state == "expired"),
        tuple(sorted({f.tenant or "(fleet)" for f in result.findings if f.blocking})),
        sum(1 for t in tenants if t.last_apply is not None and t.last_apply.current),
        sum(1 for t in tenants if t.last_apply is None or not t.last_apply.current),
        requests, audit_text)


def collect(fleet: Fleet, result: CheckResult, sources: Sources, today: dt.date,
            warn_days: int = WARN_DAYS) -> ReportData:
    """The report of a loaded and checked fleet; the other facts through `sources`."""
    applied = sources.applied(sources.state_dir).tenants
    shown = getattr(fleet, "targets", None) or fleet.tenants
    used = {doc.name: sources.usage(doc, fleet.platform) for doc in shown}
    pools = pools_of(fleet, [doc.effective for doc in fleet.tenants], fleet_used(fleet.tenants, used))
    entries = sources.audit_entries(sources.state_dir)
    applied_by = appliers(entries)
    tenants = tuple(tenant_report(fleet, doc, result, sources, applied, today, warn_days, used[doc.name], applied_by)
                    for doc in shown)
    requests = sources.requests(sources.requests_dir)
    audit = sources.audit(sources.state_dir)
    fleet_rows = tuple(PolicyRow(p.id, p.spec.title, p.severity, p.enforcement, status, message)
                       for p in result.policies if result.evaluated.get(p.id) == (FLEET,)
                       for status, message in [_fleet_status(result, p.id)])
    platform = fleet.platform
    return ReportData(
        f"{platform.metadata.display_name} · govcloud report", platform.metadata.name,
        platform.metadata.display_name, platform.spec.mlps_level, today, warn_days,
        summary(tenants, pools, result, None if requests is None else len(requests), audit),
        pools, fleet_rows, tenants, requests, audit,
        evidence_table(result, sources.live_checks(sources.state_dir), audit),
        changes_of(entries, None if len(shown) == len(fleet.tenants) else {doc.name for doc in shown}))


def _fleet_status(result: CheckResult, policy_id: str) -> tuple[str, str]:
    found = [f for f in result.findings if f.policy_id == policy_id]
    if not found:
        return "pass", ""
    named = sorted({f.tenant for f in found if f.tenant != FLEET})
    return found[0].status.value, found[0].message + (f" (held back: {', '.join(named)})" if named else "")


def build_report(tenant_paths: Sequence[Path], platform_path: Path, policies_path: Path, sources: Sources,
                 today: dt.date) -> ReportData:
    """Load, check and collect: what `govcloud report` calls."""
    fleet = load_fleet(tenant_paths, platform_path)
    return collect(fleet, check_fleet(fleet, load_policies(policies_path), today), sources, today)
