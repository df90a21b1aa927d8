"""Read policy files: strict YAML with positions, the v1 schema, CEL compiled once; every problem at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from gcloud.errors import InputError, Problem, SourceLocation
from gcloud.model.parse import located, validation_problems
from gcloud.model.yamlsrc import YamlDocument, load_yaml

from .celexpr import Expression, ExpressionError, compile_expression, compile_template
from .celsyntax import literal_iterations, tokens
from .functions import FUNCTION_NAMES
from .policy import FLEET_GLOBALS, TENANT_GLOBALS, Policy, PolicySet
from .schema import PolicyFile, PolicySpec

POLICY_SUFFIXES = (".yaml", ".yml")
MAX_LITERAL_ITERATIONS = 10_000
"""Steps a nest of comprehensions may spend on literal lists (celsyntax.literal_iterations): the evaluator
cannot be stopped mid-run, so a rule that would iterate literals for seconds is refused at load (10,000
steps cost about 0.1 s; the baseline's largest is 4)."""
_ALL_GLOBALS = TENANT_GLOBALS | FLEET_GLOBALS


def policy_files(path: Path) -> list[Path]:
    """A folder's policy files (sorted, skipping `_*` and dotfiles) or the one file named."""
    if path.is_dir():
        return sorted(p for p in path.iterdir()
                      if p.suffix in POLICY_SUFFIXES and not p.name.startswith(("_", ".")) and p.is_file())
    if path.exists():
        return [path]
    raise InputError.single(str(path), "no such policy file or folder", code="file-not-found")


def load_policies(paths: Path | Iterable[Path]) -> PolicySet:
    """Load, validate and compile every policy; InputError listing each problem with file:line."""
    files = policy_files(paths) if isinstance(paths, Path) else [f for p in paths for f in policy_files(p)]
    problems: list[Problem] = []
    policies: list[Policy] = []
    for file in files:
        try:
            loaded, file_problems = _load_file(file)
        except InputError as err:
            problems += err.problems
            continue
        policies += loaded
        problems += file_problems
    problems += _duplicate_ids(policies)
    if not files:
        problems.append(Problem(SourceLocation(str(paths)), "", "no policy files (*.yaml) found", "no-policies"))
    if problems:
        raise InputError(sorted(set(problems)))
    return PolicySet(tuple(sorted(policies, key=lambda policy: policy.id)))


def _load_file(path: Path) -> tuple[list[Policy], list[Problem]]:
    label = str(path)
    doc = load_yaml(path, label)
    if not isinstance(doc.data, dict):
        raise InputError([located(doc, label, (), "a policy file is a mapping: apiVersion, kind, policies",
                                  code="not-a-mapping")])
    try:
        parsed = PolicyFile.model_validate(doc.data)
    except ValidationError as err:
        raise InputError(validation_problems(doc, label, err)) from None
    policies: list[Policy] = []
    problems: list[Problem] = []
    for index, spec in enumerate(parsed.policies):
        try:
            policies.append(_compile(spec, doc, label, index))
        except _LocatedError as err:
            problems.append(err.problem)
    return policies, problems


class _LocatedError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _compile(spec: PolicySpec, doc: YamlDocument, label: str, index: int) -> Policy:
    def fail(key: str, message: str, code: str) -> _LocatedError:
        return _LocatedError(located(doc, label, ("policies", index, key), f"{spec.id}: {message}", code))

    try:
        rule = compile_expression(spec.rule, _ALL_GLOBALS, FUNCTION_NAMES)
    except ExpressionError as err:
        problem = located(doc, label, ("policies", index, "rule"), f"{spec.id}: {err}", "cel-compile")
        raise _LocatedError(_inside_block(doc, problem, err)) from None
    if _too_costly(rule):
        raise fail("rule", _too_costly(rule), "cel-cost")
    fleet = bool(rule.globals & (FLEET_GLOBALS - TENANT_GLOBALS))
    if fleet and "tenant" in rule.globals:
        raise fail("rule", "a fleet rule (it reads tenants or usage) cannot read tenant; iterate tenants instead",
                   "cel-scope")
    if fleet and (spec.applies_to.mlps_levels or spec.applies_to.labels):
        raise fail("appliesTo", "a fleet rule sees every tenant; appliesTo is for per-tenant rules", "fleet-scope")
    allowed = FLEET_GLOBALS if fleet else TENANT_GLOBALS
    try:
        message = compile_template(spec.message, allowed, FUNCTION_NAMES)
    except ExpressionError as err:
        raise fail("message", str(err), "cel-compile") from None
    for part in message.parts:
        if isinstance(part, Expression) and _too_costly(part):
            raise fail("message", _too_costly(part), "cel-cost")
    offenders = None
    if spec.offenders is not None:
        if not fleet:
            raise fail("offenders", "offenders names the tenants a fleet rule's failure is about; a per-tenant "
                       "rule's finding is already its tenant's", "fleet-scope")
        try:
            offenders = compile_expression(spec.offenders, FLEET_GLOBALS, FUNCTION_NAMES)
        except ExpressionError as err:
            raise fail("offenders", str(err), "cel-compile") from None
        if _too_costly(offenders):
            raise fail("offenders", _too_costly(offenders), "cel-cost")
    line, column = doc.position(("policies", index))
    return Policy(spec, rule, message, fleet, SourceLocation(label, line, column), offenders)


def _too_costly(expression: Expression) -> str:
    """Why an expression's comprehensions over literals would run too long to be interrupted, or ""."""
    steps = literal_iterations(tokens(expression.source))
    if steps <= MAX_LITERAL_ITERATIONS:
        return ""
    return (f"comprehensions over literal lists take {steps:,} steps, over the {MAX_LITERAL_ITERATIONS:,} limit "
            "(the evaluator cannot be interrupted); iterate the data instead")


def _inside_block(doc: YamlDocument, problem: Problem, err: ExpressionError) -> Problem:
    """Point at the parser's line and column when the rule is a literal block (`rule: |-`), as baseline rules are."""
    location = problem.location
    lines = doc.text.splitlines()
    if not err.line or not 0 < location.line <= len(lines):
        return problem
    if not lines[location.line - 1][location.column - 1:].startswith("|"):
        return problem
    target = location.line + err.line
    if target > len(lines):
        return problem
    indent = len(lines[target - 1]) - len(lines[target - 1].lstrip())
    return replace(problem, location=replace(location, line=target, column=indent + err.column))


def _duplicate_ids(policies: list[Policy]) -> list[Problem]:
    seen: dict[str, Policy] = {}
    problems: list[Problem] = []
    for policy in policies:
        first = seen.setdefault(policy.id, policy)
        if first is not policy:
            problems.append(Problem(policy.source, "id", f"policy {policy.id} is also defined at {first.source}",
                                    "duplicate-policy"))
    return problems
