"""The GB/T 22239-2019 clause table: every citation of the baseline holds, and a wrong one is refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gcloud.policy.clauses import citation_problems, clause_table, parse_citation
from gcloud.policy.examples import run_examples
from gcloud.policy.explain import explain
from gcloud.policy.loader import load_policies

REPO = Path(__file__).resolve().parents[2]
BASELINE = load_policies(REPO / "policies")

POLICY = """\
apiVersion: govcloud/v1
kind: PolicySet
policies:
  - id: T-NET-001
    title: A policy whose citation is under test
    severity: high
    enforcement: mandatory
    {scope}
    field: spec.openstack
    rule: "true"
    message: "{{tenant.metadata.name}}"
    rationale: test
    references: [{reference}]
    examples: {{pass: {{tenant: {{}}}}, fail: {{tenant: {{}}}}}}
"""


def policies_citing(tmp_path: Path, reference: str, scope: str = "") -> list:  # type: ignore[type-arg]
    (tmp_path / "p.yaml").write_text(POLICY.format(reference=f'"{reference}"', scope=scope), encoding="utf-8")
    return list(load_policies(tmp_path))


def test_every_baseline_citation_is_in_the_table_with_its_wording() -> None:
    assert citation_problems(BASELINE) == []
    keys = {parse_citation(ref).key for policy in BASELINE for ref in policy.spec.references  # type: ignore[union-attr]
            if parse_citation(ref) is not None}
    assert keys <= set(clause_table().index), keys - set(clause_table().index)


def test_table_keys_are_unique_and_items_quote_text() -> None:
    counts = Counter(clause.key for clause in clause_table().clauses)
    assert [key for key, count in counts.items() if count > 1] == []
    assert all(clause.text for clause in clause_table().clauses if clause.item)


@pytest.mark.parametrize(("reference", "needle"), [
    ("GB/T 22239-2019 8.2.6.9 供应链管理", "does not have"),
    ("GB/T 22239-2019 8.1.7.3 b) 应针对系统变更、重要操作、物理访问和系统接入等事项执行审批过程", "not 8.1.7.3 b)'s"),
    ("GB/T 22239-2019 8.1.4.9 数据备份恢复", "does not have"),
    ("GB/T 22239-2019 clause eight", "write it as"),
])
def test_a_wrong_citation_fails_policy_test(tmp_path: Path, reference: str, needle: str) -> None:
    policies = policies_citing(tmp_path, reference)
    problems = citation_problems(policies)
    assert len(problems) == 1 and needle in problems[0].message, problems
    failed = [result for result in run_examples(policies) if not result.ok and result.kind == "cite"]
    assert [result.name for result in failed] == ["T-NET-001 cite[0]"]


def test_a_level_scope_needs_a_clause_that_reaches_it(tmp_path: Path) -> None:
    level3_only = "GB/T 22239-2019 8.1.7.2 b) 应配备专职安全管理员，不可兼任"
    refused = citation_problems(policies_citing(tmp_path, level3_only, "appliesTo: {mlpsLevels: [2, 3]}"))
    assert [problem.reference for problem in refused] == ["appliesTo"] and "level 2" in refused[0].message
    assert citation_problems(policies_citing(tmp_path, level3_only, "appliesTo: {mlpsLevels: [3, 4]}")) == []


def test_the_corrected_citations(tmp_path: Path) -> None:
    cited = {policy.id: " ".join(policy.spec.references) for policy in BASELINE}
    assert "8.2.6.2" not in cited["GOV-K8S-004"]
    assert "8.2.5.1 b)" not in cited["GOV-NET-004"]
    assert "8.1.4.9" not in cited["GOV-LVL-003"]
    assert "建立审批程序" in cited["GOV-NET-011"]
    assert 2 in BASELINE.get("GOV-ORG-004").spec.applies_to.mlps_levels  # type: ignore[union-attr]


def test_explain_pages_cite_table_clauses_with_title_and_levels() -> None:
    for policy in BASELINE:
        page = explain(policy)
        for reference in policy.spec.references:
            if reference.startswith("GB/T 22239-2019"):
                assert f"{reference} [" in page and "; levels " in page, (policy.id, reference)
