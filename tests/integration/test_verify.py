"""Two tenants provisioned through the real engine and the stack program, then checked live.

The tenants (`vfa`, `vfb`) are this module's own, written as tenant files and loaded by the real model, so they
never meet the example tenants other tests apply to the same sandbox. verify must pass on what govcloud built and
fail, naming the culprit, on each isolation break made by hand; refresh must see drift; destroy must leave
nothing (counted through openstacksdk and the kubernetes client).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from kubernetes import client as k8s_client

from gcloud.engine.runner import StackJob, run_job
from gcloud.engine.settings import EngineSettings
from gcloud.engine.stack import StackResult
from gcloud.model import Fleet, load_fleet
from gcloud.providers import credentials
from gcloud.providers.retry import poll
from gcloud.report.sources import read_live_checks
from gcloud.sandbox.openstack_config import ADMIN_CLOUD_NAME
from gcloud.verify import IsolationCheck, group_owners, verify_fleet, verify_tenant
from gcloud.verify.openstack import verifier_name

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FACTORY = "gcloud.stacks.program:build"
PASSPHRASE = "verify-tests-only-passphrase"
TENANTS = ("vfa", "vfb")

TENANT_FILE = """\
    apiVersion: govcloud/v1
    kind: Tenant
    metadata: {{name: {name}, displayName: 核验测试{n}局}}
    spec:
      mlpsLevel: 2
      tier: small
      access:
        - {{group: {name}-admins, role: admin}}
        - {{group: {name}-staff, role: member}}
      openstack:
        cloud: gov-east
        quota: {{compute: {{cores: {cores}}}}}
        networks:
          - {{name: app, cidr: 10.29.{n}.0/24}}
        router: {{externalNetwork: gov-extranet, snat: false}}
        securityGroups:
          - name: web
            removeDefaultEgress: true
            rules:
              - {{direction: ingress, protocol: tcp, ports: "443", remoteCidr: 10.16.0.0/12}}
      kubernetes:
        cluster: gov-k8s
        namespaces:
          - {{name: {name}-apps, quota: {{pods: "20"}}, podSecurity: restricted}}
        networkIsolation: tenant
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    folder = tmp_path_factory.mktemp("verify-tenants")
    for n, name in enumerate(TENANTS, start=1):
        (folder / f"{name}.yaml").write_text(textwrap.dedent(TENANT_FILE.format(name=name, n=n, cores=8 * n)),
                                             encoding="utf-8")
    return load_fleet([folder], REPO / "platform.yaml")


@pytest.fixture(scope="module")
def engine(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineSettings]:
    """Engine settings on a private state folder; the sandbox's clouds.yaml and kubeconfig in the environment
    (for the provider processes the engine starts and for verify in this process)."""
    state = tmp_path_factory.mktemp("verify-state")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sandbox.env.items():
            patch.setenv(key, value)
        patch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
        patch.delenv("PULUMI_BACKEND_URL", raising=False)
        credentials.forget_clients()
        yield EngineSettings.from_environment(state, state_dir=state / "state")
        credentials.forget_clients()


def run(engine: EngineSettings, fleet: Fleet, name: str, operation: str, **options: Any) -> StackResult:
    program = {"program": FACTORY, "args": {"effective": fleet.get(name).effective,
                                            "platform": fleet.platform_data}} if operation in ("up", "preview") else {}
    outcome = run_job(StackJob(name, operation, **program, **options), engine)
    assert outcome.error is None, f"{name} {operation}: {outcome.error}"
    assert outcome.result is not None
    return outcome.result


@pytest.fixture(scope="module")
def applied(engine: EngineSettings, fleet: Fleet) -> dict[str, StackResult]:
    return {name: run(engine, fleet, name, "up") for name in TENANTS}


@pytest.fixture(scope="module")
def admin(engine: EngineSettings) -> openstack.connection.Connection:
    """The cloud admin, looking from outside (govcloud itself runs as gov-east, its least-privilege user)."""
    return credentials.openstack_connection(ADMIN_CLOUD_NAME)


@pytest.fixture(scope="module")
def kube(engine: EngineSettings) -> k8s_client.ApiClient:
    return credentials.kubernetes_client("gov-k8s")


