"""The OpenStack half of the sandbox: Keystone, Neutron, Nova, Cinder and Placement on 127.0.0.1.

Real services from PyPI (their own cached venv), SQLite files in WAL mode, gunicorn per API, `fake://`
transport in the default API-only mode. `--full` adds RabbitMQ and nova/cinder's RPC services with fake
drivers so servers and volumes can really be created. `up` builds a fresh sandbox once (DB inits in parallel,
each API started as soon as its own DB is ready), restarts a stopped one on its existing state, and returns
at once when it is already up; `down` stops exactly the PIDs it recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gcloud.errors import EnvironmentProblem
from gcloud.passwords import new_password
from gcloud.sandbox import openstack_catalog as catalog
from gcloud.sandbox import process
from gcloud.sandbox.openstack_config import (
    CLOUD_NAME,
    STATE_DIRS,
    ApiService,
    InitStep,
    OpenStackLayout,
    Ports,
    WorkerService,
    venv_argv,
)
from gcloud.sandbox.openstack_rabbitmq import RabbitMQ
from gcloud.sandbox.openstack_venv import QUIET_ENV, OpenStackVenv, data_dir
from gcloud.sandbox.process import Progress, SandboxDirs, ServiceFailed, ServiceStatus

STATE_FILE = "state.json"
_SECRET_FILE = "admin-password"
_REGISTER_TIMEOUT = 90.0


@dataclass(frozen=True)
class SandboxState:
    """What `up` records in the state dir: the mode and ports it built the sandbox with."""

    port_offset: int
    full: bool
    initialized: bool

    @classmethod
    def load(cls, path: Path) -> SandboxState | None:
        try:
            raw = json.loads(path.read_text())
            return cls(int(raw["port_offset"]), bool(raw["full"]), bool(raw["initialized"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as err:
            raise EnvironmentProblem(f"{path} is not a sandbox state file ({err})",
                                     hint=f"remove {path.parent} to start a fresh sandbox") from err

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(
            {"port_offset": self.port_offset, "full": self.full, "initialized": self.initialized}, indent=2,
        ) + "\n")


class OpenStackSandbox:
    """One OpenStack sandbox in one state directory."""

    def __init__(self, dirs: SandboxDirs, *, full: bool | None = None, port_offset: int | None = None,
                 venv: OpenStackVenv | None = None) -> None:
        """`full` / `port_offset` left as None take what an earlier `up` recorded in `dirs` (else API-only, 0)."""
        self.dirs = dirs
        recorded = SandboxState.load(self._state_path)
        self.full: bool = full if full is not None else (recorded.full if recorded is not None else False)
        self.port_offset: int = port_offset if port_offset is not None else (
            recorded.port_offset if recorded is not None else 0)
        self.ports = Ports.with_offset(self.port_offset)
        self.venv = venv or OpenStackVenv.default()
        self._rabbit = RabbitMQ(dirs, self.ports)

    # --- the interface the composed Sandbox uses ---------------------------------------------------------
    def install(self, progress: Progress) -> None:
        """Build the cached venv (once per pinned version set); with --full, make sure RabbitMQ is there."""
        self.venv.install(progress)
        if self.full:
            self.dirs.ensure()
            self._rabbit.ensure_installed(progress)

    def up(self, progress: Progress) -> None:
        """Bring the sandbox up: fresh, restarted on existing state, or nothing to do when already up."""
        state = SandboxState.load(self._state_path)
        if state is not None and state.initialized and state.port_offset != self.port_offset:
            raise EnvironmentProblem(
                f"the sandbox in {self.dirs.root} was built with port offset {state.port_offset}, "
                f"not {self.port_offset} (its catalog holds those ports)",
                hint=f"use port offset {state.port_offset}, or `govcloud sandbox down` and remove {self.dirs.root}",
            )
        running = self._running()
        if running and state is not None and state.full != self.full:
            mode = "--full" if state.full else "API-only"
            raise EnvironmentProblem(
                f"the sandbox in {self.dirs.root} is running in {mode} mode",
                hint="`govcloud sandbox down` first, then `up` in the mode you want",
            )
        layout = self._layout(self._password() if state is not None and state.initialized else "")
        if state is not None and state.initialized and set(running) == set(layout.service_names()) \
                and process.http_ready(layout.auth_url + "/"):
            progress(f"OpenStack already up ({len(running)} services)")
            return
        self.install(progress)
        try:
            if state is not None and state.initialized:
                self._start_existing(layout, progress, mode_changed=state.full != self.full)
            else:
                self._create(progress)
        except BaseException:
            self.down()
            raise

    def down(self) -> list[str]:
        """Stop every service this sandbox recorded a PID for (in parallel); return the names stopped."""
        names = [name for name in self._all_names() if process.read_pid(self.dirs, name) is not None]
        if not names:
            for name in self._all_names():  # stale PID files of processes that died on their own
                self.dirs.pidfile(name).unlink(missing_ok=True)
            return []

        def stop(name: str) -> bool:
            if name == "rabbitmq":
                return self._rabbit.stop()
            return process.stop(self.dirs, name)
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            results = list(pool.map(stop, names))
        return [name for name, stopped in zip(names, results, strict=True) if stopped]

    def status(self) -> list[ServiceStatus]:
        """Each service of the recorded mode: running or not, PID, endpoint, memory (RSS of its session)."""
        state = SandboxState.load(self._state_path)
        full = state.full if state is not None else self.full
        layout = OpenStackLayout(self.dirs, self.ports, full, "")
        rss = session_rss_mb()
        out = []
        for name in layout.service_names():
            pid = process.read_pid(self.dirs, name)
            out.append(ServiceStatus(name, pid is not None, pid, layout.endpoint(name),
                                     rss.get(pid) if pid is not None else None))
        return out

    def env(self) -> dict[str, str]:
        """What a shell or a client needs: the generated clouds.yaml and the cloud name in it."""
        return {"OS_CLIENT_CONFIG_FILE": str(self.clouds_yaml), "OS_CLOUD": CLOUD_NAME}

    def services(self) -> list[str]:
        """The service names of this mode, in start order (also the names `logs` accepts)."""
        return OpenStackLayout(self.dirs, self.ports, self.full, "").service_names()

    @property
    def clouds_yaml(self) -> Path:
        return OpenStackLayout(self.dirs, self.ports, self.full, "").clouds_yaml

    # --- state -------------------------------------------------------------------------------------------
    @property
    def _state_path(self) -> Path:
        return self.dirs.root / STATE_FILE

    def _layout(self, password: str) -> OpenStackLayout:
        return OpenStackLayout(self.dirs, self.ports, self.full, password)

    def _password(self) -> str:
        try:
            return (self.dirs.etc / _SECRET_FILE).read_text().strip()
        except FileNotFoundError as err:
            raise EnvironmentProblem(f"the sandbox in {self.dirs.root} has lost its admin password file",
                                     hint=f"remove {self.dirs.root} to start a fresh sandbox") from err

    def _all_names(self) -> list[str]:
        """Every name either mode can run, in reverse start order (workers first, RabbitMQ last)."""
        return list(reversed(OpenStackLayout(self.dirs, self.ports, True, "").service_names()))

    def _running(self) -> list[str]:
        return [name for name in self._all_names() if process.read_pid(self.dirs, name) is not None]

    # --- bringing it up ----------------------------------------------------------------------------------
    def _create(self, progress: Progress) -> None:
        """From nothing: configs, DB inits in parallel with Keystone's, catalog, external network."""
        layout = self._layout(new_password())
        self._require_ports(layout)
        for path in (self.dirs.data, self.dirs.logs, self.dirs.run, self.dirs.etc):
            shutil.rmtree(path, ignore_errors=True)
        self.dirs.ensure()
        _write_secret(self.dirs.etc / _SECRET_FILE, layout.password)
        self._write_files(layout)
        SandboxState(self.port_offset, self.full, initialized=False).save(self._state_path)
        progress(f"configs written to {self.dirs.etc}")
        if self.full:
            self._rabbit.start()
        inits = layout.service_inits()
        with ThreadPoolExecutor(max_workers=len(layout.apis) + 2) as pool:
            started = [pool.submit(self._init_and_start, layout, api, inits[api.component], progress)
                       for api in layout.apis]
            keys = [pool.submit(self._run_init, layout, f"keystone-keys-{n}", [step], ())
                    for n, step in enumerate(layout.keystone_keys())]
            self._run_init(layout, "keystone", layout.keystone_init())
            _results(keys)
            progress("keystone database initialised")
            self._start_api(layout, layout.keystone, progress)
            conn = catalog.admin_connection(layout)
            created = catalog.ensure_roles(conn)
            catalog.ensure_govcloud_user(conn, layout)
            catalog.register_services(conn, layout)
            progress("catalog registered" + (f" (roles created: {', '.join(created)})" if created else ""))
            _results(started)
        # A new connection: the first one's token carries the catalog from before the registration.
        catalog.create_external_network(catalog.admin_connection(layout))
        progress("external network gov-extranet created")
        if self.full:
            self._start_workers(layout, progress)
        SandboxState(self.port_offset, self.full, initialized=True).save(self._state_path)

    def _start_existing(self, layout: OpenStackLayout, progress: Progress, *, mode_changed: bool) -> None:
        """After `down` (or a crash): the same state, configs rewritten for the requested mode, no DB init."""
        self.dirs.ensure()
        self._require_ports(layout)
        self._write_files(layout)
        if mode_changed:
            self._point_cell_at_transport(layout)
            progress(f"nova's cell1 now uses {layout.transport_url.split('@')[-1]}")
        if self.full and process.read_pid(self.dirs, "rabbitmq") is None:
            self._rabbit.start()
        new = [api for api in layout.apis if not layout.db_path(api.component).exists()]
        todo = [api for api in (layout.keystone, *layout.apis)
                if api not in new and process.read_pid(self.dirs, api.name) is None]
        with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
            _results([pool.submit(self._start_api, layout, api, progress) for api in todo])
        admin = catalog.admin_connection(layout)
        created = catalog.ensure_roles(admin)  # roles a newer govcloud needs
        if created:
            progress(f"roles created: {', '.join(created)}")
        if catalog.ensure_govcloud_user(admin, layout):
            progress("govcloud's least-privilege user created")
        if new:  # glance, when a sandbox built API-only runs --full for the first time
            inits = layout.service_inits()
            for api in new:
                self._init_and_start(layout, api, inits[api.component], progress)
            catalog.register_services(admin, layout, new)
        if self.full:
            self._start_workers(layout, progress)
        SandboxState(self.port_offset, self.full, initialized=True).save(self._state_path)

    def _point_cell_at_transport(self, layout: OpenStackLayout) -> None:
        """Nova keeps cell1's message queue URL in its API database (written by create_cell): follow the mode."""
        row = _first_row(layout.db_path("nova_api"), "select uuid from cell_mappings where name = 'cell1'")
        if row is None:
            raise EnvironmentProblem(f"nova's cell1 is missing from {layout.db_path('nova_api')}",
                                     hint=f"remove {self.dirs.root} to start a fresh sandbox")
        update = ("nova-manage", "--config-file", str(layout.conf("nova")), "cell_v2", "update_cell",
                  "--cell_uuid", row, "--transport-url", layout.transport_url)
        self._run_init(layout, "nova-cell", [InitStep(update)], ())

    def _require_ports(self, layout: OpenStackLayout) -> None:
        for api in (layout.keystone, *layout.apis):
            if process.read_pid(self.dirs, api.name) is None:
                process.require_free_port(api.name, api.port)

    def _write_files(self, layout: OpenStackLayout) -> None:
        for path, text in layout.config_files().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_secret(path, text)  # every config carries a service password
        for service, names in layout.paste_files().items():
            for name in names:
                shutil.copyfile(self.venv.etc(service) / name, layout.etc(service) / name)
        layout.wsgi_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir() / "wsgi" / "govcloud_wsgi.py", layout.wsgi_dir / "govcloud_wsgi.py")
        for sub in STATE_DIRS:
            (self.dirs.data / sub).mkdir(parents=True, exist_ok=True)

    def _init_and_start(self, layout: OpenStackLayout, api: ApiService, steps: Sequence[InitStep],
                        progress: Progress) -> None:
        self._run_init(layout, api.component, steps)
        progress(f"{api.component} database initialised")
        self._start_api(layout, api, progress)

    def _run_init(self, layout: OpenStackLayout, component: str, steps: Sequence[InitStep],
                  databases: Sequence[Path] | None = None) -> None:
        """Run one component's init commands in order, then switch its SQLite files to WAL."""
        log = self.dirs.logfile(f"init-{component}")
        for step in steps:
            argv = venv_argv(self.venv.path / "bin", step.argv)
            with log.open("ab") as out:
                out.write(f"$ {' '.join(step.argv[:6])}\n".encode())
                out.flush()
                done = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env={**os.environ, **QUIET_ENV, **step.env}, check=False,
                )
            if done.returncode != 0:
                raise ServiceFailed(
                    f"{component} database initialisation failed at `{' '.join(step.argv[:4])}` "
                    f"(exit {done.returncode}); last lines of {log}:\n{process.tail(log)}",
                    hint=f"see the whole log with `govcloud sandbox logs init-{component}`",
                )
        for db in layout.databases(component) if databases is None else databases:
            set_wal(db)

    def _start_api(self, layout: OpenStackLayout, api: ApiService, progress: Progress) -> None:
        process.require_free_port(api.name, api.port)
        process.start(self.dirs, api.name, venv_argv(self.venv.path / "bin", layout.gunicorn_argv(api)),
                      env={**QUIET_ENV, **layout.api_env(api)}, cwd=self.dirs.root)
        url = api.base_url + api.health_path
        process.wait_until(self.dirs, api.name, lambda: process.http_ready(url))
        progress(f"{api.name} ready on {api.base_url}")

    def _start_workers(self, layout: OpenStackLayout, progress: Progress) -> None:
        """--full: RPC services, one start at a time per SQLite file (concurrent registrations lock it)."""
        self._rabbit.wait_ready()
        progress("rabbitmq ready")
        since = _utc_now()
        chains: dict[str, list[WorkerService]] = {}
        for worker in layout.workers:
            chains.setdefault(worker.database, []).append(worker)

        def run_chain(chain: Iterable[WorkerService]) -> None:
            for worker in chain:
                if process.read_pid(self.dirs, worker.name) is None:
                    process.start(self.dirs, worker.name, venv_argv(self.venv.path / "bin", worker.argv),
                                  env=QUIET_ENV, cwd=self.dirs.root)
                self._wait_registered(layout, worker, since)
                progress(f"{worker.name} registered")

        with ThreadPoolExecutor(max_workers=len(chains)) as pool:
            _results([pool.submit(run_chain, chain) for chain in chains.values()])
        self._wait_row("nova-compute", layout.db_path("nova"), "select 1 from compute_nodes where deleted=0", ())
        self._run_init(layout, "nova-discover-hosts",
                       [InitStep(("nova-manage", "--config-file", str(layout.conf("nova")),
                                  "cell_v2", "discover_hosts"))], ())
        catalog.wait_for_backend_pool(catalog.admin_connection(layout))
        progress("nova-compute mapped to cell1; cinder backend pool visible to the scheduler")

    def _wait_registered(self, layout: OpenStackLayout, worker: WorkerService, since: str) -> None:
        sql = ("select 1 from services where `binary` = ? and deleted = 0 "
               "and coalesce(updated_at, created_at) >= ?")
        self._wait_row(worker.name, layout.db_path(worker.database), sql, (worker.name, since))

    def _wait_row(self, name: str, db: Path, sql: str, args: tuple[str, ...]) -> None:
        process.wait_until(self.dirs, name, lambda: _has_row(db, sql, args), _REGISTER_TIMEOUT)


