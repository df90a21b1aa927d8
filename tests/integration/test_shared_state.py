"""One fleet seen from several working folders through a real PostgreSQL server on 127.0.0.1.

Each folder stands in for a CI machine: its own state folder (workspace, PULUMI_HOME), the same
`postgres://` backend URL, the same passphrase and audit key. The first tests need only the database and the
engine: the record, results and audit log written from one folder are seen from the other, concurrent writers lose
nothing, two runs never hold one stack, and a lock left by a killed runner is found and cleared. The last ones
apply the example tenants on the sandbox in three shards at once (three folders, three CLI processes), check that
together they did what one run does, then back the whole state up, restore it into an empty database and find that
a plan and an apply there have nothing to do. Every stack is destroyed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gcloud.audit import AuditEvent, AuditLog
from gcloud.audit.store import AuditKeyMismatch
from gcloud.engine.errors import ConcurrentUpdate
from gcloud.engine.runner import StackJob, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.engine.stack import ProgramFn
from gcloud.plan.record import AppliedTenant, read_record, update_record
from gcloud.plan.shard import select_shard
from gcloud.state.backend import get_results, open_store, put_result
from gcloud.state.locks import clear_stale, list_locks, pid_running_pulumi
from gcloud.state.server import BASE_PORT, PostgresServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
OFFSET = int(os.environ.get("GOVCLOUD_TEST_PORT_OFFSET", "4000"))
EXAMPLES = sorted(path.stem for path in (REPO / "tenants").glob("*.yaml"))
WAITING = "tests.integration.test_shared_state:waiting_program"
BOUND_S = 120.0
PREVIEWED: dict[str, list[tuple[str, str]]] = {}
"""The fleet's `plan --all` as the original backend gave it (the restore test compares the restored one)."""


def waiting_program(flag: str) -> ProgramFn:
    """A program that holds its stack's lock until `flag` exists (at most BOUND_S): a run caught mid-update."""

    def program() -> None:
        import pulumi

        Path(flag + ".started").touch()  # the update is running: its lock is the one now held
        deadline = time.monotonic() + BOUND_S
        while not Path(flag).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pulumi.export("done", True)

    return program


def wait_for(condition: Callable[[], Any], what: str, bound: float = BOUND_S) -> Any:
    """Poll a condition until it holds (returning its value), failing after `bound` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {bound:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A private server for the module (port 15432 + the test port offset), in a folder the server user can
    reach (pytest's own temporary folders are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="govcloud-pg-test-"))
    root.chmod(0o755)  # the server's own folder inside stays 0700, the server user's
    server = PostgresServer(root / "server", BASE_PORT + OFFSET)
    server.up()
    try:
        with pytest.MonkeyPatch.context() as patch:  # this process's own calls (and its workers) log in too
            patch.setenv("PGPASSWORD", server.password)
            yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Folder:
    """One working folder (a CI machine): a copy of the repository's tenants, with its own state folder."""

    root: Path
    env: dict[str, str]

    @property
    def state(self) -> Path:
        return self.root / "state"

    def settings(self) -> EngineSettings:
        return EngineSettings.from_environment(self.root, environ=self.env)

    def cli(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "gcloud.cli", *args], cwd=self.root, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args: str) -> tuple[int, Any, str]:
        """A CLI command to its end: exit code, its JSON document (when it printed one) and stderr."""
        process = self.cli(*args)
        out, err = process.communicate(timeout=900)
        try:
            document = json.loads(out) if out.strip() else None
        except ValueError:
            raise AssertionError(f"exit {process.returncode}, not JSON:\n{out}\n{err}") from None
        return process.returncode, document, err


