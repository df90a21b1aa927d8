"""Live state on the sandbox: drift shows each change made behind govcloud's back, `policy check --live` judges what
the clouds hold, `apply --refresh` repairs it all, and an interconnect closes on its expiry day.

One story in file order. czj (level 3) and sjj (level 3, the target of czj's interconnect) are applied through the
real CLI; then each kind of change is made the way it happens in real life: as the tenant's own identities where
the clouds (and govcloud's guardrails) let them, as a cloud admin otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s_client

from gcloud.plan import run
from gcloud.plan.record import read_record
from gcloud.plan.run import RunStatus
from gcloud.providers import credentials
from tests.integration.identities import CONTEXT, as_identity
from tests.integration.workspace import Workspace, workspace_for

pytestmark = pytest.mark.integration

TENANTS = ("czj", "sjj")
NS = "sjj-exchange"
PATHS = tuple(f"tenants/{name}.yaml" for name in TENANTS)


@pytest.fixture(scope="module")
def ws(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with workspace_for(sandbox, tmp_path_factory.mktemp("live")) as workspace:
        code, report, stderr = workspace.cli_json("apply", *PATHS, "--yes")
        assert code == 0, stderr[-3000:]
        assert {t["tenant"]: t["status"] for t in report["tenants"]} == dict.fromkeys(TENANTS, "ok")
        yield workspace


def drift(ws: Workspace) -> tuple[int, dict[str, Any]]:
    code, document, stderr = ws.cli_json("drift", *PATHS)
    assert "Traceback" not in stderr, stderr
    return code, {t["tenant"]: t for t in document["tenants"]}


def project_id(admin: Any, tenant: str) -> str:
    return str(admin.identity.find_project(tenant, domain_id="default", ignore_missing=False).id)


def owned(listing: Any, project: str) -> list[Any]:
    """Unfiltered Neutron listings, filtered here (a listing filtered by project creates its default group)."""
    return [item for item in listing if item.project_id == project]


def test_drift_is_clean_right_after_apply(ws: Workspace) -> None:
    code, tenants = drift(ws)
    assert code == 0, tenants
    assert not any(t["drifted"] for t in tenants.values())


@pytest.fixture(scope="module")
def changed_by_hand(ws: Workspace, openstack_admin: Any, sandbox: Any) -> dict[str, Any]:
    """Every kind of hand change, once. Returns the ids the later tests look for."""
    admin = openstack_admin
    sjj, czj = project_id(admin, "sjj"), project_id(admin, "czj")
    group = next(g for g in owned(admin.network.security_groups(), sjj) if g.name == "sjj-exchange-api")
    # a cloud admin opens SSH to the world in a level-3 tenant's group (the tenant's own members may not: guardrail)
    ssh = admin.network.create_security_group_rule(security_group_id=group.id, direction="ingress", ethertype="IPv4",
                                                   protocol="tcp", port_range_min=22, port_range_max=22,
                                                   remote_ip_prefix="0.0.0.0/0", project_id=sjj)
    admin.compute.update_quota_set(sjj, cores=999)  # a field changed
    network = next(n for n in owned(admin.network.networks(), sjj) if n.name == "sjj-exchange")
    # a foreign member of the network, made by an admin on sjj's behalf (owned by sjj's project: an object owned
    # by the admin's own project is beyond what govcloud's least-privilege user can see, gcloud.privileges)
    share = admin.network.create_rbac_policy(object_type="network", object_id=network.id, action="access_as_shared",
                                             target_project_id=czj, project_id=sjj)
    auditors = admin.identity.find_group("czj-auditors", domain_id="default", ignore_missing=False)
    reader = admin.identity.find_role("reader", ignore_missing=False)
    admin.identity.assign_project_role_to_group(sjj, auditors, reader)  # another tenant's group on sjj's project
    # Kubernetes: govcloud's own identity deletes the default-deny policy (nobody else may: guardrail) ...
    kube = credentials.kubernetes_client(CONTEXT)
    k8s_client.NetworkingV1Api(kube).delete_namespaced_network_policy("govcloud-default-deny", NS)
    # ... and the tenant's admin adds a RoleBinding of its own (admitted: its own group) and a label
    tenant_admin = as_identity(sandbox, "sjj-lee", "sjj-admins")
    k8s_client.RbacAuthorizationV1Api(tenant_admin).create_namespaced_role_binding(NS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "by-hand"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "sjj-engineers"}]})
    k8s_client.CoreV1Api(kube).patch_namespace(NS, {"metadata": {"labels": {"team": "by-hand"}}})
    return {"ssh": ssh.id, "share": share.id, "group": group.id, "auditors": auditors.id}


def test_drift_names_every_hand_change_and_exits_1(ws: Workspace, changed_by_hand: dict[str, Any]) -> None:
    code, tenants = drift(ws)
    assert code == 1
    sjj = tenants["sjj"]
    assert {(c["resource"], c["field"], c["want"], c["live"]) for c in sjj["changed"]} >= {
        ("sjj-quota-compute", "quota.cores", 192, 999)}
    assert "sjj-exchange-netpol-govcloud-default-deny" in sjj["deleted"]
    foreign = {(f["container"], f["kind"], f["id"]) for f in sjj["foreign"]}
    assert ("sjj-sg-exchange-api", "SecurityGroupRule", changed_by_hand["ssh"]) in foreign
    assert ("sjj-net-exchange", "NetworkRBAC", changed_by_hand["share"]) in foreign
    assert any(kind == "RoleAssignment" and container == "sjj-project" and changed_by_hand["auditors"] in ident
               for container, kind, ident in foreign)
    assert ("sjj-exchange", "RoleBinding", f"RoleBinding/{NS}/by-hand") in foreign
    assert ("sjj-exchange", "Label", f"Label/{NS}/team") in foreign
    assert not tenants["czj"]["drifted"]
    table = ws.cli("drift", *PATHS)  # what people see
    assert table.returncode == 1 and "want 192, live 999" in table.stdout and "from 0.0.0.0/0" in table.stdout


def test_policy_check_live_flags_the_level_3_violation(ws: Workspace, changed_by_hand: dict[str, Any]) -> None:
    files = ws.cli_json("policy", "check", "tenants/sjj.yaml")
    assert files[0] == 0  # the file itself passes
    code, document, _ = ws.cli_json("policy", "check", "--live", "tenants/sjj.yaml")
    assert code == 1
    live = [f for f in document["findings"] if f["policy"] == "GOV-NET-001" and f["tenant"] == "sjj"]
    assert live and live[0]["message"].startswith("[live]") and live[0]["file"] == "tenants/sjj.yaml"
    assert live[0]["line"] > 0


def test_apply_refresh_repairs_everything_and_drift_is_clean(ws: Workspace, changed_by_hand: dict[str, Any],
                                                             openstack_admin: Any) -> None:
    planned = ws.cli("plan", "--refresh", *PATHS)
    assert planned.returncode == 0 and "sjj" in planned.stdout, planned.stderr[-2000:]
    code, _, stderr = ws.cli_json("apply", "--refresh", *PATHS, "--yes")
    assert code == 0, stderr[-3000:]
    code, tenants = drift(ws)
    assert code == 0, tenants
    admin = openstack_admin
    sjj = project_id(admin, "sjj")
    assert admin.compute.get_quota_set(sjj).cores == 192
    rules = {r.id for r in admin.network.security_group_rules(security_group_id=changed_by_hand["group"])}
    assert changed_by_hand["ssh"] not in rules
    assert changed_by_hand["share"] not in {p.id for p in admin.network.rbac_policies()}
    kube = credentials.kubernetes_client(CONTEXT)
    names = {p.metadata.name for p in k8s_client.NetworkingV1Api(kube).list_namespaced_network_policy(NS).items}
    assert "govcloud-default-deny" in names
    bindings = {b.metadata.name for b in k8s_client.RbacAuthorizationV1Api(kube).list_namespaced_role_binding(NS).items}
    assert "by-hand" not in bindings
    assert "team" not in (k8s_client.CoreV1Api(kube).read_namespace(NS).metadata.labels or {})
    audit = ws.cli_json("audit", "show", "--tenant", "sjj")[1]
    assert any(entry["action"] == "apply.refresh" for entry in audit["entries"])


def test_an_expired_interconnect_is_closed_by_the_next_plain_apply(ws: Workspace) -> None:
    """czj -> sjj expires 2027-03-31: the day after, the digests change with no file edited. czj's file now breaks
    GOV-NET-011 (an expired interconnect) and is held back; sjj, the receiving side, is applied and closes."""
    kube = credentials.kubernetes_client(CONTEXT)
    net = k8s_client.NetworkingV1Api(kube)
    assert "govcloud-interconnect-from-czj" in {p.metadata.name for p in net.list_namespaced_network_policy(NS).items}
    settings = ws.settings()
    prepared = run.prepare([ws.tenants / "czj.yaml", ws.tenants / "sjj.yaml"], ws.root / "platform.yaml",
                           ws.root / "policies", settings, today=dt.date(2027, 4, 1))
    assert {s.name: s.change.value for s in prepared.selection} == {"czj": "changed", "sjj": "changed"}
    assert prepared.blocked == {"czj"}
    report = run.apply(prepared, settings, parallel=2)
    outcomes = {o.tenant: o for o in report.outcomes}
    assert outcomes["sjj"].status is RunStatus.OK, outcomes["sjj"].error
    assert outcomes["czj"].status is RunStatus.BLOCKED and "GOV-NET-011" in outcomes["czj"].error
    assert report.held_back
    assert "govcloud-interconnect-from-czj" not in {
        p.metadata.name for p in net.list_namespaced_network_policy(NS).items}
    reopened = run.prepare([ws.tenants / "sjj.yaml"], ws.root / "platform.yaml", ws.root / "policies", settings)
    assert run.apply(reopened, settings).outcomes[0].status is RunStatus.OK  # today again: the flow is open
    assert json.loads(ws.cli("drift", *PATHS, "--output", "json").stdout)["drifted"] is False


# --- import: adopt what was made before govcloud ----------------------------------------------------------------

@pytest.fixture(scope="module")
def hand_made(ws: Workspace, openstack_admin: Any) -> Iterator[dict[str, str]]:
    """daj's department made its project by hand, before govcloud: a network named as in the file, its subnet."""
    admin = openstack_admin
    project = admin.identity.create_project(name="legacy-archives", domain_id="default", description="档案馆")
    network = admin.network.create_network(name="archive", project_id=project.id)
    subnet = admin.network.create_subnet(network_id=network.id, cidr="10.25.1.0/24", ip_version=4,
                                         project_id=project.id, name="archive-subnet")
    try:
        yield {"project": project.id, "network": network.id, "subnet": subnet.id}
    finally:  # adopted, the tenant's destroy removes it; not adopted (a failed test), it goes here
        if admin.identity.find_project(project.id, ignore_missing=True) is not None and "daj" not in read_record(
                ws.state).tenants:
            admin.network.delete_subnet(subnet, ignore_missing=True)
            admin.network.delete_network(network, ignore_missing=True)
            admin.identity.delete_project(project)


