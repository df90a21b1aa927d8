"""Bad policy files are bad input: InputError naming file, line and field, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcloud.errors import InputError
from gcloud.policy.loader import load_policies

GOOD = """\
apiVersion: govcloud/v1
kind: PolicySet
policies:
  - id: T-NET-001
    title: A title
    severity: high
    enforcement: mandatory
    field: spec.openstack
    rule: tenant.spec.mlpsLevel <= platform.spec.mlpsLevel
    message: "{tenant.metadata.name} is too high"
    rationale: because
    references: [GB/T 22239-2019 8.2.2.1 a)]
    examples:
      pass: {tenant: {}}
      fail: [{platform: {spec: {mlpsLevel: 2}}}]
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_policies(tmp_path)
    return [str(problem) for problem in caught.value.problems]


def test_good_file_loads(tmp_path: Path) -> None:
    policies = load_policies(write(tmp_path, GOOD))
    policy = policies.get("T-NET-001")
    assert policy is not None and not policy.fleet
    assert policy.source.line == 4 and policy.source.file.endswith("p.yaml")
    assert policy.spec.examples.pass_[0].tenant == {}


def test_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    found = problems(write(tmp_path, GOOD.replace("    severity: high\n", "    severity: high\n    severty: low\n")))
    assert found == [f"{tmp_path / 'p.yaml'}:7:14 policies[0].severty: unknown key (a typo would silently drop "
                     "a setting)"]


def test_cel_that_does_not_compile_names_the_rule_line(tmp_path: Path) -> None:
    found = problems(write(tmp_path, GOOD.replace("<= platform.spec.mlpsLevel", "<= platform.spec.(")))
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'p.yaml'}:9:11 policies[0].rule: T-NET-001: CEL does not compile")


def test_unknown_function_is_caught_at_load(tmp_path: Path) -> None:
    found = problems(write(tmp_path, GOOD.replace("rule: tenant.spec.mlpsLevel", "rule: lower(tenant.spec.x)")))
    assert ":9:11 policies[0].rule: T-NET-001: unknown function 'lower'" in found[0]


def test_bad_message_placeholder(tmp_path: Path) -> None:
    found = problems(write(tmp_path, GOOD.replace("{tenant.metadata.name}", "{tenant.metadata.(}")))
    assert ":10:14 policies[0].message: T-NET-001: placeholder {tenant.metadata.(}: CEL does not compile" in found[0]


def test_wrong_values_and_missing_keys(tmp_path: Path) -> None:
    text = GOOD.replace("severity: high", "severity: severe").replace("    rationale: because\n", "")
    text = text.replace("id: T-NET-001", "id: net1")
    found = problems(write(tmp_path, text))
    assert any(":4:9 policies[0].id: must look like GOV-NET-003" in item for item in found)
    assert any(":6:15 policies[0].severity:" in item and "'critical'" in item for item in found)
    assert any("policies[0].rationale: required key is missing" in item for item in found)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    found = problems(tmp_path)
    assert len(found) == 1 and "b.yaml:4:5 id: policy T-NET-001 is also defined at" in found[0]


def test_fleet_rule_cannot_have_applies_to_or_read_tenant(tmp_path: Path) -> None:
    text = GOOD.replace("rule: tenant.spec.mlpsLevel <= platform.spec.mlpsLevel",
                        "rule: tenants.size() < 100 && tenant.spec.x")
    assert "a fleet rule (it reads tenants or usage) cannot read tenant" in problems(write(tmp_path, text))[0]
    text = GOOD.replace("rule: tenant.spec.mlpsLevel <= platform.spec.mlpsLevel", "rule: tenants.size() < 100")
    text = text.replace("    field: spec.openstack\n", "    field: spec.openstack\n    appliesTo: {mlpsLevels: [3]}\n")
    text = text.replace("{tenant.metadata.name} is too high", "too many")
    assert "appliesTo is for per-tenant rules" in problems(write(tmp_path, text))[0]


def test_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("rule: tenant.spec.mlpsLevel", "rule: tenant.spec.("), "a.yaml")
    write(tmp_path, "apiVersion: govcloud/v1\nkind: PolicySet\npolicies: []\n", "b.yaml")
    write(tmp_path, "policies: [\n", "c.yaml")
    found = problems(tmp_path)
    assert [Path(item.split(":")[0]).name for item in found] == ["a.yaml", "b.yaml", "c.yaml"]


def test_empty_folder_and_missing_folder(tmp_path: Path) -> None:
    assert "no policy files" in problems(tmp_path)[0]
    with pytest.raises(InputError, match="no such policy file or folder"):
        load_policies(tmp_path / "nope")


def test_cel_error_inside_a_block_rule_points_at_the_exact_column(tmp_path: Path) -> None:
    text = GOOD.replace("    rule: tenant.spec.mlpsLevel <= platform.spec.mlpsLevel\n",
                        "    rule: |-\n      tenant.spec.mlpsLevel >= 1 &&\n      tenant.spec.mlpsLevel <= )\n")
    found = problems(write(tmp_path, text))
    assert found[0].startswith(f"{tmp_path / 'p.yaml'}:11:32 policies[0].rule: T-NET-001: CEL does not compile")
    assert "(rule line 2, column 26)" in found[0]
    assert text.splitlines()[10][31] == ")"
