"""govcloud's own privileges: the shipped ClusterRole covers exactly what govcloud writes and lists, the oslo.policy
overrides name only govcloud's roles, and no file grants a cloud-wide admin."""

from __future__ import annotations

from pathlib import Path

import yaml

from gcloud import privileges
from gcloud.guardrails import LOCKED_ROLE, neutron_policy_file
from gcloud.live.residue import KUBERNETES_KINDS
from gcloud.model import load_fleet
from gcloud.providers.kubernetes import KINDS

REPO = Path(__file__).resolve().parents[2]


def _rules(platform: dict) -> list[dict]:  # type: ignore[type-arg]
    [cluster_role] = [m for m in privileges.kubernetes_rbac(platform) if m["kind"] == "ClusterRole"]
    return list(cluster_role["rules"])


def _allowed(rules: list[dict], group: str, resource: str, verb: str) -> bool:  # type: ignore[type-arg]
    return any(group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
               and "resourceNames" not in rule for rule in rules)


def test_the_cluster_role_covers_every_kind_govcloud_writes_and_no_wildcard() -> None:
    rules = _rules(load_fleet([REPO / "tenants"], REPO / "platform.yaml").platform_data)
    for api_version, kind in KINDS:
        group = api_version.rpartition("/")[0]
        resource = kind.lower() + "s" if not kind.endswith("y") else kind.lower()[:-1] + "ies"
        for verb in ("get", "list", "create", "patch", "delete"):
            assert _allowed(rules, group, resource, verb), (group, resource, verb)
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] or "*" in rule["apiGroups"] for rule in rules)
    assert not _allowed(rules, "", "secrets", "get")  # govcloud never reads a department's Secrets
    assert not _allowed(rules, "rbac.authorization.k8s.io", "clusterrolebindings", "create")


def test_residue_kinds_are_listed_and_deleted_never_created() -> None:
    rules = _rules(load_fleet([REPO / "tenants"], REPO / "platform.yaml").platform_data)
    plural = {"CronJob": ("batch", "cronjobs"), "Job": ("batch", "jobs"), "Deployment": ("apps", "deployments"),
              "StatefulSet": ("apps", "statefulsets"), "DaemonSet": ("apps", "daemonsets"), "Pod": ("", "pods"),
              "PersistentVolumeClaim": ("", "persistentvolumeclaims")}
    for _rank, kind in KUBERNETES_KINDS:
        group, resource = plural[kind]
        assert _allowed(rules, group, resource, "list") and _allowed(rules, group, resource, "delete"), kind
        assert not _allowed(rules, group, resource, "create"), kind


def test_bind_is_limited_to_the_cluster_roles_the_mapping_names() -> None:
    platform = load_fleet([REPO / "tenants"], REPO / "platform.yaml").platform_data
    [bind] = [rule for rule in _rules(platform) if rule["verbs"] == ["bind"]]
    assert bind["resourceNames"] == privileges.mapped_cluster_roles(platform) == ["admin", "edit", "view"]
    assert "cluster-admin" not in bind["resourceNames"]


def test_policy_overrides_name_only_govcloud_roles_and_never_grant_admin() -> None:
    files = [privileges.policy_file(service) for service in privileges.POLICY_FILES] + [neutron_policy_file()]
    for path in files:
        rules = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert rules, path
        for name, check in rules.items():
            assert "'admin'" not in check and "role:admin " not in check + " ", (path.name, name)
    keystone = yaml.safe_load(privileges.policy_file("keystone").read_text(encoding="utf-8"))
    target = keystone["domain_managed_target_role"]
    assert f"'{LOCKED_ROLE}'" in target and "'manager'" in target


def test_the_grants_are_the_domain_manager_and_inherited_project_roles() -> None:
    lines = privileges.openstack_grants("Default")
    assert any("--domain Default manager" in line and "--inherited" not in line for line in lines)
    assert sum("--inherited" in line for line in lines) == len(privileges.PROJECT_ROLES)
    assert not any(line.endswith(" admin") for line in lines)
