"""The audit trail on real files: every kind of tampering is caught and named, writers never fork the chain."""

from __future__ import annotations

import base64
import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gcloud.audit import AuditEvent, AuditLog, resolve_actor
from gcloud.audit.chain import canonical, record_hash, signed_payload
from gcloud.audit.keys import AuditKeyProblem
from gcloud.audit.paths import audit_paths
from gcloud.audit.store import AuditLogDamaged

TENANTS = ("gov-tax", "gov-health", "gov-edu", "gov-tax", "gov-police")


def _event(tenant: str, number: int = 0, **extra: object) -> AuditEvent:
    return AuditEvent(actor="alice", action="apply", tenant=tenant, outcome="success",
                      digest_before=f"{number:064x}", digest_after=f"{number + 1:064x}", ticket=f"CHG-{number}",
                      changes=(("create", "openstack:Network", f"{tenant}-net"),),
                      detail={"display": "国家税务局"}, **extra)  # type: ignore[arg-type]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory of our own; no audit override leaks in from the caller's environment."""
    state = tmp_path / "state"
    monkeypatch.setenv("GOVCLOUD_STATE_DIR", str(state))
    monkeypatch.delenv("GOVCLOUD_AUDIT_LOG", raising=False)
    monkeypatch.delenv("GOVCLOUD_AUDIT_KEY", raising=False)
    return state


@pytest.fixture
def log(env: Path) -> AuditLog:
    """Five commands, one event each: lines 1,3,5,7,9 are events and 2,4,6,8,10 their signed checkpoints."""
    audit = AuditLog.at(env)
    for number, tenant in enumerate(TENANTS):
        audit.append(_event(tenant, number))
    return audit


def _path(audit: AuditLog) -> Path:
    assert audit.paths is not None
    return audit.paths.log


def _lines(audit: AuditLog) -> list[bytes]:
    return _path(audit).read_bytes().splitlines()


def _write(audit: AuditLog, lines: list[bytes]) -> None:
    _path(audit).write_bytes(b"".join(line + b"\n" for line in lines))


def _broken(audit: AuditLog) -> tuple[int | None, int | None, str]:
    result = audit.verify()
    assert not result.ok
    return result.first_broken, result.first_broken_seq, result.reason


def test_an_untouched_log_verifies(log: AuditLog) -> None:
    result = log.verify()
    assert (result.ok, result.entries, result.checkpoints, result.first_broken) == (True, 5, 5, None)
    assert len(_lines(log)) == 10


def test_entries_carry_cadf_fields_utc_time_and_the_chain(log: AuditLog) -> None:
    records = [json.loads(line) for line in _lines(log)]
    first = records[0]
    for name in ("id", "eventTime", "action", "outcome", "initiator", "target", "observer"):
        assert name in first
    assert first["eventTime"].endswith("Z")
    assert dt.datetime.fromisoformat(first["eventTime"]).utcoffset() == dt.timedelta(0)
    assert first["initiator"]["name"] == "alice"
    assert first["target"]["id"] == "gov-tax"
    assert first["detail"] == {"display": "国家税务局"}  # Chinese stored as is
    assert [r["seq"] for r in records] == list(range(1, 11))
    assert all(records[i]["prev"] == record_hash(records[i - 1]) for i in range(1, 10))
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 3, 5, 7, 9]
    assert entries[1].event == _event("gov-health", 1)


@pytest.mark.parametrize("line", range(1, 11))
def test_one_edited_byte_is_caught_on_its_line(log: AuditLog, line: int) -> None:
    """A byte inside a value (the JSON stays valid and canonical): the next link no longer matches."""
    lines = _lines(log)
    record = lines[line - 1]
    at = record.index(b'"eventTime":"') + len(b'"eventTime":"') + 3  # the year's last digit
    lines[line - 1] = record[:at] + (b"8" if record[at:at + 1] != b"8" else b"7") + record[at + 1:]
    _write(log, lines)
    assert _broken(log)[:2] == (line, line)


