"""What an apply's report says to a script: failed tenants, and a frozen tenant whose changes were held back."""

from __future__ import annotations

from gcloud.plan.run import RunReport, RunStatus, TenantOutcome
from gcloud.plan.select import Change


def report(*outcomes: tuple[str, RunStatus]) -> RunReport:
    return RunReport("apply", tuple(TenantOutcome(f"t{i}", f"第{i}局", Change(change), status)
                                    for i, (change, status) in enumerate(outcomes)))


def test_a_frozen_tenant_holds_back_only_when_its_file_changed() -> None:
    assert report(("changed", RunStatus.FROZEN), ("new", RunStatus.OK)).held_back
    # apply --all on a frozen tenant whose file did not change holds nothing back
    assert not report(("unchanged", RunStatus.FROZEN), ("changed", RunStatus.OK)).held_back
    assert not report(("changed", RunStatus.FROZEN)).failed


def test_a_failed_tenant_fails_the_report() -> None:
    assert report(("changed", RunStatus.FAILED), ("new", RunStatus.OK)).failed
    assert not report(("unchanged", RunStatus.UNCHANGED), ("new", RunStatus.OK)).failed
