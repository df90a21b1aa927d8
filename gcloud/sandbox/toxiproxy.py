"""Toxiproxy: a fault-injecting TCP proxy put between govcloud and the sandbox's clouds in the fault tests.

Toxiproxy (Shopify's, widely used for exactly this) is a Go program: `toxiproxy-server` listens for an HTTP API
on which proxies (listen -> upstream) are created, disabled (the port stops listening: the service looks down)
and given "toxics" (latency, reset_peer, timeout, ...). It is built from its Go module into the user cache like
the sandbox's Kubernetes binaries, once per version, under a file lock so parallel builders wait for one build;
the wrapper-module build of `gcloud.sandbox.kube_build` serves it unchanged.

The client speaks the HTTP API with the standard library only: tests and the soak script use it from any process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcloud.errors import EnvironmentProblem
from gcloud.localfs import cache_root, file_lock
from gcloud.sandbox.kube_build import GoBuild, _build, _go
from gcloud.sandbox.process import Progress

VERSION = "2.5.0"
MODULE = "github.com/Shopify/toxiproxy/v2"
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 15.0
BUILD = GoBuild(MODULE, f"v{VERSION}", (("toxiproxy-server", f"{MODULE}/cmd/server"),))
"""Built through the same wrapper-module path as etcd and Kubernetes (toxiproxy's go.mod has no replaces)."""


@dataclass(frozen=True)
class ToxiproxyBinary:
    """`<cache>/toxiproxy/<version>/bin/toxiproxy-server`, built when absent."""

    bin_dir: Path

    @classmethod
    def default(cls) -> ToxiproxyBinary:
        return cls(cache_root() / "toxiproxy" / VERSION / "bin")

    @property
    def server(self) -> Path:
        return self.bin_dir / "toxiproxy-server"

    @property
    def installed(self) -> bool:
        return os.access(self.server, os.X_OK)

    def install(self, progress: Progress) -> bool:
        """Build the server if missing (about 30 s with a cold module cache); True when something was built."""
        if self.installed:
            return False
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.bin_dir.parent / ".build.lock"):
            if self.installed:
                return False
            _build(_go(), BUILD, self.bin_dir, progress)
        return True


class ToxiproxyError(EnvironmentProblem):
    """The toxiproxy API refused a request or could not be reached."""


@dataclass(frozen=True)
class Toxiproxy:
    """A client for one toxiproxy server's HTTP API (`http://127.0.0.1:<port>`)."""

    api: str
    timeout_s: float = 10.0

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as err:
            raise ToxiproxyError(f"toxiproxy {method} {path}: {err.code} {err.read().decode()[:200]}") from None
        except OSError as err:
            raise ToxiproxyError(f"toxiproxy at {self.api} cannot be reached: {err}") from None
        return json.loads(text) if text.strip() else None

    def version(self) -> str:
        request = urllib.request.Request(self.api + "/version")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return str(response.read().decode()).strip()

    def proxies(self) -> dict[str, Any]:
        return dict(self._call("GET", "/proxies") or {})

    def create(self, name: str, listen_port: int, upstream: str) -> None:
        """A proxy `name` on 127.0.0.1:listen_port to `upstream` (host:port), enabled; replaced if present."""
        if name in self.proxies():
            self._call("DELETE", f"/proxies/{name}")
        self._call("POST", "/proxies", {"name": name, "listen": f"{LOOPBACK}:{listen_port}",
                                        "upstream": upstream, "enabled": True})

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Disabled: the listening port is closed and open connections are cut (the service is down)."""
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def add_toxic(self, proxy: str, kind: str, attributes: Mapping[str, Any], *, name: str = "",
                  stream: str = "downstream", toxicity: float = 1.0) -> str:
        """Add a toxic (latency, reset_peer, timeout, ...); its name, for `remove_toxic`."""
        toxic = name or f"{kind}_{stream}"
        self._call("POST", f"/proxies/{proxy}/toxics", {"name": toxic, "type": kind, "stream": stream,
                                                        "toxicity": toxicity, "attributes": dict(attributes)})
        return toxic

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Every proxy enabled again and every toxic removed."""
        self._call("POST", "/reset")


@dataclass
class ToxiproxyServer:
    """A toxiproxy-server process on 127.0.0.1:`port`, seeded (its toxicity draws repeat), logging to `log`."""

    binary: ToxiproxyBinary
    port: int
    log: Path
    seed: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def client(self) -> Toxiproxy:
        return Toxiproxy(f"http://{LOOPBACK}:{self.port}")

    def start(self) -> Toxiproxy:
        """Start the server and wait (bounded) until its API answers; refused when the port is taken."""
        with socket.socket() as probe:  # else a server left from another run would answer for this one
            # as the server binds: a closed predecessor's connections in TIME_WAIT do not hold the port, a listener does
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOOPBACK, self.port))
            except OSError as err:
                raise ToxiproxyError(f"port {self.port} on {LOOPBACK} is taken ({err.strerror}): "
                                     "is another toxiproxy-server running there?") from None
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(self.binary.server), "-host", LOOPBACK, "-port", str(self.port), "-seed", str(self.seed)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        client = self.client
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                client.version()
                return client
            time.sleep(0.1)
        self.stop()
        tail = self.log.read_text(errors="replace")[-2000:]
        raise ToxiproxyError(f"toxiproxy-server did not answer on {LOOPBACK}:{self.port}; its log:\n{tail}")

    def stop(self) -> None:
        """Stop exactly the process this object started."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
