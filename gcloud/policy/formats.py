"""Formatters: pure functions from a CheckResult to text, chosen by name (table, json, sarif, junit).

Machine formats are the whole document and nothing else, so `govcloud policy check --output sarif > x.sarif`
is a valid file; none of them embeds the time of day, so the same input gives byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .examples import ExampleResult
from .finding import FLEET, CheckResult, Finding, Status
from .junit import to_junit
from .policy import Policy
from .sarif import to_sarif


def _rows_to_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last column is left ragged."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[index]) for row in table) for index in range(len(header) - 1)]
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
            for row in table]


def where(finding: Finding) -> str:
    """`file:line:col`, or just the file when the position is unknown."""
    return str(finding.location)


def summary_line(result: CheckResult) -> str:
    counts = result.counts()
    tenants = {name for names in result.evaluated.values() for name in names if name != FLEET}
    advisory = sum(1 for f in result.findings if f.status in (Status.FAIL, Status.ERROR) and not f.blocking)
    verdict = "FAILED" if result.failed else "passed"
    return (f"{verdict}: {len(tenants)} tenants, {len(result.policies)} policies, {counts['evaluations']} "
            f"evaluations as of {result.today.isoformat()}: {counts['blocking']} blocking, {advisory} advisory, "
            f"{counts['waived']} waived, {counts['expired-waiver']} expired waivers")


def to_table(result: CheckResult) -> str:
    """For people: one line per finding (waiver details indented below), then a summary line."""
    if not result.findings:
        return summary_line(result) + "\n"
    lines = _rows_to_text(
        ("STATUS", "SEVERITY", "ENFORCEMENT", "POLICY", "TENANT", "WHERE", "MESSAGE"),
        ((f.status.value, f.severity, f.enforcement, f.policy_id, f.tenant or "(fleet)", where(f), f.message)
         for f in result.findings))
    out = [lines[0]]
    for finding, line in zip(result.findings, lines[1:], strict=True):
        out.append(line)
        if finding.note:
            out.append(f"    {finding.note}")
    out.append("")
    out.append(summary_line(result))
    return "\n".join(out) + "\n"


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "policy": finding.policy_id, "status": finding.status.value, "severity": finding.severity,
        "enforcement": finding.enforcement, "blocking": finding.blocking, "tenant": finding.tenant or None,
        "file": finding.file, "line": finding.line, "column": finding.column, "field": finding.field,
        "message": finding.message, "note": finding.note or None,
    }


def to_json(result: CheckResult) -> str:
    """For scripts: the verdict, counts by status, and every finding."""
    document = {
        "passed": not result.failed,
        "today": result.today.isoformat(),
        "summary": result.counts(),
        "policies": [policy.id for policy in result.policies],
        "findings": [finding_dict(finding) for finding in result.findings],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


FORMATTERS: dict[str, Callable[[CheckResult], str]] = {
    "table": to_table,
    "json": to_json,
    "sarif": to_sarif,
    "junit": to_junit,
}


def policy_list_table(policies: Sequence[Policy]) -> str:
    """`policy list`: what the security team reviews, one line per policy."""
    lines = _rows_to_text(("ID", "SEVERITY", "ENFORCEMENT", "SCOPE", "TITLE"),
                          ((p.id, p.severity, p.enforcement, p.scope_text(), p.spec.title) for p in policies))
    return "\n".join(lines) + "\n"


def policy_dict(policy: Policy) -> dict[str, Any]:
    """A policy's reviewed metadata as JSON-ready data (examples included)."""
    spec = policy.spec
    return {
        "id": spec.id, "title": spec.title, "severity": spec.severity, "enforcement": spec.enforcement,
        "waivable": spec.waivable, "scope": policy.scope_text(), "fleet": policy.fleet,
        "appliesTo": spec.applies_to.model_dump(by_alias=True), "field": spec.field, "rule": spec.rule,
        "message": spec.message, "rationale": spec.rationale, "references": list(spec.references),
        "examples": spec.examples.model_dump(by_alias=True, exclude_defaults=True, mode="json"),
        "source": str(policy.source), "engine": policy.engine,
    }


def policy_list_json(policies: Sequence[Policy]) -> str:
    return json.dumps([policy_dict(policy) for policy in policies], ensure_ascii=False, indent=2) + "\n"


def examples_table(results: Sequence[ExampleResult]) -> str:
    """`policy test`: a line per example (ok / FAIL with why), then the count, like `opa test`."""
    lines = []
    for result in results:
        if result.ok:
            lines.append(f"ok    {result.name}")
        else:
            lines.append(f"FAIL  {result.name}  {result.location}: {result.detail}")
    failed = sum(1 for result in results if not result.ok)
    lines += ["", f"{'FAILED' if failed else 'PASS'}: {len(results) - failed}/{len(results)} examples"]
    return "\n".join(lines) + "\n"


def examples_json(results: Sequence[ExampleResult]) -> str:
    document = {
        "passed": all(result.ok for result in results),
        "examples": [{"policy": r.policy_id, "kind": r.kind, "index": r.index, "ok": r.ok, "detail": r.detail,
                      "source": str(r.location)} for r in results],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
