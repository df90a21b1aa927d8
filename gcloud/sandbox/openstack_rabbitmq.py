"""RabbitMQ for the sandbox's --full mode: Debian's package, run as a private node with its own epmd.

`fake://` cannot carry RPC between processes, so booting servers and creating volumes needs a broker. The
node keeps everything (mnesia, logs, Erlang cookie) under the sandbox's data dir and runs its own epmd on a
shifted port, so two sandboxes (a user's and the tests') never share a node registry and `down` can stop
exactly the epmd it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from gcloud.errors import EnvironmentProblem
from gcloud.sandbox import process
from gcloud.sandbox.openstack_config import Ports
from gcloud.sandbox.process import LOOPBACK, Progress, SandboxDirs

NAME = "rabbitmq"
_BIN = Path("/usr/lib/rabbitmq/bin")
PACKAGE = "rabbitmq-server"


class RabbitMQ:
    """One private RabbitMQ node on 127.0.0.1."""

    def __init__(self, dirs: SandboxDirs, ports: Ports) -> None:
        self.dirs = dirs
        self.ports = ports
        self.home = dirs.data / "rabbitmq"
        self.node = f"govcloud-{ports.rabbitmq}@localhost"

    @staticmethod
    def installed() -> bool:
        return (_BIN / "rabbitmq-server").is_file()

    def ensure_installed(self, progress: Progress) -> None:
        """Install Debian's rabbitmq-server when missing; say plainly when this machine cannot."""
        if self.installed():
            return
        if shutil.which("apt-get") is None:
            raise EnvironmentProblem(
                "--full needs RabbitMQ (Debian package rabbitmq-server), and apt-get is not available here",
                hint="install rabbitmq-server with this system's package manager, or run the sandbox without --full",
            )
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                "--full needs RabbitMQ (Debian package rabbitmq-server), which is not installed",
                hint="run `sudo apt-get install --no-install-recommends rabbitmq-server` once, then retry",
            )
        log = self.dirs.logfile("apt-rabbitmq")
        progress("installing RabbitMQ (apt-get install rabbitmq-server)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        with log.open("ab") as out:
            for argv in (["apt-get", "update", "-q"],
                         ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGE]):
                done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, check=False)
                if done.returncode != 0:
                    raise EnvironmentProblem(
                        f"`{' '.join(argv)}` failed (exit {done.returncode}); last lines of {log}:\n"
                        f"{process.tail(log)}",
                        hint="Debian's package mirror must be reachable to install RabbitMQ",
                    )

    def env(self) -> dict[str, str]:
        """What both the server and rabbitmqctl need to find this node."""
        data = str(self.home)
        return {
            "HOME": data,  # the Erlang cookie lives in $HOME
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.ports.rabbitmq),
            "RABBITMQ_DIST_PORT": str(self.ports.rabbitmq_dist),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "ERL_EPMD_PORT": str(self.ports.epmd),
            "RABBITMQ_MNESIA_BASE": f"{data}/mnesia",
            "RABBITMQ_LOG_BASE": f"{data}/log",
            "RABBITMQ_LOGS": "-",  # to stdout, i.e. the sandbox's logs/rabbitmq.log
            "RABBITMQ_PID_FILE": f"{data}/rabbit.pid",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self) -> None:
        for name, port in (("rabbitmq", self.ports.rabbitmq), ("rabbitmq distribution", self.ports.rabbitmq_dist),
                           ("epmd", self.ports.epmd)):
            process.require_free_port(name, port)
        self.home.mkdir(parents=True, exist_ok=True)
        process.start(self.dirs, NAME, [str(_BIN / "rabbitmq-server")], env=self.env(), cwd=self.home)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Ready once the AMQP listener accepts connections (opened after the broker finished booting)."""
        process.wait_until(self.dirs, NAME, lambda: not process.port_is_free(self.ports.rabbitmq), timeout)

    def stop(self) -> bool:
        """Stop the node, then its private epmd (which refuses to die while the node is registered)."""
        stopped = process.stop(self.dirs, NAME, timeout=20.0)
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        if not stopped or not Path(epmd).exists():
            return stopped
        env = {**os.environ, **self.env()}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            names = subprocess.run([epmd, "-port", str(self.ports.epmd), "-names"],
                                   capture_output=True, env=env, check=False)
            if names.returncode != 0:
                break
            subprocess.run([epmd, "-port", str(self.ports.epmd), "-kill"],
                           capture_output=True, env=env, check=False)
            time.sleep(0.3)
        return stopped