def test_an_edited_tenant_name_is_named(log: AuditLog) -> None:
    lines = _lines(log)
    lines[4] = lines[4].replace(b'"gov-edu"', b'"gov-edv"')
    _write(log, lines)
    first, seq, reason = _broken(log)
    assert (first, seq) == (5, 5)
    assert "line 5 was edited" in reason


@pytest.mark.parametrize("damage", [
    lambda b: b.replace(b'"seq":3,', b'"seq": 3,'),  # a space: valid JSON, not as written
    lambda b: b"x" + b[1:],  # not JSON at all
])
def test_a_byte_that_breaks_the_form_is_caught(log: AuditLog, damage: Callable[[bytes], bytes]) -> None:
    lines = _lines(log)
    lines[2] = damage(lines[2])
    _write(log, lines)
    assert _broken(log)[:2] == (3, 3)


@pytest.mark.parametrize("deleted", [1, 3, 4, 9])
def test_a_deleted_line_is_named(log: AuditLog, deleted: int) -> None:
    lines = _lines(log)
    del lines[deleted - 1]
    _write(log, lines)
    first, seq, reason = _broken(log)
    assert (first, seq) == (deleted, deleted)
    assert "deleted" in reason


def test_two_reordered_lines_are_named(log: AuditLog) -> None:
    lines = _lines(log)
    lines[4], lines[6] = lines[6], lines[4]
    _write(log, lines)
    first, seq, reason = _broken(log)
    assert (first, seq) == (5, 5)
    assert "reordered" in reason


def test_a_log_cut_mid_entry_is_truncated(log: AuditLog) -> None:
    data = _path(log).read_bytes()
    _path(log).write_bytes(data[:-40])
    first, seq, reason = _broken(log)
    assert (first, seq) == (10, 10)
    assert "truncated" in reason


@pytest.mark.parametrize(("kept", "named"), [(0, 1), (6, 7), (9, 9)])
def test_whole_entries_cut_off_the_end_are_truncated(log: AuditLog, kept: int, named: int) -> None:
    """Cutting at a line boundary: the signed head (or the missing last checkpoint) still shows it."""
    _write(log, _lines(log)[:kept])
    first, _, reason = _broken(log)
    assert first == named
    assert "truncated" in reason


def _rechain(lines: list[bytes], start: int, sign: Callable[[bytes], str]) -> tuple[list[bytes], bytes]:
    """An attacker's rewrite from line `start` on: fresh hashes, checkpoints and head signed by `sign`."""
    records = [json.loads(line) for line in lines]
    for index in range(start - 1, len(records)):
        record = records[index]
        record["prev"] = record_hash(records[index - 1]) if index else "0" * 64
        if "signed" in record:
            record["signed"]["hash"] = record["prev"]
            record["signature"] = sign(signed_payload("checkpoint", record["seq"] - 1, record["prev"]))
    last = records[-1]
    head = {"seq": last["seq"], "hash": record_hash(last), "key": last["key"],
            "signature": sign(signed_payload("head", last["seq"], record_hash(last)))}
    return [canonical(r) for r in records], canonical(head) + b"\n"


def test_a_chain_rewritten_without_the_key_is_caught(log: AuditLog) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forger = Ed25519PrivateKey.generate()
    lines = _lines(log)
    record = json.loads(lines[4])
    record["outcome"] = "failure"  # hide that the apply on gov-edu succeeded
    lines[4] = canonical(record)
    rewritten, head = _rechain(lines, 5, lambda payload: base64.b64encode(forger.sign(payload)).decode())
    _write(log, rewritten)
    assert log.paths is not None
    log.paths.head.write_bytes(head)
    first, seq, reason = _broken(log)
    assert (first, seq) == (5, 5)
    assert "without the key" in reason


def test_a_chain_rewritten_with_signatures_dropped_is_caught(log: AuditLog) -> None:
    """Removing every checkpoint and renumbering: the tail is no longer covered by any signature."""
    events = [json.loads(line) for line in _lines(log)][0::2]
    for number, record in enumerate(events, 1):
        record["seq"] = number
        record["prev"] = record_hash(events[number - 2]) if number > 1 else "0" * 64
    _write(log, [canonical(r) for r in events])
    first, _, reason = _broken(log)
    assert first == 1
    assert "not covered by a signed checkpoint" in reason


