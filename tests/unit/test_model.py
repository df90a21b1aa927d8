"""The tenant model and loader on the example files and on small hand-made cases."""

from __future__ import annotations

import json
from decimal import Decimal
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from gcloud.errors import InputError
from gcloud.model import load_fleet, load_yaml
from gcloud.model.orgcode import check_character, org_code_problem
from gcloud.model.quantity import parse_quantity
from gcloud.model.schema import tenant_json_schema
from gcloud.model.templates import render_template

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fleet():  # type: ignore[no-untyped-def]
    return load_fleet([REPO / "tenants"], REPO / "platform.yaml")


def test_examples_are_valid_and_varied(fleet) -> None:  # type: ignore[no-untyped-def]
    names = {doc.name for doc in fleet.tenants}
    assert len(names) >= 8
    assert {"czj", "gaj", "wjw", "jyj", "sjj"} <= names
    assert any(doc.tenant.metadata.parent for doc in fleet.tenants)
    assert any(doc.tenant.spec.openstack is None for doc in fleet.tenants)
    assert any(doc.tenant.spec.kubernetes is None for doc in fleet.tenants)
    assert fleet.get("gaj").tenant.spec.mlps_level == 3
    assert fleet.get("czj").tenant.metadata.display_name == "市财政局"


def test_effective_quota_is_tier_overridden_never_zero(fleet) -> None:  # type: ignore[no-untyped-def]
    quota = fleet.get("czj").effective["spec"]["openstack"]["quota"]
    assert quota["compute"] == {"instances": 20, "cores": 48, "ramMB": 131072}  # cores overridden, rest from medium
    assert quota["network"]["floatingIps"] == 0  # explicitly set by the tenant
    assert "keyPairs" not in quota["compute"]  # neither tier nor tenant set it: absent, not zero


def test_omitted_cidr_is_allocated_from_pool_without_overlap(fleet) -> None:  # type: ignore[no-untyped-def]
    cidrs = [IPv4Network(net["cidr"]) for doc in fleet.tenants if doc.effective["spec"]["openstack"]
             for net in doc.effective["spec"]["openstack"]["networks"]]
    assert all(net.subnet_of(IPv4Network("10.16.0.0/12")) for net in cidrs)
    assert all(not a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:])
    mgmt = next(n for n in fleet.get("gaj").effective["spec"]["openstack"]["networks"] if n["name"] == "mgmt")
    assert mgmt["cidr"] == "10.16.0.0/24"


def test_pinned_cidr_is_kept() -> None:
    pinned = {("gaj", "mgmt"): IPv4Network("10.30.9.0/24")}
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml", pinned=pinned)
    nets = {n["name"]: n["cidr"] for n in fleet.get("gaj").effective["spec"]["openstack"]["networks"]}
    assert nets["mgmt"] == "10.30.9.0/24"
    jyj = fleet.get("jyj").effective["spec"]["openstack"]["networks"][0]["cidr"]
    assert jyj == "10.16.0.0/24"  # the block freed by the pin goes to the next tenant


def test_digest_changes_with_spec_only(fleet, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    path = workspace / "tenants" / "jyj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("# allocated", "# still allocated"), encoding="utf-8")
    same = load_fleet([workspace / "tenants"], workspace / "platform.yaml").get("jyj")
    assert same.digest == fleet.get("jyj").digest
    path.write_text(path.read_text(encoding="utf-8").replace("instances: 8", "instances: 9"), encoding="utf-8")
    changed = load_fleet([workspace / "tenants"], workspace / "platform.yaml").get("jyj")
    assert changed.digest != fleet.get("jyj").digest


def test_locate_points_at_the_field(fleet) -> None:  # type: ignore[no-untyped-def]
    doc = fleet.get("czj")
    location = doc.locate("spec.openstack.quota.compute.cores")
    line = (REPO / "tenants/czj.yaml").read_text(encoding="utf-8").splitlines()[location.line - 1]
    assert line[location.column - 1:].startswith("48")
    assert doc.locate("spec.access[1].role").line == doc.locate("spec.access[1]").line
    assert doc.locate("spec.openstack.quota.compute.keyPairs").line == doc.locate("spec.openstack.quota.compute").line


def test_all_problems_are_reported_at_once(workspace: Path) -> None:
    for name, old, new in (("jyj", "tier: small", "tier: huge"), ("daj", "cloud: gov-east", "cloud: nowhere")):
        path = workspace / "tenants" / f"{name}.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_fleet([workspace / "tenants"], workspace / "platform.yaml")
    fields = {problem.field for problem in caught.value.problems}
    assert {"spec.tier", "spec.openstack.cloud"} <= fields


def test_yaml_positions_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: 2027-03-31\n  c: [1, 2]\n", encoding="utf-8")
    doc = load_yaml(path)
    assert doc.data["a"]["b"].isoformat() == "2027-03-31"
    assert doc.position(("a", "b")) == (2, 6)
    assert doc.position(("a", "c", 1)) == (3, 10)
    assert doc.position(("a", "missing")) == (1, 1)


def test_orgcode_check_digit() -> None:
    assert org_code_problem("11330100002492061M") is None  # the format guide's example
    assert check_character("91350100M000100Y4") == "3"
    assert "check digit" in (org_code_problem("11330100002492061A") or "")
    assert "18 characters" in (org_code_problem("123") or "")
    assert "alphabet" in (org_code_problem("11330100002492061I") or "")


@pytest.mark.parametrize(("text", "value"), [("500m", "0.5"), ("16", "16"), ("64Gi", str(64 * 2**30)),
                                             ("1Ti", str(2**40)), ("2k", "2000"), ("1e3", "1000")])
def test_quantities(text: str, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)


def test_quantity_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity("8GB")


def test_schema_describes_the_file() -> None:
    schema = tenant_json_schema()
    text = json.dumps(schema)
    assert schema["additionalProperties"] is False
    for key in ("mlpsLevel", "ramMB", "floatingIps", "dnsNameservers", "preventDeletion", "approvedBy"):
        assert key in text


def test_template_quotes_user_values_as_data(tmp_path: Path) -> None:
    text = render_template(REPO / "tenants" / "_templates", "department", {
        "name": "sjt", "displayName": '市审计局"\n  parent: czj', "ownerName": "{{ 7*7 }}",
        "ownerEmail": "w@sjt.hz.gov.cn"})
    path = tmp_path / "sjt.yaml"
    path.write_text(text, encoding="utf-8")
    data = load_yaml(path).data
    assert data["metadata"]["displayName"] == '市审计局"\n  parent: czj'
    assert "parent" not in data["metadata"]
    assert data["spec"]["contacts"]["owner"]["name"] == "{{ 7*7 }}"
