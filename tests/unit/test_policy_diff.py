"""`policy diff`: the base revision's findings (read from git, no checkout) against the working tree's."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gcloud.errors import InputError
from gcloud.policy.diff import compare, diff_sarif
from gcloud.policy.finding import CheckResult, Finding, Status
from gcloud.policy.gitrev import run_diff
from tests.conftest import REPO

TODAY = dt.date(2026, 12, 1)
POLICIES = Path("policies")
PLATFORM = Path("platform.yaml")
TENANTS = [Path("tenants")]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.gov.cn", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository holding a copy of the example platform, tenants and policies, one commit on main."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "platform.yaml", root / "platform.yaml")
    shutil.copytree(REPO / "tenants", root / "tenants")
    shutil.copytree(REPO / "policies", root / "policies")
    git(root, "init", "-q", "-b", "main")
    commit(root, "baseline")
    monkeypatch.chdir(root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def lacking_three_admins(repo: Path) -> set[str]:
    """Tenants whose file names no security or no audit administrator, read straight from the YAML."""
    names = set()
    for path in (repo / "tenants").glob("*.yaml"):
        contacts = yaml.safe_load(path.read_text(encoding="utf-8"))["spec"].get("contacts") or {}
        if not (contacts.get("securityAdmin") and contacts.get("auditAdmin")):
            names.add(path.stem)
    return names


def test_a_policy_tightened_in_a_commit_newly_fails_exactly_the_tenants_it_should(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    # GOV-IAM-002 (three distinct administrators) from level 3 and 4 to level 2 as well
    edit(repo / "policies" / "iam.yaml", "appliesTo: {mlpsLevels: [3, 4]}", "appliesTo: {mlpsLevels: [2, 3, 4]}")
    commit(repo, "three administrators from level 2")
    expected = lacking_three_admins(repo)
    assert len(expected) >= 5, "the example fleet has level-2 tenants without them"

    diff = run_diff(TENANTS, PLATFORM, POLICIES, base, TODAY)

    assert set(diff.newly_failing) == expected
    assert {(f.tenant, f.policy_id) for f in diff.new} == {(name, "GOV-IAM-002") for name in expected}
    assert all(f.blocking and f.file == f"tenants/{f.tenant}.yaml" and f.line > 0 for f in diff.new)
    assert {f.tenant for f in diff.waivers_needed} == expected, "each needs a fix or a waiver"
    assert diff.fixed == () and diff.now_passing == () and diff.failed
    assert diff.base.startswith(base[:12]) or base[:12] in diff.base


def test_a_tenant_fixed_in_a_commit_shows_as_fixed(repo: Path) -> None:
    # commit 1 breaks jyj (SSH from anywhere, GOV-NET-004); commit 2 fixes it again
    jyj = repo / "tenants" / "jyj.yaml"
    original = jyj.read_text(encoding="utf-8")
    edit(jyj, "    router: {externalNetwork: gov-extranet, snat: true}\n",
         "    router: {externalNetwork: gov-extranet, snat: true}\n    securityGroups:\n      - name: ops\n"
         "        rules:\n          - {direction: ingress, protocol: tcp, ports: \"22\", remoteCidr: 10.99.0.0/16}\n")
    broken = commit(repo, "jyj: ssh from a non-admin network")
    jyj.write_text(original, encoding="utf-8")
    commit(repo, "jyj: fixed")

    diff = run_diff(TENANTS, PLATFORM, POLICIES, broken, TODAY)

    assert diff.now_passing == ("jyj",)
    assert {(f.tenant, f.policy_id) for f in diff.fixed} == {("jyj", "GOV-NET-004")}
    assert diff.fixed[0].file == "tenants/jyj.yaml", "base findings carry the working tree's path, not a temp one"
    assert diff.new == () and diff.newly_failing == () and not diff.failed


def test_the_default_base_is_the_merge_base_with_main_and_uncommitted_edits_count(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo / "tenants" / "zwfw.yaml", "remoteCidr: 0.0.0.0/0", "remoteCidr: 10.0.0.0/16")
    commit(repo, "zwfw: portal only from the admin network")
    edit(repo / "tenants" / "czj.yaml", "    auditAdmin:", "    # auditAdmin:")  # uncommitted: the working tree counts

    diff = run_diff(TENANTS, PLATFORM, POLICIES, None, TODAY)

    assert "merge-base with main" in diff.base
    assert [(f.tenant, f.policy_id) for f in diff.waivers_unneeded] == [("zwfw", "GOV-NET-003")]
    assert "czj" in diff.newly_failing and {f.policy_id for f in diff.new if f.tenant == "czj"} == {"GOV-IAM-002"}


def test_the_sarif_output_holds_only_the_new_findings(repo: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    edit(repo / "policies" / "iam.yaml", "appliesTo: {mlpsLevels: [3, 4]}", "appliesTo: {mlpsLevels: [2, 3, 4]}")
    result = run_cli("policy", "diff", "--base", "HEAD", "--today", "2026-12-01", "-o", "sarif", cwd=repo)
    assert result.code == 1, result.stderr
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert {(r["properties"]["tenant"], r["ruleId"]) for r in results} == {
        (name, "GOV-IAM-002") for name in lacking_three_admins(repo)}, "the unchanged advisory findings stay out"
    table = run_cli("policy", "diff", "--base", "HEAD", "--today", "2026-12-01", cwd=repo)
    assert "BLOCKING" in table.stdout and "tenants newly failing:" in table.stdout


def test_an_unknown_revision_and_a_folder_outside_git_are_input_errors(repo: Path, tmp_path: Path,
                                                                      run_cli) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="no such revision"):
        run_diff(TENANTS, PLATFORM, POLICIES, "no-such-branch", TODAY)
    outside = tmp_path / "plain"
    shutil.copytree(repo, outside, ignore=shutil.ignore_patterns(".git"))
    result = run_cli("policy", "diff", cwd=outside)
    assert result.code == 2 and "not inside a git repository" in result.stderr


def test_policies_new_at_the_head_show_every_finding_they_make(repo: Path) -> None:
    shutil.rmtree(repo / "policies")
    base = commit(repo, "no policies yet")
    shutil.copytree(REPO / "policies", repo / "policies")
    diff = run_diff(TENANTS, PLATFORM, POLICIES, base, TODAY)
    assert {f.policy_id for f in diff.new} == {"GOV-K8S-005"}  # the example fleet's advisory findings
    assert [(f.tenant, f.policy_id) for f in diff.waivers_needed] == [("zwfw", "GOV-NET-003")]


def finding(tenant: str, policy: str, status: Status, enforcement: str = "mandatory",
            field: str = "spec.access") -> Finding:
    return Finding(f"tenants/{tenant}.yaml", 3, 5, policy, "high", enforcement, tenant, field, "m", status)


def result(*findings: Finding) -> CheckResult:
    return CheckResult(tuple(sorted(findings)), (), {}, TODAY)


def test_compare_classifies_every_transition_and_ignores_moved_lines() -> None:
    base = result(finding("a", "P-1", Status.FAIL), finding("b", "P-2", Status.WAIVED),
                  finding("c", "P-3", Status.WAIVED), finding("d", "P-4", Status.FAIL))
    moved = Finding("tenants/d.yaml", 40, 1, "P-4", "high", "mandatory", "d", "spec.access", "other text",
                    Status.FAIL)
    head = result(finding("b", "P-2", Status.FAIL), finding("e", "P-5", Status.WAIVED), moved,
                  finding("c", "P-3", Status.EXPIRED_WAIVER, "advisory", "spec.exceptions[0].expires"),
                  finding("c", "P-6", Status.FAIL, "advisory"))
    diff = compare(base, head)
    assert [(f.tenant, f.policy_id) for f in diff.new] == [("b", "P-2"), ("c", "P-3"), ("c", "P-6")]
    assert [(f.tenant, f.policy_id) for f in diff.fixed] == [("a", "P-1")]
    assert [(f.tenant, f.policy_id) for f in diff.waivers_needed] == [("b", "P-2"), ("e", "P-5")]
    assert [(f.tenant, f.policy_id) for f in diff.waivers_unneeded] == [("c", "P-3")]
    assert diff.newly_failing == ("b",) and diff.now_passing == ("a",)
    assert json.loads(diff_sarif(diff))["runs"][0]["properties"]["passed"] is False
