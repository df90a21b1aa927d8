"""Run compiled policies over tenants: one CEL context per tenant, each rule once, findings as values.

The clock is a parameter (`today`): waivers, interconnect dates and `today` in CEL all read it, so a test
or a "what breaks next month" run is deterministic.

Where the time goes (bench/bench_policy_peer.py): the CEL library converts the values a rule reads into its
own, about 1 us per string (eight type probes, numbers and dates first, before `str`), and that was half of
checking a tenant. So a tenant rule is first run as Python (native.py), on the values as they are, for the part
of CEL whose meaning Python keeps; only a rule outside it, or a value outside it at run time, or an error, is
evaluated in CEL (the library's answer and message then). At 1,000 tenants the ten rules shared with the OPA
benchmark went from 0.22 s to 0.07 s. For what CEL still evaluates:
- each tenant's values are converted once per run, into one context all its rules share, and only what the
  rules read: field chains are pre-bound (celsyntax.flatten), and the lists they iterate are cut down to the
  fields their macros select (celsyntax.needs/project; a rule that errors is evaluated again on the whole
  values, so its message is the one it always was);
- messages read more (names, lists to quote) but are rendered only for a tenant's failures, in a context of
  their own.
From FORK_THRESHOLD tenants on, the tenant policies run in forked workers (gcloud.workers), one per core, only
findings and who was judged travelling back: at 10,000 tenants all policies 2.1-2.4 s against 2.3-2.6 s in one
process (both cores of this machine together give about 1.6x one, and the parent's share does not split).
Why per tenant, not one program per rule over all tenants: a batch (`scope.all(i, RULE ? true : note(i))` over
one context holding every tenant's values as rows) converted the same values more slowly when nested in one
large list and read them no faster: 0.28 s against 0.18 s at 1,000 tenants, 3.1 s against 1.9 s at 10,000
(`map` and `filter` are quadratic in this evaluator, so only `all` was usable). One list-valued program per
tenant for all its rules saved nothing either (one call costs ~0.2 us).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gcloud.errors import SourceLocation
from gcloud.workers import fork_workers, forked_map

from . import cellib as cel
from .celexpr import Expression
from .celsyntax import Binding, Need, bind, merge, needs, project, tokens
from .finding import FLEET, CheckResult, Finding, Status
from .functions import FUNCTIONS, INTERNAL_FUNCTIONS
from .policy import Policy, PolicySet
from .usage import fleet_usage
from .waivers import Waiver, cover, waivers_of

FORK_THRESHOLD = 2000
"""From this many tenants on, the tenant policies run in forked workers (gcloud.workers), one per core; below,
starting them costs about what the second core saves."""

EVALUATION_BUDGET_SECONDS = 0.25
"""One rule on one tenant (or one fleet rule) taking longer is reported as an error, failing closed: the
evaluator cannot be interrupted, so the static limits in celexpr bound the cost and this catches a rule
that is legal but too slow before it makes every CI run slow."""

Locator = Callable[[str], SourceLocation]


@dataclass(frozen=True)
class Subject:
    """One tenant as the checker sees it: its effective spec and how to point into its file."""

    name: str
    label: str
    data: Mapping[str, Any]
    locate: Locator


@dataclass(frozen=True)
class Outcome:
    """One evaluation: passed, or why not."""

    passed: bool
    error: str = ""


PASSED = Outcome(True)
FAILED = Outcome(False)


def evaluate(policy: Policy, context: cel.Context, budget: float = EVALUATION_BUDGET_SECONDS,
             quick: bool = False) -> Outcome:
    """Run one compiled rule; a non-boolean result, an evaluation error or a blown budget is an error.

    `quick` runs the rule's quick program when it has one (its context must register `quick_functions`).
    """
    start = time.perf_counter()
    try:
        if quick and policy.rule.quick is not None:
            value = policy.rule.quick.execute(context)
        else:
            value = policy.rule.evaluate(context)
    except Exception as err:  # every evaluator failure becomes an `error` finding, never a crash
        return Outcome(False, f"rule could not be evaluated: {describe_error(err)}")
    elapsed = time.perf_counter() - start
    if elapsed > budget:
        return Outcome(False, f"rule took {elapsed:.3f} s, over the {budget} s budget per evaluation")
    if value is True:
        return PASSED
    if value is False:
        return FAILED
    return Outcome(False, f"rule returned {type(value).__name__} {value!r}, expected true or false")


def describe_error(err: Exception) -> str:
    """The evaluator's message without its generic advice; KeyError names the missing key."""
    if isinstance(err, KeyError):
        return f"no such key {err.args[0]!s}" if err.args else "no such key"
    text = str(err).split(". Check", 1)[0].split(". Convert", 1)[0]
    return text.splitlines()[0] if text else type(err).__name__


