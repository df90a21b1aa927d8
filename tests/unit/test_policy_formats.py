"""Golden tests: the fixture under golden/policy/ checked on a fixed day, rendered by every formatter.

Regenerate after an intended change with `GOVCLOUD_UPDATE_GOLDEN=1 pytest tests/unit/test_policy_formats.py`
and review the diff like code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from gcloud.policy.check import run_check
from gcloud.policy.explain import explain
from gcloud.policy.finding import CheckResult
from gcloud.policy.formats import FORMATTERS, policy_list_table
from gcloud.policy.loader import load_policies

FIXTURE = Path(__file__).parent / "golden" / "policy"
EXPECTED = FIXTURE / "expected"
TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def in_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Paths in findings are relative to the working directory, as users type them."""
    monkeypatch.chdir(FIXTURE)
    yield FIXTURE


@pytest.fixture
def result(in_fixture: Path) -> CheckResult:
    return run_check([Path("tenants")], Path("platform.yaml"), Path("policies"), TODAY)


def golden(name: str, text: str) -> None:
    path = EXPECTED / name
    if os.environ.get("GOVCLOUD_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path}; run with GOVCLOUD_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("output", "name"), [("table", "check.txt"), ("json", "check.json"),
                                              ("sarif", "check.sarif"), ("junit", "check.junit.xml")])
def test_check_output_matches_golden(result: CheckResult, output: str, name: str) -> None:
    golden(name, FORMATTERS[output](result))


def test_formatters_are_deterministic(result: CheckResult) -> None:
    for formatter in FORMATTERS.values():
        assert formatter(result) == formatter(result)


def test_fixture_covers_every_status(result: CheckResult) -> None:
    assert {finding.status.value for finding in result.findings} == {"fail", "waived", "expired-waiver", "error"}
    assert result.failed


def test_sarif_points_into_the_tenant_file(result: CheckResult) -> None:
    run = json.loads(FORMATTERS["sarif"](result))["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    ssh = next(r for r in run["results"] if r["ruleId"] == "GT-SSH-001" and r["properties"]["status"] == "fail")
    location = ssh["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "tenants/alpha.yaml"
    assert location["region"] == {"startLine": 18, "startColumn": 5}
    lines = (FIXTURE / "tenants" / "alpha.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[17].strip().startswith("securityGroups:")
    assert rules[ssh["ruleIndex"]] == "GT-SSH-001" and ssh["level"] == "error"
    waived = next(r for r in run["results"] if r["properties"]["status"] == "waived")
    assert waived["suppressions"][0]["status"] == "accepted" and "SEC-17" in waived["suppressions"][0]["justification"]


def test_junit_failures_are_exactly_the_blocking_findings(result: CheckResult) -> None:
    root = ET.fromstring(FORMATTERS["junit"](result))
    assert int(root.get("failures", "0")) + int(root.get("errors", "0")) == sum(f.blocking for f in result.findings)
    assert int(root.get("tests", "0")) == result.counts()["evaluations"] + 2  # + the two waiver cases


def test_explain_and_list_match_golden(in_fixture: Path) -> None:
    policies = load_policies(Path("policies"))
    golden("list.txt", policy_list_table(list(policies)))
    policy = policies.get("GT-SSH-001")
    assert policy is not None
    golden("explain-GT-SSH-001.txt", explain(policy))
