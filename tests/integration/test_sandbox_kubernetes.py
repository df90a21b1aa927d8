"""The Kubernetes half of the sandbox, used as a tenant stack would use a real cluster.

Runs against real etcd, kube-apiserver and kube-controller-manager built from their Go modules. Tests run in
file order; the last ones stop and restart the session's sandbox.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from gcloud.errors import EnvironmentProblem
from gcloud.privileges import SERVICE_ACCOUNT_USER
from gcloud.sandbox import process
from gcloud.sandbox.kube_build import KUBE_VERSION, KubeBinaries
from gcloud.sandbox.kubernetes import CONTEXT, KubernetesSandbox
from gcloud.sandbox.process import SandboxDirs, ServiceFailed
from tests.integration.kube_fixture import KUBE_TEST_PORT_OFFSET, kube_sandbox

pytestmark = pytest.mark.integration
__all__ = ["kube_sandbox"]  # the session fixture, imported so pytest finds it here

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 60.0, what: str = "condition") -> T:
    """Poll until `check` returns something truthy (controllers work asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(0.25)


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig), context=CONTEXT)


@pytest.fixture(scope="module")
def admin(kube_sandbox: KubernetesSandbox) -> Iterator[client.ApiClient]:
    api = api_client(kube_sandbox.admin_kubeconfig)
    yield api
    api.close()


@pytest.fixture
def namespace(admin: client.ApiClient) -> Iterator[str]:
    name = f"czj-test-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        client.CoreV1Api(admin).delete_namespace(name)
    except ApiException as err:
        if err.status != 404:
            raise


def test_kubeconfig_names_the_platform_cluster_and_reaches_the_pinned_release(
        kube_sandbox: KubernetesSandbox, admin: client.ApiClient) -> None:
    env = kube_sandbox.env()
    kubeconfig = yaml.safe_load(Path(env["KUBECONFIG"]).read_text())
    assert kubeconfig["current-context"] == CONTEXT == "gov-k8s"
    assert [c["name"] for c in kubeconfig["contexts"]] == ["gov-k8s"]
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{6443 + KUBE_TEST_PORT_OFFSET}"
    assert oct(Path(env["KUBECONFIG"]).stat().st_mode & 0o777) == "0o600"  # it carries govcloud's token
    assert client.VersionApi(admin).get_code().git_version == KUBE_VERSION


def test_govcloud_runs_as_its_service_account_with_exactly_the_shipped_role(
        kube_sandbox: KubernetesSandbox) -> None:
    """What KUBECONFIG gives govcloud: its ServiceAccount, allowed what gcloud.privileges lists and nothing more."""
    api = api_client(Path(kube_sandbox.env()["KUBECONFIG"]))
    review = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert review.status.user_info.username == SERVICE_ACCOUNT_USER
    authz = client.AuthorizationV1Api(api)

    def may(verb: str, resource: str, group: str = "", namespace: str = "czj-prod") -> bool:
        body = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, group=group,
                                                            namespace=namespace)))
        return bool(authz.create_self_subject_access_review(body).status.allowed)

    assert may("create", "namespaces") and may("patch", "resourcequotas") and may("delete", "pods")
    assert may("create", "validatingadmissionpolicies", "admissionregistration.k8s.io", "")
    assert not may("get", "secrets") and not may("create", "pods") and not may("create", "clusterrolebindings",
                                                                                "rbac.authorization.k8s.io", "")
    assert not may("impersonate", "users", "", "") and not may("*", "*", "*", "")