def checks(fleet: Fleet, name: str) -> dict[str, IsolationCheck]:
    owners = group_owners(doc.effective for doc in fleet.tenants)
    return {r.check: r for r in verify_tenant(fleet.get(name).effective, fleet.platform_data, owners=owners)}


def failed(fleet: Fleet, name: str) -> dict[str, str]:
    return {check: result.detail for check, result in checks(fleet, name).items() if not result.passed}


def test_apply_creates_everything_and_a_second_run_changes_nothing(applied: dict[str, StackResult],
                                                                   engine: EngineSettings, fleet: Fleet,
                                                                   admin: openstack.connection.Connection) -> None:
    outputs = applied["vfa"].outputs
    assert outputs["tenant"] == "vfa" and outputs["namespaces"] == ["vfa-apps"]
    project = admin.identity.get_project(outputs["projectId"])
    assert project.description == "核验测试1局" and f"digest:{fleet.get('vfa').digest[:12]}" in project.tags
    assert admin.compute.get_quota_set(project.id).cores == 8
    assert admin.network.get_subnet(outputs["subnetIds"]["app"]).cidr == "10.29.1.0/24"
    for name in TENANTS:
        again = run(engine, fleet, name, "preview")
        assert not again.has_changes, again.summary()


def test_verify_passes_on_what_govcloud_built(applied: dict[str, StackResult], fleet: Fleet) -> None:
    for name in TENANTS:
        results = checks(fleet, name)
        assert set(results) == {"keystone-foreign-assignments", "keystone-token-projects", "neutron-token-networks",
                                "k8s-own-access", "k8s-cross-tenant-access", "k8s-default-deny"}
        assert all(r.passed for r in results.values()), results


def test_verify_keeps_each_tenants_checks_for_the_reports_evidence(applied: dict[str, StackResult], fleet: Fleet,
                                                                   engine: EngineSettings) -> None:
    report = verify_fleet(fleet, state_dir=engine.state_dir)
    kept = read_live_checks(engine.state_dir)
    assert kept is not None and len(kept) == len(report.checks) == 6 * len(TENANTS)
    assert {(c.tenant, c.check, c.passed) for c in kept} == {(c.tenant, c.check, c.passed) for c in report.checks}


def test_verify_deletes_verifier_users_a_killed_run_left_behind(applied: dict[str, StackResult], fleet: Fleet,
                                                                  admin: openstack.connection.Connection) -> None:
    now = time.time()
    left = admin.identity.create_user(name=verifier_name("vfa", now - 2 * 3600), domain_id="default")
    running = admin.identity.create_user(name=verifier_name("vfa", now - 60), domain_id="default")
    other = admin.identity.create_user(name=verifier_name("vfb", now - 2 * 3600), domain_id="default")
    try:
        assert failed(fleet, "vfa") == {}
        names = {user.name for user in admin.identity.users(domain_id="default")}
        assert left.name not in names
        assert {running.name, other.name} <= names  # a check of now, and another tenant's, are left alone
        assert not any(name.startswith("govcloud-verify-vfa-") and name not in (running.name,) for name in names)
    finally:
        for user in (left, running, other):
            admin.identity.delete_user(user.id, ignore_missing=True)


def test_verify_fails_on_a_cross_tenant_role_assignment(applied: dict[str, StackResult], fleet: Fleet,
                                                        admin: openstack.connection.Connection) -> None:
    project = applied["vfa"].outputs["projectId"]
    group = admin.identity.find_group("vfb-staff", domain_id="default", ignore_missing=False)
    member = admin.identity.find_role("member", ignore_missing=False)
    admin.identity.assign_project_role_to_group(project, group, member)
    try:
        assert failed(fleet, "vfa") == {"keystone-foreign-assignments": (
            "foreign role assignments on the project: group vfb-staff of tenant vfb has role member")}
        assert "keystone-token-projects" in failed(fleet, "vfb")  # vfb's members now see vfa's project too
    finally:
        admin.identity.unassign_project_role_from_group(project, group, member)
    assert failed(fleet, "vfa") == {}


def test_verify_fails_on_a_shared_network(applied: dict[str, StackResult], fleet: Fleet,
                                          admin: openstack.connection.Connection) -> None:
    network = applied["vfa"].outputs["networkIds"]["app"]
    admin.network.update_network(network, is_shared=True)
    try:
        assert failed(fleet, "vfb") == {"neutron-token-networks": (
            "a member sees other tenants' networks: vfa-app (tenant vfa)")}
    finally:
        admin.network.update_network(network, is_shared=False)


