"""Where the audit log and its key live: beside the engine's state, unless the environment says otherwise."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOG_ENV = "GOVCLOUD_AUDIT_LOG"
KEY_ENV = "GOVCLOUD_AUDIT_KEY"


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The engine's own state directory (GOVCLOUD_STATE_DIR, else the project's), so apply and audit agree.

    Imported here, not at the top: gcloud.engine.settings is stdlib-only but not free to import.
    """
    from gcloud.engine.settings import state_location

    return state_location(environ=environ)[0]


@dataclass(frozen=True)
class AuditPaths:
    log: Path
    key: Path

    @property
    def head(self) -> Path:
        """The signed record of the newest entry: what shows a log cut short at a line boundary."""
        return self.log.with_name(self.log.name + ".head")

    @property
    def lock(self) -> Path:
        return self.log.with_name(self.log.name + ".lock")


def audit_paths(state_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> AuditPaths:
    """`<state>/audit/audit.jsonl` and `<state>/audit/audit-key.pem`, each overridable by its variable."""
    env = os.environ if environ is None else environ
    base = (state_dir.expanduser().absolute() if state_dir is not None else default_state_dir(env)) / "audit"
    log = Path(env[LOG_ENV]).expanduser().absolute() if env.get(LOG_ENV) else base / "audit.jsonl"
    key = Path(env[KEY_ENV]).expanduser().absolute() if env.get(KEY_ENV) else base / "audit-key.pem"
    return AuditPaths(log, key)