@pytest.fixture(scope="module")
def shared(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What every folder shares: the backend, the passphrase file and the fleet's audit key."""
    secret_dir = tmp_path_factory.mktemp("fleet-secrets")
    passphrase = secret_dir / "passphrase"
    passphrase.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    passphrase.chmod(0o600)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PULUMI_", "GOVCLOUD_", "PG")) or k == "GOVCLOUD_CACHE"}
    return {"base": base, "env": {**postgres.env, "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
                                  "GOVCLOUD_AUDIT_KEY": str(secret_dir / "audit-key.pem")}}


@pytest.fixture(scope="module")
def make_folder(shared: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Folder]:
    def make(name: str, extra: dict[str, str] | None = None) -> Folder:
        root = tmp_path_factory.mktemp(name)
        for folder in ("tenants", "policies"):
            shutil.copytree(REPO / folder, root / folder)
        shutil.copy(REPO / "platform.yaml", root / "platform.yaml")
        env = {**shared["base"], **shared["env"], "GOVCLOUD_STATE_DIR": str(root / "state"), **(extra or {})}
        return Folder(root, env)

    return make


def _in(folder: Folder, code: str) -> None:
    """Python code run in a process of its own with the folder's environment (a runner of that machine)."""
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=folder.env, check=True, timeout=300)


# --- the database alone ---------------------------------------------------------------------------------------


def test_two_folders_see_one_record_and_results(make_folder: Callable[..., Folder]) -> None:
    a, b = make_folder("rec-a"), make_folder("rec-b")
    update_record(a.state, {"czj": AppliedTenant("d1", {"app": "10.20.1.0/24"}, "t1")},
                  backend_url=a.env["PULUMI_BACKEND_URL"])
    assert read_record(b.state, backend_url=b.env["PULUMI_BACKEND_URL"]).tenants["czj"].cidrs == {
        "app": "10.20.1.0/24"}
    assert not (a.state / "govcloud-applied.json").exists()  # not on the local disk
    # four runners at once, ten tenants each: no entry lost (a row per tenant, not one document)
    writers = [subprocess.Popen([sys.executable, "-c",
                                 "import sys; from pathlib import Path; "
                                 "from gcloud.plan.record import AppliedTenant, update_record\n"
                                 "for i in range(10): update_record(Path(sys.argv[1]), "
                                 "{f'w{sys.argv[2]}-{i}': AppliedTenant(str(i))})",
                                 str(folder.state), str(n)], cwd=REPO, env=folder.env)
               for n, folder in enumerate((a, b, a, b))]
    assert [w.wait(120) for w in writers] == [0, 0, 0, 0]
    record = read_record(a.state, backend_url=a.env["PULUMI_BACKEND_URL"])
    assert {name for name in record.tenants if name.startswith("w")} == {f"w{n}-{i}" for n in range(4)
                                                                         for i in range(10)}
    update_record(b.state, dict.fromkeys(record.tenants), backend_url=b.env["PULUMI_BACKEND_URL"])
    assert read_record(a.state, backend_url=a.env["PULUMI_BACKEND_URL"]).tenants == {}

    environ_a, environ_b = a.env, b.env
    put_result("drift", "czj", {"drifted": True, "display": "市财政局"}, state_dir=a.state, environ=environ_a)
    put_result("drift", "czj", {"drifted": False, "display": "市财政局"}, state_dir=b.state, environ=environ_b)
    assert get_results("drift", state_dir=a.state, environ=environ_a) == {
        "czj": {"drifted": False, "display": "市财政局"}}
    assert open_store(a.state, environ=environ_a).describe().startswith("tables govcloud_* in postgres://")


def _event(tenant: str, number: int) -> AuditEvent:
    return AuditEvent(actor="ci", action="apply", tenant=tenant, outcome="success", ticket=f"CHG-{number}",
                      detail={"display": "市审计局"})