def _binding_refused_no_more(rbac: k8s_client.RbacAuthorizationV1Api) -> bool:
    """A dry run of the cross-tenant binding is admitted (the API server has seen the binding go)."""
    try:
        rbac.create_namespaced_role_binding("vfb-apps", {
            "metadata": {"name": "probe"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "vfa-staff"}]},
            dry_run="All")
    except k8s_client.exceptions.ApiException:
        return False
    return True


def test_verify_fails_on_kubernetes_breaks(applied: dict[str, StackResult], fleet: Fleet,
                                           kube: k8s_client.ApiClient) -> None:
    rbac, net = k8s_client.RbacAuthorizationV1Api(kube), k8s_client.NetworkingV1Api(kube)
    # A cluster without govcloud's admission policies (or one whose admin removed them): verify must still see
    # the break. With the guardrail in place the binding below is refused (tests/integration/test_guardrails.py).
    admission = k8s_client.AdmissionregistrationV1Api(kube)
    admission.delete_validating_admission_policy_binding("govcloud-vfb-rolebindings")
    poll("the API server to drop the removed guardrail", lambda: _binding_refused_no_more(rbac), timeout=60.0)
    rbac.create_namespaced_role_binding("vfb-apps", {
        "metadata": {"name": "by-hand"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "vfa-staff"}]})
    net.delete_namespaced_network_policy("govcloud-default-deny", "vfa-apps")
    try:
        broken = failed(fleet, "vfa")
        assert set(broken) == {"k8s-cross-tenant-access", "k8s-default-deny"}
        assert "vfa-staff list pods in vfb-apps" in broken["k8s-cross-tenant-access"]
        assert broken["k8s-default-deny"] == "no default-deny policy in: vfa-apps"
    finally:
        rbac.delete_namespaced_role_binding("by-hand", "vfb-apps")


def test_refresh_sees_drift_and_up_repairs_it(applied: dict[str, StackResult], engine: EngineSettings,
                                              fleet: Fleet, admin: openstack.connection.Connection,
                                              kube: k8s_client.ApiClient) -> None:
    """Continues the previous test: vfa's default-deny policy is gone; also raise a quota behind govcloud's back."""
    project = applied["vfa"].outputs["projectId"]
    admin.compute.update_quota_set(project, cores=99)
    drift = run(engine, fleet, "vfa", "refresh")
    assert {(change.name, change.op.value) for change in drift.changed} == {
        ("vfa-quota-compute", "update"), ("vfa-apps-netpol-govcloud-default-deny", "delete")}
    run(engine, fleet, "vfa", "refresh", preview_only=False)
    repaired = run(engine, fleet, "vfa", "up")
    assert {(change.name, change.op.value) for change in repaired.changed} == {
        ("vfa-quota-compute", "update"), ("vfa-apps-netpol-govcloud-default-deny", "create")}
    assert admin.compute.get_quota_set(project).cores == 8
    assert failed(fleet, "vfa") == {}


def test_destroy_leaves_nothing(applied: dict[str, StackResult], engine: EngineSettings, fleet: Fleet,
                                admin: openstack.connection.Connection, kube: k8s_client.ApiClient) -> None:
    projects = {name: applied[name].outputs["projectId"] for name in TENANTS}
    for name in TENANTS:
        run(engine, fleet, name, "destroy")
    for name, project in projects.items():
        assert admin.identity.find_project(project, ignore_missing=True) is None
        assert not [g for g in admin.identity.groups(domain_id="default") if g.name.startswith(f"{name}-")]
        # unfiltered listings, filtered here: a listing filtered by project makes Neutron create its default group
        leftovers = [obj for listing in (admin.network.networks(), admin.network.subnets(), admin.network.routers(),
                                         admin.network.ports(), admin.network.security_groups(),
                                         admin.network.security_group_rules())
                     for obj in listing if obj.project_id == project]
        assert leftovers == [], name
        assert not list(admin.identity.role_assignments(scope_project_id=project))
    namespaces = k8s_client.CoreV1Api(kube).list_namespace(label_selector="govcloud.io/tenant").items
    assert not [ns.metadata.name for ns in namespaces if ns.metadata.labels["govcloud.io/tenant"] in TENANTS]