def _results(futures: Sequence[Future[None]]) -> None:
    """Wait for every future; raise the first failure (after all have finished)."""
    errors = [err for err in (f.exception() for f in futures) if err is not None]
    if errors:
        raise errors[0]


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _write_secret(path: Path, text: str) -> None:
    """Write a file readable by its owner only (configs and clouds.yaml carry passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def set_wal(db: Path) -> None:
    """WAL journal (persistent per file): readers stop blocking the writer, so fewer 'database is locked'."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def _has_row(db: Path, sql: str, args: tuple[str, ...]) -> bool:
    try:
        return _first_row(db, sql, args) is not None
    except sqlite3.Error:
        return False


def _first_row(db: Path, sql: str, args: tuple[str, ...] = ()) -> str | None:
    """The first column of the first row, read-only (a service may be writing the file meanwhile)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)) as conn:
        row = conn.execute(sql, args).fetchone()
    return None if row is None else str(row[0])


_PAGE = os.sysconf("SC_PAGE_SIZE")


def session_rss_mb(proc: Path = Path("/proc")) -> dict[int, float]:
    """Resident memory in MB summed per session id (a service is the session its leader started)."""
    totals: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        session = int(stat.rsplit(")", 1)[1].split()[3])
        totals[session] = totals.get(session, 0) + pages * _PAGE
    return {sid: round(total / 1e6, 1) for sid, total in totals.items()}