def test_audit_log_is_one_chain_across_folders(make_folder: Callable[..., Folder]) -> None:
    a, b = make_folder("audit-a"), make_folder("audit-b")
    before = len(AuditLog.at(a.state, environ=a.env).entries())
    code = ("import sys; from pathlib import Path; from gcloud.audit import AuditEvent, AuditLog\n"
            "log = AuditLog.at(Path(sys.argv[1]))\n"
            "for i in range(5): log.append(AuditEvent(actor='ci', action='apply', tenant=f't{sys.argv[2]}', "
            "outcome='success', ticket=f'CHG-{i}'))")
    writers = [subprocess.Popen([sys.executable, "-c", code, str(folder.state), str(n)], cwd=REPO, env=folder.env)
               for n, folder in enumerate((a, b, a, b))]
    assert [w.wait(120) for w in writers] == [0, 0, 0, 0]
    log_b = AuditLog.at(b.state, environ=b.env)
    assert len(log_b.entries()) == before + 20
    verdict = log_b.verify()
    assert verdict.ok, verdict.reason
    assert not (a.state / "audit" / "audit.jsonl").exists()
    assert AuditLog.at(a.state, environ=a.env).entries()[-1].event.tenant in {"t0", "t1", "t2", "t3"}

    # a runner that was not given the fleet's key makes one of its own: its appends are refused, nothing lost
    stray = make_folder("audit-stray", {"GOVCLOUD_AUDIT_KEY": str(a.root / "own-key.pem")})
    with pytest.raises(AuditKeyMismatch, match="GOVCLOUD_AUDIT_KEY"):
        AuditLog.at(stray.state, environ=stray.env).append(_event("czj", 1))
    assert len(log_b.entries()) == before + 20
    assert log_b.verify().ok


def test_two_runs_never_hold_one_stack_and_a_killed_runners_lock_is_cleared(
        make_folder: Callable[..., Folder], tmp_path: Path) -> None:
    a, b = make_folder("lock-a"), make_folder("lock-b")
    url = a.env["PULUMI_BACKEND_URL"]
    flag = tmp_path / "release"
    # runner A: an update that holds the stack's lock until told to finish; killed before it is
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from gcloud.engine.runner import StackJob, run_stacks\n"
         f"run_stacks([StackJob('lockdept', 'up', program={WAITING!r}, args={{'flag': sys.argv[1]}})])",
         str(flag)], cwd=REPO, env=a.env, start_new_session=True)
    try:
        wait_for(Path(f"{flag}.started").exists, "runner A's update to start")
        [lock] = list_locks(url, ["lockdept"])
        assert pid_running_pulumi(lock.pid) and not lock.owner_gone
        # runner B, another folder: refused at once, never queued or interleaved
        job = StackJob("lockdept", "up", program=WAITING, args={"flag": str(flag)})
        started = time.monotonic()
        [refused] = run_stacks([job], settings=b.settings())
        assert isinstance(refused.error, ConcurrentUpdate), refused.error
        assert time.monotonic() - started < 60
        assert f"pid {lock.pid}" in refused.error.message
        assert clear_stale(url).cleared == ()  # its owner is alive: never cleared
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # the runner dies mid-update, engine and all
        holder.wait(60)
    wait_for(lambda: not pid_running_pulumi(lock.pid), "the killed engine to be gone")
    [left] = list_locks(url, ["lockdept"])
    assert left.key == lock.key and left.owner_gone  # the lock outlives its runner...
    code, document, err = b.run("state", "locks", "--output", "json")
    assert code == 0, err
    assert [(item["stack"], item["ownerGone"]) for item in document["locks"]] == [("lockdept", True)]
    flag.touch()
    said: list[str] = []
    [done] = run_stacks([job], settings=b.settings(), on_event=lambda event: said.append(str(event)))
    assert done.ok, done.error  # ...until the next run on this host finds its owner gone and clears it itself
    assert any("removed the lock a dead run left" in line for line in said), said[-20:]
    assert list_locks(url) == []
    [gone] = run_stacks([StackJob("lockdept", "destroy", remove=True)], settings=a.settings())
    assert gone.ok, gone.error


