"""Addresses as sets: CIDR overlap and public space, and the flows between tenants the fleet rules read."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from gcloud.errors import InputError
from gcloud.model import load_fleet
from gcloud.policy.check import check_fleet
from gcloud.policy.finding import FLEET
from gcloud.policy.flows import cross_tenant_ingress, upward_flows
from gcloud.policy.functions import cidr_is_public, cidr_overlaps, cidr_overlaps_any
from gcloud.policy.junit import to_junit
from gcloud.policy.loader import load_policies

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("cidr", "public"), [
    ("0.0.0.0/0", True), ("0.0.0.0/1", True), ("128.0.0.0/1", True), ("10.0.0.0/7", True),
    ("203.0.113.0/24", True), ("not-a-cidr", True), ("10.0.0.0/8", False), ("192.168.1.0/24", False)])
def test_public_means_any_address_outside_rfc1918(cidr: str, public: bool) -> None:
    assert cidr_is_public(cidr) is public


def test_overlap_is_a_set_relation() -> None:
    assert cidr_overlaps("10.16.0.0/12", "10.20.1.0/24") and cidr_overlaps("10.20.1.0/24", "10.16.0.0/12")
    assert not cidr_overlaps("10.1.0.0/16", "10.20.1.0/24")
    assert cidr_overlaps("garbage", "10.0.0.0/8"), "an unreadable range is the unsafe case"
    assert cidr_overlaps_any("0.0.0.0/1", ["192.168.0.0/16", "10.0.0.0/16"])
    assert not cidr_overlaps_any("10.1.0.0/16", [])


def tenant(name: str, cidr: str, rules: list[dict[str, Any]], inbound: list[dict[str, Any]] | None = None,
           level: int = 3, exceptions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name}, "inboundInterconnects": inbound or [],
            "spec": {"mlpsLevel": level, "exceptions": exceptions or [],
                     "openstack": {"networks": [{"name": "app", "cidr": cidr}],
                                   "securityGroups": [{"name": "web", "rules": rules}]}}}


def ingress(cidr: str, ports: str | None = "443") -> dict[str, Any]:
    return {"direction": "ingress", "protocol": "tcp", "ports": ports, "remoteCidr": cidr}


def test_ingress_reaching_another_tenant_needs_its_active_interconnect_on_those_ports() -> None:
    link = {"from": "bbb", "ports": ["443"], "active": True}
    assert cross_tenant_ingress([tenant("aaa", "10.16.1.0/24", [ingress("10.16.2.0/24")], [link]),
                                 tenant("bbb", "10.16.2.0/24", [])]) == []
    expired = {**link, "active": False}
    assert cross_tenant_ingress([tenant("aaa", "10.16.1.0/24", [ingress("10.16.2.0/24")], [expired]),
                                 tenant("bbb", "10.16.2.0/24", [])]) == [
        ("aaa", "aaa web 443 from 10.16.2.0/24 reaches bbb")]
    wider = cross_tenant_ingress([tenant("aaa", "10.16.1.0/24", [ingress("10.16.0.0/12", None)], [link]),
                                  tenant("bbb", "10.16.2.0/24", [])])
    assert wider == [("aaa", "aaa web every port from 10.16.0.0/12 reaches bbb")]
    own_and_public = [ingress("10.16.1.0/25"), ingress("0.0.0.0/0")]
    assert cross_tenant_ingress([tenant("aaa", "10.16.1.0/24", own_and_public),
                                 tenant("bbb", "10.16.2.0/24", [])]) == []


def test_a_range_reaching_many_names_a_few_and_more() -> None:
    others = [tenant(f"t{n:02d}", f"10.16.{n}.0/24", []) for n in range(2, 12)]
    found = cross_tenant_ingress([tenant("aaa", "10.16.1.0/24", [ingress("10.0.0.0/8")]), *others])
    assert found == [("aaa", "aaa web 443 from 10.0.0.0/8 reaches t02, t03, t04, t05, t06 and more")]


def test_upward_flows_carry_the_receivers_live_waivers() -> None:
    waiver = {"policy": "GOV-NET-015", "active": True}
    flows = upward_flows([tenant("aaa", "10.16.1.0/24", [], [{"from": "bbb", "active": True}], 3, [waiver]),
                          tenant("bbb", "10.16.2.0/24", [], level=2)])
    assert flows == [{"from": "bbb", "to": "aaa", "fromLevel": 2, "toLevel": 3, "targetWaivers": ["GOV-NET-015"]}]
    same_level = upward_flows([tenant("aaa", "10.16.1.0/24", [], [{"from": "bbb", "active": True}]),
                               tenant("bbb", "10.16.2.0/24", [])])
    assert same_level == []


def test_the_examples_pass_for_the_right_reasons() -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml")
    tenants = [doc.effective for doc in fleet.tenants]
    assert cross_tenant_ingress(tenants) == [] and upward_flows(tenants) == []
    sjj = next(t for t in tenants if t["metadata"]["name"] == "sjj")
    sources = {r["remoteCidr"] for g in sjj["spec"]["openstack"]["securityGroups"] for r in g["rules"]}
    assert "10.16.0.0/12" not in sources and "10.20.1.0/24" in sources  # czj's app network, via CHG-2026-0042
    result = check_fleet(fleet, load_policies(REPO / "policies"), dt.date(2026, 12, 1))
    assert not result.failed


def test_opening_a_department_to_the_whole_pool_fails_the_fleet(tmp_path: Path) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    for file in (REPO / "tenants").glob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        if file.stem == "wjw":
            text = text.replace("remoteCidr: 10.1.0.0/16}", "remoteCidr: 10.0.0.0/8}")
        (folder / file.name).write_text(text, encoding="utf-8")
    fleet = load_fleet([folder], REPO / "platform.yaml")
    result = check_fleet(fleet, load_policies(REPO / "policies"), dt.date(2026, 12, 1))
    failing = [f for f in result.findings if f.blocking]
    assert [(f.policy_id, f.tenant) for f in failing] == [("GOV-NET-014", "wjw")], "the finding is wjw's: its rule"
    assert "wjw his-web 443 from 10.0.0.0/8 reaches gaj, jyj, czj, sjj, xhczj and more" in failing[0].message
    assert failing[0].file.endswith("platform.yaml"), "a fleet rule still points at the platform's tenant pool"
    junit = to_junit(result)
    case = junit[junit.index('<testsuite name="GOV-NET-014"'):].split("</testsuite>")[0]
    assert "(fleet)" in case and "<failure" in case, "the fleet rule's one case carries the finding"


def test_a_low_to_high_flow_without_the_waiver_names_both_ends(tmp_path: Path) -> None:
    folder = tmp_path / "tenants"
    shutil.copytree(REPO / "tenants", folder)
    czj = folder / "czj.yaml"  # level 3; sjj (level 3) accepts czj's flow: make the source level 2
    czj.write_text(czj.read_text(encoding="utf-8").replace("mlpsLevel: 3", "mlpsLevel: 2", 1), encoding="utf-8")
    fleet = load_fleet([folder], REPO / "platform.yaml")
    result = check_fleet(fleet, load_policies(REPO / "policies"), dt.date(2026, 12, 1))
    assert sorted(f.tenant for f in result.findings if f.policy_id == "GOV-NET-015") == ["czj", "sjj"]


@pytest.mark.parametrize(("offenders", "tenants"), [
    ('["aaa", "aaa", "bbb"]', ["aaa", "bbb"]),      # each named once
    ("[]", [FLEET]),                                  # names none: the fleet's, stops the run
    ('[1, "aaa"]', [FLEET]),                          # not names
    ('{"a": 1}["b"]', [FLEET]),                       # cannot be read
    (None, [FLEET])])                                 # not given
def test_offenders_name_the_tenants_a_failure_is_about_else_it_stays_the_fleets(
        tmp_path: Path, offenders: str | None, tenants: list[str]) -> None:
    extra = f"\n    offenders: '{offenders}'" if offenders is not None else ""
    (tmp_path / "p.yaml").write_text(f"""apiVersion: govcloud/v1
kind: PolicySet
policies:
  - id: GOV-TST-001
    title: no tenants at all
    severity: high
    enforcement: mandatory
    field: spec.ipPools
    rule: size(tenants) == 0
    message: there are tenants{extra}
    rationale: a test
    references: [a test]
    examples: {{pass: {{tenants: []}}, fail: {{tenants: [{{}}]}}}}
""", encoding="utf-8")
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml")
    result = check_fleet(fleet, load_policies(tmp_path), dt.date(2026, 12, 1))
    assert [f.tenant for f in result.findings if f.policy_id == "GOV-TST-001"] == tenants


def test_offenders_belong_to_fleet_rules_only(tmp_path: Path) -> None:
    text = (REPO / "policies" / "network.yaml").read_text(encoding="utf-8")
    first = text.index("    rule:")
    (tmp_path / "network.yaml").write_text(text[:first] + "    offenders: '[]'\n" + text[first:], encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_policies(tmp_path)
    assert "offenders names the tenants a fleet rule's failure is about" in str(err.value)
    assert err.value.problems[0].location.line == text[:first].count("\n") + 1
