"""A private PostgreSQL server on 127.0.0.1 for the tests and the demo: Debian's binaries, a folder of its own.

`initdb` refuses to run as root ("cannot be run as root"), and so does the server; when govcloud runs as root
(CI here does), every server command runs as the unprivileged `postgres` user (made by Debian's package, or by
scripts/install-postgres.sh) through `runuser`, and the folder is handed to that user. The server listens on
127.0.0.1 only (TCP; its Unix socket stays in its folder), with a random password for the `govcloud` role
(scram-sha-256). `stop` stops exactly this server (pg_ctl on its data folder), never another.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gcloud.errors import EnvironmentProblem

ROLE = "govcloud"
DATABASE = "govcloud"
BASE_PORT = 15432
"""Plus a port offset (the sandbox's), below Linux's ephemeral range (32768 and up)."""
SERVER_USER = "postgres"
INSTALL_HINT = "run scripts/install-postgres.sh (Debian's postgresql package)"
_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class PostgresMissing(EnvironmentProblem):
    """No PostgreSQL server binaries on this machine."""


def find_bin_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with initdb (or GOVCLOUD_PG_BIN)."""
    env = os.environ if environ is None else environ
    if env.get("GOVCLOUD_PG_BIN"):
        return Path(env["GOVCLOUD_PG_BIN"])
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if not found:
        raise PostgresMissing("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)", INSTALL_HINT)

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    return max(found, key=version)


@dataclass
class PostgresServer:
    """One server: data, socket and log under `root`, listening on 127.0.0.1:`port`."""

    root: Path
    port: int
    bin_dir: Path = field(default_factory=find_bin_dir)
    fast: bool = True
    """No fsync: for tests and demos, whose data is thrown away (a crash of the machine may lose it)."""
    password: str = field(default="", repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        """The Pulumi backend URL (no password in it: it comes from PGPASSWORD, see `env`)."""
        return f"postgres://{ROLE}@127.0.0.1:{self.port}/{DATABASE}?sslmode=disable"

    @property
    def env(self) -> dict[str, str]:
        """What a govcloud run needs to use this server as its backend."""
        return {"PULUMI_BACKEND_URL": self.url, "PGPASSWORD": self.password}

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = [shutil.which("runuser", path=_SYSTEM_PATH) or "runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                              env={"PATH": _SYSTEM_PATH, "LC_ALL": "C.UTF-8"})
        if done.returncode != 0:
            raise EnvironmentProblem(f"{args[0]} failed (exit {done.returncode}): "
                                     f"{(done.stderr or done.stdout).strip()[-400:]}",
                                     f"as root, every folder above {self.root} must be open to the {SERVER_USER} "
                                     f"user; binaries: {INSTALL_HINT}")
        return done

    def _hand_over(self) -> None:
        """As root, the folder belongs to the server's user (initdb and postgres refuse to run as root)."""
        if os.geteuid() != 0:
            return
        shutil.chown(self.root, SERVER_USER, SERVER_USER)
        for path in self.root.rglob("*"):
            shutil.chown(path, SERVER_USER, SERVER_USER)

    def init(self) -> None:
        """A fresh cluster with the `govcloud` role (random password) and database."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.password = self.password or secrets.token_urlsafe(24)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        self._hand_over()
        try:
            self._run("initdb", "-D", str(self.data), "-U", ROLE, f"--pwfile={pwfile}", "-A", "scram-sha-256",
                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        finally:
            pwfile.unlink()
        kept = self.root / "password"  # so `up` on this folder later finds it (mode 0600, beside the data)
        kept.write_text(self.password + "\n", encoding="utf-8")
        kept.chmod(0o600)

    def start(self) -> None:
        """Start the server and wait until it accepts connections (pg_ctl -w)."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        if self.fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w",
                  "-t", "60", "start", timeout=90)
        self._create_database()

    def _create_database(self) -> None:
        import psycopg

        admin = f"postgresql://{ROLE}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, password=self.password, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def stop(self) -> None:
        """Stop this server (fast shutdown: open sessions are ended, state is kept)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def up(self) -> PostgresServer:
        """init (when the folder is new) and start."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        elif not self.password:
            self.password = (self.root / "password").read_text(encoding="utf-8").strip()
        self.start()
        return self
