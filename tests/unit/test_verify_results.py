"""The judgements of the live isolation checks, on plain data of what the clouds showed."""

from __future__ import annotations

from gcloud.verify import AccessReview, group_owners
from gcloud.verify.results import (
    is_default_deny,
    judge_assignments,
    judge_cross_access,
    judge_default_deny,
    judge_networks,
    judge_own_access,
    judge_projects,
)

TENANT_PROJECTS = {"p-czj": "czj", "p-sjj": "sjj"}
DENY = {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def test_projects_only_own() -> None:
    assert judge_projects("czj", "p-czj", {"p-czj": "czj"}).passed
    leaked = judge_projects("czj", "p-czj", {"p-czj": "czj", "p-sjj": "sjj"})
    assert not leaked.passed and "sjj" in leaked.detail and leaked.check == "keystone-token-projects"
    assert not judge_projects("czj", "p-czj", {}).passed


def test_networks_own_and_external_are_fine_another_tenants_is_not() -> None:
    own = {"id": "n1", "name": "czj-app", "project_id": "p-czj", "external": False}
    ext = {"id": "n2", "name": "gov-extranet", "project_id": "p-admin", "external": True}
    platform_shared = {"id": "n4", "name": "shared", "project_id": "p-admin", "external": False}
    foreign = {"id": "n3", "name": "sjj-data", "project_id": "p-sjj", "external": False}
    result = judge_networks("czj", "p-czj", [own, ext, platform_shared], TENANT_PROJECTS)
    assert result.passed and "1 own" in result.detail
    leaked = judge_networks("czj", "p-czj", [own, foreign], TENANT_PROJECTS)
    assert not leaked.passed and "sjj-data (tenant sjj)" in leaked.detail


def test_assignments_only_to_own_groups() -> None:
    own = [{"kind": "group", "id": "g1", "name": "czj-admins", "role": "manager"}]
    assert judge_assignments("czj", own, ["g1"]).passed
    cross = [*own, {"kind": "group", "id": "g9", "name": "sjj-staff", "role": "member"}]
    result = judge_assignments("czj", cross, ["g1"], {"sjj-staff": "sjj", "czj-admins": "czj"})
    assert not result.passed and "group sjj-staff of tenant sjj has role member" in result.detail
    user = [*own, {"kind": "user", "id": "u1", "name": "mallory", "role": "admin"}]
    assert "user mallory has role admin" in judge_assignments("czj", user, ["g1"]).detail


def test_access_reviews() -> None:
    allowed = AccessReview("czj-staff", "czj-prod", "list", "pods", True)
    refused = AccessReview("czj-staff", "sjj-prod", "get", "secrets", False)
    assert judge_own_access("czj", [allowed]).passed
    assert not judge_own_access("czj", [refused]).passed
    assert judge_cross_access("czj", [refused]).passed
    result = judge_cross_access("czj", [refused, allowed])
    assert not result.passed and "czj-staff list pods in czj-prod" in result.detail


def test_default_deny_shape() -> None:
    assert is_default_deny(DENY)
    assert not is_default_deny({"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    assert not is_default_deny({"spec": {"podSelector": {"matchLabels": {"a": "b"}},
                                         "policyTypes": ["Ingress", "Egress"]}})
    assert not is_default_deny({"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                                         "ingress": [{}]}})  # an empty rule allows everything
    assert judge_default_deny("czj", {"czj-prod": [DENY]}).passed
    missing = judge_default_deny("czj", {"czj-prod": [DENY], "czj-test": [], "czj-gone": None})
    assert not missing.passed and "czj-test" in missing.detail and "czj-gone (namespace missing)" in missing.detail


def test_long_lists_are_shortened() -> None:
    reviews = [AccessReview("g", f"ns{i}", "list", "pods", True) for i in range(9)]
    assert "and 4 more" in judge_cross_access("czj", reviews).detail


def test_group_owners_across_the_fleet() -> None:
    specs = [{"metadata": {"name": "czj"}, "spec": {"access": [{"group": "czj-staff", "role": "member"}]}},
             {"metadata": {"name": "sjj"}, "spec": {"access": []}}]
    assert group_owners(specs) == {"czj-staff": "czj"}


def test_only_this_tenants_verifiers_older_than_an_hour_are_stale() -> None:
    from gcloud.verify.openstack import stale_verifier, verifier_name

    now = 1_800_000_000.0
    assert stale_verifier(verifier_name("czj", now - 3601), "czj", now)
    assert not stale_verifier(verifier_name("czj", now - 60), "czj", now)
    assert not stale_verifier(verifier_name("czj-x", now - 7200), "czj", now)  # another tenant, same prefix
    assert not stale_verifier(verifier_name("czj", now - 7200), "czj-x", now)
    assert not stale_verifier("alice", "czj", now)
