"""What an apply's report says to a script: failed tenants, and a frozen tenant whose changes were held back."""

from __future__ import annotations

from gcloud.plan.run import RunReport, Status, TenantOutcome


def report(*outcomes: tuple[str, Status]) -> RunReport:
    return RunReport("apply", tuple(TenantOutcome(f"t{i}", f"第{i}局", change, status)
                                    for i, (change, status) in enumerate(outcomes)))


def test_a_frozen_tenant_holds_back_only_when_its_file_changed() -> None:
    assert report(("changed", Status.FROZEN), ("new", Status.OK)).held_back
    assert not report(("unchanged", Status.FROZEN), ("changed", Status.OK)).held_back  # apply --all on a frozen one
    assert not report(("changed", Status.FROZEN)).failed


def test_a_failed_tenant_fails_the_report() -> None:
    assert report(("changed", Status.FAILED), ("new", Status.OK)).failed
    assert not report(("unchanged", Status.UNCHANGED), ("new", Status.OK)).failed
