"""The checker on plain data: scopes, errors failing closed, the evaluation budget, fleet rules and usage."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest

from gcloud.errors import SourceLocation
from gcloud.policy.evaluate import Checker, Subject
from gcloud.policy.finding import FLEET, Status
from gcloud.policy.loader import load_policies
from gcloud.policy.policy import Policy, PolicySet
from gcloud.policy.usage import fleet_usage

HEADER = "apiVersion: govcloud/v1\nkind: PolicySet\npolicies:\n"


@pytest.fixture(autouse=True, params=["python", "cel"])
def rule_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here twice: tenant rules in their Python form where they have one (native.py), and all in CEL."""
    if request.param == "cel":
        monkeypatch.setattr(Policy, "python_rule", property(lambda self: None))
    return str(request.param)


def policy(pid: str, rule: str, *, extra: str = "", enforcement: str = "mandatory", message: str = "bad") -> str:
    return (f"  - id: {pid}\n    title: t\n    severity: high\n    enforcement: {enforcement}\n{extra}"
            f"    rule: '{rule}'\n    message: '{message}'\n    rationale: r\n    references: [r]\n"
            "    examples: {pass: {tenant: {}}, fail: {tenant: {}}}\n")


def policies_from(tmp_path: Path, *entries: str) -> PolicySet:
    (tmp_path / "p.yaml").write_text(HEADER + "".join(entries), encoding="utf-8")
    return load_policies(tmp_path)


