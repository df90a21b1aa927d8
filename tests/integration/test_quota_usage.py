"""Live usage from the sandbox clouds refuses a request below it (Neutron ports; Kubernetes quota status.used), and
the report's `--live` reader shows the same usage against each pool."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from gcloud.audit import AuditLog
from gcloud.model import load_fleet
from gcloud.report.sources import cloud_usage
from gcloud.requests import Effects, State, Workspace, request_quota
from gcloud.requests.usage import Clients, live_usage

ROOT = Path(__file__).resolve().parents[2]
CONFIGMAPS = "configmaps"


def _wait(condition, what: str, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("tenants", "policies"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "platform.yaml", tmp_path / "platform.yaml")
    # czj-test counts its ConfigMaps, as a department's namespace quota may
    path = tmp_path / "tenants" / "czj.yaml"
    text = path.read_text(encoding="utf-8")
    line = 'quota: {requests.cpu: "4", requests.memory: 16Gi, pods: "50", requests.storage: 100Gi, ' \
           'persistentvolumeclaims: "10"}'
    assert text.count(line) == 1, "czj-test's quota line changed: update this fixture"
    path.write_text(text.replace(line, line[:-1] + f', {CONFIGMAPS}: "10"}}'), encoding="utf-8")
    return tmp_path


def test_live_usage_refuses_a_request_below_it(sandbox: Any, project: Path) -> None:
    from kubernetes import config
    from kubernetes.client import CoreV1Api

    conn = sandbox.openstack_admin()
    kube = config.new_client_from_config(config_file=str(sandbox.kubeconfig), context="gov-k8s",  # type: ignore[no-untyped-call]
                                         persist_config=False)
    stamp = str(int(time.time()))
    # What daj's members would have made: a project named after the tenant, a network, three ports.
    dom = conn.identity.find_domain("Default", ignore_missing=False)
    found = conn.identity.find_project("daj", domain_id=dom.id)
    proj = found or conn.identity.create_project(name="daj", domain_id=dom.id, description="quota usage test")
    net = conn.network.create_network(name=f"daj-usage-{stamp}", project_id=proj.id)
    ports = [conn.network.create_port(network_id=net.id, project_id=proj.id) for _ in range(3)]
    api = CoreV1Api(kube)
    namespace = "czj-test"
    made_namespace = namespace not in {ns.metadata.name for ns in api.list_namespace().items}
    names = [f"usage-{stamp}-{index}" for index in range(3)]
    made: list[str] = []
    live: set[str] = set()

    def counted() -> bool:
        live.clear()
        live.update(cm.metadata.name for cm in api.list_namespaced_config_map(namespace).items)
        used = api.read_namespaced_resource_quota("govcloud-quota", namespace).status.used or {}
        return used.get(CONFIGMAPS) == str(len(live))

    try:
        if made_namespace:
            api.create_namespace({"metadata": {"name": namespace}})
        # kube-root-ca.crt lands in a new namespace on its own: have it there before the quota's first count
        _wait(lambda: "kube-root-ca.crt" in {cm.metadata.name for cm in
                                             api.list_namespaced_config_map(namespace).items},
              "the root CA publisher to fill the namespace")
        quotas = {q.metadata.name: q for q in api.list_namespaced_resource_quota(namespace).items}
        if not quotas:
            api.create_namespaced_resource_quota(namespace, {"metadata": {"name": "govcloud-quota"},
                                                             "spec": {"hard": {CONFIGMAPS: "10"}}})
        else:
            assert CONFIGMAPS in (quotas["govcloud-quota"].spec.hard or {}), f"{namespace} is left from another test"
        # quota admission refuses what a quota counts until the controller has filled its status
        _wait(lambda: CONFIGMAPS in (api.read_namespaced_resource_quota("govcloud-quota", namespace).status.hard
                                     or {}), "the quota controller to take up the quota")
        for name in names:
            api.create_namespaced_config_map(namespace, {"metadata": {"name": name}})
            made.append(name)
        # A deletion makes the controller count again from its cache, which by then holds every ConfigMap made
        # before it (watch order): status.used converges even if an earlier count ran on a cache that lagged.
        api.delete_namespaced_config_map(made.pop(), namespace)
        _wait(counted, "the quota controller to count the namespace's ConfigMaps", 120)
        ws = Workspace(tenants=[project / "tenants"], platform=project / "platform.yaml",
                       policies=project / "policies", requests=project / "requests")
        clients = Clients(openstack=lambda cloud: conn, kubernetes=lambda context: kube)
        effects = Effects(audit=AuditLog.at(project / "state"),
                          usage=lambda doc, keys, platform: live_usage(doc, keys, platform, clients),
                          clock=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
        ports_now = len(list(conn.network.ports(project_id=proj.id)))
        refused = request_quota(ws, effects, "daj", ["network.ports=1"], reason="缩减", requester="罗敏")
        assert refused.status.state is State.REFUSED
        assert refused.status.usage.values == {"network.ports": ports_now} and ports_now >= 3
        assert refused.status.problems == [f"network.ports: 1 asked, but {ports_now} is in use now"]
        fits = request_quota(ws, effects, "daj", [f"network.ports={ports_now}"], reason="缩减", requester="罗敏")
        assert fits.status.state is State.APPROVED  # a decrease down to usage goes through

        key = f"kubernetes.namespaces.{namespace}.{CONFIGMAPS}"
        refused = request_quota(ws, effects, "czj", [f"{key}=1"], reason="缩减", requester="李四")
        assert refused.status.state is State.REFUSED
        assert refused.status.usage.values == {key: str(len(live))}
        assert refused.status.problems == [f"{key}: 1 asked, but {len(live)} is in use now"]

        fleet = load_fleet([project / "tenants"], project / "platform.yaml")
        docs = {doc.name: doc for doc in fleet.tenants}
        read = cloud_usage(clients)
        assert read(docs["daj"], fleet.platform)["gov-east"]["ports"] == ports_now
        czj = read(docs["czj"], fleet.platform)
        assert czj["gov-k8s"][CONFIGMAPS] == len(live), "status.used summed over the tenant's namespaces"
        assert set(czj["gov-east"]) >= {"cores", "ramMB", "gigabytes", "ports"}
    finally:
        for port in ports:
            conn.network.delete_port(port, ignore_missing=True)
        conn.network.delete_network(net, ignore_missing=True)
        for name in made:
            api.delete_namespaced_config_map(name, namespace)
        # leave the session's sandbox as found: a project named daj or a namespace czj-test left here would be
        # another tenant's to later tests (govcloud refuses to take over a project it did not make)
        if found is None:
            for group in [g for g in conn.network.security_groups(name="default") if g.project_id == proj.id]:
                conn.network.delete_security_group(group, ignore_missing=True)
            conn.identity.delete_project(proj, ignore_missing=True)
        if made_namespace:
            api.delete_namespace(namespace)
            _wait(lambda: namespace not in {ns.metadata.name for ns in api.list_namespace().items},
                  "the test namespace to be deleted", 180)
        conn.close()
