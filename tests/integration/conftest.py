"""The session's sandbox: real OpenStack and Kubernetes on loopback, up once for all integration tests.

It runs on port offset 4000 (Keystone 9000, kube-apiserver 10443, etcd 27790, ...) in a directory of its own, so it
never meets a developer's demo sandbox (offset 0) or the benchmarks' (2000, 3000). Every port stays below Linux's
ephemeral range (32768 and up), where a client connection of the moment could already hold it. A failure to come
up is an error of every test that needs it, never a skip. `GOVCLOUD_TEST_SANDBOX_DIR` names a fixed directory
instead of a fresh temporary one (then a second run restarts on the existing state, which is faster); the sandbox
is stopped at the end either way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openstack.config
import openstack.connection
import pytest

from gcloud.sandbox.openstack_config import ADMIN_CLOUD_NAME, CLOUD_NAME
from gcloud.sandbox.sandbox import Sandbox, UpReport

TEST_PORT_OFFSET = int(os.environ.get("GOVCLOUD_TEST_PORT_OFFSET", "4000"))
"""Overridable so two test sessions on one machine (two engineers, two checkouts) never share ports."""
TEST_DIR_ENV = "GOVCLOUD_TEST_SANDBOX_DIR"


@dataclass(frozen=True)
class SandboxInfo:
    """What tests need from the running sandbox."""

    sandbox: Sandbox
    report: UpReport
    progress: tuple[str, ...]

    @property
    def root(self) -> Path:
        return self.sandbox.root

    @property
    def clouds_yaml(self) -> Path:
        return self.sandbox.openstack.clouds_yaml

    @property
    def cloud(self) -> str:
        return CLOUD_NAME

    @property
    def kubeconfig(self) -> Path:
        """The cluster admin's kubeconfig, for tests that look at the cluster from outside (govcloud runs as its
        ServiceAccount: `env` names that one)."""
        return self.sandbox.kubernetes.admin_kubeconfig

    @property
    def env(self) -> dict[str, str]:
        """OS_CLIENT_CONFIG_FILE, OS_CLOUD, KUBECONFIG: hand to a subprocess or `monkeypatch.setenv`."""
        return self.sandbox.env()

    def openstack_admin(self) -> openstack.connection.Connection:
        """A new cloud-admin connection (clouds.yaml's admin entry; govcloud itself runs as `cloud`, its
        least-privilege user), configured from the generated clouds.yaml as any client would be."""
        config = openstack.config.OpenStackConfig(config_files=[str(self.clouds_yaml)], load_envvars=False)
        return openstack.connection.Connection(config=config.get_one(cloud=ADMIN_CLOUD_NAME))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    """The whole sandbox, up for the session (API-only OpenStack + Kubernetes), down at its end."""
    fixed = os.environ.get(TEST_DIR_ENV)
    root = Path(fixed).resolve() if fixed else tmp_path_factory.mktemp("govcloud-sandbox")
    box = Sandbox(root, full=False, port_offset=TEST_PORT_OFFSET)
    lines: list[str] = []
    start = time.monotonic()
    try:
        report = box.up(lambda line: lines.append(f"{time.monotonic() - start:6.1f}s {line}"))
        yield SandboxInfo(box, report, tuple(lines))
    finally:
        box.down()


@pytest.fixture(scope="session")
def openstack_admin(sandbox: SandboxInfo) -> Iterator[openstack.connection.Connection]:
    """One admin connection to the sandbox's OpenStack for the session."""
    conn = sandbox.openstack_admin()
    yield conn
    conn.close()
