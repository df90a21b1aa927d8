"""A pre-warmed parent for the Python dynamic-provider processes of a run: fork them instead of starting them.

The engine starts one dynamic-provider process per stack operation, through the launcher
`pulumi-resource-pulumi-python`, and each one imports pulumi, grpc, dill, openstacksdk and the kubernetes
client before its first call: about 1.2 CPU-s, more than the provider then spends on a tenant. While the runner
works through several stacks it keeps one host that has imported all that once. A launcher that finds
`GOVCLOUD_PROVIDER_HOST` in its environment hands its arguments, environment, folder and standard streams to the
host over a Unix socket, and the host forks a provider wired to exactly those: the child is a fresh
`python -m pulumi.dynamic` in all but the imports, never shared with another stack, and it ends as soon as its
launcher (the process the engine watches and kills) is gone. Without a host, or when it cannot be reached, the
launcher starts the provider itself as it always did.

    python -m gcloud.engine.provider_host ARGS...     the launcher's side (what the engine starts)
    ProviderHost.start() / .stop()                    the runner's side (a child process serving a socket)

Only the standard library is imported at the top: the launcher's side has to start in milliseconds.

Nothing here outlives the run (a CI runner cancelling a job kills the CLI's process group with SIGKILL, and the
engine starts every plugin in a process group of its own, out of that kill's reach): the host, each launcher and
each provider fork ask the kernel for a signal when their parent dies (`die_with_parent`), so the chain
CLI -> host -> provider fork and engine -> launcher unwinds by itself.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

HOST_ENV = "GOVCLOUD_PROVIDER_HOST"
"""The host's socket path; the launcher delegates to it when set."""

PRELOAD = ("dill", "grpc", "google.protobuf.empty_pb2", "pulumi", "pulumi.dynamic", "pulumi.runtime.rpc",
           "pulumi.runtime.proto.provider_pb2_grpc", "gcloud.providers.openstack",
           "gcloud.providers.openstack_network", "gcloud.providers.kubernetes", "openstack.connection",
           "openstack.identity.v3._proxy", "openstack.compute.v2._proxy", "openstack.block_storage.v3._proxy",
           "openstack.network.v2._proxy", "keystoneauth1.loading._plugins.identity.generic",
           "dogpile.cache.backends.null", "kubernetes.client", "kubernetes.config",
           "kubernetes.client.api.core_v1_api", "kubernetes.client.api.networking_v1_api",
           "kubernetes.client.api.rbac_authorization_v1_api", "grpc._server", "netrc",
           "pydantic.validate_call_decorator")
"""What every provider process imports: loaded once by the host (a module that fails to import is skipped)."""

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_SOCKET = "providers.sock"
_HEADER = struct.Struct("!I")
_STREAMS = 3  # stdin, stdout, stderr


