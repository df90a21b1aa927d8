"""`govcloud audit show | verify | key` through the real entry point: exit codes, JSON, and what people read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gcloud.audit import AuditEvent, AuditLog


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "state"
    monkeypatch.setenv("GOVCLOUD_STATE_DIR", str(where))
    monkeypatch.delenv("GOVCLOUD_AUDIT_LOG", raising=False)
    monkeypatch.delenv("GOVCLOUD_AUDIT_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    return where


@pytest.fixture
def filled(state: Path) -> AuditLog:
    audit = AuditLog.at(state)
    audit.append(AuditEvent(actor="zhang.wei", action="apply", tenant="gov-tax", outcome="success",
                            ticket="CHG-7", changes=(("create", "openstack:Project", "gov-tax"),),
                            detail={"display": "国家税务局"}))
    audit.append(AuditEvent(actor="li.na", action="quota.approve", tenant="gov-edu", outcome="refused"))
    return audit


def test_verify_an_empty_log(run_cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("audit", "verify", "--output", "json")
    assert result.code == 0
    assert json.loads(result.stdout)["ok"] is True


def test_verify_intact_then_tampered(run_cli, filled: AuditLog) -> None:  # type: ignore[no-untyped-def]
    ok = run_cli("audit", "verify")
    assert ok.code == 0
    assert "2 entries and 2 signed checkpoints verify" in ok.stdout
    assert filled.paths is not None
    lines = filled.paths.log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"gov-edu"', b'"gov-xyz"')
    filled.paths.log.write_bytes(b"".join(lines))
    broken = run_cli("audit", "verify", "--output", "json")
    assert broken.code == 1
    document = json.loads(broken.stdout)
    assert document["ok"] is False
    assert document["firstBroken"] == {"line": 3, "seq": 3}
    text = run_cli("audit", "verify")
    assert text.code == 1
    assert "line 3 (sequence 3)" in text.stdout


def test_show_json_and_filters(run_cli, filled: AuditLog) -> None:  # type: ignore[no-untyped-def]
    everything = json.loads(run_cli("audit", "show", "--output", "json").stdout)
    assert everything["count"] == 2
    first = everything["entries"][0]
    assert (first["initiator"]["name"], first["action"], first["target"]["id"]) == ("zhang.wei", "apply", "gov-tax")
    assert first["detail"]["display"] == "国家税务局"
    assert first["changes"] == [{"op": "create", "kind": "openstack:Project", "name": "gov-tax"}]
    one = json.loads(run_cli("audit", "show", "--tenant", "gov-edu", "--output", "json").stdout)
    assert [e["outcome"] for e in one["entries"]] == ["refused"]
    later = run_cli("audit", "show", "--since", "2999-01-01", "--output", "json")
    assert (later.code, json.loads(later.stdout)["count"]) == (0, 0)
    table = run_cli("audit", "show")
    assert table.code == 0
    assert "li.na" in table.stdout
    assert "refused" in table.stdout
    assert "2 entries" in table.stdout


def test_show_refuses_a_bad_date(run_cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("audit", "show", "--since", "last tuesday").code == 2


def test_key_shows_the_public_half_that_verifies(run_cli, filled: AuditLog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(run_cli("audit", "key", "--output", "json").stdout)
    assert document["fingerprint"] == filled.public_key().fingerprint
    assert "PRIVATE" not in document["publicKey"]
    text = run_cli("audit", "key")
    assert text.code == 0
    assert text.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert document["fingerprint"] in text.stderr
    pem = tmp_path / "audit-public.pem"
    pem.write_text(text.stdout)
    filled.key_path.unlink()  # an auditor has only the public half
    assert run_cli("audit", "verify", "--public-key", str(pem)).code == 0
    missing = run_cli("audit", "verify")
    assert missing.code == 1
    assert "no audit key" in missing.stderr


def test_key_is_made_on_first_use(run_cli, state: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("audit", "key", "--output", "json")
    assert result.code == 0
    assert (state / "audit" / "audit-key.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("command", ["show", "verify", "key"])
def test_every_audit_command_has_an_example(run_cli, command: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("audit", command, "--help")
    assert result.code == 0
    assert "Example: govcloud audit " + command in result.stdout
