"""The product end to end on the sandbox: every example tenant provisioned, changed, checked and destroyed.

The tests of this module form one story and run in file order, each starting from where the previous one left
the clouds: apply all example tenants (through the real CLI, four at once), check every resource against the
effective spec with openstacksdk and the kubernetes client (never through govcloud), re-apply (nothing
changes), stop a policy violation before any engine call, raise one quota, remove one network, refuse a frozen
tenant, destroy a tenant (refused first while it is protected) and count what is left of it, then verify
isolation and break it by hand. The workspace is a copy of tenants/, platform.yaml and policies/ in a temporary
folder; the engine state and its generated passphrase live there too. At the end every remaining stack is
destroyed so the session's sandbox is left as it was found.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from gcloud.stacks.openstack_args import rule_args
from kubernetes import client as k8s_client
from kubernetes.utils import parse_quantity
from openstack import exceptions as openstack_errors

from gcloud.audit import AuditLog
from gcloud.engine.stack import list_stacks
from gcloud.guardrails import project_grants
from gcloud.plan import run
from gcloud.plan.record import read_record
from gcloud.plan.run import RunReport, RunStatus
from gcloud.plan.select import Change
from gcloud.providers import credentials
from gcloud.providers.conventions import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    QUOTA_SERVICES,
    TENANT_LABEL,
    grants,
    openstack_quota_args,
)
from gcloud.providers.openstack_network import is_default_egress
from tests.integration.workspace import REPO, Workspace, workspace_for

pytestmark = pytest.mark.integration

EXAMPLES = tuple(sorted(path.stem for path in (REPO / "tenants").glob("*.yaml")))
OPENSTACK_TYPE = "pulumi-python:dynamic/govcloud-openstack"
DESTROYED = "gaj"
"""The tenant destroyed half-way: protected (preventDeletion), both clouds, three networks, two groups of rules."""


@pytest.fixture(scope="module")
def ws(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with workspace_for(sandbox, tmp_path_factory.mktemp("provisioning")) as workspace:
        yield workspace


@pytest.fixture(scope="module")
def admin(ws: Workspace, openstack_admin: Any) -> Any:
    return openstack_admin


@pytest.fixture(scope="module")
def kube(ws: Workspace) -> Any:
    return credentials.kubernetes_client("gov-k8s")


@pytest.fixture(scope="module")
def applied(ws: Workspace) -> dict[str, Any]:
    """All example tenants applied through the real CLI, four at once; its JSON report."""
    code, report, stderr = ws.cli_json("apply", "--parallel", "4", "--yes")
    failed = [f"{t['tenant']}: {t['error']}" for t in report["tenants"] if t["status"] != "ok"]
    problems = [line for line in stderr.splitlines() if "error" in line or "failed" in line]
    assert code == 0, "apply failed:\n" + "\n".join([*failed, *problems[-30:]])
    return report


def outcomes(report: RunReport) -> dict[str, run.TenantOutcome]:
    return {o.tenant: o for o in report.outcomes}


def changes(outcome: run.TenantOutcome) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """(op, short type, name, keys) of each changed resource."""
    return {(c.op.value, c.type.rpartition(":")[2], c.name, c.keys) for c in outcome.resources}


def project_of(admin: Any, tenant: str) -> Any:
    return admin.identity.find_project(tenant, domain_id="default", ignore_missing=True)


def owned(listing: Any, project_id: str) -> list[Any]:
    """Objects of one project from an unfiltered Neutron listing (a listing filtered by project would make
    Neutron create that project's default security group)."""
    return [item for item in listing if item.project_id == project_id]


def apis(kube: Any) -> tuple[Any, Any, Any]:
    """Core, RBAC and networking APIs (untyped here: the client's models make every field optional)."""
    return k8s_client.CoreV1Api(kube), k8s_client.RbacAuthorizationV1Api(kube), k8s_client.NetworkingV1Api(kube)


def quantity(text: Any) -> Decimal:
    """A Kubernetes quantity as a number: "64Gi" and "65536Mi" are equal."""
    return Decimal(parse_quantity(text))  # type: ignore[no-untyped-call]


# --- the story ---------------------------------------------------------------------------------------------------

def test_apply_all_example_tenants_through_the_cli(applied: dict[str, Any], ws: Workspace) -> None:
    assert applied["operation"] == "apply" and applied["failed"] is False
    assert [t["tenant"] for t in applied["tenants"]] == list(EXAMPLES)
    for tenant in applied["tenants"]:
        assert (tenant["status"], tenant["change"]) == ("ok", "new"), tenant
        assert set(tenant["counts"]) == {"create"} and tenant["counts"]["create"] > 0, tenant
    record = read_record(ws.state)
    assert sorted(record.tenants) == list(EXAMPLES)
    fleet = ws.fleet()
    assert {name: entry.digest for name, entry in record.tenants.items()} == {
        doc.name: doc.digest for doc in fleet.tenants}
    assert sorted(list_stacks(ws.settings())) == list(EXAMPLES)


def test_the_pulumi_cli_run_from_the_root_lists_and_exports_govcloud_stacks(applied: dict[str, Any],
                                                                          ws: Workspace) -> None:
    """An operator who knows Pulumi reads govcloud's stacks from the repository: same project, backend, passphrase."""
    settings = ws.settings()
    env = {**os.environ, **settings.env()}

    def pulumi(*args: str) -> str:
        done = subprocess.run([str(settings.toolchain.pulumi), *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert sorted(stack["name"] for stack in json.loads(pulumi("stack", "ls", "--json"))) == list(EXAMPLES)
    exported = pulumi("stack", "export", "--stack", "czj")
    deployment = json.loads(exported)["deployment"]
    urns = [resource["urn"] for resource in deployment["resources"]]
    assert all("::govcloud::" in urn for urn in urns)  # the root Pulumi.yaml's project
    assert any(urn.endswith("govcloud-openstack:Project::czj-project") for urn in urns), urns[:5]
    assert (ws.root / "passphrase").read_text(encoding="utf-8").strip() not in exported


def _check_openstack(admin: Any, effective: Mapping[str, Any],
                     platform: Mapping[str, Any], external_id: str) -> None:
    tenant = effective["metadata"]["name"]
    spec = effective["spec"]["openstack"]
    project = project_of(admin, tenant)
    assert project is not None, tenant
    assert project.description == effective["metadata"]["displayName"]
    assert set(project.tags) == {"govcloud", f"tenant:{tenant}", f"digest:{effective['digest'][:12]}"}

    live_quota = {"compute": admin.compute.get_quota_set(project.id),
                  "blockStorage": admin.block_storage.get_quota_set(project.id),
                  "network": admin.network.get_quota(project.id)}
    quota = spec.get("quota") or {}
    assert set(quota) <= set(QUOTA_SERVICES)
    for service in QUOTA_SERVICES:
        wanted = openstack_quota_args(service, {k: v for k, v in (quota.get(service) or {}).items() if v is not None})
        assert {key: getattr(live_quota[service], key) for key in wanted} == wanted, (tenant, service)

    expected_roles = {(g.group, g.role) for g in project_grants(effective, platform)}  # the level-3 marker too
    assignments = admin.identity.role_assignments(scope_project_id=project.id, include_names=True)
    assert {(a.group["name"], a.role["name"]) for a in assignments if a.group} == expected_roles, tenant
    assert not [a for a in admin.identity.role_assignments(scope_project_id=project.id) if a.user], tenant

    networks = {n.name: n for n in owned(admin.network.networks(), project.id)}
    subnets = {s.network_id: s for s in owned(admin.network.subnets(), project.id)}
    assert set(networks) == {f"{tenant}-{n['name']}" for n in spec["networks"]}, tenant
    for declared in spec["networks"]:
        network = networks[f"{tenant}-{declared['name']}"]
        subnet = subnets[network.id]
        cidr = IPv4Network(declared["cidr"])
        assert not network.is_shared
        assert (subnet.cidr, subnet.gateway_ip, subnet.ip_version, subnet.is_dhcp_enabled) == (
            str(cidr), str(next(cidr.hosts())), 4, True), (tenant, declared)
        assert subnet.dns_nameservers == list(declared.get("dnsNameservers") or [])

    routers = owned(admin.network.routers(), project.id)
    if spec.get("router"):
        [router] = routers
        gateway = router.external_gateway_info
        assert (router.name, gateway["network_id"], gateway["enable_snat"]) == (
            f"{tenant}-router", external_id, spec["router"]["snat"])
        ports = admin.network.ports(device_id=router.id, device_owner="network:router_interface")
        assert sorted(ip["subnet_id"] for port in ports for ip in port.fixed_ips) == sorted(
            s.id for s in subnets.values())
    else:
        assert routers == []

    groups = {g.name: g for g in owned(admin.network.security_groups(), project.id) if g.name != "default"}
    assert set(groups) == {f"{tenant}-{g['name']}" for g in spec.get("securityGroups") or []}, tenant
    all_rules = list(admin.network.security_group_rules())
    for declared in spec.get("securityGroups") or []:
        group = groups[f"{tenant}-{declared['name']}"]
        rules = [r for r in all_rules if r.security_group_id == group.id]
        default_egress = [r for r in rules if is_default_egress(r)]
        assert len(default_egress) == (0 if declared.get("removeDefaultEgress") else 2), (tenant, declared["name"])
        live = sorted((r.direction, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix)
                      for r in rules if not is_default_egress(r))
        declared_rules = []
        for rule in declared.get("rules") or []:
            low, _, high = str(rule.get("ports") or "").partition("-")
            port_min = int(low) if low else None
            declared_rules.append((rule["direction"], None if rule["protocol"] == "any" else rule["protocol"], port_min,
                           int(high) if high else port_min, rule.get("remoteCidr") or "0.0.0.0/0"))
        assert live == sorted(set(declared_rules)), (tenant, declared["name"])


def _check_kubernetes(kube: Any, effective: Mapping[str, Any], platform: Mapping[str, Any]) -> None:
    tenant = effective["metadata"]["name"]
    spec = effective["spec"]["kubernetes"]
    core, rbac, net = apis(kube)
    labelled = core.list_namespace(label_selector=f"{TENANT_LABEL}={tenant}").items
    assert sorted(ns.metadata.name for ns in labelled) == sorted(n["name"] for n in spec["namespaces"]), tenant
    bindings = {(g.group, g.role) for g in grants(effective, platform, "kubernetes")}
    for declared in spec["namespaces"]:
        name = declared["name"]
        labels = core.read_namespace(name).metadata.labels
        level = declared.get("podSecurity") or "restricted"
        assert {key: labels.get(key) for key in (
            TENANT_LABEL, MANAGED_BY_LABEL, *(f"pod-security.kubernetes.io/{m}" for m in ("enforce", "audit", "warn")))
        } == {TENANT_LABEL: tenant, MANAGED_BY_LABEL: MANAGED_BY, "pod-security.kubernetes.io/enforce": level,
              "pod-security.kubernetes.io/audit": level, "pod-security.kubernetes.io/warn": level}, name

        quotas = core.list_namespaced_resource_quota(name).items
        assert [q.metadata.name for q in quotas] == ["govcloud-quota"], name
        assert {k: quantity(v) for k, v in quotas[0].spec.hard.items()} == {
            k: quantity(str(v)) for k, v in (declared.get("quota") or {}).items()}, name

        limits = core.list_namespaced_limit_range(name).items
        if declared.get("limitRange"):
            [limit] = limits[0].spec.limits
            declared_limits = declared["limitRange"]
            assert quantity(limit.default["cpu"]) == quantity(declared_limits["defaultCpu"])
            assert quantity(limit.default_request["memory"]) == quantity(
                declared_limits["defaultRequestMemory"])
        else:
            assert limits == [], name

        live_bindings = rbac.list_namespaced_role_binding(name).items
        assert {(s.name, b.role_ref.name) for b in live_bindings for s in b.subjects} == bindings, name
        assert {(b.role_ref.kind, s.kind) for b in live_bindings for s in b.subjects} == {("ClusterRole", "Group")}

        policies = {p.metadata.name: p for p in net.list_namespaced_network_policy(name).items}
        expected = {"govcloud-default-deny", "govcloud-allow-same-tenant", "govcloud-allow-dns"}
        expected |= {f"govcloud-interconnect-to-{link['to']}" for link in effective["spec"].get("interconnects") or []}
        expected |= {f"govcloud-interconnect-from-{link['from']}" for link in effective["inboundInterconnects"]}
        assert set(policies) == expected, name
        deny = policies["govcloud-default-deny"].spec
        assert (deny.pod_selector.match_labels, deny.pod_selector.match_expressions) == (None, None)
        assert (sorted(deny.policy_types), deny.ingress, deny.egress) == (["Egress", "Ingress"], None, None)


def test_every_resource_matches_the_effective_spec(applied: dict[str, Any], ws: Workspace,
                                                   admin: Any,
                                                   kube: Any) -> None:
    fleet = ws.fleet()
    external = admin.network.find_network("gov-extranet", ignore_missing=False)
    for doc in fleet.tenants:
        spec = doc.effective["spec"]
        if spec.get("openstack"):
            _check_openstack(admin, doc.effective, fleet.platform_data, external.id)
        else:
            assert project_of(admin, doc.name) is None
        if spec.get("kubernetes"):
            _check_kubernetes(kube, doc.effective, fleet.platform_data)
        else:
            assert not apis(kube)[0].list_namespace(label_selector=f"{TENANT_LABEL}={doc.name}").items
    # Pool-allocated CIDRs are pinned by the record, so a later load allocates the same ones.
    record = read_record(ws.state)
    assert record.tenants["gaj"].cidrs["mgmt"] == next(
        n["cidr"] for n in fleet.get("gaj").effective["spec"]["openstack"]["networks"] if n["name"] == "mgmt")
    # The interconnect czj -> sjj opens both ends: egress from czj's namespaces, ingress into sjj's.
    _, _, net = apis(kube)
    egress = net.read_namespaced_network_policy("govcloud-interconnect-to-sjj", "czj-prod").spec.egress[0]
    ingress = net.read_namespaced_network_policy("govcloud-interconnect-from-czj", "sjj-exchange").spec.ingress[0]
    assert egress.to[0].namespace_selector.match_labels == {TENANT_LABEL: "sjj"}
    assert ingress._from[0].namespace_selector.match_labels == {TENANT_LABEL: "czj"}
    assert [(p.protocol, p.port) for p in egress.ports] == [("TCP", 443)]
    assert [(p.protocol, p.port) for p in ingress.ports] == [("TCP", 443)]


def test_a_second_apply_changes_nothing(applied: dict[str, Any], ws: Workspace) -> None:
    before = ws.snapshot()
    prepared = ws.prepare()
    assert {s.name: s.change for s in prepared.selection} == dict.fromkeys(EXAMPLES, Change.UNCHANGED)
    report = run.apply(prepared, ws.settings(), parallel=4)
    assert {o.tenant: o.status for o in report.outcomes} == dict.fromkeys(EXAMPLES, RunStatus.UNCHANGED)
    assert ws.snapshot() == before  # no tenant selected: not one engine call

    everything = run.apply(ws.prepare(), ws.settings(), everything=True, parallel=4)
    for outcome in everything.outcomes:
        assert outcome.status is RunStatus.OK, (outcome.tenant, outcome.error)
        assert outcome.resources == () and set(outcome.counts) == {"same"}, (outcome.tenant, outcome.counts)
        assert outcome.counts["same"] == applied_count(applied, outcome.tenant)


def applied_count(report: dict[str, Any], tenant: str) -> int:
    return int(next(t for t in report["tenants"] if t["tenant"] == tenant)["counts"]["create"])


def test_a_policy_violation_holds_back_its_tenant_before_any_engine_call(applied: dict[str, Any],
                                                                        ws: Workspace) -> None:
    """czj is an MLPS level-3 tenant without a waiver: a security group open to the internet is refused; czj is
    held back before any engine call, the run exits 1, and the refusal is in the audit trail."""
    original = ws.file("czj").read_text(encoding="utf-8")
    rule = ('          - {direction: ingress, protocol: tcp, ports: "443", remoteCidr: 10.1.0.0/16}'
            "   # the platform's gateways\n")
    ws.edit("czj", rule, rule + '          - {direction: ingress, protocol: tcp, ports: "80", remoteCidr: 0.0.0.0/0}\n')
    before = ws.snapshot(skip=("audit",))
    try:
        prepared = ws.prepare()
        assert prepared.blocked == {"czj"}
        blocking = [f for f in prepared.policy.findings if f.blocking]
        # GOV-NET-001: nothing from 0.0.0.0/0 at level 3; GOV-NET-003: ingress from private ranges only
        assert sorted((f.policy_id, f.tenant, Path(f.file).name) for f in blocking) == [
            ("GOV-NET-001", "czj", "czj.yaml"), ("GOV-NET-003", "czj", "czj.yaml")]
        assert all(f.line > 0 for f in blocking)
        for command in ("plan", "apply"):
            done = ws.cli(command, "--yes") if command == "apply" else ws.cli(command)
            assert done.returncode == 1, (command, done.stdout, done.stderr)
            assert "GOV-NET-001" in done.stderr and "tenants/czj.yaml:" in done.stderr, done.stderr
            assert "mandatory policy violation" in done.stderr and "Traceback" not in done.stderr
        assert ws.snapshot(skip=("audit",)) == before  # no engine ran: the stacks' state is untouched
        refused = [e for e in AuditLog.at(ws.state).entries(tenant="czj") if e.event.outcome == "refused"]
        assert refused and refused[-1].event.action == "apply"
    finally:
        ws.file("czj").write_text(original, encoding="utf-8")


def test_raising_one_quota_updates_only_that_quota(applied: dict[str, Any], ws: Workspace,
                                                  admin: Any) -> None:
    project = project_of(admin, "wjw")
    before = admin.block_storage.get_quota_set(project.id)
    ws.edit("wjw", "blockStorage: {gigabytes: 4000}", "blockStorage: {gigabytes: 4500}")
    prepared = ws.prepare()
    assert {s.name for s in prepared.selection if s.change is not Change.UNCHANGED} == {"wjw"}
    expected = {("update", "Quota", "wjw-quota-blockStorage", ("quota",)),
                ("update", "Project", "wjw-project", ("tags",))}

    planned = outcomes(run.plan(prepared, ws.settings()))
    assert changes(planned["wjw"]) == expected
    assert {name for name, o in planned.items() if o.status is not RunStatus.UNCHANGED} == {"wjw"}
    shown = ws.cli("plan")  # the same diff, as people read it
    assert shown.returncode == 0, shown.stderr
    assert "wjw: update Quota wjw-quota-blockStorage (quota)" in shown.stdout
    assert "wjw: update Project wjw-project (tags)" in shown.stdout
    assert admin.block_storage.get_quota_set(project.id).gigabytes == 4000  # a plan changes nothing

    done = outcomes(run.apply(prepared, ws.settings(), parallel=4))
    assert done["wjw"].status is RunStatus.OK and changes(done["wjw"]) == expected
    after = admin.block_storage.get_quota_set(project.id)
    assert (after.gigabytes, after.volumes, after.snapshots) == (4500, before.volumes, before.snapshots)
    digest = ws.fleet().get("wjw").digest
    assert f"digest:{digest[:12]}" in admin.identity.get_project(project.id).tags
    assert read_record(ws.state).tenants["wjw"].digest == digest


def test_removing_a_network_deletes_only_it(applied: dict[str, Any], ws: Workspace,
                                            admin: Any) -> None:
    project = project_of(admin, "czj")
    networks = {n.name: n for n in owned(admin.network.networks(), project.id)}
    subnets = {s.network_id: s for s in owned(admin.network.subnets(), project.id)}
    db_subnet, app_subnet = subnets[networks["czj-db"].id], subnets[networks["czj-app"].id]
    router = next(iter(owned(admin.network.routers(), project.id)))
    kept_ports = {p.id for p in owned(admin.network.ports(), project.id)
                  if all(ip["subnet_id"] != db_subnet.id for ip in p.fixed_ips)}
    ws.edit("czj", "      - {name: db, cidr: 10.20.2.0/24}\n", "")

    prepared = ws.prepare()
    # sjj admits czj's subnets under the interconnect both agreed: the db subnet's rule goes with the network
    assert {s.name for s in prepared.selection if s.change is not Change.UNCHANGED} == {"czj", "sjj"}
    report = outcomes(run.apply(prepared, ws.settings(), parallel=4))
    done = report["czj"]
    assert done.status is RunStatus.OK, done.error
    db_rule = rule_args({"direction": "ingress", "protocol": "tcp", "ports": "443", "remoteCidr": "10.20.2.0/24"})
    assert report["sjj"].status is RunStatus.OK, report["sjj"].error
    assert ("delete", "SecurityGroupRule", f"sjj-sg-exchange-api-rule-{db_rule.key}", ()) in changes(report["sjj"])
    assert changes(done) == {("delete", "RouterInterface", "czj-router-if-db", ()),
                             ("delete", "Subnet", "czj-subnet-db", ()), ("delete", "Network", "czj-net-db", ()),
                             ("update", "Project", "czj-project", ("tags",))}

    assert {n.name: n.id for n in owned(admin.network.networks(), project.id)} == {"czj-app": networks["czj-app"].id}
    assert [s.cidr for s in owned(admin.network.subnets(), project.id)] == ["10.20.1.0/24"]
    assert {p.id for p in owned(admin.network.ports(), project.id)} == kept_ports  # the db interface port went
    interfaces = admin.network.ports(device_id=router.id, device_owner="network:router_interface")
    assert [ip["subnet_id"] for port in interfaces for ip in port.fixed_ips] == [app_subnet.id]
    assert admin.network.find_network(networks["czj-db"].id, ignore_missing=True) is None
    assert read_record(ws.state).tenants["czj"].cidrs == {"app": "10.20.1.0/24"}


def test_a_frozen_tenant_is_refused_by_apply(applied: dict[str, Any], ws: Workspace, admin: Any) -> None:
    original = ws.file("jyj").read_text(encoding="utf-8")
    recorded = read_record(ws.state).tenants["jyj"].digest
    ws.edit("jyj", "compute: {instances: 8}", "compute: {instances: 9}")
    ws.file("jyj").write_text(ws.file("jyj").read_text(encoding="utf-8") + "  lifecycle: {frozen: true}\n",
                              encoding="utf-8")
    try:
        code, report, stderr = ws.cli_json("apply", "--yes")
        assert code == 1, stderr  # changes held back: a script must not take this run as done
        [jyj] = [t for t in report["tenants"] if t["tenant"] == "jyj"]
        assert (jyj["status"], jyj["change"], jyj["counts"], jyj["resources"]) == ("frozen", "changed", {}, [])
        assert "frozen" in jyj["error"]
        assert {t["status"] for t in report["tenants"] if t["tenant"] != "jyj"} == {"unchanged"}
        assert admin.compute.get_quota_set(project_of(admin, "jyj").id).instances == 8
        assert read_record(ws.state).tenants["jyj"].digest == recorded
    finally:
        ws.file("jyj").write_text(original, encoding="utf-8")
    assert {s.name: s.change for s in ws.prepare().selection}["jyj"] is Change.UNCHANGED


def footprint(admin: Any, kube: Any, tenant: str, project_id: str, namespaces: list[str]) -> Counter[str]:
    """How many things of one tenant exist, per kind, across Keystone, Neutron, Nova/Cinder and Kubernetes."""
    counts: Counter[str] = Counter()
    counts["keystone project"] = int(project_of(admin, tenant) is not None)
    counts["keystone group"] = len([g for g in admin.identity.groups(domain_id="default")
                                    if g.name.startswith(f"{tenant}-")])
    counts["keystone role assignment"] = len(list(admin.identity.role_assignments(scope_project_id=project_id)))
    for kind, listing in (("network", admin.network.networks), ("subnet", admin.network.subnets),
                          ("router", admin.network.routers), ("port", admin.network.ports),
                          ("security group", admin.network.security_groups),
                          ("security group rule", admin.network.security_group_rules)):
        counts[f"neutron {kind}"] = len(owned(listing(), project_id))
    core, rbac, net = apis(kube)
    counts["k8s namespace"] = len(core.list_namespace(label_selector=f"{TENANT_LABEL}={tenant}").items)
    for name in namespaces:
        counts["k8s resourcequota"] += len(core.list_namespaced_resource_quota(name).items)
        counts["k8s limitrange"] += len(core.list_namespaced_limit_range(name).items)
        counts["k8s networkpolicy"] += len(net.list_namespaced_network_policy(name).items)
        counts["k8s rolebinding"] += len(rbac.list_namespaced_role_binding(name).items)
    return counts


def test_destroy_is_refused_while_protected_then_leaves_nothing(applied: dict[str, Any], ws: Workspace,
                                                                admin: Any, kube: Any) -> None:
    tenant = DESTROYED
    refused = ws.cli("destroy", tenant, "--confirm", tenant)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert f"{tenant}.yaml:" in refused.stderr and "preventDeletion" in refused.stderr
    assert "Traceback" not in refused.stderr
    mistyped = ws.cli("destroy", tenant, "--confirm", "gja")
    assert mistyped.returncode == 2 and "--confirm" in mistyped.stderr

    project = project_of(admin, tenant)
    assert project is not None  # both refusals left it alone
    namespaces = [n["name"] for n in ws.fleet().get(tenant).effective["spec"]["kubernetes"]["namespaces"]]
    router_ids = [r.id for r in owned(admin.network.routers(), project.id)]
    before = footprint(admin, kube, tenant, project.id, namespaces)
    assert all(before.values()), before  # every kind counted is really there before

    ws.edit(tenant, "preventDeletion: true", "preventDeletion: false")
    report = run.destroy(tenant, tenant, [ws.tenants], ws.root / "platform.yaml", ws.settings())
    [outcome] = report.outcomes
    assert outcome.status is RunStatus.OK, outcome.error
    assert outcome.counts == {"delete": applied_count(applied, tenant)}

    after = footprint(admin, kube, tenant, project.id, namespaces)
    assert sum(after.values()) == 0, +after
    assert not [p for p in admin.network.ports() if p.device_id in router_ids]  # the gateway port too
    # Quotas went back to the platform's floor (Cinder and Neutron still answer for a deleted project's id;
    # Nova refuses to, which shows it keeps no quota for it either).
    defaults = ws.fleet().platform_data["spec"]["openstack"]["defaultQuotas"]
    volumes = admin.block_storage.get_quota_set(project.id)
    network = admin.network.get_quota(project.id)
    for service, live in (("blockStorage", volumes), ("network", network)):
        wanted = openstack_quota_args(service, defaults[service])
        assert {key: getattr(live, key) for key in wanted} == wanted, service
    with pytest.raises(openstack_errors.BadRequestException, match="not a valid project"):
        admin.compute.get_quota_set(project.id)

    assert tenant not in read_record(ws.state).tenants
    assert tenant not in list_stacks(ws.settings())
    code, again, _ = ws.cli_json("destroy", tenant, "--confirm", tenant)  # nothing left: a no-op, not an error
    assert code == 0 and again["tenants"][0]["status"] == "ok" and again["tenants"][0]["counts"] == {}
    ws.file(tenant).unlink()  # the department left: its file goes too


def test_verify_passes_and_fails_on_a_cross_tenant_role_assignment(applied: dict[str, Any], ws: Workspace,
                                                                  admin: Any) -> None:
    remaining = [name for name in EXAMPLES if name != DESTROYED]
    code, report, stderr = ws.cli_json("verify")
    assert code == 0 and report["passed"] is True, [c for c in report["checks"] if not c["passed"]]
    assert sorted({c["tenant"] for c in report["checks"]}) == remaining
    checks = {(c["tenant"], c["check"]) for c in report["checks"]}
    assert ("wjw", "keystone-foreign-assignments") in checks and ("czj", "k8s-default-deny") in checks

    project = project_of(admin, "wjw")
    group = admin.identity.find_group("jyj-admins", domain_id="default", ignore_missing=False)
    member = admin.identity.find_role("member", ignore_missing=False)
    admin.identity.assign_project_role_to_group(project, group, member)
    try:
        code, report, stderr = ws.cli_json("verify")
        assert code == 1 and report["passed"] is False, stderr
        failed = {(c["tenant"], c["check"]): c["detail"] for c in report["checks"] if not c["passed"]}
        assert failed[("wjw", "keystone-foreign-assignments")] == (
            "foreign role assignments on the project: group jyj-admins of tenant jyj has role member")
        assert set(failed) <= {("wjw", "keystone-foreign-assignments"), ("jyj", "keystone-token-projects")}
    finally:
        admin.identity.unassign_project_role_from_group(project, group, member)

