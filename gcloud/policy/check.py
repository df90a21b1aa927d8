"""`policy check` as one library call: a loaded fleet, a policy set, a date -> a CheckResult."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from gcloud.errors import InputError, Problem, SourceLocation
from gcloud.localfs import display_path
from gcloud.model import Fleet, TenantDocument, load_fleet
from gcloud.model.fleet import gc_paused, parse_field_path
from gcloud.model.yamlsrc import load_yaml

from .evaluate import EVALUATION_BUDGET_SECONDS, Checker, Locator, Subject
from .finding import FLEET, CheckResult
from .loader import load_policies
from .policy import PolicySet
from .waiver_control import control_waivers


def subject(doc: TenantDocument) -> Subject:
    """A loaded tenant as the checker sees it."""
    return Subject(doc.name, doc.label, doc.effective, doc.locate)


def platform_locator(path: Path) -> Locator:
    """Positions in platform.yaml for fleet findings, read only when a fleet policy fails."""
    label = display_path(path)

    @cache
    def locate(field_path: str) -> SourceLocation:
        try:
            doc = load_yaml(path, label)
        except InputError:
            return SourceLocation(label)
        line, column = doc.position(parse_field_path(field_path))
        return SourceLocation(label, line, column)

    return locate


def check_fleet(fleet: Fleet, policies: PolicySet, today: dt.date,
                budget: float = EVALUATION_BUDGET_SECONDS,
                views: Mapping[str, Mapping[str, Any]] | None = None) -> CheckResult:
    """Every policy over a loaded fleet, waivers judged as of `today`; findings only of the fleet's targets.

    Every tenant of the set is evaluated (fleet rules such as capacity read them all), but a finding of a
    tenant the command did not name is not the user's: it is left out, as `validate` leaves its problems out.
    `views` replaces some tenants' effective specs (the live view: what the clouds hold, in the model's shape);
    their findings say so, and still point at the tenant file.
    """
    with gc_paused():  # evaluation makes many short-lived acyclic objects; collections would walk the whole fleet
        return _check_fleet(fleet, policies, today, budget, views or {})


def _check_fleet(fleet: Fleet, policies: PolicySet, today: dt.date, budget: float,
                 views: Mapping[str, Mapping[str, Any]]) -> CheckResult:
    checker = Checker(policies, fleet.platform_data, today, budget)
    subjects = [dataclasses.replace(subject(doc), data=views[doc.name]) if doc.name in views else subject(doc)
                for doc in fleet.tenants]
    result = checker.check(subjects, platform_locator(fleet.platform_path))
    result = control_waivers(result, subjects, fleet.platform_data, today)
    if views:
        result = dataclasses.replace(result, findings=tuple(
            dataclasses.replace(f, message=f"[live] {f.message}") if f.tenant in views else f
            for f in result.findings))
    if fleet.whole:
        return dataclasses.replace(result, elsewhere=fleet.elsewhere)
    keep = fleet.target_names | {FLEET}
    return dataclasses.replace(
        result, findings=tuple(f for f in result.findings if f.tenant in keep),
        evaluated={key: tuple(name for name in names if name in keep) for key, names in result.evaluated.items()},
        elsewhere=fleet.elsewhere)


def run_check(tenant_paths: Sequence[Path], platform_path: Path, policies_path: Path, today: dt.date,
              budget: float = EVALUATION_BUDGET_SECONDS) -> CheckResult:
    """Load tenants and policies (reporting the problems of both at once), then check."""
    problems: list[Problem] = []
    fleet: Fleet | None = None
    policies: PolicySet | None = None
    try:
        fleet = load_fleet(tenant_paths, platform_path)
    except InputError as err:
        problems += err.problems
    try:
        policies = load_policies(policies_path)
    except InputError as err:
        problems += err.problems
    if problems or fleet is None or policies is None:
        raise InputError(problems)
    return check_fleet(fleet, policies, today, budget)
