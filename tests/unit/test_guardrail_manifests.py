"""The guardrails as built: admission policies per tenant (pure manifests and under Pulumi mocks), the identity
they let through, and the Neutron overrides file the sandbox points at. Their effect on a real API server and a
real Neutron is tested in tests/integration/test_guardrails.py."""

from __future__ import annotations

import configparser
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from gcloud.stacks import kubernetes_manifests as manifests
from test_stacks_program import K8S, run  # the same Pulumi-mocks harness (tests/unit is on sys.path)

from gcloud.guardrails import LOCKED_ROLE, neutron_policy_file
from gcloud.guardrails import kubernetes as guardrails
from gcloud.model import load_fleet
from gcloud.privileges import SERVICE_ACCOUNT_USER
from gcloud.providers.kubernetes import kind_of, object_id
from gcloud.sandbox.openstack_config import TENANT_ROLES, OpenStackLayout, Ports
from gcloud.sandbox.process import SandboxDirs

REPO = Path(__file__).resolve().parents[2]
VAP, BINDING = K8S + "ValidatingAdmissionPolicy", K8S + "ValidatingAdmissionPolicyBinding"


@pytest.fixture(scope="module")
def fleet():  # type: ignore[no-untyped-def]
    return load_fleet([REPO / "tenants"], REPO / "platform.yaml")


def built(fleet: Any, tenant: str, identity: str = "govcloud-admin") -> dict[str, dict[str, Any]]:
    """name -> manifest of every guardrail object of a tenant."""
    pairs = manifests.guardrail_manifests(fleet.get(tenant).effective, fleet.platform_data, identity)
    return {("Binding" if m["kind"].endswith("Binding") else "Policy") + ":" + m["metadata"]["name"]: m
            for pair in pairs for m in pair}


def variables(policy: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["expression"] for v in policy["spec"]["variables"]}


