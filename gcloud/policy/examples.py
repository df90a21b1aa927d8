"""`policy test`: every policy's examples, like `opa test` — a pass example must pass, a fail example fail.

An example is a snippet merged over a reference tenant and platform (reference-*.yaml beside this module):
maps merge key by key, lists and scalars replace, `null` removes a key. The merged tenant is validated by the tenant
model and turned into its effective spec exactly as `policy check` sees real tenants, so an example that no
real tenant file could produce is itself a failure. The clock is pinned (`EXAMPLE_TODAY` unless the example
sets `today`), so examples do not rot.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from gcloud.errors import SourceLocation
from gcloud.model.effective import effective_spec, interconnect_sides
from gcloud.model.platform import Platform
from gcloud.model.tenant import Tenant
from gcloud.model.yamlsrc import load_yaml

from . import waiver_control
from .celsyntax import bind
from .clauses import citation_problems
from .evaluate import evaluate, make_context
from .policy import Policy, PolicySet
from .schema import Example
from .usage import fleet_usage

EXAMPLE_TODAY = dt.date(2026, 1, 1)
_HERE = Path(__file__).parent
Kind = Literal["pass", "fail", "cite"]
"""`cite`: a reference to a GB/T 22239-2019 clause that the clause table (clauses.yaml) does not bear out."""


@dataclass(frozen=True)
class ExampleResult:
    policy_id: str
    kind: Kind
    index: int
    ok: bool
    detail: str
    location: SourceLocation

    @property
    def name(self) -> str:
        return f"{self.policy_id} {self.kind}[{self.index}]"


@cache
def reference(which: Literal["tenant", "platform"]) -> dict[str, Any]:
    """The reference document (a fresh copy is made by every merge)."""
    data: dict[str, Any] = load_yaml(_HERE / f"reference-{which}.yaml").data
    return data


def merge(base: Mapping[str, Any], snippet: Mapping[str, Any]) -> dict[str, Any]:
    """`snippet` over `base`: maps merge recursively, `null` removes a key (it takes its default), else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in snippet.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class ExampleError(ValueError):
    """The merged example is not a valid tenant or platform."""


def _validated(model: type[Tenant] | type[Platform], data: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ExampleError(f"the example's {what} is not valid: {where}: {first['msg']}") from None


def materialize(example: Example) -> tuple[list[dict[str, Any]], dict[str, Any], dt.date]:
    """The effective tenants, the platform data and the date an example is evaluated with."""
    platform = _validated(Platform, merge(reference("platform"), example.platform), "platform")
    snippets = example.tenants if example.tenants is not None else [example.tenant]
    today = example.today or EXAMPLE_TODAY
    models = [_validated(Tenant, merge(reference("tenant"), snippet), "tenant") for snippet in snippets]
    sides = interconnect_sides(models)  # as the fleet loader does: both ends of a flow see it
    tenants = [effective_spec(tenant, platform, {}, today=today, sides=sides.get(tenant.metadata.name))
               for tenant in models]
    platform_data: dict[str, Any] = platform.model_dump(by_alias=True, mode="json")
    return tenants, platform_data, today


def run_example(policy: Policy, example: Example, kind: Kind, index: int) -> ExampleResult:
    """Evaluate one example; it must come out as its kind says, with a message that renders."""
    def result(ok: bool, detail: str) -> ExampleResult:
        return ExampleResult(policy.id, kind, index, ok, detail, policy.source)

    try:
        tenants, platform, today = materialize(example)
    except ExampleError as err:
        return result(False, str(err))
    roots: dict[str, Any] = {"platform": platform, "today": today.isoformat()}
    if policy.fleet:
        roots |= {"tenants": tenants, "usage": fleet_usage(platform, tenants)}
    else:  # a per-tenant rule judges the first tenant; any others are the fleet it is loaded with
        roots["tenant"] = tenants[0]
        if not policy.applies_to(tenants[0]):
            return result(False, f"the example is outside the policy's scope ({policy.scope_text()})")
    context = make_context(bind(policy.bindings, roots), policy.functions)
    outcome = evaluate(policy, context, budget=1.0)
    if outcome.error:
        return result(False, outcome.error)
    if outcome.passed != (kind == "pass"):
        return result(False, f"expected the rule to {'pass' if kind == 'pass' else 'fail'}, it "
                             f"{'passed' if outcome.passed else 'failed'}")
    if kind == "fail":
        message = policy.message.render(context)
        if "{?" in message:
            return result(False, f"the message does not render: {message}")
        return result(True, message)
    return result(True, "passed")


def run_examples(policies: PolicySet | Sequence[Policy]) -> list[ExampleResult]:
    """Every example of every policy, in policy order, then each citation the clause table refuses."""
    results: list[ExampleResult] = []
    for policy in policies:
        kinds: tuple[tuple[Kind, list[Example]], ...] = (("pass", policy.spec.examples.pass_),
                                                          ("fail", policy.spec.examples.fail))
        for kind, examples in kinds:
            results += [run_example(policy, example, kind, index) for index, example in enumerate(examples)]
    return results + builtin_results() + citation_results(policies)


def builtin_results() -> list[ExampleResult]:
    """The built-in waiver rules' examples (waiver_control.py): a fail example must have that rule's flaw."""
    results: list[ExampleResult] = []
    here = SourceLocation(str(Path(waiver_control.__file__).name))
    for rule in waiver_control.BUILTIN_RULES:
        for kind, examples in (("pass", rule.passes), ("fail", rule.fails)):
            for index, example in enumerate(examples):
                tenants, platform, today = materialize(example)
                _, flaws = waiver_control.waiver_flaws(tenants[0], waiver_control.EXAMPLE_POLICIES, platform, today)
                mine = [flaw.message for flaw in flaws if flaw.rule == rule.id]
                ok = bool(mine) == (kind == "fail")
                detail = mine[0] if mine else "no flaw" if kind == "fail" else "passed"
                results.append(ExampleResult(rule.id, kind, index, ok, detail, here))  # type: ignore[arg-type]
    return results


def citation_results(policies: PolicySet | Sequence[Policy]) -> list[ExampleResult]:
    """A failed result per reference the clause table refuses (none when every citation holds)."""
    by_id = {policy.id: policy for policy in policies}
    results: list[ExampleResult] = []
    for index, problem in enumerate(citation_problems(by_id.values())):
        detail = f"{problem.reference}: {problem.message}" if problem.reference else problem.message
        results.append(ExampleResult(problem.policy_id, "cite", index, False, detail,
                                     by_id[problem.policy_id].source))
    return results