def subject(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> Subject:
    data = {"metadata": {"name": name, "labels": labels or {}}, "spec": {"mlpsLevel": 3, "exceptions": [], **spec}}
    return Subject(name, f"tenants/{name}.yaml", data, lambda field: SourceLocation(f"tenants/{name}.yaml", 2, 1))


PLATFORM = {"spec": {"mlpsLevel": 3, "openstack": {"clouds": [{"name": "c1", "capacity": {"cores": 100},
                                                               "overcommit": {"cores": 2.0}}]},
                     "kubernetes": {"clusters": [{"name": "k1", "capacity": {"requests.cpu": "10"}}]}}}


def run(policies: PolicySet, *subjects: Subject, budget: float = 0.25) -> list[tuple[str, str, Status]]:
    checker = Checker(policies, PLATFORM, dt.date(2026, 1, 1), budget)
    result = checker.check(list(subjects), lambda field: SourceLocation("platform.yaml", 9, 3))
    return [(f.policy_id, f.tenant, f.status) for f in result.findings]


def test_scope_by_level_and_label(tmp_path: Path) -> None:
    policies = policies_from(
        tmp_path,
        policy("T-A-001", "false", extra="    appliesTo: {mlpsLevels: [2]}\n"),
        policy("T-B-001", "false", extra="    appliesTo: {labels: {environment: prod}}\n"))
    found = run(policies, subject("aa", {}, {"environment": "prod"}), subject("bb", {}, {"environment": "test"}),
                subject("cc", {"mlpsLevel": 2}))
    assert sorted(found) == [("T-A-001", "cc", Status.FAIL), ("T-B-001", "aa", Status.FAIL)]


def test_a_tenant_never_sees_the_previous_tenants_values(tmp_path: Path) -> None:
    policies = policies_from(tmp_path, policy("T-A-001", "tenant.spec.openstack.router.snat == false"))
    with_router = subject("aa", {"openstack": {"router": {"snat": False}}})
    without = subject("bb", {"openstack": None})
    assert run(policies, with_router, without) == [("T-A-001", "bb", Status.ERROR)]
    assert run(policies, without, with_router) == [("T-A-001", "bb", Status.ERROR)]


def test_tenants_of_one_shape_share_a_context_yet_each_sees_only_its_own_values(tmp_path: Path) -> None:
    policies = policies_from(tmp_path, policy("T-A-001", "tenant.spec.openstack.router.snat == false",
                                              message="{tenant.metadata.name}"))
    subjects = [subject("aa", {"openstack": {"router": {"snat": False}}}), subject("bb", {"openstack": None}),
                subject("cc", {"openstack": {"router": {"snat": True}}}), subject("dd", {"openstack": None}),
                subject("ee", {"openstack": {"router": {"snat": False}}})]
    checker = Checker(policies, PLATFORM, dt.date(2026, 1, 1))
    result = checker.check(subjects, lambda field: SourceLocation("platform.yaml", 9, 3))
    assert [(f.tenant, f.status, f.message.split(":")[0]) for f in sorted(result.findings, key=lambda f: f.tenant)] \
        == [("bb", Status.ERROR, "rule could not be evaluated"), ("cc", Status.FAIL, "cc"),
            ("dd", Status.ERROR, "rule could not be evaluated")]


def test_errors_fail_closed_with_a_readable_message(tmp_path: Path) -> None:
    policies = policies_from(tmp_path, policy("T-A-001", "tenant.spec.nothing == 1"),
                             policy("T-B-001", "tenant.metadata.name"),
                             policy("T-C-001", "tenant.spec.nothing == 1", enforcement="advisory"))
    checker = Checker(policies, PLATFORM, dt.date(2026, 1, 1))
    findings = {f.policy_id: f for f in checker.check_tenant(subject("aa", {}))}
    assert findings["T-A-001"].status is Status.ERROR and findings["T-A-001"].blocking
    assert "rule could not be evaluated" in findings["T-A-001"].message
    assert findings["T-B-001"].message == "rule returned str 'aa', expected true or false"
    assert not findings["T-C-001"].blocking


def test_budget_exceeded_is_an_error(tmp_path: Path) -> None:
    policies = policies_from(tmp_path, policy("T-A-001", "true"))
    assert run(policies, subject("aa", {}), budget=0.0) == [("T-A-001", "aa", Status.ERROR)]


def test_message_is_rendered_from_the_failing_tenant(tmp_path: Path) -> None:
    policies = policies_from(tmp_path, policy("T-A-001", "tenant.spec.mlpsLevel < 3",
                                              message="{tenant.metadata.name} is level {tenant.spec.mlpsLevel}"))
    checker = Checker(policies, PLATFORM, dt.date(2026, 1, 1))
    assert [f.message for f in checker.check_tenant(subject("aa", {}))] == ["aa is level 3"]
    assert [f.message for f in checker.check_tenant(subject("bb", {"mlpsLevel": 4}))] == ["bb is level 4"]


def test_fleet_rule_points_into_platform(tmp_path: Path) -> None:
    rule = ("platform.spec.openstack.clouds.all(c, usage.openstack[c.name][\"cores\"] <= "
            "double(c.capacity[\"cores\"]) * c.overcommit[\"cores\"])")
    policies = policies_from(tmp_path, policy("T-CAP-001", rule.replace("'", "''"),
                                              extra="    field: spec.openstack.clouds\n"))
    small = [subject(f"t{index}", {"openstack": {"cloud": "c1", "quota": {"compute": {"cores": 70}}}})
             for index in range(3)]
    assert run(policies, *small[:3]) == [("T-CAP-001", FLEET, Status.FAIL)]
    assert run(policies, *small[:2]) == []


def test_usage_sums_per_cloud_and_cluster() -> None:
    tenants = [
        {"spec": {"openstack": {"cloud": "c1", "quota": {"compute": {"cores": 10}, "network": {"ports": -1}}},
                  "kubernetes": {"cluster": "k1", "quota": {}, "namespaces": [
                      {"quota": {"requests.cpu": "500m"}}, {"quota": {"requests.cpu": "2"}}]}}},
        {"spec": {"openstack": {"cloud": "c1", "quota": {"compute": {"cores": 5}}},
                  "kubernetes": {"cluster": "k1", "quota": {"requests.cpu": "4"},
                                 "namespaces": [{"quota": {"requests.cpu": "1"}}]}}},
        {"spec": {"openstack": None, "kubernetes": None}},
    ]
    usage = fleet_usage(PLATFORM, tenants)
    assert usage["openstack"]["c1"]["cores"] == 15.0
    assert math.isinf(usage["openstack"]["c1"]["ports"])
    assert usage["kubernetes"]["k1"]["requests.cpu"] == pytest.approx(2.5 + 4.0)  # tenant-wide quota wins
