"""The OpenStack half of the sandbox, used through openstacksdk as govcloud will use a real cloud.

As admin: a department's project, its group's role, its nova/cinder/neutron quotas, its network, subnet,
router (gateway on gov-extranet) and security group. As the department's user (a member through the group
only): a token scoped to that project that sees none of another department's things and is refused over quota.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openstack.connection
import openstack.exceptions
import pytest
import yaml
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from gcloud.passwords import new_password
from gcloud.sandbox import process
from gcloud.sandbox.openstack_config import (
    ADMIN_CLOUD_NAME,
    CLOUD_NAME,
    EXTERNAL_CIDR,
    EXTERNAL_NETWORK,
    HOST,
    REGION,
    TENANT_ROLES,
)
from tests.integration.conftest import TEST_PORT_OFFSET, SandboxInfo

pytestmark = pytest.mark.integration

Conn = openstack.connection.Connection

NOVA_QUOTA = {"instances": 3, "cores": 6, "ram": 4096}
CINDER_QUOTA = {"volumes": 4, "gigabytes": 5, "snapshots": 2}
NEUTRON_QUOTA = {"networks": 2, "subnets": 2, "ports": 20, "routers": 1, "floating_ips": 0,
                 "security_groups": 3, "security_group_rules": 20}


@dataclass(frozen=True)
class Department:
    """One tenant as govcloud provisions it: project, group with a role, a user in the group."""

    project: Any
    group: Any
    user: Any
    password: str


def user_connection(sandbox: SandboxInfo, dept: Department) -> Conn:
    """The department user's own connection, from a keystoneauth session.

    openstack.connect(username=...) silently takes admin credentials from the one-cloud clouds.yaml in
    OS_CLIENT_CONFIG_FILE (measured); a session built from explicit credentials cannot do that.
    """
    auth = v3.Password(auth_url=admin_auth_url(sandbox), username=dept.user.name, password=dept.password,
                       user_domain_name="Default", project_id=dept.project.id)
    return openstack.connection.Connection(session=ks_session.Session(auth=auth), region_name=REGION)


def admin_auth_url(sandbox: SandboxInfo) -> str:
    document = yaml.safe_load(sandbox.clouds_yaml.read_text())
    return str(document["clouds"][CLOUD_NAME]["auth"]["auth_url"])


def make_department(admin: Conn, role: str = "member") -> Department:
    name = f"dept-{uuid.uuid4().hex[:8]}"
    password = new_password()
    project = admin.identity.create_project(name=name, domain_id="default", description="integration test")
    group = admin.identity.create_group(name=f"{name}-staff", domain_id="default")
    user = admin.identity.create_user(name=f"{name}-user", password=password, domain_id="default")
    admin.identity.assign_project_role_to_group(project, group, admin.identity.find_role(role))
    admin.identity.add_user_to_group(user, group)
    return Department(project, group, user, password)


@pytest.fixture(scope="module")
def admin(openstack_admin: Conn) -> Conn:
    return openstack_admin


@pytest.fixture(scope="module")
def dept(admin: Conn) -> Iterator[Department]:
    department = make_department(admin)
    yield department
    admin.identity.delete_user(department.user, ignore_missing=True)
    admin.identity.delete_group(department.group, ignore_missing=True)


@pytest.fixture(scope="module")
def other_dept(admin: Conn) -> Department:
    """A second department with a network of its own, which the first must never see."""
    department = make_department(admin)
    network = admin.network.create_network(name="other-private", project_id=department.project.id)
    admin.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.16.9.0/24",
                                project_id=department.project.id)
    return department


@pytest.fixture(scope="module")
def external(admin: Conn) -> Any:
    return admin.network.find_network(EXTERNAL_NETWORK, ignore_missing=False)


# --- the sandbox itself ---------------------------------------------------------------------------------------


def test_every_api_listens_on_loopback_at_the_offset_ports(sandbox: SandboxInfo) -> None:
    statuses = {s.name: s for s in sandbox.sandbox.openstack.status()}
    assert set(statuses) == {"keystone", "neutron", "nova-api", "cinder-api", "placement"}
    for status in statuses.values():
        assert status.running and status.pid is not None, status
        assert status.memory_mb is not None and status.memory_mb > 20, status
        assert status.endpoint.startswith("http://127.0.0.1:"), status
    assert statuses["keystone"].endpoint == f"http://127.0.0.1:{5000 + TEST_PORT_OFFSET}/v3"
    assert not process.port_is_free(9696 + TEST_PORT_OFFSET)


def test_memory_of_the_api_only_openstack_stays_under_a_gigabyte(sandbox: SandboxInfo) -> None:
    total = sum(s.memory_mb or 0 for s in sandbox.sandbox.openstack.status())
    assert 300 < total < 1100, f"OpenStack sandbox RSS {total:.0f} MB"


def test_clouds_yaml_names_the_platform_cloud_and_is_private(sandbox: SandboxInfo) -> None:
    assert sandbox.env["OS_CLOUD"] == CLOUD_NAME == "gov-east"
    assert sandbox.env["OS_CLIENT_CONFIG_FILE"] == str(sandbox.clouds_yaml)
    assert sandbox.clouds_yaml.stat().st_mode & 0o077 == 0, "clouds.yaml carries the admin password"
    clouds = yaml.safe_load(sandbox.clouds_yaml.read_text())["clouds"]
    auth = clouds[CLOUD_NAME]["auth"]
    assert auth["username"] == "govcloud" and auth["auth_url"] == f"http://127.0.0.1:{5000 + TEST_PORT_OFFSET}/v3"
    assert clouds[ADMIN_CLOUD_NAME]["auth"]["username"] == "admin"


def test_govcloud_user_holds_no_admin_role_anywhere(sandbox: SandboxInfo) -> None:
    """gcloud.privileges: manager on the domain, member and govcloud-provisioner inherited to its projects."""
    admin = sandbox.openstack_admin()
    [user] = list(admin.identity.users(name="govcloud", domain_id="default"))
    held = {(str((a.role or {}).get("name")), "domain" if "domain" in (a.scope or {}) else "project",
             bool((a.scope or {}).get("OS-INHERIT:inherited_to")))
            for a in admin.identity.role_assignments(user_id=user.id, include_names=True)}
    assert held == {("manager", "domain", False), ("member", "domain", True),
                    ("govcloud-provisioner", "domain", True)}, held
    assert user.options.get("ignore_lockout_failure_attempts") is True  # a guessed password cannot lock it out


def test_no_log_and_no_status_output_carries_the_admin_password(sandbox: SandboxInfo) -> None:
    password = yaml.safe_load(sandbox.clouds_yaml.read_text())["clouds"][ADMIN_CLOUD_NAME]["auth"]["password"]
    assert len(password) >= 24
    logs = sorted(sandbox.sandbox.openstack.dirs.logs.glob("*.log"))
    assert len(logs) >= 6
    leaking = [log.name for log in logs if password in log.read_text(errors="replace")]
    assert not leaking, f"admin password written to {leaking}"
    assert password not in repr(sandbox.sandbox.status()) + repr(sandbox.progress)


def test_up_again_is_a_fast_no_op(sandbox: SandboxInfo) -> None:
    before = {s.name: s.pid for s in sandbox.sandbox.openstack.status()}
    lines: list[str] = []
    sandbox.sandbox.openstack.up(lines.append)
    assert lines == ["OpenStack already up (5 services)"]
    assert {s.name: s.pid for s in sandbox.sandbox.openstack.status()} == before


def test_catalog_lists_every_service_at_its_port(admin: Conn) -> None:
    urls = {}
    for service in admin.identity.services():
        # the sandbox's own region (the fault tests add a second one, FaultsOne, through their proxies)
        endpoints = [e for e in admin.identity.endpoints(service_id=service.id, interface="public")
                     if e.region_id == REGION]
        assert len(endpoints) == 1, service.type
        urls[service.type] = endpoints[0].url
    assert urls["identity"].startswith(f"http://127.0.0.1:{5000 + TEST_PORT_OFFSET}")
    assert urls["network"] == f"http://127.0.0.1:{9696 + TEST_PORT_OFFSET}"
    assert urls["compute"] == f"http://127.0.0.1:{8774 + TEST_PORT_OFFSET}/v2.1"
    assert urls["block-storage"] == urls["volumev3"] == f"http://127.0.0.1:{8776 + TEST_PORT_OFFSET}/v3"
    assert urls["placement"] == f"http://127.0.0.1:{8778 + TEST_PORT_OFFSET}"


def test_platform_roles_exist(admin: Conn) -> None:
    names = {role.name for role in admin.identity.roles()}
    assert set(TENANT_ROLES) <= names
    assert {"manager", "member", "reader"} <= names


def test_external_network_for_router_gateways(admin: Conn, external: Any) -> None:
    assert external.is_router_external
    assert external.provider_network_type == "flat"
    subnets = list(admin.network.subnets(network_id=external.id))
    assert [s.cidr for s in subnets] == [EXTERNAL_CIDR]


def test_placement_answers_with_a_service_token(admin: Conn) -> None:
    response = admin.session.get("/", endpoint_filter={"service_type": "placement"})
    assert response.status_code == 200
    assert response.json()["versions"][0]["id"] == "v1.0"


# --- a department, provisioned as admin ---------------------------------------------------------------------------


def test_group_role_assignment(admin: Conn, dept: Department) -> None:
    member = admin.identity.find_role("member")
    assignments = list(admin.identity.role_assignments(scope_project_id=dept.project.id))
    assert [(a.group["id"], a.role["id"]) for a in assignments if a.group] == [(dept.group.id, member.id)]
    assert admin.identity.validate_group_has_project_role(dept.project, dept.group, member)


def test_quotas_round_trip_on_nova_cinder_and_neutron(admin: Conn, dept: Department) -> None:
    project = dept.project.id
    admin.compute.update_quota_set(project, **NOVA_QUOTA)
    admin.block_storage.update_quota_set(project, **CINDER_QUOTA)
    admin.network.update_quota(project, **NEUTRON_QUOTA)

    nova = admin.compute.get_quota_set(project)
    assert {k: getattr(nova, k) for k in NOVA_QUOTA} == NOVA_QUOTA
    cinder = admin.block_storage.get_quota_set(project)
    assert {k: getattr(cinder, k) for k in CINDER_QUOTA} == CINDER_QUOTA
    neutron = admin.network.get_quota(project)
    assert {k: getattr(neutron, k) for k in NEUTRON_QUOTA} == NEUTRON_QUOTA


@pytest.fixture(scope="module")
def dept_network(admin: Conn, dept: Department, external: Any) -> dict[str, Any]:
    """Network, subnet, router (gateway on gov-extranet, no SNAT) with an interface, security group + rules."""
    project = dept.project.id
    admin.network.update_quota(project, **NEUTRON_QUOTA)
    network = admin.network.create_network(name="app", project_id=project)
    subnet = admin.network.create_subnet(name="app", network_id=network.id, ip_version=4,
                                         cidr="10.16.1.0/24", project_id=project)
    router = admin.network.create_router(
        name="edge", project_id=project,
        external_gateway_info={"network_id": external.id, "enable_snat": False},
    )
    admin.network.add_interface_to_router(router, subnet=subnet.id)
    group = admin.network.create_security_group(name="web", project_id=project)
    for rule in ({"protocol": "tcp", "port_range_min": 443, "port_range_max": 443,
                  "remote_ip_prefix": "10.0.0.0/8"},
                 {"protocol": "icmp", "remote_ip_prefix": "10.16.0.0/12"}):
        admin.network.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                                 ethertype="IPv4", project_id=project, **rule)
    return {"network": network, "subnet": subnet, "router": admin.network.get_router(router.id),
            "security_group": admin.network.get_security_group(group.id)}


def test_router_has_its_gateway_on_the_extranet_and_an_interface(admin: Conn, dept_network: dict[str, Any],
                                                                  external: Any) -> None:
    router = dept_network["router"]
    gateway = router.external_gateway_info
    assert gateway["network_id"] == external.id and gateway["enable_snat"] is False
    [fixed] = gateway["external_fixed_ips"]
    assert ipaddress.ip_address(fixed["ip_address"]) in ipaddress.ip_network(EXTERNAL_CIDR)
    interfaces = list(admin.network.ports(device_id=router.id, device_owner="network:router_interface"))
    assert [ip["subnet_id"] for port in interfaces for ip in port.fixed_ips] == [dept_network["subnet"].id]


def test_ports_bind_through_the_agentless_driver(admin: Conn, dept: Department,
                                                 dept_network: dict[str, Any]) -> None:
    port = admin.network.create_port(network_id=dept_network["network"].id, project_id=dept.project.id,
                                     binding_host_id=HOST)
    try:
        assert port.binding_vif_type == "other", port.binding_vif_type
        assert port.binding_vif_details["bound_drivers"] == {"0": "govcloud_agentless"}
        assert port.binding_vif_details["port_filter"] is False
    finally:
        admin.network.delete_port(port)


def test_security_group_has_its_rules(dept_network: dict[str, Any]) -> None:
    rules = dept_network["security_group"].security_group_rules
    ingress = sorted((r["protocol"], r["port_range_min"], r["remote_ip_prefix"])
                     for r in rules if r["direction"] == "ingress")
    assert ingress == [("icmp", None, "10.16.0.0/12"), ("tcp", 443, "10.0.0.0/8")]


# --- the department's own user ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user(sandbox: SandboxInfo, dept: Department, dept_network: dict[str, Any]) -> Iterator[Conn]:
    conn = user_connection(sandbox, dept)
    yield conn
    conn.close()


def test_user_token_is_scoped_to_its_project_through_the_group(user: Conn, dept: Department) -> None:
    access = user.session.auth.get_access(user.session)
    assert access.project_id == dept.project.id
    assert sorted(access.role_names) == ["member", "reader"]  # member implies reader (keystone bootstrap)
    projects = list(user.identity.user_projects(dept.user.id))
    assert [p.id for p in projects] == [dept.project.id]


def test_user_sees_only_its_own_networks(user: Conn, dept_network: dict[str, Any], other_dept: Department,
                                         external: Any) -> None:
    visible = {n.id for n in user.network.networks()}
    assert dept_network["network"].id in visible
    assert external.id in visible  # router:external networks are visible to every project
    assert not {n.id for n in user.network.networks(project_id=other_dept.project.id)}
    owners = {n.project_id for n in user.network.networks() if n.id != external.id}
    assert owners == {dept_network["network"].project_id}


def test_user_cannot_list_other_projects_or_read_their_quota(user: Conn, other_dept: Department) -> None:
    with pytest.raises(openstack.exceptions.ForbiddenException):
        list(user.identity.projects())
    with pytest.raises(openstack.exceptions.ForbiddenException):
        user.block_storage.get_quota_set(other_dept.project.id)


def test_user_is_refused_over_the_network_quota(user: Conn, dept_network: dict[str, Any]) -> None:
    # quota networks=2 and "app" exists: one more is allowed, the next is refused with 409.
    user.network.create_network(name="second")
    with pytest.raises(openstack.exceptions.ConflictException, match=r"(?i)quota"):
        user.network.create_network(name="third")
    assert len([n for n in user.network.networks() if not n.is_router_external]) == 2


def test_user_is_refused_over_the_volume_quota(admin: Conn, user: Conn, dept: Department) -> None:
    admin.block_storage.update_quota_set(dept.project.id, **CINDER_QUOTA)
    with pytest.raises(openstack.exceptions.HttpException) as refused:
        user.block_storage.create_volume(name="too-big", size=CINDER_QUOTA["gigabytes"] + 1)
    assert refused.value.status_code == 413, refused.value
    assert "quota" in str(refused.value).lower()


def test_cli_status_shows_the_whole_sandbox_running_under_two_gigabytes(run_cli, sandbox: SandboxInfo) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sandbox", "status", "--dir", str(sandbox.root), "--output", "json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert {s["half"] for s in document["services"]} == {"openstack", "kubernetes"}
    assert all(s["running"] for s in document["services"])
    assert document["memoryMB"] < 2000, "the API-only sandbox must leave the machine usable"
    exports = run_cli("sandbox", "env", "--dir", str(sandbox.root)).stdout.splitlines()
    assert exports == [f"export {key}={value}" for key, value in sandbox.env.items()]
