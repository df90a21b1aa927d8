"""`policy explain ID`: one policy as a page a reviewer reads without opening any Python."""

from __future__ import annotations

import textwrap
from typing import Any

import yaml

from .clauses import describe
from .examples import EXAMPLE_TODAY
from .policy import Policy
from .schema import Example

WIDTH = 100
INDENT = "  "

ENFORCEMENT_TEXT = {
    "mandatory": "mandatory: a finding fails `govcloud policy check` (exit 1) unless a live waiver covers it",
    "advisory": "advisory: findings are reported, the check still passes",
}

ENGINE_TEXT = {
    "python": "Python compiled from the rule below, for speed; the CEL library judges any value outside that "
              "form and reports every error (policies/README.md, How rules run)",
    "cel": "the CEL library",
}


def _wrap(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), WIDTH, initial_indent=INDENT, subsequent_indent=INDENT,
                         break_on_hyphens=False)


def _block(text: str) -> str:
    return textwrap.indent(text.strip("\n"), INDENT)


def _example_yaml(example: Example) -> str:
    data: dict[str, Any] = example.model_dump(by_alias=True, exclude_defaults=True)
    if not data:
        data = {"tenant": {}}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=WIDTH).strip()


def explain(policy: Policy) -> str:
    """Title, severity, enforcement, scope, what it checks (rule and message), why, clauses, examples."""
    spec = policy.spec
    fields = [
        ("Severity", spec.severity),
        ("Enforcement", ENFORCEMENT_TEXT[spec.enforcement]),
        ("Waivable", "yes, by a waiver (spec.exceptions) a listed approver signs, within the severity's maximum"
                     if spec.waivable else "no: no waiver covers it (a waiver naming it is void and a finding)"),
        ("Applies to", policy.scope_text()),
        ("Points at", f"{spec.field} ({'platform.yaml' if policy.fleet else 'the tenant file'})"),
        ("Runs as", ENGINE_TEXT[policy.engine]),
        ("Defined in", str(policy.source)),
    ]
    width = max(len(name) for name, _ in fields)
    out = [f"{spec.id}: {spec.title}", "", *(f"{name.ljust(width)}  {value}" for name, value in fields), ""]
    out += ["Why", _wrap(spec.rationale), ""]
    out += ["References (MLPS 2.0; [clause title; levels it applies at] from the shipped clause table)",
            *(f"{INDENT}- {describe(reference)}" for reference in spec.references), ""]
    variables = "tenants, usage, platform, today" if policy.fleet else "tenant, platform, today"
    out += [f"Rule (CEL over {variables}; true means compliant)", _block(spec.rule), ""]
    out += ["Message on a finding", _wrap(spec.message), ""]
    out += [f"Examples (snippets merged over the reference tenant and platform; today = {EXAMPLE_TODAY} unless "
            "set; `govcloud policy test` runs them)"]
    for kind, examples in (("passes", spec.examples.pass_), ("fails", spec.examples.fail)):
        for example in examples:
            out += [f"{INDENT}{kind}:", _block(textwrap.indent(_example_yaml(example), INDENT)), ""]
    return "\n".join(out).rstrip() + "\n"