def test_namespace_quota_is_filled_in_and_enforced(admin: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(admin)
    # Quota admission trusts status.used, which the controller fills from its informer cache: a ConfigMap the
    # root-CA publisher writes just before the count would be missed. Let it land first, then demand a count
    # that matches what the namespace really holds.
    eventually(lambda: core.list_namespaced_config_map(namespace, field_selector="metadata.name=kube-root-ca.crt")
               .items, what="kube-root-ca.crt ConfigMap")
    hard = {"requests.cpu": "16", "requests.memory": "64Gi", "pods": "200", "configmaps": "3"}
    core.create_namespaced_resource_quota(namespace, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="tenant-quota"), spec=client.V1ResourceQuotaSpec(hard=hard)))

    def filled() -> client.V1ResourceQuota | None:
        quota = core.read_namespaced_resource_quota("tenant-quota", namespace)
        status = quota.status
        if not status or status.hard != hard or set(status.used or {}) != set(hard):
            return None
        held = len(core.list_namespaced_config_map(namespace).items)
        return quota if status.used["configmaps"] == str(held) else None

    quota = eventually(filled, what="quota status filled by the resourcequota controller")
    assert quota.status.used["pods"] == "0"
    assert quota.status.used["requests.cpu"] == "0"

    created, refused = 0, []
    for i in range(3):  # with kube-root-ca.crt, one more than the quota allows
        try:
            core.create_namespaced_config_map(namespace, client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"cm-{i}"), data={"k": "v"}))
            created += 1
        except ApiException as err:
            refused.append(err)
    assert refused, "the ResourceQuota admission plugin let the namespace exceed its configmap quota"
    assert all(err.status == 403 and "exceeded quota" in str(err.body) for err in refused)
    total = len(core.list_namespaced_config_map(namespace).items)
    assert total == 3
    eventually(lambda: core.read_namespaced_resource_quota("tenant-quota", namespace).status.used["configmaps"]
               == "3", what="quota usage recounted")


def test_default_service_account_and_root_ca_appear(admin: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(admin)

    def names() -> set[str] | None:
        found = {sa.metadata.name for sa in core.list_namespaced_service_account(namespace).items}
        return found if "default" in found else None

    eventually(names, what="default ServiceAccount")
    eventually(lambda: core.list_namespaced_config_map(namespace, field_selector="metadata.name=kube-root-ca.crt")
               .items, what="kube-root-ca.crt ConfigMap")


def test_deleted_namespace_is_gone_not_stuck_terminating(admin: client.ApiClient) -> None:
    core = client.CoreV1Api(admin)
    name = f"czj-gone-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="content")))
    core.create_namespaced_resource_quota(name, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="q"), spec=client.V1ResourceQuotaSpec(hard={"pods": "1"})))
    core.delete_namespace(name)
    assert core.read_namespace(name).status.phase == "Terminating"

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as err:
            return err.status == 404
        return False

    eventually(gone, timeout=90, what=f"namespace {name} deleted by the namespace controller")


def _allowed(admin: client.ApiClient, user: str, groups: list[str], verb: str, resource: str,
             namespace: str) -> bool:
    review = client.AuthorizationV1Api(admin).create_subject_access_review(client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(user=user, groups=groups, resource_attributes=client.V1ResourceAttributes(
            namespace=namespace, verb=verb, resource=resource))))
    return bool(review.status.allowed)


def test_plain_user_is_refused_until_a_role_binding_grants_its_group(
        kube_sandbox: KubernetesSandbox, admin: client.ApiClient, namespace: str) -> None:
    staff = "czj-staff"
    user_api = api_client(kube_sandbox.user_kubeconfig("wang-wu", [staff]))
    core_as_user = client.CoreV1Api(user_api)
    assert not _allowed(admin, "wang-wu", [staff], "create", "configmaps", namespace)
    with pytest.raises(ApiException) as refused:
        core_as_user.list_namespaced_config_map(namespace)
    assert refused.value.status == 403
    assert 'User "wang-wu" cannot list resource "configmaps"' in json.loads(refused.value.body)["message"]

    client.RbacAuthorizationV1Api(admin).create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="czj-staff-edit"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"),
        subjects=[client.RbacV1Subject(kind="Group", name=staff, api_group="rbac.authorization.k8s.io")]))

    eventually(lambda: _allowed(admin, "wang-wu", [staff], "create", "configmaps", namespace),
               what="SubjectAccessReview allowed after the RoleBinding")
    core_as_user.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="by-staff"), data={"who": "wang-wu"}))
    assert core_as_user.read_namespaced_config_map("by-staff", namespace).data == {"who": "wang-wu"}
    # the binding is per namespace and per group: elsewhere, and for other groups, still refused
    assert not _allowed(admin, "wang-wu", [staff], "create", "configmaps", "default")
    assert not _allowed(admin, "zhao-liu", ["gaj-staff"], "create", "configmaps", namespace)
    # `edit` never grants RBAC changes (privilege escalation stays with tenant admins)
    assert not _allowed(admin, "wang-wu", [staff], "create", "rolebindings", namespace)
    user_api.close()