def make_context(variables: Mapping[str, Any], functions: Iterable[str] = FUNCTIONS) -> cel.Context:
    """A CEL context with (some of) the policy functions; values are converted to CEL once, here."""
    return cel.Context(dict(variables), {name: FUNCTIONS.get(name) or INTERNAL_FUNCTIONS[name]
                                         for name in functions})


def reads(expressions: Sequence[Expression]) -> dict[str, Need]:
    """What some expressions read of their bound lists, where that is less than everything (see celsyntax.needs)."""
    names = frozenset(binding.name for expression in expressions for binding in expression.bindings)
    found: dict[str, Need] = {}
    for expression in expressions:
        for name, need in needs(tokens(expression.program.source), names).items():
            found[name] = merge(found[name], need) if name in found else need
    return {name: need for name, need in found.items() if need is not None}


def projected(variables: dict[str, Any], cuts: Mapping[str, Need]) -> dict[str, Any]:
    """The variables with each bound list cut down to what the rules read of it (`cuts`), in place."""
    for name, need in cuts.items():
        if name in variables:
            variables[name] = project(need, variables[name])
    return variables


def scope_key(tenant: Mapping[str, Any], label_keys: Iterable[str]) -> tuple[Any, ...]:
    """What `appliesTo` can look at: the MLPS level and the labels that some policy's scope names."""
    labels = (tenant.get("metadata") or {}).get("labels") or {}
    return ((tenant.get("spec") or {}).get("mlpsLevel"), *(labels.get(key) for key in label_keys))


@dataclass(frozen=True)
class _Plan:
    """For one set of applicable policies: the tenant bindings their rules read, the rest already bound.

    The platform values are converted once per shape: tenants whose chains resolve alike (all of them, or all
    but those under a missing openstack section, ...) share one context and only replace their own variables
    in it. A chain that cannot be looked up is never bound in its shape's context, so it stays unbound rather
    than keeping another tenant's value. (A fresh context per such tenant re-converted the platform values.)

    Only the rules' own reads are bound, cut down to what they read (`cuts`): converting values into CEL is
    most of the cost of a check. Messages read more (names, lists to quote) but run only for findings, in a
    context of their own (`Checker.message_context`).
    """

    policies: tuple[Policy, ...]
    tenant_bindings: frozenset[Binding]
    static: dict[str, Any]
    functions: frozenset[str]
    cuts: Mapping[str, Need]
    shapes: dict[frozenset[str] | None, cel.Context]

    def variables(self, tenant: Mapping[str, Any]) -> dict[str, Any]:
        return bind(self.tenant_bindings, {"tenant": tenant})

    def context(self, tenant: Mapping[str, Any]) -> cel.Context:
        variables = projected(self.variables(tenant), self.cuts)
        shape = None if len(variables) == len(self.tenant_bindings) else frozenset(variables)
        context = self.shapes.get(shape)
        if context is None:
            context = self.shapes[shape] = make_context(self.static, self.functions)
        context.update(variables)
        return context

    def whole_context(self, tenant: Mapping[str, Any]) -> cel.Context:
        """The same variables, nothing cut: an error is reported exactly as evaluating the whole values says."""
        return make_context({**self.static, **self.variables(tenant)}, self.functions)


