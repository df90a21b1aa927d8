"""The baseline policy set: every policy complete, every example behaving as it says, the examples clean."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from gcloud.model import load_fleet
from gcloud.model.yamlsrc import load_yaml
from gcloud.policy.check import check_fleet
from gcloud.policy.examples import ExampleResult, run_example
from gcloud.policy.loader import load_policies, policy_files
from gcloud.policy.policy import Policy

REPO = Path(__file__).resolve().parents[2]
POLICIES = load_policies(REPO / "policies")
REQUIRED_TOPICS = {
    "GOV-IAM-002": "three distinct administrators at level >= 3",
    "GOV-NET-001": "no 0.0.0.0/0 ingress at level >= 3",
    "GOV-NET-002": "no floating IPs at level >= 3",
    "GOV-NET-004": "SSH/RDP only from admin networks",
    "GOV-K8S-001": "pod security restricted at level >= 3",
    "GOV-K8S-003": "default-deny isolation",
    "GOV-K8S-004": "allowed registries",
    "GOV-IAM-001": "no cloud-wide admin role",
    "GOV-QUOTA-001": "no -1 quotas",
    "GOV-LVL-001": "level <= platform level",
    "GOV-LVL-002": "level 4 on dedicated cloud/cluster",
    "GOV-NET-011": "interconnect ticket and unexpired date",
    "GOV-CAP-001": "quotas vs capacity x overcommit (fleet)",
    "GOV-ORG-001": "owner with official e-mail domain",
}


def _examples() -> list[tuple[Policy, str, int]]:
    cases = []
    for policy in POLICIES:
        cases += [(policy, "pass", index) for index in range(len(policy.spec.examples.pass_))]
        cases += [(policy, "fail", index) for index in range(len(policy.spec.examples.fail))]
    return cases


@pytest.mark.parametrize(("policy", "kind", "index"), _examples(),
                         ids=lambda value: value.id if isinstance(value, Policy) else str(value))
def test_example_behaves_as_labelled(policy: Policy, kind: str, index: int) -> None:
    examples = policy.spec.examples.pass_ if kind == "pass" else policy.spec.examples.fail
    result: ExampleResult = run_example(policy, examples[index], kind, index)  # type: ignore[arg-type]
    assert result.ok, f"{result.name}: {result.detail}"
    if kind == "fail":  # the detail is the rendered message
        assert "{?" not in result.detail, f"a placeholder did not render: {result.detail}"


def test_baseline_is_large_and_covers_the_issue() -> None:
    assert len(POLICIES) >= 30
    missing = sorted(set(REQUIRED_TOPICS) - POLICIES.ids)
    assert not missing, missing
    assert len(POLICIES.fleet_policies()) >= 1


@pytest.mark.parametrize("policy", list(POLICIES), ids=lambda policy: policy.id)
def test_policy_metadata_is_complete(policy: Policy) -> None:
    spec = policy.spec
    assert re.fullmatch(r"GOV-[A-Z0-9]+-\d{3}", spec.id)
    assert len(spec.title) >= 15 and not spec.title.endswith(".")
    assert len(spec.rationale.split()) >= 25, "a rationale a reviewer understands needs a few sentences"
    assert spec.references and all(ref.startswith("GB") for ref in spec.references)
    assert any("22239-2019" in ref for ref in spec.references), "cite the MLPS 2.0 clause served"
    assert spec.examples.pass_ and spec.examples.fail
    assert "{" in spec.message, "a message cites the tenant (e.g. {tenant.metadata.name})"


def test_every_policy_sets_its_field_explicitly() -> None:
    for file in policy_files(REPO / "policies"):
        for entry in load_yaml(file).data["policies"]:
            assert "field" in entry, f"{file}: {entry['id']} has no field (SARIF would point at the name)"


def test_ids_are_unique_across_files() -> None:
    seen: dict[str, Path] = {}
    for file in policy_files(REPO / "policies"):
        for entry in load_yaml(file).data["policies"]:
            assert entry["id"] not in seen, f"{entry['id']} in {file} and {seen[entry['id']]}"
            seen[entry["id"]] = file


def test_level3_examples_pass_every_mandatory_policy() -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml")
    result = check_fleet(fleet, POLICIES, dt.date(2026, 11, 23))
    level3 = {doc.name for doc in fleet.tenants if doc.tenant.spec.mlps_level >= 3}
    assert level3, "the examples include level-3 tenants"
    blocking = [f for f in result.findings if f.blocking and f.tenant in level3]
    assert not blocking, blocking
    assert not [f for f in result.findings if f.status.value == "error"]
