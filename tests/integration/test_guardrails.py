"""The guardrails the clouds enforce, met as the tenant's own identities would meet them.

One level-3 tenant (czj: both clouds, two namespaces, a managed security group) is applied through the real CLI
from a copy of the example repository. platform.yaml's `identity` is taken out of the copy, so the stack asks the
cluster who govcloud is (SelfSubjectReview) as a cluster without that setting would. Then:
- Kubernetes, through the admin kubeconfig with impersonation headers: a member and an admin of the tenant, and a
  cluster admin who is not govcloud, try to undo what govcloud made and are refused by the admission policies
  (the refusal names the policy); the tenant's pods and RoleBindings are admitted where they stay inside the
  tenant; govcloud's own identity passes (server-side dry run, so the tenant is left as applied).
- OpenStack, as a Keystone user put in the tenant's member group with a token scoped to the tenant's project:
  sharing a network with another project and adding a rule to the managed security group are refused by the
  Neutron overrides; the admin does both.
The stack is destroyed at the end.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client
from kubernetes.client.rest import ApiException
from openstack import exceptions as os_errors

from gcloud.engine.runner import StackJob, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.engine.stack import list_stacks
from gcloud.privileges import SERVICE_ACCOUNT_USER
from gcloud.providers import credentials
from gcloud.providers.retry import poll
from tests.integration.identities import CONTEXT, as_identity, keystone_member

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TENANT, NS = "czj", "czj-prod"
ENFORCED_TIMEOUT = 60.0
"""Bound on the API server starting to enforce a policy just created (its informer, normally well under 2 s)."""


@pytest.fixture(scope="module")
def ws(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """czj applied from a copy of the repository (identity left to the cluster); destroyed at the end."""
    root = tmp_path_factory.mktemp("guardrails")
    for folder in ("tenants", "policies"):
        shutil.copytree(REPO / folder, root / folder)
    platform = (REPO / "platform.yaml").read_text(encoding="utf-8")
    without, removed = re.subn(r"\n[ \t]+identity: [^\n]*(\n[ \t]+#[^\n]*)?", "", platform)
    assert removed == 1, "platform.yaml should name the sandbox's identity once"
    (root / "platform.yaml").write_text(without, encoding="utf-8")
    passphrase = root / "passphrase"
    passphrase.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    state = root / "state"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sandbox.env.items():
            patch.setenv(key, value)
        patch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(passphrase))
        patch.setenv("GOVCLOUD_STATE_DIR", str(state))
        for key in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "GOVCLOUD_DEBUG"):
            patch.delenv(key, raising=False)
        credentials.forget_clients()
        try:
            done = subprocess.run([sys.executable, "-m", "gcloud.cli", "apply", f"tenants/{TENANT}.yaml", "--yes",
                                   "--output", "json"], cwd=root, env=dict(os.environ), capture_output=True,
                                  text=True, timeout=900, check=False)
            assert done.returncode == 0, f"apply failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            [outcome] = json.loads(done.stdout)["tenants"]
            assert outcome["status"] == "ok", outcome
            yield root
        finally:
            settings = EngineSettings.from_environment(root)
            if TENANT in list_stacks(settings):  # also after a failed apply: what it made goes too
                [result] = run_stacks([StackJob(TENANT, "destroy", remove=True)], parallel=1, settings=settings)
                assert result.ok, result.error
            credentials.forget_clients()


@pytest.fixture(scope="module")
def staff(ws: Path, sandbox: Any) -> k8s_client.ApiClient:
    return as_identity(sandbox, "czj-alice", "czj-staff")  # role member -> ClusterRole edit


@pytest.fixture(scope="module")
def tenant_admin(ws: Path, sandbox: Any) -> k8s_client.ApiClient:
    return as_identity(sandbox, "czj-bob", "czj-admins")  # role admin -> ClusterRole admin


@pytest.fixture(scope="module")
def other_admin(ws: Path, sandbox: Any) -> k8s_client.ApiClient:
    """A cluster admin who is not govcloud: RBAC lets it do anything, so only the admission policy stops it."""
    return as_identity(sandbox, "ops-carol", "system:masters")


@pytest.fixture(scope="module")
def govcloud(ws: Path) -> k8s_client.ApiClient:
    return credentials.kubernetes_client(CONTEXT)


def refusal(call: Callable[[], Any]) -> ApiException:
    with pytest.raises(ApiException) as refused:
        call()
    return refused.value


def refused_by(policy: str, call: Callable[[], Any]) -> str:
    """The call is refused by the named admission policy (not by RBAC); its message."""
    err = refusal(call)
    assert err.status in (403, 422), (err.status, err.body)
    message = str(json.loads(err.body)["message"])
    assert f"ValidatingAdmissionPolicy '{policy}'" in message, message
    return message


@pytest.fixture(scope="module")
def enforced(staff: k8s_client.ApiClient) -> None:
    """Wait (bounded) until the API server enforces the tenant's policies just created."""
    net = k8s_client.NetworkingV1Api(staff)

    def refused() -> bool:
        try:
            net.delete_namespaced_network_policy("govcloud-default-deny", NS, dry_run="All")
        except ApiException as err:
            return err.status in (403, 422) and "ValidatingAdmissionPolicy" in str(err.body)
        return False
    poll("wait for the admission policies to be enforced", refused, timeout=ENFORCED_TIMEOUT)


