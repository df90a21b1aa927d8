"""Clean decommission: what a department made itself is listed, refused, or purged in dependency order, each
deletion audited (fake clouds: the listing and deletion calls are the SDKs' own names)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gcloud.audit.log import AuditLog
from gcloud.errors import InputError
from gcloud.live import residue
from gcloud.live.residue import Residue, ResidueClients, clear_residue, openstack_residue

EFFECTIVE = {"metadata": {"name": "czj"},
             "spec": {"openstack": {"cloud": "gov-east"},
                      "kubernetes": {"cluster": "gov-k8s", "namespaces": [{"name": "czj-prod"}]}}}


def _obj(ident: str, name: str = "", **attrs: Any) -> SimpleNamespace:
    return SimpleNamespace(id=ident, name=name, **attrs)


class FakeProxy:
    """One SDK proxy: lists what it holds, records deletions in the shared journal."""

    def __init__(self, journal: list[str], **listings: list[Any]) -> None:
        self.journal, self.listings = journal, listings
        for noun in ("server", "snapshot", "backup", "volume", "image", "ip", "port"):
            setattr(self, f"delete_{noun}", self._deleter(noun))
            setattr(self, f"find_{noun}", lambda ident, ignore_missing=True: None)

    def _deleter(self, noun: str) -> Any:
        def delete(ident: str, ignore_missing: bool = False) -> None:
            self.journal.append(f"{noun} {ident}")
        return delete

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda **_: list(self.listings.get(name, []))


def fake_cloud(journal: list[str]) -> SimpleNamespace:
    return SimpleNamespace(
        has_service=lambda service: True, current_project_id=None,  # an admin's connection: filters by project
        config=SimpleNamespace(config={"auth": {"project_name": "admin"}}),
        compute=FakeProxy(journal, servers=[_obj("s1", "web-1")]),
        block_storage=FakeProxy(journal, volumes=[_obj("v1", "data")], snapshots=[_obj("sn1", "nightly")],
                                backups=[]),
        image=FakeProxy(journal, images=[_obj("i1", "golden", owner="p1"), _obj("i2", "public", owner="admin")]),
        network=FakeProxy(journal, ips=[], ports=[_obj("po1", "", device_owner="network:router_interface"),
                                                  _obj("po2", "vip", device_owner="")]))


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    deleted: list[str] = []
    monkeypatch.setattr(residue, "_project_id", lambda conn, tenant, domain: "p1")
    monkeypatch.setattr(residue, "kubernetes_residue", lambda api, namespaces: [
        Residue(4, "kubernetes", "PersistentVolumeClaim", "czj-prod", "u2", "pg-data"),
        Residue(2, "kubernetes", "Deployment", "czj-prod", "u1", "api")])
    monkeypatch.setattr(residue, "_delete_kubernetes", lambda api, item: deleted.append(f"{item.kind} {item.name}"))
    return deleted


def clients(journal: list[str]) -> ResidueClients:
    cloud = fake_cloud(journal)
    return ResidueClients(lambda name: cloud, lambda name: object())  # type: ignore[arg-type,return-value]


def test_lists_the_departments_own_objects_not_neutrons_or_other_projects() -> None:
    found = openstack_residue(fake_cloud([]), "p1")  # type: ignore[arg-type]
    assert [str(item) for item in found] == ["server web-1", "snapshot nightly", "image golden", "volume data",
                                             "port vip"]


def test_destroy_is_refused_naming_what_remains(journal: list[str], tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        clear_residue(EFFECTIVE, {}, SimpleNamespace(state_dir=tmp_path), purge=False,  # type: ignore[arg-type]
                      actor="ops", clients=clients(journal))
    message = str(caught.value)
    assert "server web-1" in message and "volume data" in message
    assert "PersistentVolumeClaim pg-data in czj-prod" in message
    assert "--purge" in caught.value.problems[0].hint
    assert journal == []


def test_purge_deletes_in_dependency_order_and_audits_each(journal: list[str], tmp_path: Path) -> None:
    deleted = clear_residue(EFFECTIVE, {}, SimpleNamespace(state_dir=tmp_path), purge=True,  # type: ignore[arg-type]
                            actor="ops", ticket="CHG-1", clients=clients(journal))
    assert journal == ["server s1", "Deployment api", "snapshot sn1", "image i1", "volume v1",
                       "PersistentVolumeClaim pg-data", "port po2"]
    assert len(deleted) == 7
    entries = AuditLog.at(tmp_path).entries(tenant="czj")
    assert [(e.event.action, e.event.changes[0][:2]) for e in entries] == [
        ("destroy.purge", (item.kind, item.name)) for item in deleted]
    assert all(e.event.ticket == "CHG-1" and e.event.actor == "ops" for e in entries)


def test_nothing_left_means_nothing_to_refuse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(residue, "find_residue", lambda *args: [])
    assert clear_residue(EFFECTIVE, {}, SimpleNamespace(state_dir=tmp_path), purge=False,  # type: ignore[arg-type]
                         actor="ops", clients=clients([])) == ()
