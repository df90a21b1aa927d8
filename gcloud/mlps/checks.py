"""The result of one platform-setting check, as a value: what was found, where it was read, what level 3 needs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Setting(StrEnum):
    """The settings `doctor --mlps` checks (one check per setting and cluster or cloud)."""

    AUDIT_POLICY = "audit-policy"
    AUDIT_RETENTION = "audit-retention"
    SECRETS_ENCRYPTION = "secrets-encryption"
    KEYSTONE_LOCKOUT = "keystone-lockout"
    KEYSTONE_PASSWORD_EXPIRY = "keystone-password-expiry"
    KEYSTONE_PASSWORD_COMPLEXITY = "keystone-password-complexity"
    KEYSTONE_INACTIVE_ACCOUNTS = "keystone-inactive-accounts"
    CINDER_VOLUME_CLEAR = "cinder-volume-clear"


CLAUSES: dict[Setting, tuple[str, ...]] = {
    Setting.AUDIT_POLICY: ("8.1.4.3 a)", "8.1.4.3 b)", "8.1.5.1 a)"),
    Setting.AUDIT_RETENTION: ("8.1.4.3 c)",),
    Setting.SECRETS_ENCRYPTION: ("8.1.4.8 b)",),
    Setting.KEYSTONE_LOCKOUT: ("8.1.4.1 b)",),
    Setting.KEYSTONE_PASSWORD_EXPIRY: ("8.1.4.1 a)",),
    Setting.KEYSTONE_PASSWORD_COMPLEXITY: ("8.1.4.1 a)",),
    Setting.KEYSTONE_INACTIVE_ACCOUNTS: ("8.1.4.2 c)",),
    Setting.CINDER_VOLUME_CLEAR: ("8.1.4.10 b)", "8.2.4.7 a)"),
}
"""GB/T 22239-2019 clauses (keys of gcloud/policy/clauses.yaml) each setting serves."""


@dataclass(frozen=True, order=True)
class SettingCheck:
    """One setting of one cluster or cloud. `needed` is what a level-3 cloud must have, shown when it fails."""

    target: str
    """`kubernetes <cluster>` or `openstack <cloud>`."""
    setting: Setting
    ok: bool
    found: str
    source: str
    """Where it was read: file paths (and the flag that named them) or an API."""
    needed: str

    @property
    def clauses(self) -> tuple[str, ...]:
        return CLAUSES[self.setting]


@dataclass(frozen=True)
class MlpsReport:
    checks: tuple[SettingCheck, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[SettingCheck, ...]:
        return tuple(check for check in self.checks if not check.ok)
