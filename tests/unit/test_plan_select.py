"""Change detection and the applied record: pure, no engine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gcloud.model import load_fleet
from gcloud.plan.record import AppliedTenant, read_record, update_record
from gcloud.plan.select import Change, applied_entry, changes_since, orphans


def test_new_changed_unchanged(workspace: Path, tmp_path: Path) -> None:
    fleet = load_fleet([workspace / "tenants"], workspace / "platform.yaml")
    state = tmp_path / "state"
    assert {s.change for s in changes_since(fleet, read_record(state))} == {Change.NEW}
    update_record(state, {doc.name: applied_entry(doc, "2026-11-23T00:00:00Z") for doc in fleet.tenants})
    assert {s.change for s in changes_since(fleet, read_record(state))} == {Change.UNCHANGED}
    path = workspace / "tenants" / "jyj.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("instances: 8", "instances: 9"), encoding="utf-8")
    changed = load_fleet([workspace / "tenants"], workspace / "platform.yaml", read_record(state).pinned_cidrs())
    marks = {s.name: s.change for s in changes_since(changed, read_record(state))}
    assert marks["jyj"] is Change.CHANGED
    assert [name for name, change in marks.items() if change is not Change.UNCHANGED] == ["jyj"]


def test_allocated_cidrs_are_pinned_by_the_record(workspace: Path, tmp_path: Path) -> None:
    fleet = load_fleet([workspace / "tenants"], workspace / "platform.yaml")
    update_record(tmp_path, {"jyj": applied_entry(fleet.get("jyj"), "t")})
    assert read_record(tmp_path).tenants["jyj"].cidrs == {"enroll": "10.16.1.0/24"}
    # gaj's allocated network disappears: jyj keeps its block instead of sliding down
    gaj = workspace / "tenants" / "gaj.yaml"
    gaj.write_text(gaj.read_text(encoding="utf-8").replace("      - {name: mgmt}", ""), encoding="utf-8")
    again = load_fleet([workspace / "tenants"], workspace / "platform.yaml", read_record(tmp_path).pinned_cidrs())
    assert again.get("jyj").effective["spec"]["openstack"]["networks"][0]["cidr"] == "10.16.1.0/24"


def test_orphans_and_removal(workspace: Path, tmp_path: Path) -> None:
    fleet = load_fleet([workspace / "tenants"], workspace / "platform.yaml")
    update_record(tmp_path, {"gone": AppliedTenant("x")})
    assert orphans(fleet, read_record(tmp_path)) == ["gone"]
    update_record(tmp_path, {"gone": None})
    assert read_record(tmp_path).tenants == {}


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: update_record(tmp_path, {f"t{i}": AppliedTenant(str(i))}), range(40)))
    assert len(read_record(tmp_path).tenants) == 40


def test_a_fleet_rule_that_names_its_offenders_holds_back_only_them(workspace: Path, tmp_path: Path) -> None:
    """wjw opens a group to the whole pool (GOV-NET-014): wjw is held back, every other tenant goes on."""
    import datetime as dt
    from types import SimpleNamespace
    from typing import cast

    from gcloud.engine.settings import EngineSettings
    from gcloud.plan.run import prepare
    from tests.conftest import REPO

    path = workspace / "tenants" / "wjw.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("remoteCidr: 10.1.0.0/16}", "remoteCidr: 10.0.0.0/8}"),
                    encoding="utf-8")
    settings = cast(EngineSettings, SimpleNamespace(state_dir=tmp_path / "state"))
    prepared = prepare([workspace / "tenants"], workspace / "platform.yaml", REPO / "policies", settings,
                       today=dt.date(2026, 12, 1))
    assert prepared.blocked == {"wjw"}
    names = {doc.name for doc in prepared.fleet.tenants}
    assert {s.name for s in prepared.to_preview(True)} == names - {"wjw"} and len(names) > 5
