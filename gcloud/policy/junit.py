"""JUnit XML: one test suite per policy, one test case per tenant it judged, so CI shows policy results
next to test results. Failures and errors are exactly the blocking findings (the ones that make the check
exit 1); advisory findings pass with their message in system-out; waived ones are skipped with the waiver;
expired or dangling waivers go in a `waivers` suite.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import TYPE_CHECKING

from .finding import FLEET, Finding, Status

if TYPE_CHECKING:
    from .finding import CheckResult

WAIVER_SUITE = "waivers"


def _describe(finding: Finding) -> str:
    where = str(finding.location)
    return f"{where} {finding.field}: {finding.message}"


def _case(suite: ET.Element, name: str, classname: str, findings: list[Finding]) -> ET.Element:
    case = ET.SubElement(suite, "testcase", name=name, classname=classname)
    if findings and findings[0].file:
        case.set("file", findings[0].file)
        if findings[0].line:
            case.set("line", str(findings[0].line))
    notes: list[str] = []
    for finding in findings:
        text = _describe(finding)
        if finding.blocking and finding.status is Status.ERROR:
            ET.SubElement(case, "error", message=finding.message, type=finding.severity).text = text
        elif finding.blocking:
            ET.SubElement(case, "failure", message=finding.message, type=finding.severity).text = text
        elif finding.status is Status.WAIVED:
            ET.SubElement(case, "skipped", message=f"waived: {finding.note}")
        else:
            notes.append(f"{finding.status.value} ({finding.enforcement}): {text}"
                         + (f" [{finding.note}]" if finding.note else ""))
    if notes:
        ET.SubElement(case, "system-out").text = "\n".join(notes)
    return case


def _count(suite: ET.Element) -> dict[str, int]:
    cases = suite.findall("testcase")
    counts = {
        "tests": len(cases),
        "failures": sum(1 for case in cases if case.find("failure") is not None),
        "errors": sum(1 for case in cases if case.find("error") is not None),
        "skipped": sum(1 for case in cases if case.find("skipped") is not None),
    }
    for key, value in counts.items():
        suite.set(key, str(value))
    return counts


def to_junit(result: CheckResult) -> str:
    """The document; deterministic (no timestamps or durations)."""
    by_case: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    waiver_findings: list[Finding] = []
    fleet_rules = {policy.id for policy in result.policies if policy.fleet}  # one case, whoever a finding names
    for finding in result.findings:
        if finding.status is Status.EXPIRED_WAIVER or (finding.status in (Status.ERROR, Status.FAIL) and
                                                       finding.field.startswith("spec.exceptions[")):
            waiver_findings.append(finding)
        else:
            by_case[(finding.policy_id, FLEET if finding.policy_id in fleet_rules else finding.tenant)].append(finding)
    root = ET.Element("testsuites", name="govcloud policy check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for policy in result.policies:
        suite = ET.SubElement(root, "testsuite", name=policy.id)
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="title", value=policy.spec.title)
        for tenant in result.evaluated.get(policy.id, ()):
            _case(suite, tenant if tenant != FLEET else "(fleet)", policy.id, by_case.get((policy.id, tenant), []))
        for key, value in _count(suite).items():
            totals[key] += value
    if waiver_findings:
        suite = ET.SubElement(root, "testsuite", name=WAIVER_SUITE)
        for finding in waiver_findings:
            _case(suite, f"{finding.tenant} {finding.field}", WAIVER_SUITE, [finding])
        for key, value in _count(suite).items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
