"""Waivers under control: not-waivable policies, listed approvers, a maximum length per severity."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from gcloud.errors import InputError
from gcloud.model.platform import WaiverApprover
from gcloud.policy.check import run_check
from gcloud.policy.examples import builtin_results
from gcloud.policy.finding import CheckResult, Status
from gcloud.policy.loader import load_policies

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 1)
WAIVER = """\
  exceptions:
    - policy: GOV-NET-003
      reason: 面向公众的政务服务门户，仅开放 443，前置 WAF
      ticket: SEC-2026-017
      approvedBy: 市大数据局网络安全处
      expires: 2027-04-30
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "tenants", tmp_path / "tenants")
    shutil.copy(REPO / "platform.yaml", tmp_path / "platform.yaml")
    return tmp_path


def check(workspace: Path, waiver: str = WAIVER, today: dt.date = TODAY) -> CheckResult:
    path = workspace / "tenants" / "zwfw.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(WAIVER, waiver), encoding="utf-8")
    return run_check([workspace / "tenants"], workspace / "platform.yaml", REPO / "policies", today)


def by_policy(result: CheckResult, tenant: str = "zwfw") -> dict[str, tuple[Status, str, int]]:
    return {f.policy_id: (f.status, f.field, f.line) for f in result.findings if f.tenant == tenant}


def line_of(workspace: Path, needle: str) -> int:
    lines = (workspace / "tenants" / "zwfw.yaml").read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


def test_the_example_waiver_is_sound(workspace: Path) -> None:
    result = check(workspace)
    assert by_policy(result)["GOV-NET-003"][0] is Status.WAIVED
    assert not result.failed


def test_an_unknown_approver_is_a_mandatory_finding_at_its_line_and_voids_the_waiver(workspace: Path) -> None:
    result = check(workspace, WAIVER.replace("approvedBy: 市大数据局网络安全处", "approvedBy: 张三"))
    found = by_policy(result)
    assert found["GOV-WVR-003"] == (Status.FAIL, "spec.exceptions[0].approvedBy", line_of(workspace, "approvedBy"))
    assert found["GOV-NET-003"][0] is Status.FAIL
    assert result.failed


def test_a_member_of_the_security_office_may_approve(workspace: Path) -> None:
    result = check(workspace, WAIVER.replace("approvedBy: 市大数据局网络安全处", "approvedBy: 孙立"))
    assert by_policy(result)["GOV-NET-003"][0] is Status.WAIVED and not result.failed


def test_an_over_long_waiver_is_a_finding_at_its_expiry_line(workspace: Path) -> None:
    platform = workspace / "platform.yaml"
    platform.write_text(platform.read_text(encoding="utf-8").replace("high: 180", "high: 90"), encoding="utf-8")
    result = check(workspace)
    found = by_policy(result)
    assert found["GOV-WVR-004"] == (Status.FAIL, "spec.exceptions[0].expires", line_of(workspace, "expires:"))
    assert found["GOV-NET-003"][0] is Status.FAIL


@pytest.mark.parametrize("policy", ["GOV-WVR-001", "GOV-NET-001", "GOV-NET-004", "GOV-IAM-001", "GOV-IAM-002"])
def test_critical_rules_and_the_waiver_rule_cannot_be_waived(workspace: Path, policy: str) -> None:
    assert load_policies(REPO / "policies").get(policy).waivable is False  # type: ignore[union-attr]
    result = check(workspace, WAIVER.replace("policy: GOV-NET-003", f"policy: {policy}"))
    assert by_policy(result)["GOV-WVR-002"][:2] == (Status.FAIL, "spec.exceptions[0].policy")
    assert result.failed


def test_waiving_the_waiver_rule_does_not_let_a_long_waiver_through(workspace: Path) -> None:
    long_waiver = WAIVER.replace("expires: 2027-04-30", "expires: 2027-04-30") + """\
    - policy: GOV-WVR-001
      reason: 长期豁免
      ticket: SEC-2026-099
      approvedBy: 孙立
      expires: 2026-12-20
"""
    result = check(workspace, long_waiver.replace("expires: 2027-04-30", "expires: 2028-06-30"),
                   today=TODAY)
    found = by_policy(result)
    assert found["GOV-WVR-001"][0] is Status.FAIL
    assert found["GOV-WVR-002"][0] is Status.FAIL


def test_only_listed_approvers_count(workspace: Path) -> None:
    platform = workspace / "platform.yaml"
    text = platform.read_text(encoding="utf-8")
    platform.write_text(text.replace("{group: 市大数据局网络安全处, members: [孙立, 钱敏]}",
                                     "{name: 另一位安全员}"), encoding="utf-8")
    result = check(workspace)
    assert by_policy(result)["GOV-WVR-003"][0] is Status.FAIL


def test_an_approver_is_a_person_or_an_office() -> None:
    with pytest.raises(ValueError, match="either a person"):
        WaiverApprover.model_validate({"name": "孙立", "group": "安全处"})
    with pytest.raises(ValueError, match="members belong to a group"):
        WaiverApprover.model_validate({"name": "孙立", "members": ["钱敏"]})


def test_a_bad_approver_entry_is_bad_input(workspace: Path) -> None:
    platform = workspace / "platform.yaml"
    text = platform.read_text(encoding="utf-8")
    platform.write_text(text.replace("{group: 市大数据局网络安全处, members: [孙立, 钱敏]}", "{members: [孙立]}"),
                        encoding="utf-8")
    with pytest.raises(InputError):
        check(workspace)


def test_builtin_rules_examples_pass_and_fail_as_labelled() -> None:
    results = builtin_results()
    assert {result.policy_id for result in results} == {"GOV-WVR-002", "GOV-WVR-003", "GOV-WVR-004"}
    assert all(result.ok for result in results), [r for r in results if not r.ok]
    assert {result.kind for result in results} == {"pass", "fail"}