class Checker:
    """Evaluates one policy set against one platform as of one day."""

    def __init__(self, policies: PolicySet, platform: Mapping[str, Any], today: dt.date,
                 budget: float = EVALUATION_BUDGET_SECONDS) -> None:
        self.policies = policies
        self.platform = platform
        self.today = today
        self.budget = budget
        self._roots: dict[str, Any] = {"platform": platform, "today": today.isoformat()}
        self._tenant_policies = policies.tenant_policies()
        self._label_keys = sorted({key for policy in self._tenant_policies for key in policy.spec.applies_to.labels})
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._slow: set[str] = set()
        """Policies whose quick program failed once: evaluated as written for the rest of the check."""
        self._today = today.isoformat()
        self._natives = {policy.id: rule for policy in self._tenant_policies
                         if (rule := policy.python_rule) is not None}

    def check(self, subjects: Sequence[Subject], locate_platform: Locator) -> CheckResult:
        """Every tenant policy on every tenant in its scope, then every fleet policy once."""
        findings, evaluated = self._check_tenants(subjects)
        tenants = [subject.data for subject in subjects]
        shared: dict[str, Any] = {}
        for policy in self.policies.fleet_policies():
            findings += self.check_fleet(policy, tenants, locate_platform, shared)
            evaluated[policy.id].append(FLEET)
        return CheckResult(tuple(sorted(findings)), tuple(self.policies),
                           {key: tuple(names) for key, names in evaluated.items()}, self.today)

    def _check_tenants(self, subjects: Sequence[Subject]) -> tuple[list[Finding], dict[str, list[str]]]:
        """The tenant policies on these tenants: findings, and who each policy judged; large fleets on every
        core, in contiguous runs of tenants so that `evaluated` keeps the subjects' order."""
        workers = fork_workers()
        if len(subjects) < FORK_THRESHOLD or not workers:
            return self._check_run(subjects)
        size = -(-len(subjects) // (workers * 2))
        runs = forked_map(lambda start: self._check_run(subjects[start:start + size]),
                          range(0, len(subjects), size), workers)
        findings: list[Finding] = [finding for run_findings, _ in runs for finding in run_findings]
        evaluated = {policy.id: [name for _, run_evaluated in runs for name in run_evaluated[policy.id]]
                     for policy in self.policies}
        return findings, evaluated

    def _check_run(self, subjects: Sequence[Subject]) -> tuple[list[Finding], dict[str, list[str]]]:
        findings: list[Finding] = []
        evaluated: dict[str, list[str]] = {policy.id: [] for policy in self.policies}
        for subject in subjects:
            findings += self.check_tenant(subject, evaluated)
        return findings, evaluated

    def _plan(self, tenant: Mapping[str, Any]) -> _Plan:
        """Tenants with the same level and labels share a plan (and the converted platform values in it)."""
        key = scope_key(tenant, self._label_keys)
        plan = self._plans.get(key)
        if plan is None:
            applicable = tuple(policy for policy in self._tenant_policies if policy.applies_to(tenant))
            bindings: frozenset[Binding] = frozenset().union(*(policy.rule.bindings for policy in applicable))
            mine = frozenset(binding for binding in bindings if binding.root == "tenant")
            functions: frozenset[str] = frozenset().union(*(policy.rule.quick_functions for policy in applicable))
            static = bind(bindings - mine, self._roots)
            plan = _Plan(applicable, mine, static, functions, reads([policy.rule for policy in applicable]), {})
            self._plans[key] = plan
        return plan

    def check_tenant(self, subject: Subject, evaluated: dict[str, list[str]] | None = None) -> list[Finding]:
        """One tenant: its failures (waived or not) and its expired or dangling waivers."""
        plan = self._plan(subject.data)
        context: cel.Context | None = None  # converted only when some rule is CEL's to judge
        whole: cel.Context | None = None
        failed: list[tuple[Policy, Outcome]] = []
        for policy in plan.policies:
            if evaluated is not None:
                evaluated[policy.spec.id].append(subject.name)
            native = self._native(policy, subject.data)
            if native is not None:
                if not native.passed:
                    failed.append((policy, native))
                continue
            if context is None:
                context = plan.context(subject.data)
            outcome = evaluate(policy, context, self.budget, quick=policy.id not in self._slow)
            if outcome.error:
                if policy.rule.quick is not None:
                    self._slow.add(policy.id)  # its patterns are not all quick ones: CEL's matches from now on
                if whole is None:
                    whole = plan.whole_context(subject.data)
                outcome = evaluate(policy, whole, self.budget)
            if not outcome.passed:
                failed.append((policy, outcome))
        waivers = waivers_of(subject.data)
        findings: list[Finding] = []
        if failed:
            messages = self.message_context([policy for policy, _ in failed], subject.data)
            findings += [self._tenant_finding(policy, subject, outcome, waivers, messages)
                         for policy, outcome in failed]
        findings += self._waiver_findings(subject, waivers)
        return findings

    def _native(self, policy: Policy, tenant: Mapping[str, Any]) -> Outcome | None:
        """The rule's outcome from its Python form (native.py), or None when CEL is to judge: no such form, a
        value outside it (Defer), any error (CEL says which), or over the budget (CEL measures and reports)."""
        rule = self._natives.get(policy.id)
        if rule is None:
            return None
        start = time.perf_counter()
        try:
            value = rule(tenant, self.platform, self._today)
        except Exception:  # Defer, a missing key, a null parent, a function's error: all CEL's to report
            return None
        if time.perf_counter() - start > self.budget:
            return None
        return PASSED if value is True else FAILED if value is False else None

    def message_context(self, policies: Sequence[Policy], tenant: Mapping[str, Any]) -> cel.Context:
        """What the messages of a tenant's failed policies read, whole, in one context."""
        bindings: frozenset[Binding] = frozenset().union(*(policy.message.bindings for policy in policies))
        functions: frozenset[str] = frozenset().union(*(policy.message.functions for policy in policies))
        return make_context(bind(bindings, {**self._roots, "tenant": tenant}), functions)

    def _tenant_finding(self, policy: Policy, subject: Subject, outcome: Outcome,
                        waivers: Sequence[Waiver], context: cel.Context) -> Finding:
        covered = cover(waivers, policy.id, self.today)
        message = outcome.error or policy.message.render(context)
        where = subject.locate(policy.spec.field)
        if covered.live is not None:
            status, note = Status.WAIVED, covered.live.describe()
        else:
            status = Status.ERROR if outcome.error else Status.FAIL
            note = "; ".join(f"void: {waiver.describe()}" for waiver in covered.expired)
        return Finding(where.file, where.line, where.column, policy.id, policy.severity, policy.enforcement,
                       subject.name, policy.spec.field, message, status, note)

    def _waiver_findings(self, subject: Subject, waivers: Sequence[Waiver]) -> list[Finding]:
        findings = []
        for waiver in waivers:
            policy = self.policies.get(waiver.policy)
            if policy is not None and waiver.live(self.today):
                continue
            field = f"{waiver.field}.expires" if policy is not None else f"{waiver.field}.policy"
            where = subject.locate(field)
            if policy is None:
                status, severity = Status.ERROR, "low"
                message = f"waiver {waiver.ticket} names policy {waiver.policy}, which no loaded policy has"
            else:
                status, severity = Status.EXPIRED_WAIVER, policy.severity
                message = (f"waiver {waiver.ticket} for {waiver.policy} expired on {waiver.expires.isoformat()} "
                           "and no longer applies; renew it with a new approval or remove it")
            findings.append(Finding(where.file, where.line, where.column, waiver.policy, severity, "advisory",
                                    subject.name, field, message, status, waiver.describe()))
        return findings

    def fleet_roots(self, policy: Policy, tenants: Sequence[Mapping[str, Any]],
                    shared: dict[str, Any] | None = None) -> dict[str, Any]:
        """What a fleet policy reads: all tenants and/or their summed usage (computed only when read, and once
        per check when `shared` holds it for the fleet policies of one run)."""
        roots: dict[str, Any] = {}
        names = policy.rule.globals | policy.message.globals
        if "tenants" in names:
            roots["tenants"] = list(tenants)
        if "usage" in names:
            cache = shared if shared is not None else {}
            if "usage" not in cache:
                cache["usage"] = fleet_usage(self.platform, tenants)
            roots["usage"] = cache["usage"]
        return roots

    def check_fleet(self, policy: Policy, tenants: Sequence[Mapping[str, Any]],
                    locate_platform: Locator, shared: dict[str, Any] | None = None) -> list[Finding]:
        """One fleet policy over all tenants; its finding points into platform.yaml."""
        roots = self.fleet_roots(policy, tenants, shared)
        variables = bind(policy.bindings, {**self._roots, **roots})
        context = make_context(projected(dict(variables), reads([policy.rule, *policy.message.expressions])),
                               policy.functions)
        outcome = evaluate(policy, context, self.budget)
        if outcome.passed:
            return []
        context = make_context(variables, policy.functions)  # messages and errors see the whole values
        if outcome.error:
            outcome = evaluate(policy, context, self.budget)
            if outcome.passed:
                return []
        where = locate_platform(policy.spec.field)
        message = outcome.error or policy.message.render(context)
        status = Status.ERROR if outcome.error else Status.FAIL
        names = () if outcome.error else offenders(policy, context)
        return [Finding(where.file, where.line, where.column, policy.id, policy.severity, policy.enforcement,
                        name, policy.spec.field, message, status) for name in names or (FLEET,)]


def offenders(policy: Policy, context: cel.Context) -> tuple[str, ...]:
    """The tenants a failed fleet rule names (its `offenders`); () when it has none, or they cannot be read,
    so the finding stays the fleet's and stops the run (failing closed)."""
    if policy.offenders is None:
        return ()
    try:
        value = policy.offenders.evaluate(context)
    except Exception:  # an unreadable list of offenders must not narrow a failure
        return ()
    if not isinstance(value, list) or not all(isinstance(name, str) and name for name in value):
        return ()
    return tuple(sorted(set(value)))