def test_status_reports_running_processes_with_memory(kube_sandbox: KubernetesSandbox) -> None:
    statuses = kube_sandbox.status()
    assert [s.name for s in statuses] == kube_sandbox.services() == [
        "etcd", "kube-apiserver", "kube-controller-manager"]
    ports = [23790, 6443, 10257]
    for status, port in zip(statuses, ports, strict=True):
        assert status.running and status.pid is not None
        assert Path(f"/proc/{status.pid}").exists()
        assert status.memory_mb is not None and status.memory_mb > 5
        assert f"127.0.0.1:{port + KUBE_TEST_PORT_OFFSET}" in status.endpoint
    # a second object on the same directory (a later `govcloud sandbox status`) finds the recorded offset
    later = KubernetesSandbox(kube_sandbox.dirs)
    assert later.ports.offset == KUBE_TEST_PORT_OFFSET
    assert [s.pid for s in later.status()] == [s.pid for s in statuses]


def test_up_when_already_up_is_fast_and_starts_nothing(kube_sandbox: KubernetesSandbox) -> None:
    before = [s.pid for s in kube_sandbox.status()]
    lines: list[str] = []
    started = time.monotonic()
    kube_sandbox.up(lines.append)
    elapsed = time.monotonic() - started
    assert [s.pid for s in kube_sandbox.status()] == before
    assert lines == []
    assert elapsed < 2.0


def test_taken_port_is_a_clear_environment_problem(kube_sandbox: KubernetesSandbox, tmp_path: Path) -> None:
    other = KubernetesSandbox(SandboxDirs(tmp_path / "other"), port_offset=KUBE_TEST_PORT_OFFSET)
    with pytest.raises(EnvironmentProblem) as err:
        other.up(lambda line: None)
    assert f"127.0.0.1:{23790 + KUBE_TEST_PORT_OFFSET}" in err.value.message
    assert "etcd" in err.value.message
    assert not any(s.running for s in other.status())


def test_service_that_dies_at_start_fails_with_its_log_tail(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
        script = bin_dir / name
        script.write_text("#!/bin/sh\necho \"$0: cannot open the data directory: read-only file system\" >&2\nexit 1\n")
        script.chmod(0o755)
    broken = KubernetesSandbox(SandboxDirs(tmp_path / "state"), port_offset=KUBE_TEST_PORT_OFFSET + 1000,
                               binaries=KubeBinaries(bin_dir))
    with pytest.raises(ServiceFailed) as err:
        broken.up(lambda line: None)
    assert "etcd exited during start-up" in err.value.message
    assert "cannot open the data directory: read-only file system" in err.value.message


def test_down_stops_exactly_its_processes_and_up_restarts_from_cached_binaries(
        kube_sandbox: KubernetesSandbox, admin: client.ApiClient) -> None:
    pids = {s.name: s.pid for s in kube_sandbox.status()}
    stopped = kube_sandbox.down()
    assert stopped == ["kube-controller-manager", "kube-apiserver", "etcd"]
    for pid in pids.values():
        assert pid is not None
        assert not _alive(pid)
    assert not any(s.running for s in kube_sandbox.status())
    assert kube_sandbox.down() == []
    for port in (23790, 23800, 6443, 10257):
        assert process.port_is_free(port + KUBE_TEST_PORT_OFFSET)

    lines: list[str] = []
    kube_sandbox.up(lines.append)
    assert any(line.startswith("starting kube-apiserver") for line in lines)
    assert all(s.running for s in kube_sandbox.status())
    assert client.CoreV1Api(admin).read_namespace("default").metadata.name == "default"  # etcd data kept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"