def test_import_adopts_a_hand_made_project_and_the_next_apply_changes_nothing(
        ws: Workspace, hand_made: dict[str, str], openstack_admin: Any) -> None:
    code, document, stderr = ws.cli_json("import", "daj", "--project", "legacy-archives", "tenants/daj.yaml",
                                         "--ticket", "CHG-2026-0099")
    assert code == 0, stderr[-3000:]
    adopted = {(a["kind"], a["id"]) for a in document["adopted"]}
    assert ("project", hand_made["project"]) in adopted and ("network", hand_made["network"]) in adopted
    admin = openstack_admin
    assert admin.identity.get_project(hand_made["project"]).name == "daj"  # the same project, now the tenant's
    networks = [n for n in admin.network.networks() if n.project_id == hand_made["project"]]
    assert [(n.id, n.name) for n in networks] == [(hand_made["network"], "daj-archive")]  # not recreated
    assert [s.id for s in admin.network.subnets() if s.network_id == hand_made["network"]] == [hand_made["subnet"]]
    again = ws.cli("apply", "tenants/daj.yaml", "--yes")
    assert again.returncode == 0 and "no tenant to apply" in again.stderr, again.stderr
    code, planned, _ = ws.cli_json("plan", "--all", "tenants/daj.yaml")
    assert code == 0 and planned["tenants"][0]["resources"] == [], planned
    audit = ws.cli_json("audit", "show", "--tenant", "daj")[1]
    assert [e["action"] for e in audit["entries"]][-1:] == ["import"]


def test_import_refuses_a_project_another_tenant_owns(ws: Workspace) -> None:
    done = ws.cli("import", "jyj", "--project", "sjj", "tenants/jyj.yaml")
    assert done.returncode == 2 and "belongs to tenant 'sjj'" in done.stderr and "Traceback" not in done.stderr