def pod(name: str, image: str) -> dict[str, Any]:
    """A pod the namespace's `restricted` Pod Security admits, so only the image decides."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "image": image, "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}


def binding(name: str, group: str) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]}


# --- Kubernetes --------------------------------------------------------------------------------------------------

def test_the_policies_are_made_with_the_identity_the_cluster_names(ws: Path, govcloud: Any) -> None:
    admission = k8s_client.AdmissionregistrationV1Api(govcloud)
    names = {p.metadata.name for p in admission.list_validating_admission_policy(
        label_selector=f"govcloud.io/tenant={TENANT}").items}
    bound = {b.spec.policy_name for b in admission.list_validating_admission_policy_binding(
        label_selector=f"govcloud.io/tenant={TENANT}").items}
    assert names == bound == {f"govcloud-{TENANT}-{what}" for what in ("images", "managed", "rolebindings",
                                                                       "namespaces")}
    managed = admission.read_validating_admission_policy(f"govcloud-{TENANT}-managed")
    # asked of the cluster, not configured: govcloud's ServiceAccount
    assert f'"{SERVICE_ACCOUNT_USER}"' in managed.spec.validations[0].expression
    for policy in admission.list_validating_admission_policy(label_selector=f"govcloud.io/tenant={TENANT}").items:
        checking = policy.status.type_checking if policy.status else None
        assert not (checking and checking.expression_warnings), (policy.metadata.name, checking)


def test_deleting_the_default_deny_policy_is_refused(enforced: None, staff: Any, other_admin: Any) -> None:
    for who in (staff, other_admin):
        net = k8s_client.NetworkingV1Api(who)
        message = refused_by(f"govcloud-{TENANT}-managed",
                             lambda net=net: net.delete_namespaced_network_policy("govcloud-default-deny", NS))
        assert "is managed by govcloud" in message


def test_changing_the_resource_quota_is_refused(enforced: None, staff: Any, other_admin: Any) -> None:
    patch = {"spec": {"hard": {"pods": "100000"}}}
    # the tenant's own roles may not write quotas at all (RBAC answers first) ...
    assert refusal(lambda: k8s_client.CoreV1Api(staff).patch_namespaced_resource_quota(
        "govcloud-quota", NS, patch)).status == 403
    # ... and an identity RBAC lets through meets the guardrail
    refused_by(f"govcloud-{TENANT}-managed", lambda: k8s_client.CoreV1Api(other_admin).patch_namespaced_resource_quota(
        "govcloud-quota", NS, patch))


def test_removing_the_pod_security_label_is_refused(enforced: None, other_admin: Any) -> None:
    patch = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": None}}}
    message = refused_by(f"govcloud-{TENANT}-namespaces",
                         lambda: k8s_client.CoreV1Api(other_admin).patch_namespace(NS, patch))
    assert "ops-carol may not UPDATE" in message
    relabel = {"metadata": {"labels": {"govcloud.io/tenant": "sjj"}}}
    refused_by(f"govcloud-{TENANT}-namespaces", lambda: k8s_client.CoreV1Api(other_admin).patch_namespace(NS, relabel))
    # a label of its own is anyone's to set (RBAC permitting): only govcloud's keys are guarded
    mine = {"metadata": {"labels": {"example.org/owner": "ops"}}}
    k8s_client.CoreV1Api(other_admin).patch_namespace(NS, mine, dry_run="All")


def test_images_only_from_the_namespace_registries(enforced: None, staff: Any) -> None:
    core = k8s_client.CoreV1Api(staff)
    message = refused_by(f"govcloud-{TENANT}-images",
                         lambda: core.create_namespaced_pod(NS, pod("outside", "docker.io/library/nginx:1.27")))
    assert "docker.io/library/nginx:1.27" in message and "harbor.gov.local" in message
    refused_by(f"govcloud-{TENANT}-images", lambda: core.create_namespaced_pod(NS, pod("bare", "nginx")))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "outside"}, "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": pod("x", "quay.io/evil/miner")["spec"]}}}
    refused_by(f"govcloud-{TENANT}-images",
               lambda: k8s_client.AppsV1Api(staff).create_namespaced_deployment(NS, deployment))

    created = core.create_namespaced_pod(NS, pod("inside", "harbor.gov.local/czj/app:1.0"))
    try:
        assert created.metadata.name == "inside"
    finally:
        core.delete_namespaced_pod("inside", NS, grace_period_seconds=0)


def test_role_bindings_to_own_groups_only(enforced: None, tenant_admin: Any) -> None:
    rbac = k8s_client.RbacAuthorizationV1Api(tenant_admin)
    made = rbac.create_namespaced_role_binding(NS, binding("auditors-view", "czj-auditors"))
    try:
        assert made.subjects[0].name == "czj-auditors"
    finally:
        rbac.delete_namespaced_role_binding("auditors-view", NS)  # the tenant's own binding: its own to remove
    for group in ("sjj-staff", "system:authenticated"):
        message = refused_by(f"govcloud-{TENANT}-rolebindings",
                             lambda group=group: rbac.create_namespaced_role_binding(NS, binding("leak", group)))
        assert f"Group {group}" in message
    # and govcloud's own bindings are not the tenant admin's to take over or remove
    refused_by(f"govcloud-{TENANT}-managed",
               lambda: rbac.delete_namespaced_role_binding("govcloud-czj-staff-edit", NS))


def test_govcloud_itself_may_change_them(enforced: None, govcloud: Any) -> None:
    core, net = k8s_client.CoreV1Api(govcloud), k8s_client.NetworkingV1Api(govcloud)
    net.delete_namespaced_network_policy("govcloud-default-deny", NS, dry_run="All")
    core.patch_namespaced_resource_quota("govcloud-quota", NS, {"spec": {"hard": {"pods": "201"}}}, dry_run="All")
    core.patch_namespace(NS, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": None}}}, dry_run="All")
    # nothing was changed by any of the above
    assert core.read_namespaced_resource_quota("govcloud-quota", NS).spec.hard["pods"] == "200"
    assert core.read_namespace(NS).metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert net.read_namespaced_network_policy("govcloud-default-deny", NS).metadata.name == "govcloud-default-deny"


# --- OpenStack ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def member(ws: Path, openstack_admin: Any) -> Iterator[tuple[Any, Any]]:
    """(the tenant's project, a connection as a new Keystone user in the tenant's member group, scoped to it)."""
    with keystone_member(openstack_admin, TENANT, "czj-staff") as found:
        yield found


def test_a_tenant_member_cannot_share_a_network_but_the_admin_can(member: tuple[Any, Any],
                                                                  openstack_admin: Any) -> None:
    project, conn = member
    admin = openstack_admin
    # unfiltered listings: one filtered by project would make Neutron create the project's default group
    network = next(n for n in admin.network.networks() if n.project_id == project.id and n.name == "czj-app")
    other = admin.current_project_id
    assert other != project.id
    conn.network.get_network(network.id)  # the member sees its network: the refusals below are the overrides'
    with pytest.raises(os_errors.ForbiddenException):
        conn.network.create_rbac_policy(object_type="network", object_id=network.id, action="access_as_shared",
                                        target_project_id=other)
    with pytest.raises(os_errors.ForbiddenException):
        conn.network.update_network(network.id, shared=True)
    shared = admin.network.create_rbac_policy(object_type="network", object_id=network.id,
                                              action="access_as_shared", target_project_id=other)
    admin.network.delete_rbac_policy(shared)
    assert not list(admin.network.rbac_policies(object_id=network.id, target_project_id=other))


def test_a_level_3_member_cannot_touch_the_managed_security_group_but_the_admin_can(member: tuple[Any, Any],
                                                                                    openstack_admin: Any) -> None:
    project, conn = member
    admin = openstack_admin
    group = next(g for g in admin.network.security_groups() if g.project_id == project.id and g.name == "czj-web")
    before = {r.id for r in admin.network.security_group_rules(security_group_id=group.id)}
    assert before
    ssh = {"security_group_id": group.id, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
           "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}
    conn.network.get_security_group(group.id)  # visible to the member (policy lets it read)
    with pytest.raises(os_errors.ForbiddenException):
        conn.network.create_security_group_rule(**ssh)
    with pytest.raises(os_errors.ForbiddenException):
        conn.network.delete_security_group_rule(next(iter(before)))
    with pytest.raises(os_errors.ForbiddenException):
        conn.network.update_security_group(group.id, description="opened by hand")
    assert {r.id for r in admin.network.security_group_rules(security_group_id=group.id)} == before

    rule = admin.network.create_security_group_rule(**ssh)
    admin.network.delete_security_group_rule(rule)
    assert {r.id for r in admin.network.security_group_rules(security_group_id=group.id)} == before
