"""Waivers under control: a void waiver (not waivable, unknown approver, too long) is a finding and covers nothing.

CEL rules cannot see which policy a waiver names (its severity, whether it may be waived), so these three
rules are built in: judged here over the checker's result, after every policy ran. Each finding points at
the waiver's own line (`spec.exceptions[i].approvedBy`, `.expires`, `.policy`), is mandatory and cannot
itself be waived. The rules' pass/fail examples run in `govcloud policy test` like any policy's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .evaluate import Subject
from .finding import CheckResult, Finding, Status
from .policy import Policy
from .schema import Example
from .waivers import (
    NOT_WAIVABLE,
    TOO_LONG,
    UNKNOWN_APPROVER,
    Flaw,
    Waived,
    Waiver,
    cover,
    flaws,
    waiver_rules,
    waivers_of,
)

SEVERITY = "high"


@dataclass(frozen=True)
class BuiltinRule:
    """A built-in waiver rule: what `policy test` and the README say of it."""

    id: str
    title: str
    rationale: str
    references: tuple[str, ...]
    passes: tuple[Example, ...]
    fails: tuple[Example, ...]


def _waiver(**overrides: Any) -> Example:
    entry = {"policy": "GOV-NET-003", "reason": "public portal", "ticket": "SEC-17", "approvedBy": "安全处",
             "expires": "2026-02-28", **overrides}
    return Example.model_validate({"tenant": {"spec": {"exceptions": [entry]}}})


EXAMPLE_POLICIES: Mapping[str, Waived] = {
    "GOV-NET-001": Waived("critical", False), "GOV-NET-003": Waived("high", True),
    "GOV-K8S-001": Waived("critical", True),
}
"""What the built-in examples know of the policies they waive (so they do not depend on the loaded set)."""

BUILTIN_RULES: tuple[BuiltinRule, ...] = (
    BuiltinRule(NOT_WAIVABLE, "Waivers name only policies that can be waived", (
        "Some rules guard what no accepted risk can justify: the platform's isolation (no ingress from "
        "anywhere, remote administration only from the admin networks), the tenant roles, the three "
        "administrators, the platform's level, and the limits on waivers themselves. A policy says "
        "`waivable: false`; a waiver naming it is void and a finding, so the tenant file cannot switch it off."),
        ("GB/T 22239-2019 8.1.7.3 a) 应根据各个部门和岗位的职责明确授权审批事项、审批部门和批准人等",),
        (_waiver(),), (_waiver(policy="GOV-NET-001"),)),
    BuiltinRule(UNKNOWN_APPROVER, "Waivers are approved by a security officer platform.yaml lists", (
        "A waiver accepts a risk on the security office's authority. `approvedBy` is free text in the tenant "
        "file, so anyone could write any name; platform.yaml lists who may approve (security officers by "
        "name, or a security office with its members) and a waiver signed by anyone else covers nothing."),
        ("GB/T 22239-2019 8.1.7.3 a) 应根据各个部门和岗位的职责明确授权审批事项、审批部门和批准人等",
         "GB/T 22239-2019 8.1.7.3 c) 应定期审查审批事项，及时更新需授权和审批的项目、审批部门和审批人等信息"),
        (_waiver(), _waiver(approvedBy="孙立")), (_waiver(approvedBy="张三"),)),
    BuiltinRule(TOO_LONG, "Waivers run no longer than their policy's severity allows", (
        "The graver the risk a waiver accepts, the sooner it is looked at again: platform.yaml sets the "
        "longest a waiver may run per severity of the policy it waives (by default 30 days for critical, "
        "90 for high, 180 for medium and low), counted from the day of the check to its expiry date."),
        ("GB/T 22239-2019 8.1.7.3 c) 应定期审查审批事项，及时更新需授权和审批的项目、审批部门和审批人等信息",
         "GB/T 22239-2019 8.1.10.5 漏洞和风险管理"),
        (_waiver(), _waiver(policy="GOV-K8S-001", expires="2026-01-31")),
        (_waiver(expires="2026-06-30"), _waiver(policy="GOV-K8S-001", expires="2026-02-01"))),
)
BUILTIN_IDS = frozenset(rule.id for rule in BUILTIN_RULES)


def waived_info(policies: Sequence[Policy]) -> dict[str, Waived]:
    return {policy.id: Waived(policy.severity, policy.waivable) for policy in policies}


def waiver_flaws(tenant: Mapping[str, Any], known: Mapping[str, Waived], platform: Mapping[str, Any],
                 today: dt.date) -> tuple[list[Waiver], list[Flaw]]:
    """A tenant's sound waivers and the flaws of the others."""
    rules = waiver_rules(platform)
    sound: list[Waiver] = []
    found: list[Flaw] = []
    for waiver in waivers_of(tenant):
        mine = flaws(waiver, known.get(waiver.policy), rules, today)
        found += mine
        if not mine:
            sound.append(waiver)
    return sound, found


def control_waivers(result: CheckResult, subjects: Sequence[Subject], platform: Mapping[str, Any],
                    today: dt.date) -> CheckResult:
    """The result with void waivers reported and no longer covering their findings."""
    known = waived_info(result.policies)
    added: list[Finding] = []
    sound: dict[str, list[Waiver]] = {}
    void: dict[str, list[Flaw]] = {}
    for subject in subjects:
        sound[subject.name], found = waiver_flaws(subject.data, known, platform, today)
        void[subject.name] = found
        for flaw in found:
            where = subject.locate(flaw.field)
            added.append(Finding(where.file, where.line, where.column, flaw.rule, SEVERITY, "mandatory",
                                 subject.name, flaw.field, flaw.message, Status.FAIL, flaw.waiver.describe()))
    findings = [_recover(finding, sound.get(finding.tenant, []), void.get(finding.tenant, []), today)
                for finding in result.findings]
    return dataclasses.replace(result, findings=tuple(sorted(findings + added)))


def _recover(finding: Finding, sound: Sequence[Waiver], void: Sequence[Flaw], today: dt.date) -> Finding:
    """A waived finding stays waived only under a sound waiver; else it counts again, saying why."""
    if finding.status is not Status.WAIVED:
        return finding
    live = cover(sound, finding.policy_id, today).live
    if live is not None:
        return dataclasses.replace(finding, note=live.describe())
    why = "; ".join(f"void: {flaw.waiver.describe()} ({flaw.rule})" for flaw in void
                    if flaw.waiver.policy == finding.policy_id)
    return dataclasses.replace(finding, status=Status.FAIL, note=why)
