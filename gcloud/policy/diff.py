"""What a policy (or tenant) change does: the findings of a base revision against the working tree's.

Pure: two CheckResults in, a PolicyDiff out. A finding is matched across revisions by what it is about
(tenant, policy, and whether it concerns the rule or a waiver of it), never by its line, message or file
label, which move with any edit. Each such subject is in one of three states on either side: clean (no
finding), waived (a live waiver covers the failure) or open (failing, erroring, or an expired waiver). The
transitions between the two sides are what a reviewer of `policies/` wants to see:

    clean/waived -> open     a new finding (the change makes a tenant fail; mandatory ones block)
    open -> clean/waived     fixed
    clean/open -> waived     the tenant now passes only because of a waiver: a waiver is now needed
    clean/waived -> open, blocking: a waiver (or a fix) is now needed as well
    waived -> clean          the waiver in the tenant file is no longer needed
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .finding import CheckResult, Finding, Status
from .formats import finding_dict, where
from .sarif import to_sarif


class State(StrEnum):
    CLEAN = "clean"
    WAIVED = "waived"
    OPEN = "open"


Subject = tuple[str, str, str]
"""(tenant, policy id, aspect): aspect is "rule" for the policy itself, "waiver" for a finding about a waiver."""


def subject_of(finding: Finding) -> Subject:
    aspect = "waiver" if finding.field.startswith("spec.exceptions[") else "rule"
    return finding.tenant, finding.policy_id, aspect


def state_of(finding: Finding | None) -> State:
    if finding is None:
        return State.CLEAN
    return State.WAIVED if finding.status is Status.WAIVED else State.OPEN


@dataclass(frozen=True)
class PolicyDiff:
    """The base revision's findings against the working tree's, sorted by place within each list."""

    base: str
    """The revision compared against, as resolved (e.g. `main` -> its commit)."""
    new: tuple[Finding, ...]
    """Open now, not open at the base (head findings)."""
    fixed: tuple[Finding, ...]
    """Open at the base, not open now (base findings, relabelled to the working tree's paths)."""
    waivers_needed: tuple[Finding, ...]
    """Now waived where the base was not, or newly failing a mandatory policy with no waiver yet (head)."""
    waivers_unneeded: tuple[Finding, ...]
    """Waived at the base, clean now: the waiver can be removed (base findings)."""
    newly_failing: tuple[str, ...]
    """Tenants (FLEET, "", for the platform) with a blocking finding now and none at the base."""
    now_passing: tuple[str, ...]
    """Tenants with a blocking finding at the base and none now."""
    head: CheckResult

    @property
    def failed(self) -> bool:
        """True when the change adds a blocking finding: what makes `policy diff` exit 1."""
        return any(finding.blocking for finding in self.new)


def _by_subject(findings: Iterable[Finding]) -> dict[Subject, Finding]:
    """One finding per subject; when several share one (not expected), the most severe state wins."""
    table: dict[Subject, Finding] = {}
    for finding in sorted(findings):
        key = subject_of(finding)
        if key not in table or (state_of(finding) is State.OPEN and state_of(table[key]) is not State.OPEN):
            table[key] = finding
    return table


def _blocking_tenants(result: CheckResult) -> set[str]:
    return {finding.tenant for finding in result.findings if finding.blocking}


def compare(base: CheckResult, head: CheckResult, base_label: str = "base") -> PolicyDiff:
    """The transitions between two check results (see the module docstring)."""
    before, after = _by_subject(base.findings), _by_subject(head.findings)
    new, fixed, needed, unneeded = [], [], [], []
    for key in sorted(before.keys() | after.keys()):
        old, now = before.get(key), after.get(key)
        was, is_ = state_of(old), state_of(now)
        if is_ is State.OPEN and was is not State.OPEN and now is not None:
            new.append(now)
            if now.blocking:
                needed.append(now)
        if was is State.OPEN and is_ is not State.OPEN and old is not None:
            fixed.append(old)
        if is_ is State.WAIVED and was is not State.WAIVED and now is not None:
            needed.append(now)
        if was is State.WAIVED and is_ is State.CLEAN and old is not None:
            unneeded.append(old)
        # a waived subject (old) that now fails (now) is in `new`: its waiver stopped covering it
    failing_before, failing_after = _blocking_tenants(base), _blocking_tenants(head)
    return PolicyDiff(base_label, tuple(sorted(new)), tuple(sorted(fixed)), tuple(sorted(needed)),
                      tuple(sorted(unneeded)), tuple(sorted(failing_after - failing_before)),
                      tuple(sorted(failing_before - failing_after)), head)


def relabel(result: CheckResult, label: Callable[[str], str]) -> CheckResult:
    """The same result with file labels mapped (a base revision's temporary paths -> the working tree's)."""
    findings = tuple(replace(finding, file=label(finding.file)) for finding in result.findings)
    return replace(result, findings=tuple(sorted(findings)))


# Formatters: pure, PolicyDiff -> text, like formats.py.

def _tenant(name: str) -> str:
    return name or "(fleet)"


SECTIONS = (
    ("new", "New findings (the change causes them)"),
    ("fixed", "Fixed findings"),
    ("waivers_needed", "Waivers now needed (now passing only under a waiver, or newly failing a mandatory policy)"),
    ("waivers_unneeded", "Waivers no longer needed (the tenant passes without them)"),
)


def diff_summary(diff: PolicyDiff) -> str:
    verdict = "FAILED" if diff.failed else "passed"
    return (f"{verdict}: against {diff.base}: {len(diff.new)} new ({sum(f.blocking for f in diff.new)} blocking), "
            f"{len(diff.fixed)} fixed, {len(diff.waivers_needed)} waivers now needed, "
            f"{len(diff.waivers_unneeded)} no longer needed; tenants newly failing: "
            f"{', '.join(map(_tenant, diff.newly_failing)) or 'none'}; now passing: "
            f"{', '.join(map(_tenant, diff.now_passing)) or 'none'}")


def diff_table(diff: PolicyDiff) -> str:
    """For people: a section per kind of change, one line per finding, then the summary line."""
    lines: list[str] = []
    for attribute, title in SECTIONS:
        findings: tuple[Finding, ...] = getattr(diff, attribute)
        if not findings:
            continue
        lines.append(f"{title}:")
        for finding in findings:
            mark = "BLOCKING " if finding.blocking and attribute == "new" else ""
            lines.append(f"  {mark}{finding.status.value:<14} {finding.policy_id:<13} {_tenant(finding.tenant):<8} "
                         f"{where(finding)}  {finding.message}")
            if finding.note:
                lines.append(f"      {finding.note}")
        lines.append("")
    lines.append(diff_summary(diff))
    return "\n".join(lines) + "\n"


def diff_json(diff: PolicyDiff) -> str:
    """For scripts: the verdict, the tenants that changed side, and each list of findings."""
    document: dict[str, Any] = {
        "passed": not diff.failed,
        "base": diff.base,
        "today": diff.head.today.isoformat(),
        "newlyFailing": [name or None for name in diff.newly_failing],
        "nowPassing": [name or None for name in diff.now_passing],
        "new": [finding_dict(f) for f in diff.new],
        "fixed": [finding_dict(f) for f in diff.fixed],
        "waiversNeeded": [finding_dict(f) for f in diff.waivers_needed],
        "waiversNoLongerNeeded": [finding_dict(f) for f in diff.waivers_unneeded],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def diff_sarif(diff: PolicyDiff) -> str:
    """Only the new findings, so code review annotates just what the change caused (the head's rules)."""
    return to_sarif(replace(diff.head, findings=diff.new))


DIFF_FORMATTERS = {"table": diff_table, "json": diff_json, "sarif": diff_sarif}
