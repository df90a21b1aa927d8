"""Each dynamic provider's create / read / update / delete against the sandbox's real Keystone, Nova, Cinder,
Neutron and kube-apiserver, called the way the provider process calls them (props in, plain values out).

Checks go through openstacksdk / the kubernetes client directly, never through the provider under test.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import openstack.connection
import pytest
from kubernetes import client as k8s_client

from gcloud.providers import credentials
from gcloud.providers import kubernetes as k8s
from gcloud.providers import openstack as ostack
from gcloud.providers import openstack_network as onet
from gcloud.providers.base import PROVIDER_KEY
from gcloud.providers.conventions import project_tags
from gcloud.providers.retry import ProviderError
from gcloud.sandbox.openstack_config import ADMIN_CLOUD_NAME

pytestmark = pytest.mark.integration

CLOUD = "gov-east"
"""govcloud's least-privilege user (gcloud.privileges); ADMIN_CLOUD_NAME is the admin of `cleanupCloud`."""
CONTEXT = "gov-k8s"


@pytest.fixture(scope="module")
def cloud_env(sandbox: Any) -> Iterator[None]:
    """The provider process's view: clouds.yaml and kubeconfig found through the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sandbox.env.items():
            patch.setenv(key, value)
        credentials.forget_clients()
        yield
        credentials.forget_clients()


@pytest.fixture(scope="module")
def admin(cloud_env: None, openstack_admin: openstack.connection.Connection) -> openstack.connection.Connection:
    return openstack_admin


@pytest.fixture(scope="module")
def kube(cloud_env: None) -> k8s_client.ApiClient:
    return credentials.kubernetes_client(CONTEXT)


@pytest.fixture
def tenant() -> str:
    return f"itp{secrets.token_hex(3)}"


def state(props: dict[str, Any], outs: dict[str, Any] | None) -> dict[str, Any]:
    """What Pulumi keeps and hands back: the outputs, plus the serialized provider (numbers as floats)."""
    recorded = {key: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
                for key, value in (outs or props).items()}
    return {**recorded, PROVIDER_KEY: "serialized"}


@pytest.fixture
def project(admin: openstack.connection.Connection, tenant: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """A tenant project made by the provider, removed (idempotently) at the end."""
    provider = ostack.ProjectProvider()
    props = {"cloud": CLOUD, "name": tenant, "domain": "Default", "description": "市测试局",
             "tags": project_tags(tenant, "0" * 64), "enabled": True, "cleanupCloud": ADMIN_CLOUD_NAME}
    created = provider.create(dict(props))
    yield created.id, state(props, created.outs)
    provider.delete(created.id, state(props, created.outs))


def test_project_lifecycle(admin: openstack.connection.Connection, tenant: str) -> None:
    provider = ostack.ProjectProvider()
    props = {"cloud": CLOUD, "name": tenant, "domain": "Default", "description": "市财政局",
             "tags": project_tags(tenant, "a" * 64), "enabled": True, "cleanupCloud": ADMIN_CLOUD_NAME}
    created = provider.create(dict(props))
    live = admin.identity.get_project(created.id)
    assert (live.name, live.description, live.domain_id) == (tenant, "市财政局", "default")
    assert set(live.tags) == {"govcloud", f"tenant:{tenant}", "digest:aaaaaaaaaaaa"}
    saved = state(props, created.outs)

    again = provider.create(dict(props))  # an interrupted earlier run: adopt, do not duplicate
    assert again.id == created.id

    news = {**props, "description": "市财政局（新）", "tags": project_tags(tenant, "b" * 64)}
    provider.update(created.id, saved, {**news, PROVIDER_KEY: "serialized"})
    read = provider.read(created.id, saved)
    assert read.outs is not None and read.outs["description"] == "市财政局（新）"
    assert "digest:bbbbbbbbbbbb" in read.outs["tags"]
    assert provider.diff(created.id, {**read.outs, PROVIDER_KEY: "x"}, {**props, PROVIDER_KEY: "x"}).changes

    # Neutron's automatic "default" security group of the project goes with it. (List unfiltered: a listing
    # filtered by project makes Neutron create that project's default group.)
    admin.network.create_network(name=f"{tenant}-probe", project_id=created.id)
    assert [sg.name for sg in admin.network.security_groups() if sg.project_id == created.id] == ["default"]
    for network in admin.network.networks(project_id=created.id):
        admin.network.delete_network(network)
    provider.delete(created.id, saved)
    assert admin.identity.find_project(created.id, ignore_missing=True) is None
    assert not [sg for sg in admin.network.security_groups() if sg.project_id == created.id]
    assert provider.read(created.id, saved).id == ""
    provider.delete(created.id, saved)  # already gone: fine


def test_project_refuses_to_take_over_an_untagged_project(admin: openstack.connection.Connection,
                                                          tenant: str) -> None:
    foreign = admin.identity.create_project(name=tenant, domain_id="default", description="not ours")
    try:
        with pytest.raises(ProviderError, match="refusing to take it over"):
            ostack.ProjectProvider().create({"cloud": CLOUD, "name": tenant, "domain": "Default",
                                             "description": "x", "tags": project_tags(tenant, "c" * 64),
                                             "enabled": True})
    finally:
        admin.identity.delete_project(foreign)


def test_groups_and_role_assignments(admin: openstack.connection.Connection, tenant: str,
                                     project: tuple[str, dict[str, Any]]) -> None:
    project_id, _ = project
    groups = ostack.IdentityGroupProvider()
    props = {"cloud": CLOUD, "name": f"{tenant}-staff", "domain": "Default", "description": "govcloud test"}
    made = groups.create(dict(props))
    assert made.outs is not None and made.outs["created"] is True
    existing = admin.identity.create_group(name=f"{tenant}-idp", domain_id="default")
    found = groups.create({**props, "name": f"{tenant}-idp"})
    assert found.id == existing.id and found.outs is not None and found.outs["created"] is False

    assignments = ostack.GroupRoleAssignmentProvider()
    a_props = {"cloud": CLOUD, "projectId": project_id, "groupId": made.id, "role": "member"}
    assigned = assignments.create(dict(a_props))
    member = admin.identity.find_role("member")
    assert admin.identity.validate_group_has_project_role(project_id, made.id, member)
    a_state = state(a_props, assigned.outs)
    assert assignments.read(assigned.id, a_state).id == assigned.id
    assert assignments.create(dict(a_props)).id == assigned.id  # assigning twice is harmless
    with pytest.raises(ProviderError, match="'no-such-role'"):
        assignments.create({**a_props, "role": "no-such-role"})
    assignments.delete(assigned.id, a_state)
    assert not admin.identity.validate_group_has_project_role(project_id, made.id, member)
    assert assignments.read(assigned.id, a_state).id == ""
    assignments.delete(assigned.id, a_state)

    groups.delete(found.id, state(props, found.outs))  # not ours: stays
    assert admin.identity.find_group(existing.id, ignore_missing=True) is not None
    admin.identity.delete_group(existing)
    groups.delete(made.id, state(props, made.outs))  # ours: removed
    assert admin.identity.find_group(made.id, ignore_missing=True) is None
    groups.delete(made.id, state(props, made.outs))


@pytest.mark.parametrize(("service", "quota", "reset", "read"), [
    ("compute", {"instances": 7, "cores": 21, "ram": 4096}, {"instances": 0, "cores": 0, "ram": 0},
     lambda conn, pid: conn.compute.get_quota_set(pid)),
    ("blockStorage", {"volumes": 6, "gigabytes": 123, "snapshots": 4}, {"volumes": 0, "gigabytes": 0},
     lambda conn, pid: conn.block_storage.get_quota_set(pid)),
    ("network", {"networks": 3, "subnets": 5, "ports": 77, "routers": 1, "floating_ips": 3,
                 "security_groups": 9, "security_group_rules": 99}, {"floating_ips": 0, "security_groups": 1},
     lambda conn, pid: conn.network.get_quota(pid)),
])
def test_quota_set_update_drift_and_reset(admin: openstack.connection.Connection,
                                          project: tuple[str, dict[str, Any]], service: str, quota: dict[str, int],
                                          reset: dict[str, int], read: Any) -> None:
    project_id, _ = project
    provider = ostack.QuotaProvider()
    props = {"cloud": CLOUD, "projectId": project_id, "service": service, "quota": quota, "reset": reset}
    created = provider.create(dict(props))
    live = read(admin, project_id)
    assert {key: getattr(live, key) for key in quota} == quota

    first, *rest = sorted(quota)  # `first` stops being declared; it is in `reset` in every case here
    kept = {key: quota[key] for key in rest}
    provider.update(created.id, state(props, created.outs), {**props, "quota": {**kept, rest[0]: 2}})
    live = read(admin, project_id)
    assert getattr(live, rest[0]) == 2
    assert getattr(live, first) == reset[first]  # a key no longer declared returns to the platform's floor

    saved = state({**props, "quota": {**kept, rest[0]: 2}}, None)
    drifted = provider.read(created.id, saved)
    assert drifted.outs is not None and drifted.outs["quota"][rest[0]] == 2
    admin_set = {rest[0]: 11}
    if service == "compute":
        admin.compute.update_quota_set(project_id, **admin_set)
    elif service == "blockStorage":
        admin.block_storage.update_quota_set(project_id, **admin_set)
    else:
        admin.network.update_quota(project_id, **admin_set)
    refreshed = provider.read(created.id, saved)
    assert refreshed.outs is not None and refreshed.outs["quota"][rest[0]] == 11
    assert provider.diff(created.id, {**refreshed.outs, PROVIDER_KEY: "x"}, {**saved}).changes

    provider.delete(created.id, saved)
    live = read(admin, project_id)
    for key, value in reset.items():
        assert getattr(live, key) == value
    provider.delete(created.id, saved)


def test_quota_of_a_project_deleted_by_hand_is_gone(admin: openstack.connection.Connection, tenant: str) -> None:
    project = admin.identity.create_project(name=f"{tenant}-gone", domain_id="default")
    provider = ostack.QuotaProvider()
    props = {"cloud": CLOUD, "projectId": project.id, "service": "compute", "quota": {"cores": 3},
             "reset": {"cores": 0}}
    created = provider.create(dict(props))
    admin.identity.delete_project(project)
    assert provider.read(created.id, state(props, None)).id == ""  # refresh drops it instead of failing
    provider.delete(created.id, state(props, None))  # destroy goes on


def test_network_subnet_router_interface(admin: openstack.connection.Connection, tenant: str,
                                         project: tuple[str, dict[str, Any]]) -> None:
    project_id, _ = project
    networks, subnets = onet.NetworkProvider(), onet.SubnetProvider()
    routers, interfaces = onet.RouterProvider(), onet.RouterInterfaceProvider()
    n_props = {"cloud": CLOUD, "projectId": project_id, "name": f"{tenant}-app", "description": "",
               "shared": False}
    net = networks.create(dict(n_props))
    assert admin.network.get_network(net.id).project_id == project_id
    assert networks.create(dict(n_props)).id == net.id  # adopted, not duplicated
    admin.network.update_network(net.id, is_shared=True)  # shared with every project by hand: drift
    drifted = networks.read(net.id, state(n_props, None))
    assert drifted.outs is not None and drifted.outs["shared"] is True
    assert networks.diff(net.id, {**drifted.outs, PROVIDER_KEY: "x"}, {**n_props, PROVIDER_KEY: "x"}).changes
    networks.update(net.id, {**drifted.outs, PROVIDER_KEY: "x"}, {**n_props, PROVIDER_KEY: "x"})
    assert admin.network.get_network(net.id).is_shared is False

    s_props = {"cloud": CLOUD, "projectId": project_id, "networkId": net.id, "name": f"{tenant}-app",
               "cidr": "10.77.1.0/24", "gatewayIp": "10.77.1.1", "dnsNameservers": ["10.0.0.2"], "enableDhcp": True}
    sub = subnets.create(dict(s_props))
    live = admin.network.get_subnet(sub.id)
    assert (live.cidr, live.gateway_ip, live.dns_nameservers, live.project_id) == (
        "10.77.1.0/24", "10.77.1.1", ["10.0.0.2"], project_id)
    subnets.update(sub.id, state(s_props, None), {**s_props, "dnsNameservers": ["10.0.0.3", "10.0.0.4"]})
    assert admin.network.get_subnet(sub.id).dns_nameservers == ["10.0.0.3", "10.0.0.4"]

    r_props = {"cloud": CLOUD, "projectId": project_id, "name": f"{tenant}-router",
               "externalNetwork": "gov-extranet", "snat": False}
    router = routers.create(dict(r_props))
    gateway = admin.network.get_router(router.id).external_gateway_info
    external = admin.network.find_network("gov-extranet")
    assert gateway["network_id"] == external.id and gateway["enable_snat"] is False
    r_state = state(r_props, router.outs)
    routers.update(router.id, r_state, {**r_props, "snat": True})
    assert admin.network.get_router(router.id).external_gateway_info["enable_snat"] is True
    read = routers.read(router.id, r_state)
    assert read.outs is not None and read.outs["snat"] is True and read.outs["externalNetwork"] == "gov-extranet"
    with pytest.raises(ProviderError, match="'no-such-net'"):
        routers.update(router.id, r_state, {**r_props, "externalNetwork": "no-such-net"})

    i_props = {"cloud": CLOUD, "projectId": project_id, "routerId": router.id, "subnetId": sub.id}
    iface = interfaces.create(dict(i_props))
    assert interfaces.create(dict(i_props)).id == iface.id  # already attached: fine
    ports = list(admin.network.ports(device_id=router.id, device_owner="network:router_interface"))
    assert [ip["subnet_id"] for port in ports for ip in port.fixed_ips] == [sub.id]
    assert interfaces.read(iface.id, state(i_props, None)).id == iface.id

    interfaces.delete(iface.id, state(i_props, None))
    assert interfaces.read(iface.id, state(i_props, None)).id == ""
    interfaces.delete(iface.id, state(i_props, None))
    routers.delete(router.id, r_state)
    subnets.delete(sub.id, state(s_props, None))
    networks.delete(net.id, state(n_props, None))
    for remove in (lambda: routers.delete(router.id, r_state), lambda: subnets.delete(sub.id, state(s_props, None)),
                   lambda: networks.delete(net.id, state(n_props, None))):
        remove()  # deleting what is gone is fine
    assert not list(admin.network.networks(project_id=project_id))
    assert networks.read(net.id, state(n_props, None)).id == ""


def _default_egress(admin: openstack.connection.Connection, group_id: str) -> set[str]:
    return {rule.ether_type for rule in admin.network.security_group_rules(security_group_id=group_id)
            if onet.is_default_egress(rule)}


def test_security_group_default_egress_and_rules(admin: openstack.connection.Connection, tenant: str,
                                                 project: tuple[str, dict[str, Any]]) -> None:
    project_id, _ = project
    groups, rules = onet.SecurityGroupProvider(), onet.SecurityGroupRuleProvider()
    g_props = {"cloud": CLOUD, "projectId": project_id, "name": f"{tenant}-web", "description": "web",
               "removeDefaultEgress": True}
    group = groups.create(dict(g_props))
    assert _default_egress(admin, group.id) == set()
    g_state = state(g_props, None)
    read = groups.read(group.id, g_state)
    assert read.outs is not None and read.outs["removeDefaultEgress"] is True

    r_props = {"cloud": CLOUD, "projectId": project_id, "securityGroupId": group.id, "direction": "ingress",
               "ethertype": "IPv4", "protocol": "tcp", "portMin": 443, "portMax": 443, "remoteCidr": "10.0.0.0/8",
               "description": ""}
    rule = rules.create(dict(r_props))
    live = admin.network.get_security_group_rule(rule.id)
    assert (live.port_range_min, live.remote_ip_prefix, live.project_id) == (443, "10.0.0.0/8", project_id)
    assert rules.create(dict(r_props)).id == rule.id  # Neutron says "exists": adopt it
    any_props = {**r_props, "direction": "egress", "protocol": "", "remoteCidr": "10.20.0.0/16"}
    any_props.pop("portMin")
    any_props.pop("portMax")
    any_rule = rules.create(dict(any_props))
    assert admin.network.get_security_group_rule(any_rule.id).protocol is None

    # someone in the project put allow-all egress back by hand (a rule an admin adds is owned by the admin's
    # project: govcloud's least-privilege user sees it but cannot delete it, gcloud.privileges)
    in_project = credentials.in_project(credentials.openstack_connection(CLOUD), project_id)
    in_project.network.create_security_group_rule(security_group_id=group.id, direction="egress", ethertype="IPv4")
    drifted = groups.read(group.id, g_state)
    assert drifted.outs is not None and drifted.outs["removeDefaultEgress"] is False
    groups.update(group.id, {**drifted.outs, PROVIDER_KEY: "x"}, {**g_props, PROVIDER_KEY: "x"})
    assert _default_egress(admin, group.id) == set()

    groups.update(group.id, g_state, {**g_props, "removeDefaultEgress": False, "description": "web2"})
    assert _default_egress(admin, group.id) == {"IPv4", "IPv6"}
    assert admin.network.get_security_group(group.id).description == "web2"

    rules.delete(rule.id, state(r_props, None))
    assert rules.read(rule.id, state(r_props, None)).id == ""
    rules.delete(rule.id, state(r_props, None))
    groups.delete(group.id, g_state)
    assert admin.network.find_security_group(group.id, ignore_missing=True) is None
    groups.delete(group.id, g_state)


def _manifests(tenant: str) -> dict[str, dict[str, Any]]:
    ns = f"{tenant}-prod"
    meta = {"labels": {"app.kubernetes.io/managed-by": "govcloud"}}
    return {
        "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns, "labels": {"govcloud.io/tenant": tenant, "pod-security.kubernetes.io/enforce": "restricted"},
            "annotations": {"govcloud.io/display-name": "市财政局"}}},
        "ResourceQuota": {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {
            "name": "govcloud-quota", "namespace": ns, **meta}, "spec": {"hard": {
                "requests.memory": "1024Mi", "pods": "10", "requests.cpu": "1500m"}}},
        "LimitRange": {"apiVersion": "v1", "kind": "LimitRange", "metadata": {
            "name": "govcloud-limits", "namespace": ns, **meta}, "spec": {"limits": [
                {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"memory": "128Mi"}}]}},
        "NetworkPolicy": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {
            "name": "govcloud-interconnect-to-sjj", "namespace": ns, **meta}, "spec": {
                "podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                    "to": [{"namespaceSelector": {"matchLabels": {"govcloud.io/tenant": "sjj"}}}],
                    "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8080}]}]}},
        "RoleBinding": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {
            "name": f"govcloud-{tenant}-staff-edit", "namespace": ns, **meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": f"{tenant}-staff"}]},
    }


def test_kubernetes_objects_apply_read_drift_and_delete(kube: k8s_client.ApiClient, tenant: str) -> None:
    provider = k8s.KubeObjectProvider()
    manifests = _manifests(tenant)
    ns = manifests["Namespace"]["metadata"]["name"]
    saved: dict[str, dict[str, Any]] = {}
    for kind, manifest in manifests.items():
        props = {"context": CONTEXT, "manifest": manifest}
        created = provider.create(dict(props))
        assert created.outs is not None
        assert created.outs["manifest"] == manifest, kind  # "1024Mi" kept as written though the server says "1Gi"
        saved[kind] = state(props, created.outs)
        assert provider.create(dict(props)).id == created.id  # apply is idempotent
        read = provider.read(created.id, saved[kind])
        assert read.outs is not None and read.outs["manifest"] == manifest, kind
        assert not provider.diff(created.id, {**read.outs, PROVIDER_KEY: "x"}, {**props, PROVIDER_KEY: "x"}).changes

    core = k8s_client.CoreV1Api(kube)
    live_ns = core.read_namespace(ns)
    assert live_ns.metadata.labels["govcloud.io/tenant"] == tenant
    assert live_ns.metadata.annotations["govcloud.io/display-name"] == "市财政局"
    assert core.read_namespaced_resource_quota("govcloud-quota", ns).spec.hard["requests.memory"] == "1Gi"
    binding = k8s_client.RbacAuthorizationV1Api(kube).read_namespaced_role_binding(f"govcloud-{tenant}-staff-edit", ns)
    assert binding.role_ref.name == "edit" and binding.subjects[0].kind == "Group"

    core.patch_namespaced_resource_quota("govcloud-quota", ns, {"spec": {"hard": {"pods": "99"}}})
    quota_id = f"ResourceQuota/{ns}/govcloud-quota"
    drifted = provider.read(quota_id, saved["ResourceQuota"])
    assert drifted.outs is not None and drifted.outs["manifest"]["spec"]["hard"]["pods"] == "99"
    wanted = {"context": CONTEXT, "manifest": manifests["ResourceQuota"], PROVIDER_KEY: "x"}
    assert provider.diff(quota_id, {**drifted.outs, PROVIDER_KEY: "x"}, wanted).changes
    provider.update(quota_id, {**drifted.outs, PROVIDER_KEY: "x"}, wanted)
    assert core.read_namespaced_resource_quota("govcloud-quota", ns).spec.hard["pods"] == "10"

    fewer = {**manifests["ResourceQuota"], "spec": {"hard": {"pods": "10"}}}
    provider.update(quota_id, saved["ResourceQuota"], {"context": CONTEXT, "manifest": fewer})
    assert set(core.read_namespaced_resource_quota("govcloud-quota", ns).spec.hard) == {"pods"}  # SSA removed them

    for kind in ("RoleBinding", "NetworkPolicy", "LimitRange", "ResourceQuota"):
        object_id = k8s.object_id(manifests[kind])
        provider.delete(object_id, saved[kind])
        assert provider.read(object_id, saved[kind]).id == ""
        provider.delete(object_id, saved[kind])
    provider.delete(f"Namespace/{ns}", saved["Namespace"])  # waits until the namespace is really gone
    assert ns not in {item.metadata.name for item in core.list_namespace().items}
    provider.delete(f"Namespace/{ns}", saved["Namespace"])
