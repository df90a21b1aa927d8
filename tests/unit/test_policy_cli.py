"""`govcloud policy ...` through the real entry point: exit codes 0/1/2, documents alone on stdout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import REPO

FIXTURE = Path(__file__).parent / "golden" / "policy"
CHECK = ("policy", "check", "tenants", "--platform", "platform.yaml", "--policies", "policies")


def copy_fixture(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "fx", ignore=shutil.ignore_patterns("expected"))
    return tmp_path / "fx"


def test_check_exits_1_on_a_mandatory_failure(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*CHECK, "--today", "2026-06-01", cwd=FIXTURE)
    assert result.code == 1, result.stderr
    assert result.stdout == (FIXTURE / "expected" / "check.txt").read_text(encoding="utf-8")


def test_check_exits_0_when_only_advisory_findings(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fixture = copy_fixture(tmp_path)
    text = (fixture / "policies" / "golden.yaml").read_text(encoding="utf-8")
    advisory_only = text.replace("enforcement: mandatory", "enforcement: advisory")
    (fixture / "policies" / "golden.yaml").write_text(advisory_only, encoding="utf-8")
    result = run_cli(*CHECK, "--today", "2026-06-01", "--output", "json", cwd=fixture)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["passed"] is True and document["summary"]["blocking"] == 0
    assert document["summary"]["fail"] >= 2


def test_machine_formats_write_only_the_document(run_cli) -> None:  # type: ignore[no-untyped-def]
    sarif = run_cli(*CHECK, "--today", "2026-06-01", "-o", "sarif", cwd=FIXTURE)
    assert json.loads(sarif.stdout)["version"] == "2.1.0"
    junit = run_cli(*CHECK, "--today", "2026-06-01", "-o", "junit", cwd=FIXTURE)
    assert junit.stdout.startswith("<?xml") and junit.stdout.rstrip().endswith("</testsuites>")


def test_bad_policy_file_exits_2_with_file_line(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fixture = copy_fixture(tmp_path)
    path = fixture / "policies" / "golden.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("r.remoteCidr != \"0.0.0.0/0\"))",
                                                             "r.remoteCidr != ))"), encoding="utf-8")
    (fixture / "tenants" / "beta.yaml").write_text("apiVersion: govcloud/v1\nkind: Tenant\nmetadata: {}\n",
                                                   encoding="utf-8")
    result = run_cli(*CHECK, cwd=fixture)
    assert result.code == 2
    assert "policies/golden.yaml:34:82 policies[1].rule: GT-NET-001: CEL does not compile" in result.stderr
    assert "tenants/beta.yaml" in result.stderr, "tenant and policy problems are reported together"
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_list_and_explain(run_cli) -> None:  # type: ignore[no-untyped-def]
    listed = run_cli("policy", "list", "--policies", str(REPO / "policies"), "--output", "json")
    assert listed.code == 0
    ids = [policy["id"] for policy in json.loads(listed.stdout)]
    assert len(ids) >= 30 and "GOV-IAM-001" in ids
    page = run_cli("policy", "explain", "GOV-IAM-001", "--policies", str(REPO / "policies"))
    assert page.code == 0
    for needle in ("GOV-IAM-001: Tenant roles never map to a cloud-wide administrator role", "Severity",
                   "critical", "Enforcement", "Applies to", "every tenant", "Why", "cluster-admin",
                   "GB/T 22239-2019 8.1.4.2 d)", "Rule (CEL", "Examples", "passes:", "fails:"):
        assert needle in page.stdout, needle


def test_explain_unknown_policy_is_bad_input(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("policy", "explain", "GOV-NOPE-001", "--policies", str(REPO / "policies"))
    assert result.code == 2 and "no policy 'GOV-NOPE-001'" in result.stderr


def test_policy_test_runs_examples(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok = run_cli("policy", "test", "--policies", str(REPO / "policies"))
    assert ok.code == 0, ok.stdout
    assert ok.stdout.rstrip().splitlines()[-1].startswith("PASS: ")
    fixture = copy_fixture(tmp_path)
    path = fixture / "policies" / "golden.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("email: z@qq.com", "email: z@x.gov.cn"),
                    encoding="utf-8")
    broken = run_cli("policy", "test", "--policies", "policies", cwd=fixture)
    assert broken.code == 1
    assert "FAIL  GT-ORG-001 fail[0]" in broken.stdout and "expected the rule to fail, it passed" in broken.stdout
