"""One tenant at a time: a named file is checked against its folder's whole set, and only it is reported on.

A department's merge request changes one file; its CI and its engineer check that one file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gcloud.model import load_fleet

POLICIES = str(Path(__file__).resolve().parents[2] / "policies")


def test_one_file_resolves_references_into_its_folder(run_cli: Any, workspace: Path) -> None:
    for command in (("validate",), ("policy", "check", "--policies", POLICIES)):
        result = run_cli(*command, "tenants/czj.yaml", "--output", "json")
        assert result.code == 0, result.stderr  # czj interconnects to sjj: found in tenants/
    document = json.loads(run_cli("validate", "tenants/czj.yaml", "--output", "json").stdout)
    assert [t["name"] for t in document["tenants"]] == ["czj"]


def test_policy_check_of_one_file_reports_only_that_tenant(run_cli: Any, workspace: Path) -> None:
    whole = json.loads(run_cli("policy", "check", "tenants", "--policies", POLICIES, "--output", "json").stdout)
    assert {f["tenant"] for f in whole["findings"]} - {""} != {"zwfw"}  # several tenants have findings
    one = json.loads(run_cli("policy", "check", "tenants/zwfw.yaml", "--policies", POLICIES,
                             "--output", "json").stdout)
    assert {f["tenant"] for f in one["findings"]} <= {"zwfw", ""} and one["findings"]


def test_problems_of_other_files_are_one_line_not_the_users(run_cli: Any, workspace: Path) -> None:
    broken = workspace / "tenants" / "jyj.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("mlpsLevel: 2", "mlpsLevel: 9"), encoding="utf-8")
    result = run_cli("validate", "tenants/czj.yaml")
    assert result.code == 0, result.stderr
    assert "other tenant files of the set have" in result.stderr and "jyj.yaml" in result.stderr
    assert run_cli("validate", "tenants/jyj.yaml").code == 2
    assert run_cli("validate", "tenants").code == 2


def test_a_bad_named_file_still_names_file_line_and_field(run_cli: Any, workspace: Path) -> None:
    path = workspace / "tenants" / "czj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("to: sjj", "to: nobody"), encoding="utf-8")
    result = run_cli("validate", "tenants/czj.yaml")
    assert result.code == 2
    assert "tenants/czj.yaml:50:" in result.stderr and "spec.interconnects[0].to" in result.stderr


def test_an_unreadable_other_file_makes_the_fleet_incomplete(workspace: Path) -> None:
    (workspace / "tenants" / "broken.yaml").write_text("metadata: [unclosed\n", encoding="utf-8")
    fleet = load_fleet([workspace / "tenants" / "czj.yaml"], workspace / "platform.yaml")
    assert [doc.name for doc in fleet.targets] == ["czj"]
    assert fleet.unread == ("tenants/broken.yaml",) and not fleet.whole
    assert {p.location.file for p in fleet.elsewhere} == {"tenants/broken.yaml"}
