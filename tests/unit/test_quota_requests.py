"""Quota requests: every flow and every refusal, offline (usage handed in, audit log in a temporary folder)."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from gcloud.audit import AuditLog
from gcloud.errors import InputError
from gcloud.model import Platform, TenantDocument
from gcloud.requests import (
    Effects,
    Role,
    State,
    Workspace,
    approve_request,
    list_requests,
    reject_request,
    request_quota,
    show_request,
    withdraw_request,
)
from gcloud.requests.keys import QuotaKey
from gcloud.requests.model import Kind, QuotaValue, Usage

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class Repo:
    root: Path
    usage: dict[str, QuotaValue] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    now: dt.datetime = NOW

    @property
    def ws(self) -> Workspace:
        return Workspace(tenants=[self.root / "tenants"], platform=self.root / "platform.yaml",
                         policies=self.root / "policies", requests=self.root / "requests")

    @property
    def audit(self) -> AuditLog:
        return AuditLog.at(self.root / "state")

    def read_usage(self, doc: TenantDocument, keys: list[QuotaKey], platform: Platform) -> Usage:
        return Usage(values={k.key: self.usage[k.key] for k in keys if k.key in self.usage}, unknown=self.unknown)

    @property
    def effects(self) -> Effects:
        return Effects(audit=self.audit, usage=self.read_usage, clock=lambda: self.now)

    def tenant(self, name: str) -> dict:
        return yaml.safe_load((self.root / "tenants" / f"{name}.yaml").read_text(encoding="utf-8"))

    def ask(self, tenant: str, *sets: str, requester: str = "李四", reason: str = "年底决算需要更多资源"):
        return request_quota(self.ws, self.effects, tenant, list(sets), reason=reason, requester=requester,
                             ticket="CHG-2026-0107")

    def approve(self, request_id: str, approver: str, role: Role):
        return approve_request(self.ws, self.effects, request_id, approver=approver, role=role)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    for name in ("tenants", "policies"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "platform.yaml", tmp_path / "platform.yaml")
    return Repo(tmp_path)


def codes(err: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [problem.code for problem in err.value.problems]


# --- automatic approvals ------------------------------------------------------------------------------------------

def test_one_tier_step_up_is_approved_at_once_and_written(repo: Repo) -> None:
    done = repo.ask("daj", "compute.cores=64")
    assert done.status.kind is Kind.TIER_STEP
    assert done.status.state is State.APPROVED and done.status.decision and done.status.decision.automatic
    assert repo.tenant("daj")["spec"]["openstack"]["quota"]["compute"]["cores"] == 64
    assert done.status.decision.digest_before != done.status.decision.digest_after


def test_a_decrease_is_approved_at_once(repo: Repo) -> None:
    done = repo.ask("daj", "compute.cores=8", "blockStorage.gigabytes=200")
    assert (done.status.kind, done.status.state) == (Kind.DECREASE, State.APPROVED)
    assert repo.tenant("daj")["spec"]["openstack"]["quota"]["blockStorage"]["gigabytes"] == 200


def test_a_second_step_within_the_window_needs_people(repo: Repo) -> None:
    assert repo.ask("daj", "compute.cores=64").status.state is State.APPROVED
    repo.now = NOW + dt.timedelta(days=10)
    again = repo.ask("daj", "compute.cores=200")
    assert (again.status.kind, again.status.state) == (Kind.REVIEW, State.OPEN)
    assert again.status.required == [Role.OPS, Role.SECURITY]
    assert "within 30 days" in again.status.note
    repo.now = NOW + dt.timedelta(days=45)
    withdraw_request(repo.ws, repo.effects, again.id, actor="李四")
    assert repo.ask("daj", "compute.cores=200").status.state is State.APPROVED  # medium -> large, window passed


def test_two_tier_steps_need_ops_and_security(repo: Repo) -> None:
    before = (repo.root / "tenants" / "daj.yaml").read_bytes()
    asked = repo.ask("daj", "compute.cores=200")
    assert (asked.status.kind, asked.status.state) == (Kind.REVIEW, State.OPEN)
    assert asked.status.required == [Role.OPS, Role.SECURITY]
    assert (repo.root / "tenants" / "daj.yaml").read_bytes() == before  # nothing written yet


def test_level_3_needs_security_even_for_one_step(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.cores=128")
    assert asked.status.kind is Kind.TIER_STEP and asked.status.required == [Role.SECURITY]
    assert asked.status.state is State.OPEN
    with pytest.raises(InputError) as err:
        repo.approve(asked.id, "刘洋", Role.OPS)
    assert codes(err) == ["role-not-required"]
    done = repo.approve(asked.id, "孙立", Role.SECURITY)
    assert done.status.state is State.APPROVED
    assert repo.tenant("czj")["spec"]["openstack"]["quota"]["compute"]["cores"] == 128


# --- ops + security ---------------------------------------------------------------------------------------------

def test_ops_and_security_approve_then_the_file_and_the_audit_log_hold_it(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.cores=300", "kubernetes.quota.requests.cpu=32")
    assert asked.status.required == [Role.OPS, Role.SECURITY]
    half = repo.approve(asked.id, "刘洋", Role.OPS)
    assert half.status.state is State.OPEN
    assert repo.tenant("czj")["spec"]["openstack"]["quota"]["compute"]["cores"] == 48
    done = repo.approve(asked.id, "孙立", Role.SECURITY)
    assert done.status.state is State.APPROVED
    decision = done.status.decision
    assert decision and decision.by == ["刘洋", "孙立"] and not decision.automatic
    czj = repo.tenant("czj")["spec"]
    assert czj["openstack"]["quota"]["compute"]["cores"] == 300
    assert czj["kubernetes"]["quota"]["requests.cpu"] == "32"
    on_disk = list_requests(repo.ws, tenant="czj")[0]
    assert on_disk.status.decision and on_disk.status.decision.digest_after == decision.digest_after
    log = repo.audit
    entries = log.entries(tenant="czj")
    assert [e.event.action for e in entries] == ["quota.request", "quota.approve", "quota.approve"]
    assert entries[-1].event.digest_after == decision.digest_after
    assert entries[-1].event.ticket == "CHG-2026-0107"
    assert log.verify().ok


def test_self_approval_is_refused(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.cores=300", requester="刘洋")
    with pytest.raises(InputError) as err:
        repo.approve(asked.id, "刘洋", Role.OPS)
    assert codes(err) == ["self-approval"]


def test_the_same_person_cannot_approve_as_ops_and_security(repo: Repo) -> None:
    repo.root.joinpath("platform.yaml").write_text(
        repo.root.joinpath("platform.yaml").read_text(encoding="utf-8").replace(
            "security: [孙立, 钱敏]", "security: [孙立, 钱敏, 刘洋]"), encoding="utf-8")
    asked = repo.ask("czj", "compute.cores=300")
    repo.approve(asked.id, "刘洋", Role.OPS)
    with pytest.raises(InputError) as err:
        repo.approve(asked.id, "刘洋", Role.SECURITY)
    assert codes(err) == ["same-approver"]
    assert list_requests(repo.ws, tenant="czj")[0].status.state is State.OPEN


def test_an_approver_outside_the_roster_is_refused(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.cores=300")
    with pytest.raises(InputError) as err:
        repo.approve(asked.id, "王五", Role.SECURITY)
    assert codes(err) == ["not-an-approver"]


def test_a_second_open_request_is_refused(repo: Repo) -> None:
    first = repo.ask("czj", "compute.cores=300")
    with pytest.raises(InputError) as err:
        repo.ask("czj", "compute.instances=30")
    assert codes(err) == ["request-in-flight"] and first.id in str(err.value)
    assert len(list_requests(repo.ws, tenant="czj")) == 1


def test_reject_closes_the_request_with_its_reason(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.cores=300")
    with pytest.raises(InputError) as err:
        reject_request(repo.ws, repo.effects, asked.id, approver="李四", reason="no")
    assert codes(err) == ["self-rejection"]
    closed = reject_request(repo.ws, repo.effects, asked.id, approver="孙立", reason="先清理闲置云主机")
    assert closed.status.state is State.REJECTED and closed.status.decision
    assert closed.status.decision.reason == "先清理闲置云主机"
    with pytest.raises(InputError) as err:
        repo.approve(asked.id, "刘洋", Role.OPS)
    assert codes(err) == ["request-closed"]
    assert repo.tenant("czj")["spec"]["openstack"]["quota"]["compute"]["cores"] == 48


def test_withdraw_lets_the_tenant_ask_again(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.cores=300")
    assert withdraw_request(repo.ws, repo.effects, asked.id, actor="李四").status.state is State.WITHDRAWN
    with pytest.raises(InputError) as err:
        withdraw_request(repo.ws, repo.effects, asked.id, actor="李四")
    assert codes(err) == ["request-closed"]
    assert repo.ask("czj", "compute.cores=280").status.state is State.OPEN


# --- refusals recorded with their reasons -------------------------------------------------------------------------

def test_below_usage_is_refused_and_recorded(repo: Repo) -> None:
    repo.usage = {"compute.cores": 12}
    before = (repo.root / "tenants" / "daj.yaml").read_bytes()
    refused = repo.ask("daj", "compute.cores=8")
    assert refused.status.state is State.REFUSED
    assert refused.status.problems == ["compute.cores: 8 asked, but 12 is in use now"]
    assert refused.status.usage.values == {"compute.cores": 12}
    assert (repo.root / "tenants" / "daj.yaml").read_bytes() == before
    assert repo.audit.entries(tenant="daj")[-1].event.outcome == "refused"
    assert repo.ask("daj", "compute.cores=12").status.state is State.APPROVED  # a refusal is not in flight


def test_usage_unknown_is_said_in_the_request(repo: Repo) -> None:
    repo.unknown = {"gov-east": "ConnectFailure: connection refused"}
    asked = repo.ask("daj", "compute.cores=64")
    assert asked.status.usage.unknown == {"gov-east": "ConnectFailure: connection refused"}
    text = (repo.root / "requests" / f"{asked.id}.yaml").read_text(encoding="utf-8")
    assert "gov-east: 'ConnectFailure: connection refused'" in text


def test_over_capacity_is_refused(repo: Repo) -> None:
    refused = repo.ask("czj", "compute.cores=8000")
    assert refused.status.state is State.REFUSED
    assert any(problem.startswith("compute.cores: the tenants of gov-east would hold") and "= 8192" in problem
               for problem in refused.status.problems), refused.status.problems


def test_a_policy_the_change_would_break_refuses_it(repo: Repo) -> None:
    refused = repo.ask("czj", "network.floatingIps=2")
    assert refused.status.state is State.REFUSED
    assert any("GOV-NET-002" in problem for problem in refused.status.problems)


def test_sub_unit_over_its_parent_is_refused_and_names_what_the_parent_needs(repo: Repo) -> None:
    refused = repo.ask("xhczj", "compute.cores=60", requester="沈浩")
    assert refused.status.state is State.REFUSED
    assert [(n.key, n.current, n.requested) for n in refused.status.parent_needs] == [("compute.cores", 48, 60)]
    assert any("parent czj" in problem and "48 -> 60" in problem for problem in refused.status.problems)


def test_sub_unit_within_its_parent_is_approved_by_the_parent_owner(repo: Repo) -> None:
    asked = repo.ask("xhczj", "compute.cores=24", requester="沈浩")
    assert asked.status.state is State.OPEN and asked.status.required == [Role.PARENT]
    with pytest.raises(InputError) as err:
        repo.approve(asked.id, "刘洋", Role.PARENT)
    assert codes(err) == ["not-parent-owner"]
    done = repo.approve(asked.id, "张三", Role.PARENT)
    assert done.status.state is State.APPROVED
    assert repo.tenant("xhczj")["spec"]["openstack"]["quota"]["compute"]["cores"] == 24


def test_approval_rechecks_what_changed_since_the_request(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.cores=300")
    path = repo.root / "tenants" / "czj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("cores: 48", "cores: 40"), encoding="utf-8")
    repo.approve(asked.id, "刘洋", Role.OPS)
    with pytest.raises(InputError) as err:
        repo.approve(asked.id, "孙立", Role.SECURITY)
    assert codes(err) == ["request-stale"]


# --- bad input (nothing written) ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("sets", "code"), [
    (["compute.cpus=4"], "invalid-quota-key"),
    (["compute.cores=lots"], "invalid-quota-value"),
    (["compute.cores=-5"], "greater-than-equal"),
    (["kubernetes.quota.pods=many"], "value-error"),
    (["kubernetes.namespaces.czj-nope.pods=5"], "invalid-quota-key"),
    (["compute.cores=48"], "no-change"),
    ([], "no-change"),
])
def test_bad_keys_and_values_are_input_errors(repo: Repo, sets: list[str], code: str) -> None:
    with pytest.raises(InputError) as err:
        repo.ask("czj", *sets)
    assert codes(err) == [code]
    assert not (repo.root / "requests").exists()


def test_unknown_tenant(repo: Repo) -> None:
    with pytest.raises(InputError) as err:
        repo.ask("nope", "compute.cores=4")
    assert codes(err) == ["unknown-tenant"]


def test_show_gives_the_tier_in_plain_units(repo: Repo) -> None:
    asked = repo.ask("czj", "compute.ramMB=262144", "kubernetes.quota.requests.memory=128Gi")
    shown = show_request(repo.ws, asked.id)
    assert shown.tier_name == "medium"
    rows = {change.key: (change.tier, change.current, change.requested) for change in shown.changes}
    assert rows["compute.ramMB"] == ("128 GiB", "128 GiB", "256 GiB")
    assert rows["kubernetes.quota.requests.memory"] == ("-", "96 GiB", "128 GiB")
