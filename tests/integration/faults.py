"""The sandbox's clouds behind toxiproxy, for the fault tests: `gcloud.sandbox.faults` on the session fixture.

The proxies, the FaultsOne region and the client files live in `gcloud.sandbox.faults` (the remote-cloud
benchmark uses them too); this module keeps the tests' API, which takes the session's `SandboxInfo`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from gcloud.sandbox import faults
from gcloud.sandbox.faults import INTERFACES, PORT_BASE, REGION, FaultyClouds

if TYPE_CHECKING:
    from tests.integration.conftest import SandboxInfo

__all__ = ["INTERFACES", "PORT_BASE", "REGION", "FaultyClouds", "faulty_clouds", "start"]


@contextmanager
def faulty_clouds(sandbox: SandboxInfo, folder: Path, offset: int, seed: int) -> Iterator[FaultyClouds]:
    """The proxies for one test module (its server is stopped at the end: the next module starts its own)."""
    with faults.faulty_clouds(sandbox.sandbox, folder, offset, seed) as clouds:
        yield clouds


def start(sandbox: SandboxInfo, folder: Path, offset: int, seed: int) -> FaultyClouds:
    """Build toxiproxy if needed, start it, create the proxies, the FaultsOne endpoints and the client files."""
    return faults.start(sandbox.sandbox, folder, offset, seed)