def die_with_parent(expected_parent: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when its parent dies (prctl PR_SET_PDEATHSIG; Linux only).

    The setting survives exec (the launcher's exec of a provider keeps it). A parent that died before the call
    would never signal, so the parent is checked once more after it: gone already, this process exits at once.
    """
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)


# --- the launcher's side ---------------------------------------------------------------------------------------

def launch(args: Sequence[str]) -> NoReturn:
    """Run a dynamic provider with these engine arguments: forked by the host if there is one, else here.

    The launcher dies with the engine that started it (the engine puts it in a process group of its own, so a
    kill of the CLI's group never reaches it); its end then ends the provider fork serving it.
    """
    die_with_parent(os.getppid())
    path = os.environ.get(HOST_ENV, "")
    if path:
        code = _delegate(path, args)
        if code is not None:
            os._exit(code)
    os.execv(sys.executable, [sys.executable, "-u", "-m", "pulumi.dynamic", *args])


def _delegate(path: str, args: Sequence[str]) -> int | None:
    """Ask the host for a provider and wait for it to end; None when the host cannot take the request."""
    request = json.dumps({"args": list(args), "env": dict(os.environ), "cwd": str(Path.cwd())}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        socket.send_fds(conn, [_HEADER.pack(len(request))], list(range(_STREAMS)))
        conn.sendall(request)
    except OSError:
        conn.close()
        return None
    # From here the provider runs in the host's child; this process only stands for it. Its end (killed by the
    # engine) closes the socket, and the child follows.
    reply = _read_exactly(conn, _HEADER.size)
    return _HEADER.unpack(reply)[0] if reply else 1


# --- the host's side -------------------------------------------------------------------------------------------

class ProviderHost:
    """The runner's handle on a host process: `env` to add to the engine's environment, `stop()` at the end."""

    def __init__(self, folder: Path, process: subprocess.Popen[bytes]) -> None:
        self.folder = folder
        self.process = process

    @property
    def socket_path(self) -> Path:
        return self.folder / _SOCKET

    @property
    def env(self) -> dict[str, str]:
        return {HOST_ENV: str(self.socket_path)}

    @classmethod
    def start(cls) -> ProviderHost:
        """Bind the socket here (launchers queue on it at once), then let a child import and serve."""
        folder = Path(tempfile.mkdtemp(prefix="govcloud-providers-"))  # 0700: only this user reaches the socket
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(folder / _SOCKET))
            listener.listen(64)
            process = subprocess.Popen(
                [sys.executable, "-m", "gcloud.engine.provider_host", "--serve", str(listener.fileno())],
                stdin=subprocess.PIPE, pass_fds=[listener.fileno()], start_new_session=True)
        finally:
            listener.close()
        return cls(folder, process)

    def stop(self) -> None:
        """Tell the host to stop accepting (closing its stdin); providers still running finish on their own."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            self.socket_path.unlink()
            self.folder.rmdir()


def serve(listener_fd: int) -> None:
    """The host's loop: fork a provider per request until stdin closes (the runner is done or gone)."""
    die_with_parent(os.getppid(), signal.SIGTERM)  # the runner's process gone (even killed): stop serving
    listener = socket.socket(fileno=listener_fd)
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    waiting: dict[int, socket.socket] = {}
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin.fileno(), selectors.EVENT_READ)
    while True:
        for key, _ in events.select(timeout=0.5):
            if key.fileobj is listener:
                _accept(listener, waiting)
            elif not os.read(sys.stdin.fileno(), 4096):
                listener.close()
                _reap(waiting)
                return
        _reap(waiting)


def _accept(listener: socket.socket, waiting: dict[int, socket.socket]) -> None:
    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        head, fds, _, _ = socket.recv_fds(conn, _HEADER.size, _STREAMS)
        head += _read_exactly(conn, _HEADER.size - len(head))
        request = json.loads(_read_exactly(conn, _HEADER.unpack(head)[0]))
        if len(fds) != _STREAMS:
            raise ValueError("a request without its three standard streams")
    except (OSError, ValueError, struct.error):
        conn.close()  # the launcher sees no reply and exits 1: the engine reports the provider did not start
        for fd in fds:
            os.close(fd)
        return
    host = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            die_with_parent(host)  # the host gone (the run ended or was killed): no provider is left behind
            listener.close()
            for other in waiting.values():
                other.close()
            _become_provider(conn, fds, request)
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)
    waiting[pid] = conn


def _reap(waiting: dict[int, socket.socket]) -> None:
    """Tell each finished provider's launcher how it ended."""
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(_HEADER.pack(os.waitstatus_to_exitcode(status) & 0xFF))
            conn.close()


def _become_provider(conn: socket.socket, fds: list[int], request: dict[str, Any]) -> NoReturn:
    """In the fork: take the launcher's streams, environment, folder and arguments, then run the provider."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)  # like python -u
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    sys.argv = [sys.executable, *request["args"]]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=_exit_with_launcher, args=(conn,), daemon=True).start()
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)
    os._exit(0)


def _exit_with_launcher(conn: socket.socket) -> None:
    """The launcher never writes after its request: anything read means it is gone."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    os._exit(0)


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        launch(sys.argv[1:])
