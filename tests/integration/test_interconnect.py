"""Interconnects agreed on both sides, on the sandbox: an accepted flow in OpenStack, and its removal at expiry.

One story in file order. czj declares a flow to sjj (tcp 443, until 2027-03-31) and sjj accepts it in its own file
(`spec.acceptedInterconnects`, its own ticket); here sjj's acceptance is dated 2027-02-28, so it is the half that
runs out first. Applied through the real CLI, Neutron then holds, in sjj's `exchange-api` group, one ingress rule
per czj subnet on 443, and Kubernetes the two NetworkPolicies. On 2027-03-01 (the injectable day of the expiry rule,
no file edited) both digests change, `still_in_effect` counts the flow as expired but present, and the next plain
apply removes the rules and both policies, leaving the group's other rules alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s_client

from gcloud.live.expiry import still_in_effect
from gcloud.model import load_fleet
from gcloud.plan import run
from gcloud.plan.record import read_record
from gcloud.plan.run import RunStatus
from gcloud.providers import credentials
from tests.integration.workspace import Workspace, workspace_for

pytestmark = pytest.mark.integration

TENANTS = ("czj", "sjj")
PATHS = tuple(f"tenants/{name}.yaml" for name in TENANTS)
GROUP = "sjj-exchange-api"
EXPIRED_DAY = dt.date(2027, 3, 1)
"""The day after sjj's acceptance ends (czj's own interconnect still runs, so GOV-NET-011 holds nobody back)."""


class AfterExpiry(dt.datetime):
    """The clock of the apply made on EXPIRED_DAY (the applied record's time, as a real run that day would write)."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> AfterExpiry:
        return cls(2027, 3, 1, 9, 0, tzinfo=tz)


@pytest.fixture(scope="module")
def ws(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with workspace_for(sandbox, tmp_path_factory.mktemp("interconnect")) as workspace:
        workspace.edit("sjj", "ticket: SEC-2026-0108, expires: 2027-03-31",
                       "ticket: SEC-2026-0108, expires: 2027-02-28")
        code, report, stderr = workspace.cli_json("apply", *PATHS, "--yes")
        assert code == 0, stderr[-3000:]
        assert {t["tenant"]: t["status"] for t in report["tenants"]} == dict.fromkeys(TENANTS, "ok")
        yield workspace


def czj_cidrs(ws: Workspace) -> set[str]:
    return {net["cidr"] for net in ws.fleet().get("czj").effective["spec"]["openstack"]["networks"]}


def group_rules(admin: Any) -> list[tuple[str, str | None, int | None, int | None, str | None]]:
    """The rules Neutron holds in sjj's exchange-api group, read as the cloud admin (never through govcloud)."""
    project = admin.identity.find_project("sjj", domain_id="default", ignore_missing=False)
    [group] = [g for g in admin.network.security_groups() if g.project_id == project.id and g.name == GROUP]
    return sorted((r.direction, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix)
                  for r in admin.network.security_group_rules(security_group_id=group.id))


def policies(namespace: str) -> set[str]:
    net = k8s_client.NetworkingV1Api(credentials.kubernetes_client("gov-k8s"))
    items: list[Any] = net.list_namespaced_network_policy(namespace).items
    return {str(p.metadata.name) for p in items}


def test_an_accepted_flow_admits_the_source_subnets_in_the_target_group(ws: Workspace, openstack_admin: Any) -> None:
    cidrs = czj_cidrs(ws)
    assert cidrs == {"10.20.1.0/24", "10.20.2.0/24"}
    rules = group_rules(openstack_admin)
    assert {rule for rule in rules if rule[4] in cidrs} == {("ingress", "tcp", 443, 443, cidr) for cidr in cidrs}
    assert ("ingress", "tcp", 443, 443, "10.1.0.0/16") in rules  # the file's own rule (the gateways) is there too
    assert "govcloud-interconnect-from-czj" in policies("sjj-exchange")
    assert "govcloud-interconnect-to-sjj" in policies("czj-prod")
    # the flow's rules are govcloud's own, not foreign members of the group: drift is clean
    code, document, stderr = ws.cli_json("drift", *PATHS)
    assert code == 0 and document["drifted"] is False, stderr[-3000:]


def test_the_expired_flow_is_counted_then_removed_by_the_next_plain_apply(ws: Workspace, openstack_admin: Any) -> None:
    cidrs = czj_cidrs(ws)
    record = read_record(ws.state)
    later = load_fleet([ws.tenants], ws.root / "platform.yaml", record.pinned_cidrs(), EXPIRED_DAY)
    sjj = still_in_effect(later.get("sjj").effective, record.tenants["sjj"].applied_at)
    assert [(e.kind, e.expires, e.field) for e in sjj] == [
        ("inbound interconnect", dt.date(2027, 2, 28), "spec.acceptedInterconnects[0].expires")]
    czj = still_in_effect(later.get("czj").effective, record.tenants["czj"].applied_at)
    assert [(e.kind, e.expires, e.field) for e in czj] == [
        ("interconnect", dt.date(2027, 2, 28), "sjj: spec.acceptedInterconnects")]

    settings = ws.settings()
    prepared = run.prepare([ws.file(name) for name in TENANTS], ws.root / "platform.yaml", ws.root / "policies",
                           settings, today=EXPIRED_DAY)
    assert {s.name: s.change.value for s in prepared.selection} == {"czj": "changed", "sjj": "changed"}
    assert not prepared.blocked
    report = run.apply(prepared, settings, parallel=2, clock=AfterExpiry)
    assert {o.tenant: o.status for o in report.outcomes} == dict.fromkeys(TENANTS, RunStatus.OK), [
        o.error for o in report.outcomes]

    rules = group_rules(openstack_admin)
    assert not [rule for rule in rules if rule[4] in cidrs]
    assert ("ingress", "tcp", 443, 443, "10.1.0.0/16") in rules
    assert "govcloud-interconnect-from-czj" not in policies("sjj-exchange")
    assert "govcloud-interconnect-to-sjj" not in policies("czj-prod")
    after = read_record(ws.state)
    again = load_fleet([ws.tenants], ws.root / "platform.yaml", after.pinned_cidrs(), EXPIRED_DAY)
    assert all(still_in_effect(again.get(name).effective, after.tenants[name].applied_at) == [] for name in TENANTS)
