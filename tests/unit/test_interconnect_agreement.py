"""Interconnects agreed on both sides: the target's `spec.acceptedInterconnects`, the agreement the effective spec
works out, the findings of a one-sided flow (GOV-NET-016/017), and what the stacks make of an agreed flow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from gcloud.stacks import kubernetes_manifests as km
from gcloud.stacks.openstack_args import rule_args, security_group_args

from gcloud.errors import InputError
from gcloud.live.expiry import still_in_effect
from gcloud.model import Fleet, load_fleet
from gcloud.model.effective import effective_spec, interconnect_sides, sides_of
from gcloud.model.tenant import Tenant
from gcloud.policy.check import check_fleet
from gcloud.policy.loader import load_policies
from gcloud.requests.checks import substitute

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 12, 1)
ACCEPTANCE = ('    - {from: czj, ports: ["443"], ticket: SEC-2026-0108, expires: 2027-03-31, '
              'securityGroups: [exchange-api]}\n')


def fleet_with(tmp_path: Path, edits: dict[str, tuple[str, str]], today: dt.date = TODAY) -> Fleet:
    """The example tenants in a folder of their own, exact passages replaced (keys: file stem, spaces after it
    for a second edit of the same file)."""
    folder = tmp_path / "tenants"
    folder.mkdir(parents=True, exist_ok=True)
    for file in (REPO / "tenants").glob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        for key, (old, new) in edits.items():
            if key.strip() == file.stem:
                assert text.count(old) == 1, (file.name, old)
                text = text.replace(old, new)
        (folder / file.name).write_text(text, encoding="utf-8")
    return load_fleet([folder], REPO / "platform.yaml", today=today)


def blocking(fleet: Fleet, today: dt.date = TODAY) -> list[tuple[str, str, str, int]]:
    result = check_fleet(fleet, load_policies(REPO / "policies"), today)
    return sorted((f.policy_id, f.tenant, f.field, f.line) for f in result.findings if f.blocking)


def messages(fleet: Fleet, policy: str) -> list[str]:
    return [f.message for f in check_fleet(fleet, load_policies(REPO / "policies"), TODAY).findings
            if f.policy_id == policy]


def interconnect_rules(effective: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(group["name"], rule["ports"], rule["remoteCidr"], rule["interconnect"])
            for group in effective["spec"]["openstack"]["securityGroups"] for rule in group["rules"]
            if "interconnect" in rule}


# --- the file format ----------------------------------------------------------------------------------------------

def test_the_examples_agree_czj_to_sjj_and_the_flow_becomes_rules_in_sjjs_group() -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml", today=TODAY)
    czj, sjj = fleet.get("czj").effective, fleet.get("sjj").effective
    assert czj["spec"]["interconnects"][0]["acceptance"] == {"ticket": "SEC-2026-0108", "expires": "2027-03-31",
                                                             "active": True}
    [inbound] = sjj["inboundInterconnects"]
    assert (inbound["from"], inbound["ticket"], inbound["acceptedTicket"], inbound["active"]) == (
        "czj", "CHG-2026-0042", "SEC-2026-0108", True)
    assert inbound["cidrs"] == ["10.20.1.0/24", "10.20.2.0/24"]  # every czj subnet, from the fleet
    assert interconnect_rules(sjj) == {("exchange-api", "443", "10.20.1.0/24", "czj"),
                                       ("exchange-api", "443", "10.20.2.0/24", "czj")}
    assert sjj["spec"]["acceptedInterconnects"][0]["declared"] is True
    assert blocking(fleet) == []


@pytest.mark.parametrize(("entry", "field", "message"), [
    ('    - {from: nobody, ports: ["443"], ticket: SEC-1}\n', "spec.acceptedInterconnects[1].from",
     "not in the tenant set"),
    ('    - {from: sjj, ports: ["443"], ticket: SEC-1}\n', "spec.acceptedInterconnects[1].from", "from itself"),
    ('    - {from: czj, ports: ["443"], ticket: SEC-1, securityGroups: [nope]}\n',
     "spec.acceptedInterconnects[1].securityGroups[0]", "unknown security group 'nope'"),
    ('    - {from: czj, ports: [], ticket: SEC-1}\n', "spec.acceptedInterconnects[1].ports", "at least 1"),
    ('    - {from: czj, ports: ["443"]}\n', "spec.acceptedInterconnects[1].ticket", "required"),
    ('    - {from: czj, ports: ["443"], ticket: SEC-1, expire: 2027-01-01}\n', "spec.acceptedInterconnects[1].expire",
     "unknown key"),
])
def test_a_bad_acceptance_names_file_line_and_field(tmp_path: Path, entry: str, field: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        fleet_with(tmp_path, {"sjj": (ACCEPTANCE, ACCEPTANCE + entry)})
    [problem] = [p for p in caught.value.problems if p.location.file.endswith("sjj.yaml")]
    assert problem.field == field
    assert problem.location.line == 47 and message in problem.message


# --- the agreement ------------------------------------------------------------------------------------------------

def without_acceptance(tmp_path: Path) -> Fleet:
    """sjj's file as before this feature: czj's file alone declares the flow."""
    return fleet_with(tmp_path, {"sjj": ("  acceptedInterconnects:", "  acceptedInterconnects: []  #"),
                                 "sjj ": (ACCEPTANCE, "")})


def test_without_the_targets_acceptance_no_rule_no_policy_and_gov_net_016_at_the_sources_line(
        tmp_path: Path) -> None:
    fleet = without_acceptance(tmp_path)
    czj, sjj = fleet.get("czj").effective, fleet.get("sjj").effective
    assert czj["spec"]["interconnects"][0]["acceptance"] is None
    assert sjj["inboundInterconnects"] == [] and interconnect_rules(sjj) == set()
    assert not [p for p in km.network_policy_manifests(czj, "czj-prod") if "interconnect" in p["metadata"]["name"]]
    assert blocking(fleet) == [("GOV-NET-016", "czj", "spec.interconnects", 49)]
    assert messages(fleet, "GOV-NET-016") == [
        "czj: interconnect to sjj tcp 443 is not accepted by sjj; the target's spec.acceptedInterconnects must list "
        "the same flow (from, protocol, ports) under its own ticket"]


def test_accepted_for_other_ports_is_one_sided_on_both_ends(tmp_path: Path) -> None:
    fleet = fleet_with(tmp_path, {"sjj": ('{from: czj, ports: ["443"]', '{from: czj, ports: ["443", "8443"]')})
    assert fleet.get("sjj").effective["inboundInterconnects"] == []
    assert blocking(fleet) == [("GOV-NET-016", "czj", "spec.interconnects", 49),
                               ("GOV-NET-017", "sjj", "spec.acceptedInterconnects", 45)]
    assert "to sjj tcp 443 is accepted by sjj only for tcp 443,8443" in messages(fleet, "GOV-NET-016")[0]
    assert "accepts tcp 443,8443 from czj, but czj declares only tcp 443" in messages(fleet, "GOV-NET-017")[0]


def test_an_acceptance_no_source_declares_is_gov_net_017(tmp_path: Path) -> None:
    extra = '    - {from: gaj, ports: ["5671"], ticket: SEC-9}\n'
    fleet = fleet_with(tmp_path, {"sjj": (ACCEPTANCE, ACCEPTANCE + extra)})
    assert blocking(fleet) == [("GOV-NET-017", "sjj", "spec.acceptedInterconnects", 45)]
    assert "accepts tcp 5671 from gaj, which gaj does not declare" in messages(fleet, "GOV-NET-017")[0]
    assert len(fleet.get("sjj").effective["inboundInterconnects"]) == 1


def test_ports_compare_as_sets_and_the_protocol_must_match(tmp_path: Path) -> None:
    same = fleet_with(tmp_path, {"czj": ('ports: ["443"], ticket: CHG', 'ports: [443, "443-443"], ticket: CHG')})
    assert same.get("czj").effective["spec"]["interconnects"][0]["acceptance"] is not None
    udp = fleet_with(tmp_path / "udp", {"czj": ('ports: ["443"], ticket: CHG', 'ports: ["443"], protocol: udp, '
                                                                              'ticket: CHG')})
    assert udp.get("czj").effective["spec"]["interconnects"][0]["acceptance"] is None


def test_the_groups_an_acceptance_names_default_to_all_of_the_targets() -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml", today=TODAY)
    tenants = [doc.tenant for doc in fleet.tenants]
    sjj = fleet.get("sjj").tenant
    spec = sjj.spec.model_copy(update={"accepted_interconnects": [
        sjj.spec.accepted_interconnects[0].model_copy(update={"security_groups": []})]})
    widened = sjj.model_copy(update={"spec": spec})
    sides = interconnect_sides([widened if t.metadata.name == "sjj" else t for t in tenants])
    effective = effective_spec(widened, fleet.platform, {}, today=TODAY, sides=sides["sjj"])
    assert {rule[0] for rule in interconnect_rules(effective)} == {"exchange-api"}  # sjj's only group


def test_the_digest_does_not_depend_on_the_order_files_are_named(tmp_path: Path) -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml", today=TODAY)
    tenants = [doc.tenant for doc in fleet.tenants]
    gaj = next(t for t in tenants if t.metadata.name == "gaj")
    sjj = next(t for t in tenants if t.metadata.name == "sjj")
    both = sjj.model_copy(update={"spec": sjj.spec.model_copy(update={"accepted_interconnects": [
        *sjj.spec.accepted_interconnects, sjj.spec.accepted_interconnects[0].model_copy(update={"from_": "gaj"})]})})
    from_gaj = gaj.model_copy(update={"spec": gaj.spec.model_copy(update={
        "interconnects": [*gaj.spec.interconnects, fleet.get("czj").tenant.spec.interconnects[0]]})})
    fleet_a = [both if t is sjj else from_gaj if t is gaj else t for t in tenants]
    digests = {effective_spec(both, fleet.platform, {}, today=TODAY, sides=interconnect_sides(order)["sjj"])["digest"]
               for order in (fleet_a, list(reversed(fleet_a)))}
    assert len(digests) == 1
    assert [link["from"] for link in interconnect_sides(fleet_a)["sjj"]["inbound"]] == ["czj", "gaj"]


# --- expiry ---------------------------------------------------------------------------------------------------------

def test_the_flow_ends_with_the_earlier_half_and_the_expiry_rule_counts_it(tmp_path: Path) -> None:
    day = dt.date(2027, 3, 1)
    fleet = fleet_with(tmp_path, {"sjj": ("SEC-2026-0108, expires: 2027-03-31", "SEC-2026-0108, expires: 2027-02-28")},
                       today=day)
    czj, sjj = fleet.get("czj").effective, fleet.get("sjj").effective
    assert czj["spec"]["interconnects"][0]["active"] is True  # czj's own date still runs ...
    assert czj["spec"]["interconnects"][0]["acceptance"]["active"] is False  # ... sjj's has run out
    assert sjj["inboundInterconnects"][0]["active"] is False and interconnect_rules(sjj) == set()
    assert not [p for p in km.network_policy_manifests(czj, "czj-prod") if "interconnect" in p["metadata"]["name"]]
    assert not [p for p in km.network_policy_manifests(sjj, "sjj-exchange") if "interconnect" in p["metadata"]["name"]]
    applied_before = "2027-02-10T09:00:00+00:00"
    assert [(e.kind, e.expires, e.field) for e in still_in_effect(sjj, applied_before)] == [
        ("inbound interconnect", dt.date(2027, 2, 28), "spec.acceptedInterconnects[0].expires")]
    assert [(e.kind, e.field) for e in still_in_effect(czj, applied_before)] == [
        ("interconnect", "sjj: spec.acceptedInterconnects")]
    assert still_in_effect(sjj, "2027-03-01T09:00:00+00:00") == []  # applied after the day: closed
    assert blocking(fleet, day) == []  # an expired acceptance just closes the flow
    open_day = load_fleet([tmp_path / "tenants"], REPO / "platform.yaml", today=dt.date(2027, 2, 28))
    assert open_day.get("sjj").digest != fleet.get("sjj").digest  # the digest changes on the day


def test_a_source_that_expires_first_points_at_its_own_file(tmp_path: Path) -> None:
    day = dt.date(2027, 4, 1)
    fleet = fleet_with(tmp_path, {"sjj": ("SEC-2026-0108, expires: 2027-03-31", "SEC-2026-0108, expires: 2027-06-30")},
                       today=day)
    applied = "2027-03-01T09:00:00+00:00"
    assert [(e.kind, e.expires, e.field) for e in still_in_effect(fleet.get("sjj").effective, applied)] == [
        ("inbound interconnect", dt.date(2027, 3, 31), "czj: spec.interconnects")]
    assert [(e.kind, e.field) for e in still_in_effect(fleet.get("czj").effective, applied)] == [
        ("interconnect", "spec.interconnects[0].expires")]


# --- the stacks and the rest of the pipeline -------------------------------------------------------------------------

def test_the_target_stack_declares_the_flow_rules_as_its_groups_own() -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml", today=TODAY)
    [group] = security_group_args(fleet.get("sjj").effective)
    remotes = {(rule.args["remoteCidr"], rule.args["portMin"]) for rule in group.rules}
    assert {("10.20.1.0/24", 443), ("10.20.2.0/24", 443), ("10.1.0.0/16", 443)} == remotes
    hand = {"direction": "ingress", "protocol": "tcp", "ports": "443", "remoteCidr": "10.20.1.0/24"}
    flow = {**hand, "interconnect": "czj"}
    assert rule_args(hand).key == rule_args(flow).key  # a hand rule the flow repeats is the same resource


def test_two_flows_to_one_peer_share_one_network_policy() -> None:
    accepted = {"ticket": "SEC-1", "expires": None, "active": True}
    effective: dict[str, Any] = {"metadata": {"name": "czj"}, "spec": {
        "kubernetes": {"cluster": "k", "networkIsolation": "tenant"}, "interconnects": [
            {"to": "sjj", "ports": ["443"], "protocol": "tcp", "active": True, "acceptance": accepted},
            {"to": "sjj", "ports": ["53"], "protocol": "udp", "active": True, "acceptance": accepted}]}}
    named = [p for p in km.network_policy_manifests(effective, "czj-prod") if "interconnect" in p["metadata"]["name"]]
    assert [p["metadata"]["name"] for p in named] == ["govcloud-interconnect-to-sjj"]
    assert [rule["ports"] for rule in named[0]["spec"]["egress"]] == [[{"protocol": "TCP", "port": 443}],
                                                                      [{"protocol": "UDP", "port": 53}]]


def test_a_quota_request_keeps_the_agreement_of_the_loaded_fleet() -> None:
    fleet = load_fleet([REPO / "tenants"], REPO / "platform.yaml")
    for name in ("czj", "sjj"):
        doc = fleet.get(name)
        assert sides_of(doc.effective)["outbound"] == [
            {"acceptance": link["acceptance"], "targetAccepts": link["targetAccepts"]}
            for link in doc.effective["spec"]["interconnects"]]
        changed = substitute(fleet, Tenant.model_validate(doc.tenant.model_dump(by_alias=True)))
        assert changed.get(name).digest == doc.digest  # the same file: the same effective spec
