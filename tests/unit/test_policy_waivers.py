"""Waivers: live through their expiry date, void the day after, reported either way; the clock is injected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gcloud.errors import SourceLocation
from gcloud.policy.evaluate import Checker, Subject
from gcloud.policy.finding import Finding, Status
from gcloud.policy.loader import load_policies
from gcloud.policy.waivers import cover, waivers_of

POLICY_FILE = """\
apiVersion: govcloud/v1
kind: PolicySet
policies:
  - id: T-NET-001
    title: No public ingress
    severity: high
    enforcement: mandatory
    field: spec.openstack
    rule: tenant.spec.public == false
    message: "{tenant.metadata.name} is public"
    rationale: test
    references: [test]
    examples: {pass: {tenant: {}}, fail: {tenant: {}}}
  - id: T-ORG-001
    title: Advisory thing
    severity: low
    enforcement: advisory
    rule: tenant.spec.tidy
    message: untidy
    rationale: test
    references: [test]
    examples: {pass: {tenant: {}}, fail: {tenant: {}}}
"""


@pytest.fixture(scope="module")
def checker_at(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("policies")
    (folder / "p.yaml").write_text(POLICY_FILE, encoding="utf-8")
    policies = load_policies(folder)

    def make(today: dt.date) -> Checker:
        return Checker(policies, {"spec": {}}, today)

    return make


def tenant(*waivers: Mapping[str, Any], public: bool = True, tidy: bool = True) -> Subject:
    data = {"metadata": {"name": "czj", "labels": {}}, "spec": {"mlpsLevel": 3, "public": public, "tidy": tidy,
                                                                  "exceptions": list(waivers)}}
    return Subject("czj", "tenants/czj.yaml", data, lambda field: SourceLocation("tenants/czj.yaml", 7, 3))


def waiver(policy: str = "T-NET-001", expires: str = "2027-01-31", ticket: str = "SEC-17") -> dict[str, str]:
    return {"policy": policy, "reason": "public portal", "ticket": ticket, "approvedBy": "安全处", "expires": expires}


def statuses(findings: list[Finding]) -> list[tuple[str, Status]]:
    return sorted((finding.policy_id, finding.status) for finding in findings)


def test_no_waiver_fails(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2026, 11, 23)).check_tenant(tenant())
    assert statuses(findings) == [("T-NET-001", Status.FAIL)]
    assert findings[0].blocking and findings[0].message == "czj is public"


def test_live_waiver_waives_and_says_which(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2026, 11, 23)).check_tenant(tenant(waiver()))
    assert statuses(findings) == [("T-NET-001", Status.WAIVED)]
    assert not findings[0].blocking
    assert "SEC-17" in findings[0].note and "2027-01-31" in findings[0].note


def test_waiver_is_live_on_its_expiry_date(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2027, 1, 31)).check_tenant(tenant(waiver()))
    assert statuses(findings) == [("T-NET-001", Status.WAIVED)]


def test_expired_waiver_is_void_and_reported(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2027, 2, 1)).check_tenant(tenant(waiver()))
    assert statuses(findings) == [("T-NET-001", Status.EXPIRED_WAIVER), ("T-NET-001", Status.FAIL)]
    failure = next(f for f in findings if f.status is Status.FAIL)
    assert failure.blocking and "void" in failure.note
    expired = next(f for f in findings if f.status is Status.EXPIRED_WAIVER)
    assert not expired.blocking and expired.field == "spec.exceptions[0].expires"
    assert "expired on 2027-01-31" in expired.message


def test_expired_waiver_reported_even_when_the_tenant_now_complies(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2027, 2, 1)).check_tenant(tenant(waiver(), public=False))
    assert statuses(findings) == [("T-NET-001", Status.EXPIRED_WAIVER)]


def test_a_live_waiver_beats_an_expired_one(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2027, 2, 1)).check_tenant(
        tenant(waiver(expires="2027-01-31", ticket="OLD"), waiver(expires="2027-06-30", ticket="NEW")))
    assert statuses(findings) == [("T-NET-001", Status.EXPIRED_WAIVER), ("T-NET-001", Status.WAIVED)]
    assert "NEW" in next(f for f in findings if f.status is Status.WAIVED).note


def test_waiver_for_unknown_policy_is_reported(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2026, 11, 23)).check_tenant(tenant(waiver(policy="T-GONE-001"), public=False))
    assert statuses(findings) == [("T-GONE-001", Status.ERROR)]
    assert not findings[0].blocking and "no loaded policy" in findings[0].message


def test_waiver_does_not_cover_another_policy(checker_at) -> None:  # type: ignore[no-untyped-def]
    findings = checker_at(dt.date(2026, 11, 23)).check_tenant(tenant(waiver("T-ORG-001"), public=True, tidy=False))
    assert statuses(findings) == [("T-NET-001", Status.FAIL), ("T-ORG-001", Status.WAIVED)]


def test_cover_and_dates_from_effective_spec() -> None:
    waivers = waivers_of({"spec": {"exceptions": [waiver(expires="2026-12-31")]}})
    assert waivers[0].expires == dt.date(2026, 12, 31) and waivers[0].approved_by == "安全处"
    assert cover(waivers, "T-NET-001", dt.date(2026, 12, 31)).live is not None
    assert cover(waivers, "T-NET-001", dt.date(2027, 1, 1)).expired == (waivers[0],)


def test_check_clock_comes_from_the_caller(tmp_path: Path, checker_at) -> None:  # type: ignore[no-untyped-def]
    subject = tenant(waiver(expires="2026-12-31"))
    before = checker_at(dt.date(2026, 12, 31)).check([subject], lambda field: SourceLocation("platform.yaml"))
    after = checker_at(dt.date(2027, 1, 1)).check([subject], lambda field: SourceLocation("platform.yaml"))
    assert not before.failed and after.failed
    assert before.today == dt.date(2026, 12, 31)