def test_each_tenant_with_namespaces_gets_four_policies_each_bound_to_its_own_namespaces(fleet: Any) -> None:
    objects = built(fleet, "czj")
    assert sorted(objects) == sorted(f"{kind}:govcloud-czj-{what}" for what in manifests.GUARDRAILS
                                     for kind in ("Policy", "Binding"))
    for what in ("images", "managed", "rolebindings"):
        binding = objects[f"Binding:govcloud-czj-{what}"]["spec"]
        assert binding["policyName"] == f"govcloud-czj-{what}" and binding["validationActions"] == ["Deny"]
        assert binding["matchResources"]["namespaceSelector"] == {"matchLabels": {"govcloud.io/tenant": "czj"}}
    managed = objects["Binding:govcloud-czj-managed"]["spec"]["matchResources"]
    assert managed["objectSelector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "govcloud"}}
    # the namespace guard selects by the object (old or new), so removing the tenant label is still judged
    namespaces = objects["Binding:govcloud-czj-namespaces"]["spec"]["matchResources"]
    assert namespaces == {"objectSelector": {"matchLabels": {"govcloud.io/tenant": "czj"}}}
    for manifest in objects.values():
        assert manifest["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "govcloud",
                                                  "govcloud.io/tenant": "czj"}
        assert kind_of(manifest).namespaced is False  # the provider knows the kind (drift reads it back)
        assert object_id(manifest).startswith(manifest["kind"] + "/govcloud-czj-")
    assert manifests.guardrail_manifests(fleet.get("daj").effective, fleet.platform_data, "x") == []


def test_registries_are_the_namespace_own_else_the_platform_ones(fleet: Any) -> None:
    images = built(fleet, "czj")["Policy:govcloud-czj-images"]
    # czj-test names none: it gets platform.yaml's allowedRegistries, as policy GOV-K8S-004 reads it
    assert variables(images)["byNamespace"] == '{"czj-prod": ["harbor.gov.local"], "czj-test": ["harbor.gov.local"]}'
    resources = {r for rule in images["spec"]["matchConstraints"]["resourceRules"] for r in rule["resources"]}
    assert {"pods", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs"} <= resources
    platform = copy.deepcopy(fleet.platform_data)
    platform["spec"]["allowedRegistries"] = []
    assert manifests.allowed_registries({"name": "x"}, platform) == []
    assert manifests.allowed_registries({"name": "x", "imageRegistries": ["r.example/a"]}, platform) == ["r.example/a"]


def test_the_managed_guard_names_the_identity_and_spares_only_a_namespace_being_deleted(fleet: Any) -> None:
    managed = built(fleet, "czj", identity='system:serviceaccount:gov"cloud:sa')["Policy:govcloud-czj-managed"]
    [validation] = managed["spec"]["validations"]
    assert validation["expression"] == (
        'request.userInfo.username == "system:serviceaccount:gov\\"cloud:sa" || '
        "(request.operation == 'DELETE' && has(namespaceObject.metadata.deletionTimestamp))")
    rules = managed["spec"]["matchConstraints"]["resourceRules"]
    assert {r for rule in rules for r in rule["resources"]} == {"resourcequotas", "limitranges", "networkpolicies",
                                                                "rolebindings"}  # no status subresources
    assert all(rule["operations"] == ["CREATE", "UPDATE", "DELETE"] for rule in rules)


def test_role_bindings_may_name_only_the_tenant_own_groups_and_namespaces(fleet: Any) -> None:
    policy = built(fleet, "czj")["Policy:govcloud-czj-rolebindings"]
    assert variables(policy)["groups"] == '["czj-admins", "czj-auditors", "czj-security", "czj-staff"]'
    assert variables(policy)["namespaces"] == '["czj-prod", "czj-test"]'
    assert "sjj-" not in str(policy)


def test_chinese_and_quotes_in_cel_literals_stay_valid() -> None:
    assert manifests.cel_string('财政"局') == '"\\u8d22\\u653f\\"\\u5c40"'
    assert manifests.cel_list(["a", "b"]) == '["a", "b"]'


def test_the_program_creates_each_binding_after_its_policy(fleet: Any) -> None:
    result = run(fleet.get("czj").effective, fleet.platform_data)
    assert result.names(VAP) == {f"czj-admission-{what}" for what in manifests.GUARDRAILS}
    assert result.names(BINDING) == {f"czj-admission-{what}-binding" for what in manifests.GUARDRAILS}
    for what in manifests.GUARDRAILS:
        assert f"czj-admission-{what}" in result.dependencies[f"czj-admission-{what}-binding"]
        policy = result.one(VAP, f"czj-admission-{what}").inputs
        assert policy["context"] == "gov-k8s"
        assert SERVICE_ACCOUNT_USER in str(policy["manifest"]) or what in ("images", "rolebindings")
    assert not run(fleet.get("daj").effective, fleet.platform_data).of(VAP)


def test_the_identity_comes_from_platform_yaml_else_from_the_cluster(fleet: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert guardrails.govcloud_identity(fleet.platform_data, "gov-k8s") == SERVICE_ACCOUNT_USER
    asked: list[str] = []
    monkeypatch.setattr(guardrails, "whoami", lambda context: asked.append(context) or "system:serviceaccount:a:b")
    platform = copy.deepcopy(fleet.platform_data)
    del platform["spec"]["kubernetes"]["clusters"][0]["identity"]
    assert guardrails.govcloud_identity(platform, "gov-k8s") == "system:serviceaccount:a:b"
    assert asked == ["gov-k8s"]


def test_the_neutron_overrides_ship_with_the_package_and_the_sandbox_uses_that_file(tmp_path: Path) -> None:
    path = neutron_policy_file()
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert rules["create_rbac_policy"] == rules["update_rbac_policy"] == "rule:govcloud_platform"
    assert rules["govcloud_mlps3"] == f"role:{LOCKED_ROLE}"
    for action in ("create_security_group", "update_security_group", "delete_security_group",
                   "create_security_group_rule", "delete_security_group_rule"):
        assert rules[action].startswith("rule:govcloud_platform or (role:member and "), action
        assert rules[action].endswith(" and not rule:govcloud_mlps3)"), action
    layout = OpenStackLayout(SandboxDirs(tmp_path), Ports.with_offset(0), False, "pw")
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(layout.config_files()[layout.conf("neutron")])
    assert conf["oslo_policy"]["policy_file"] == str(path)
    assert LOCKED_ROLE in TENANT_ROLES  # the sandbox's Keystone has the marker role the stacks assign