def test_an_edited_checkpoint_signature_is_caught(log: AuditLog) -> None:
    lines = _lines(log)
    record = json.loads(lines[3])
    record["signature"] = base64.b64encode(b"\0" * 64).decode()
    lines[3] = canonical(record)
    _write(log, lines)
    assert _broken(log)[:2] == (4, 4)


def test_verify_with_the_public_key_alone(log: AuditLog, env: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = log.public_key()
    assert log.verify(public.pem.encode()).ok
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    result = log.verify(other)
    assert (result.ok, result.first_broken) == (False, 1)


def test_the_key_is_made_once_private_and_refused_when_open(log: AuditLog) -> None:
    assert oct(log.key_path.stat().st_mode & 0o777) == "0o600"
    fingerprint = log.public_key().fingerprint
    assert {json.loads(line).get("key") for line in _lines(log)[1::2]} == {fingerprint}
    log.key_path.chmod(0o644)
    with pytest.raises(AuditKeyProblem, match="open to other users"):
        log.verify()


def test_verify_without_any_key_says_so(log: AuditLog) -> None:
    log.key_path.unlink()
    with pytest.raises(AuditKeyProblem, match="no audit key"):
        log.verify()
    assert not log.key_path.exists()  # verify never makes a key: a new one would make every signature look forged


def test_empty_log_verifies(env: Path) -> None:
    result = AuditLog.at(env).verify()
    assert (result.ok, result.entries) == (True, 0)


def test_paths_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCLOUD_AUDIT_LOG", str(tmp_path / "elsewhere" / "trail.jsonl"))
    monkeypatch.setenv("GOVCLOUD_AUDIT_KEY", str(tmp_path / "keys" / "k.pem"))
    audit = AuditLog.at(tmp_path / "state")
    audit.append(_event("gov-tax"))
    assert (tmp_path / "elsewhere" / "trail.jsonl").is_file()
    assert (tmp_path / "keys" / "k.pem").is_file()
    assert not (tmp_path / "state").exists()
    monkeypatch.delenv("GOVCLOUD_AUDIT_LOG")
    monkeypatch.delenv("GOVCLOUD_AUDIT_KEY")
    monkeypatch.setenv("GOVCLOUD_STATE_DIR", str(tmp_path / "shared"))
    assert AuditLog.at().key_path == tmp_path / "shared" / "audit" / "audit-key.pem"


def test_the_default_place_is_the_engines_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`audit verify` run anywhere must read the log `apply` wrote: the state folder the engine resolves."""
    from gcloud.engine.settings import state_location

    monkeypatch.delenv("GOVCLOUD_STATE_DIR", raising=False)
    monkeypatch.delenv("GOVCLOUD_AUDIT_LOG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert AuditLog.at().paths == audit_paths(state_location()[0])
    assert audit_paths(state_location()[0]).log.parent == state_location()[0] / "audit"


def test_append_onto_a_partial_line_is_refused(log: AuditLog) -> None:
    _path(log).write_bytes(_path(log).read_bytes()[:-10])
    with pytest.raises(AuditLogDamaged):
        log.append(_event("gov-tax"))


def test_append_many_writes_one_run_contiguously_under_one_checkpoint(env: Path) -> None:
    audit = AuditLog.at(env)
    written = audit.append_many([_event(t, n) for n, t in enumerate(TENANTS)])
    assert [e.seq for e in written] == [1, 2, 3, 4, 5]
    assert audit.append_many([]) == []
    result = audit.verify()
    assert (result.ok, result.entries, result.checkpoints) == (True, 5, 1)


def test_entries_filter_by_tenant_and_time(env: Path) -> None:
    times = iter([dt.datetime(2025, 1, 1, 8, tzinfo=dt.UTC), dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC)])
    audit = AuditLog.at(env, clock=lambda: next(times))
    audit.append(_event("gov-tax"))
    audit.append(_event("gov-edu"))
    assert [e.event.tenant for e in audit.entries(since=dt.datetime(2025, 2, 1))] == ["gov-edu"]
    assert [e.event.tenant for e in audit.entries(tenant="gov-tax")] == ["gov-tax"]
    assert audit.entries(tenant="gov-tax", since=dt.datetime(2025, 2, 1)) == []


def test_secrets_never_land_in_the_log(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passphrase = "correct horse battery staple 42"
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", passphrase)
    monkeypatch.setenv("OS_PASSWORD", "Xq7-admin-pw")
    token = "gAAAAABl" + "Zk9y" * 12
    random_key = "q8Hs3kP0zV7wLmN2xR5tY9aB4cD6eF1g"  # high entropy, nothing else gives it away
    audit = AuditLog.at(env)
    audit.append(AuditEvent(
        actor="alice", action="import", tenant="gov-tax", outcome="failure",
        ticket=f"CHG-1 token={token}",
        changes=(("create", "kubernetes:Secret", "registry-cred"),),
        detail={"password": "hunter2-hunter2", "db_url": "postgresql://app:S3cr3tPw@10.0.0.5/db",
                "error": f"auth failed with passphrase {passphrase} and OS_PASSWORD Xq7-admin-pw",
                "pem": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----",
                "apiToken": "abc", "note": f"rotated {random_key}", "显示名": "国家税务局"}))
    data = _path(audit).read_text(encoding="utf-8")
    for secret in (passphrase, "Xq7-admin-pw", token, "hunter2", "S3cr3tPw", "MC4CAQAwBQYDK2VwBCIEI", random_key,
                   '"abc"'):
        assert secret not in data
    detail = audit.entries()[0].event.detail
    assert detail["db_url"] == "postgresql://app:[redacted]@10.0.0.5/db"
    assert detail["显示名"] == "国家税务局"  # ordinary text, Chinese included, is kept
    assert audit.entries()[0].event.changes == (("create", "kubernetes:Secret", "registry-cred"),)
    assert audit.verify().ok


def test_resolve_actor_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCLOUD_ACTOR", "ops-bot")
    assert resolve_actor("zhang.wei") == "zhang.wei"
    assert resolve_actor() == "ops-bot"
    monkeypatch.delenv("GOVCLOUD_ACTOR")
    import getpass

    assert resolve_actor() == getpass.getuser()


def test_an_event_refuses_an_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="outcome"):
        AuditEvent(actor="a", action="apply", tenant="t", outcome="ok")


def _writer(state: str, worker: int, count: int) -> None:
    """One process's commands: single appends and, every fifth, a run of three under one lock."""
    os.environ.pop("GOVCLOUD_AUDIT_LOG", None)
    os.environ.pop("GOVCLOUD_AUDIT_KEY", None)
    audit = AuditLog.at(Path(state))
    for number in range(count):
        if number % 5 == 4:
            audit.append_many([_event(f"w{worker}", number * 10 + k) for k in range(3)])
        else:
            audit.append(_event(f"w{worker}", number * 10))


def test_concurrent_writers_never_fork_the_chain(env: Path) -> None:
    """Four processes (spawned: nothing shared but the files) append at once; one unbroken chain results."""
    spawn = multiprocessing.get_context("spawn")
    workers, count = 4, 15
    processes = [spawn.Process(target=_writer, args=(str(env), worker, count)) for worker in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    audit = AuditLog.at(env)
    per_worker = count + 3 * 2  # 12 single appends + 3 runs of three
    result = audit.verify()
    assert (result.ok, result.entries) == (True, workers * per_worker), result.reason
    entries = audit.entries()
    for worker in range(workers):
        mine = [e for e in entries if e.event.tenant == f"w{worker}"]
        assert len(mine) == per_worker
        assert [e.event.digest_before for e in mine] == sorted(e.event.digest_before or "" for e in mine)
    assert len({e.seq for e in entries}) == len(entries)  # one chain: no sequence number was handed out twice


def test_importing_the_audit_modules_does_not_load_cryptography() -> None:
    code = "import sys, gcloud.audit, gcloud.cli.audit; print('cryptography' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
