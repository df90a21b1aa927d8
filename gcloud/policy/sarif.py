"""SARIF 2.1.0: findings as results on the tenant file's line and column, policies as rules.

Code-review tools (GitHub code scanning, GitLab, VS Code's SARIF viewer) annotate the offending line of the
tenant file. Waived findings are results with an accepted external suppression, so viewers hide them but an
auditor still sees them with the waiver's justification.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .finding import Finding, Status
from .policy import Policy

if TYPE_CHECKING:
    from .finding import CheckResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_VERSION = "0.1.0"

SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
"""GitHub code scanning reads `security-severity` (CVSS-like) to rank findings."""


def level(policy_enforcement: str, severity: str) -> str:
    """SARIF level: mandatory -> error, advisory -> warning (note when low)."""
    if policy_enforcement == "mandatory":
        return "error"
    return "note" if severity == "low" else "warning"


def rule_descriptor(policy: Policy) -> dict[str, Any]:
    spec = policy.spec
    references = "\n".join(f"- {reference}" for reference in spec.references)
    return {
        "id": spec.id,
        "name": spec.id.replace("-", ""),
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": spec.rationale},
        "help": {
            "text": f"{spec.rationale}\n\nReferences:\n{references}\n\nRule (CEL): {spec.rule}",
            "markdown": f"{spec.rationale}\n\n**References**\n\n{references}\n\n**Rule (CEL)**\n\n"
                        f"```\n{spec.rule}\n```",
        },
        "defaultConfiguration": {"level": level(spec.enforcement, spec.severity)},
        "properties": {
            "tags": ["security", "mlps", spec.enforcement, *(["fleet"] if policy.fleet else [])],
            "precision": "very-high",
            "security-severity": SECURITY_SEVERITY[spec.severity],
            "severity": spec.severity,
            "enforcement": spec.enforcement,
            "scope": policy.scope_text(),
            "references": list(spec.references),
        },
    }


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": finding.policy_id}
    if finding.policy_id in index:
        result["ruleIndex"] = index[finding.policy_id]
    result["level"] = level(finding.enforcement, finding.severity)
    result["message"] = {"text": finding.message}
    region: dict[str, int] = {}
    if finding.line:
        region = {"startLine": finding.line, "startColumn": max(finding.column, 1)}
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(finding.file), "uriBaseId": "%SRCROOT%"}}
    if region:
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.tenant:
        location["logicalLocations"] = [{"name": finding.tenant, "fullyQualifiedName":
                                         f"{finding.tenant}.{finding.field}", "kind": "object"}]
    result["locations"] = [location]
    if finding.status is Status.WAIVED:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": finding.note}]
    result["properties"] = {"status": finding.status.value, "tenant": finding.tenant or None,
                            "field": finding.field, "blocking": finding.blocking,
                            **({"note": finding.note} if finding.note else {})}
    return result


def to_sarif(result: CheckResult) -> str:
    """One run of the govcloud driver: every policy as a rule, every finding as a result."""
    rules = [rule_descriptor(policy) for policy in result.policies]
    index = {policy.id: position for position, policy in enumerate(result.policies)}
    run = {
        "tool": {"driver": {"name": "govcloud", "version": TOOL_VERSION, "rules": rules}},
        "results": [_result(finding, index) for finding in result.findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"today": result.today.isoformat(), "passed": not result.failed},
    }
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
