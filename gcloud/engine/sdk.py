"""The Pulumi SDK internals govcloud relies on, in one place, checked against the SDK version they were read from.

Three things the public Automation API does not offer:
- `StackInitMode`: selecting a stack without creating it (`Stack.select` runs a second engine process);
- the wire marker of a secret value (`_special_sig_key` / `_special_secret_sig`), to mask secrets in outputs
  taken from the engine's events;
- a `PulumiCommand` built without its constructor, which runs `pulumi version` (0.2 CPU-s in every worker) that
  govcloud's own toolchain check already ran.
A different SDK version may have moved any of them: `check_sdk()` says so before a stack is touched.
"""

from __future__ import annotations

import importlib.metadata

from pulumi.automation import PulumiCommand
from pulumi.automation._stack import StackInitMode
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key
from semver import VersionInfo

from .errors import BOOTSTRAP_HINT, EngineMissing

WRITTEN_FOR = "3.259.0"
"""The SDK version whose internals were read for this module (the version pyproject.toml pins)."""

SECRET_KEY: str = _special_sig_key
SECRET_SIGNATURE: str = _special_secret_sig

__all__ = ["SECRET_KEY", "SECRET_SIGNATURE", "StackInitMode", "check_sdk", "pulumi_command"]


def check_sdk() -> None:
    """EngineMissing when the installed SDK is not the one these internals were read from."""
    installed = importlib.metadata.version("pulumi")
    if installed != WRITTEN_FOR:
        raise EngineMissing(f"the Pulumi SDK is v{installed}; govcloud's engine layer was written for v{WRITTEN_FOR}",
                            hint=f"install the pinned SDK ({BOOTSTRAP_HINT}), or re-read gcloud/engine/sdk.py "
                                 "against the new SDK and update WRITTEN_FOR")


def pulumi_command(binary: str, version: str) -> PulumiCommand:
    """The Automation API's handle on a binary whose version govcloud already checked."""
    command = PulumiCommand.__new__(PulumiCommand)
    command.command = binary
    command.version = VersionInfo.parse(version)
    return command