def test_doctor_reports_the_backend_and_the_lock(make_folder: Callable[..., Folder], postgres: PostgresServer) -> None:
    folder = make_folder("doctor")
    code, document, err = folder.run("doctor", "--output", "json")
    assert document is not None, (code, err)
    checks = {check["name"]: check for check in document["checks"]}
    assert checks["shared state"]["status"] == "ok", checks["shared state"]
    assert f"127.0.0.1:{postgres.port}" in checks["shared state"]["detail"]
    assert checks["state lock"]["status"] == "ok", checks["state lock"]
    assert postgres.password not in json.dumps(document) + err

    down = make_folder("doctor-down", {"PULUMI_BACKEND_URL": "postgres://govcloud@127.0.0.1:1/none?sslmode=disable"})
    code, document, err = down.run("doctor", "--output", "json")
    assert document is not None, (code, err)
    checks = {check["name"]: check for check in document["checks"]}
    assert code != 0
    assert checks["shared state"]["status"] == "missing" and "does not answer" in checks["shared state"]["detail"]


# --- the fleet on the sandbox ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(sandbox: Any, make_folder: Callable[..., Folder], postgres: PostgresServer) -> Iterator[list[Folder]]:
    """Three runners' folders with the sandbox's clouds; whatever was applied is destroyed at the end."""
    folders = [make_folder(f"runner-{n}", dict(sandbox.env)) for n in (1, 2, 3)]
    try:
        yield folders
    finally:
        first = folders[0]
        left = sorted(read_record(first.state, backend_url=first.env["PULUMI_BACKEND_URL"]).tenants)
        with pytest.MonkeyPatch.context() as patch:  # the workers and providers reach the clouds from this env
            for key, value in sandbox.env.items():
                patch.setenv(key, value)
            results = run_stacks([StackJob(name, "destroy", remove=True) for name in left], parallel=3,
                                 settings=first.settings())
        update_record(first.state, {r.stack: None for r in results if r.ok},
                      backend_url=first.env["PULUMI_BACKEND_URL"])
        assert [r.stack for r in results if not r.ok] == []


def _admin(postgres: PostgresServer) -> Any:
    import psycopg

    return psycopg.connect(f"postgresql://govcloud@127.0.0.1:{postgres.port}/postgres", password=postgres.password,
                           autocommit=True)


def test_three_shards_at_once_do_what_one_run_does(fleet: list[Folder]) -> None:
    shards = []
    for index, folder in enumerate(fleet, 1):
        code, listed, err = folder.run("tenant", "list", "--shard", f"{index}/3", "--output", "json")
        assert code == 0, err
        assert listed["fleet"] == len(EXAMPLES) and listed["shard"] == f"{index}/3"
        names = [t["name"] for t in listed["tenants"]]
        assert names == select_shard(EXAMPLES, index, 3)
        shards.append((folder, [t["file"] for t in listed["tenants"]], names))
    assert sorted(n for _, _, names in shards for n in names) == EXAMPLES  # a partition of the fleet

    started = time.monotonic()
    running = [folder.cli("apply", *files, "--yes", "--parallel", "2", "--output", "json")
               for folder, files, _ in shards]
    finished = [process.communicate(timeout=900) for process in running]
    took = time.monotonic() - started
    for process, (_, err) in zip(running, finished, strict=True):
        assert process.returncode == 0, err[-3000:]
    applied = [[t["tenant"] for t in json.loads(out)["tenants"] if t["status"] == "ok"] for out, _ in finished]
    assert [sorted(a) for a in applied] == [sorted(names) for _, _, names in shards]
    print(f"3 shards applied {len(EXAMPLES)} tenants in {took:.1f}s")

    # a machine sees the whole fleet applied: the record (nothing changed since) and every stack
    observer = fleet[0]
    code, planned, err = observer.run("plan", "--output", "json")
    assert code == 0, err
    assert {t["tenant"]: t["change"] for t in planned["tenants"]} == dict.fromkeys(EXAMPLES, "unchanged")
    # it ran shard 1 only: the other shards' tenants it knows from the shared backend alone
    code, previewed, err = observer.run("plan", "--all", "--output", "json")
    assert code == 0, err
    seen = {t["tenant"]: sorted((r["op"], r["name"]) for r in t["resources"]) for t in previewed["tenants"]}
    assert set(seen) == set(EXAMPLES)
    assert not [(n, op) for n, ops in seen.items() for op, _ in ops if op in ("create", "delete", "replace")]
    PREVIEWED.update(seen)
    # and it sees each stack exactly as the machine that applied it does
    for folder, files, names in shards[1:]:
        code, own, err = folder.run("plan", "--all", *files, "--output", "json")
        assert code == 0, err
        assert {t["tenant"]: sorted((r["op"], r["name"]) for r in t["resources"]) for t in own["tenants"]} == {
            name: seen[name] for name in names}
    # one trail: every shard's applies in it, and it verifies
    code, entries, err = fleet[2].run("audit", "show", "--output", "json")
    assert code == 0, err
    audited = {e["target"]["id"] for e in entries["entries"] if e["action"] == "apply"}
    assert audited >= set(EXAMPLES)
    code, verdict, err = fleet[1].run("audit", "verify", "--output", "json")
    assert code == 0 and verdict["ok"], err


