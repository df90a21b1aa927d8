"""A session-wide Kubernetes sandbox for the tests that need only the Kubernetes half.

Port offset 5000 keeps it clear of a developer's own sandbox (offset 0) on the same machine. The shared
conftest may later take over this fixture; until then test modules import it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from gcloud.sandbox.kubernetes import KubernetesSandbox
from gcloud.sandbox.process import SandboxDirs

KUBE_TEST_PORT_OFFSET = int(os.environ.get("GOVCLOUD_TEST_PORT_OFFSET", "4000")) + 1000
"""A second Kubernetes (etcd 28790, kube-apiserver 11443): beside the session sandbox, below the ephemeral range."""


@pytest.fixture(scope="session")
def kube_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubernetesSandbox]:
    """Etcd, kube-apiserver and kube-controller-manager up for the session, stopped by PID at its end."""
    root = tmp_path_factory.mktemp("sandbox")
    sandbox = KubernetesSandbox(SandboxDirs(root / "kubernetes"), port_offset=KUBE_TEST_PORT_OFFSET)
    try:
        sandbox.up(lambda line: None)
        yield sandbox
    finally:
        sandbox.down()
