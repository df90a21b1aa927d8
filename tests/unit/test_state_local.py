"""The state seam without a server: backend selection, the local store, lock-owner judgement, URL handling."""

from __future__ import annotations

import base64
import json
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gcloud.errors import InputError
from gcloud.plan.record import RECORD_NAME, AppliedTenant, read_record, update_record
from gcloud.state.backend import get_results, is_postgres, open_store, put_result, redact
from gcloud.state.local import LocalStateStore
from gcloud.state.locks import _parse, owner_gone, pid_running_pulumi, stack_of
from gcloud.state.postgres import PostgresStateStore, advisory_key, libpq_url, pulumi_table

URL = "postgres://govcloud:s3cret@db.example:5432/fleet?sslmode=require&table=states"


@pytest.fixture(autouse=True)
def _no_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)


def test_backend_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_store(tmp_path), LocalStateStore)
    assert isinstance(open_store(tmp_path, URL), PostgresStateStore)
    monkeypatch.setenv("PULUMI_BACKEND_URL", URL)
    assert isinstance(open_store(tmp_path), PostgresStateStore)  # the record follows the stacks
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}/elsewhere")
    store = open_store(tmp_path)
    assert isinstance(store, LocalStateStore) and store.state_dir == tmp_path


def test_is_postgres() -> None:
    assert is_postgres(URL)
    assert not is_postgres("file:///srv/state")
    assert not is_postgres("s3://bucket")


def test_redact_hides_the_password_only() -> None:
    shown = redact(URL)
    assert "s3cret" not in shown
    assert shown == "postgres://govcloud:****@db.example:5432/fleet?sslmode=require&table=states"
    assert redact("postgres://govcloud@127.0.0.1:15432/govcloud?sslmode=disable").endswith("sslmode=disable")


def test_libpq_url_drops_pulumis_table_parameter() -> None:
    url = libpq_url(URL)
    assert "table=" not in url
    assert url.startswith("postgresql://govcloud:s3cret@db.example:5432/fleet?")
    assert "sslmode=require" in url and "connect_timeout=5" in url
    assert pulumi_table(URL) == "states"
    assert pulumi_table("postgres://h/db") == "pulumi_state"


def test_advisory_keys_are_stable_64_bit() -> None:
    assert advisory_key("audit") == advisory_key("audit") != advisory_key("schema")
    assert -(2**63) <= advisory_key("audit") < 2**63
    assert advisory_key("audit") == 8651216802704819305  # runners of different versions must agree


def test_local_record_keeps_its_file_format(tmp_path: Path) -> None:
    update_record(tmp_path, {"czj": AppliedTenant("d1", {"app": "10.20.1.0/24"}, "2026-12-01T00:00:00+00:00")})
    document = json.loads((tmp_path / RECORD_NAME).read_text(encoding="utf-8"))
    assert document == {"tenants": {"czj": {"digest": "d1", "cidrs": {"app": "10.20.1.0/24"},
                                            "appliedAt": "2026-12-01T00:00:00+00:00"}}}
    update_record(tmp_path, {"czj": None, "wjw": AppliedTenant("d2")})
    assert set(read_record(tmp_path).tenants) == {"wjw"}


def test_local_results_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: put_result("drift", f"t{i:02d}", {"drifted": i % 2 == 0, "名": "市审计局"},
                                           state_dir=tmp_path), range(30)))
    results = get_results("drift", state_dir=tmp_path)
    assert len(results) == 30
    assert results["t04"] == {"drifted": True, "名": "市审计局"}
    assert get_results("verify", state_dir=tmp_path) == {}
    assert LocalStateStore(tmp_path).all_results().keys() == {"drift"}
    with pytest.raises(ValueError, match="kind"):
        put_result("../x", "t", {}, state_dir=tmp_path)


def test_owner_gone_only_for_this_host_and_a_dead_engine() -> None:
    assert owner_gone("ci-1", 4242, this_host="ci-1", running=lambda pid: False)
    assert not owner_gone("ci-1", 4242, this_host="ci-1", running=lambda pid: True)
    assert not owner_gone("ci-2", 4242, this_host="ci-1", running=lambda pid: False)  # cannot judge another host


def test_pid_running_pulumi() -> None:
    assert not pid_running_pulumi(os.getpid())  # alive, but python: a reused pid is not the lock's engine
    assert not pid_running_pulumi(0)
    assert not pid_running_pulumi(2**22 + 12345)  # above pid_max: no such process


def _lock_data(**content: object) -> dict[str, str]:
    return {"data": base64.b64encode(json.dumps(content).encode()).decode()}


def test_lock_rows_parse() -> None:
    key = "govcloud/.pulumi/locks/organization/govcloud/jyj/0b7d.json"
    assert stack_of(key) == "jyj"
    lock = _parse(key, _lock_data(pid=77, username="ci", hostname="ci-1", timestamp="2026-12-01T10:00:00Z"),
                  "ci-1", lambda pid: False)
    assert (lock.stack, lock.pid, lock.owner_gone) == ("jyj", 77, True)
    assert lock.clear_command == "govcloud state unlock jyj --force"
    assert "ci@ci-1 (pid 77)" in lock.holder
    unreadable = _parse(key, {"data": "not base64 json"}, "ci-1", lambda pid: False)
    assert not unreadable.owner_gone  # never cleared on a guess


def test_restore_refuses_what_is_not_a_bundle(tmp_path: Path) -> None:
    from gcloud.state import bundle

    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(InputError, match="cannot be read"):
        bundle._read_tar(junk)
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        tar.add(junk, arcname="manifest.json")
    assert bundle._read_tar(other) == {"manifest.json": b"not a tarball"}