def test_backup_then_restore_into_an_empty_backend_has_nothing_to_do(fleet: list[Folder], postgres: PostgresServer,
                                                                    make_folder: Callable[..., Folder],
                                                                    tmp_path: Path) -> None:
    bundle = tmp_path / "fleet.tar.gz"
    backing_up = fleet[1].cli("state", "backup", "--out", str(bundle), "--output", "json")
    try:
        out, err = backing_up.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        with _admin(postgres) as conn:
            sessions = conn.execute("SELECT pid, state, wait_event_type, wait_event, left(query, 120) "
                                    "FROM pg_stat_activity WHERE datname IS NOT NULL").fetchall()
        backing_up.kill()
        raise AssertionError(f"backup hung; sessions: {sessions}") from None
    code, report = backing_up.returncode, json.loads(out) if out.strip() else None
    assert code == 0, err
    assert report["stacks"] == EXAMPLES and report["tenantsRecorded"] == len(EXAMPLES) and report["auditLines"] > 0
    assert bundle.stat().st_mode & 0o077 == 0
    passphrase = Path(fleet[1].env["PULUMI_CONFIG_PASSPHRASE_FILE"]).read_text(encoding="utf-8").strip()
    assert passphrase.encode() not in bundle.read_bytes()

    with _admin(postgres) as conn:
        conn.execute('CREATE DATABASE "restored"')
    restored_url = postgres.url.replace("/govcloud?", "/restored?")
    target = make_folder("restored", {**{k: v for k, v in fleet[0].env.items() if k != "GOVCLOUD_STATE_DIR"},
                                      "PULUMI_BACKEND_URL": restored_url})
    backed_up = report
    code, report, err = target.run("state", "restore", str(bundle), "--output", "json")
    assert code == 0, err
    print(f"backup {backed_up['durationS']}s ({backed_up['sizeBytes']} bytes), restore {report['durationS']}s")
    assert report["stacks"] == EXAMPLES
    code, _, err = target.run("state", "restore", str(bundle))
    assert code == 2 and "not empty" in err  # never over what exists

    code, planned, err = target.run("plan", "--all", "--output", "json")
    assert code == 0, err
    assert {t["tenant"]: t["change"] for t in planned["tenants"]} == dict.fromkeys(EXAMPLES, "unchanged")
    assert {t["tenant"]: sorted((r["op"], r["name"]) for r in t["resources"]) for t in planned["tenants"]} == {
        name: PREVIEWED[name] for name in EXAMPLES}  # the very state the original backend holds
    code, applied, err = target.run("apply", "--yes", "--output", "json")
    assert code == 0, err
    assert "no tenant to apply" in err
    assert {t["status"] for t in applied["tenants"]} == {"unchanged"}
    code, verdict, err = target.run("audit", "verify", "--output", "json")
    assert code == 0 and verdict["ok"], err
    assert verdict["entries"] == report["auditLines"] - verdict["checkpoints"]
    # the copy holds the same clouds' resources as the original: drop it without touching them (the fixture's
    # teardown destroys them through the original)
    with _admin(postgres) as conn:
        conn.execute('DROP DATABASE "restored" WITH (FORCE)')
