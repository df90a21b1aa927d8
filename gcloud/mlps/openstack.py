"""Keystone's and Cinder's level-3 settings, checked over their parsed config files.

Keystone exposes none of its `[security_compliance]` lockout and expiry options through its API (only the
password regex, per domain), and Cinder none of `volume_clear`: the files the services read are the authority.
Options are resolved as the services resolve them: oslo.config's last-file-wins over the file and its `.conf.d`
folder, and for Cinder each enabled backend's own section, then `[backend_defaults]`, then the default (`zero`);
a `volume_clear` in `[DEFAULT]` is not what cinder-volume reads when `enabled_backends` is set.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Callable, Sequence

from gcloud.passwords import complete

from .checks import Setting, SettingCheck

MAX_FAILURES = 5
"""Wrong passwords before a lockout: the usual level-3 assessment figure (登录失败 5 次锁定)."""
MIN_LOCKOUT_SECONDS = 600
MAX_PASSWORD_DAYS = 90
"""Passwords changed at least every 90 days (定期更换)."""
MIN_PASSWORD_LENGTH = 8
WEAK_PASSWORDS = ("Gov-123", "governmentcloud", "GOVERNMENTCLOUD", "2026120112345", "gov2026cloud", "GovernmentCloud",
                  "government-cloud", "GOV20261201")
"""Each shorter than 8 characters or of two character classes at most: what a level-3 complexity rule refuses
(8 or more characters of at least three of upper case, lower case, digits and signs)."""
GENERATED_PASSWORD = complete("Yq8mXz2LkW4nRt6sPv0bHj3dFc5gNa1e")
"""A password of the form govcloud makes (`gcloud.passwords`): a rule that refuses it refuses `verify`'s members."""
MAX_INACTIVE_DAYS = 90
"""Accounts unused this long are disabled (多余的、过期的账户及时停用)."""
LVM_DRIVER = "cinder.volume.drivers.lvm.LVMVolumeDriver"
NEEDED = {
    Setting.KEYSTONE_LOCKOUT: (
        f"keystone.conf [security_compliance] lockout_failure_attempts between 1 and {MAX_FAILURES}, "
        f"lockout_duration {MIN_LOCKOUT_SECONDS} or more seconds (or unset: locked until an admin unlocks)"),
    Setting.KEYSTONE_PASSWORD_EXPIRY: (
        f"keystone.conf [security_compliance] password_expires_days between 1 and {MAX_PASSWORD_DAYS}"),
    Setting.KEYSTONE_PASSWORD_COMPLEXITY: (
        "keystone.conf [security_compliance] password_regex refusing passwords shorter than "
        f"{MIN_PASSWORD_LENGTH} characters or of fewer than three character classes (upper, lower, digit, sign)"),
    Setting.KEYSTONE_INACTIVE_ACCOUNTS: (
        f"keystone.conf [security_compliance] disable_user_account_days_inactive between 1 and {MAX_INACTIVE_DAYS}"),
    Setting.CINDER_VOLUME_CLEAR: (
        "cinder.conf volume_clear = zero (the default) and volume_clear_size = 0 for every backend of "
        "enabled_backends (its own section or [backend_defaults])"),
}


def parse_ini(texts: Sequence[str]) -> configparser.RawConfigParser:
    """oslo.config INI files in the order the service reads them (a later file's value wins)."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None, default_section="__none__")
    for text in texts:
        parser.read_string(text)
    return parser


def _get(conf: configparser.RawConfigParser, section: str, option: str) -> str | None:
    if not conf.has_section(section) or not conf.has_option(section, option):
        return None
    return conf.get(section, option).strip()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def check_lockout(target: str, source: str, conf: configparser.RawConfigParser) -> SettingCheck:
    """`lockout_failure_attempts` 1-5, and `lockout_duration` unset (locked until an admin unlocks) or ≥ 600 s."""
    needed = NEEDED[Setting.KEYSTONE_LOCKOUT]
    raw = _get(conf, "security_compliance", "lockout_failure_attempts")
    attempts = _int(raw)
    duration_raw = _get(conf, "security_compliance", "lockout_duration")
    duration = _int(duration_raw)
    if attempts is None or attempts < 1:
        found = "lockout_failure_attempts unset: unlimited wrong passwords" if raw in (None, "", "0") else \
            f"lockout_failure_attempts = {raw}"
        return SettingCheck(target, Setting.KEYSTONE_LOCKOUT, False, found, source, needed)
    if attempts > MAX_FAILURES:
        return SettingCheck(target, Setting.KEYSTONE_LOCKOUT, False,
                            f"lockout_failure_attempts = {attempts}: more than {MAX_FAILURES} tries", source, needed)
    if duration_raw not in (None, "") and (duration is None or duration < MIN_LOCKOUT_SECONDS):
        return SettingCheck(target, Setting.KEYSTONE_LOCKOUT, False,
                            f"locked after {attempts} wrong passwords, but only for {duration_raw} s", source, needed)
    lasting = f"for {duration} s" if duration else "until an admin unlocks"
    return SettingCheck(target, Setting.KEYSTONE_LOCKOUT, True, f"locked after {attempts} wrong passwords, {lasting}",
                        source, needed)


def check_password_expiry(target: str, source: str, conf: configparser.RawConfigParser) -> SettingCheck:
    """`password_expires_days` 1-90 (users in `password_expires_ignore_user_ids` are counted, not judged)."""
    needed = NEEDED[Setting.KEYSTONE_PASSWORD_EXPIRY]
    raw = _get(conf, "security_compliance", "password_expires_days")
    days = _int(raw)
    if days is None or not 1 <= days <= MAX_PASSWORD_DAYS:
        found = "password_expires_days unset: passwords never expire" if raw in (None, "") else \
            f"password_expires_days = {raw}"
        return SettingCheck(target, Setting.KEYSTONE_PASSWORD_EXPIRY, False, found, source, needed)
    ignored = [item for item in (_get(conf, "security_compliance", "password_expires_ignore_user_ids") or "")
               .split(",") if item.strip()]
    exempt = f" ({len(ignored)} user ids exempt: service accounts, review them)" if ignored else ""
    return SettingCheck(target, Setting.KEYSTONE_PASSWORD_EXPIRY, True, f"passwords expire after {days} days{exempt}",
                        source, needed)


def check_password_complexity(target: str, source: str, conf: configparser.RawConfigParser) -> SettingCheck:
    """`password_regex`, matched as Keystone matches it (`re.match`), refuses every weak sample and accepts a
    password of the form govcloud makes."""
    needed = NEEDED[Setting.KEYSTONE_PASSWORD_COMPLEXITY]

    def result(ok: bool, found: str) -> SettingCheck:
        return SettingCheck(target, Setting.KEYSTONE_PASSWORD_COMPLEXITY, ok, found, source, needed)

    raw = _get(conf, "security_compliance", "password_regex")
    if not raw:
        return result(False, "password_regex unset: any password is accepted")
    try:
        rule = re.compile(raw)
    except re.error as err:
        return result(False, f"password_regex does not compile ({err.msg}): Keystone then refuses every password")
    accepted = [sample for sample in WEAK_PASSWORDS if rule.match(sample)]
    if accepted:
        classes = _classes(accepted[0])
        return result(False, f"password_regex accepts {len(accepted)} of {len(WEAK_PASSWORDS)} weak passwords "
                             f"(for one: {len(accepted[0])} characters, "
                             f"{classes} character class{'es' if classes > 1 else ''})")
    if not rule.match(GENERATED_PASSWORD):
        return result(False, "password_regex refuses the passwords govcloud makes (32 random URL-safe characters "
                             "and one of every class): `govcloud verify` could not create its temporary members")
    return result(True, f"password_regex refuses all {len(WEAK_PASSWORDS)} weak samples (short, or of one or two "
                        "character classes)")


def _classes(text: str) -> int:
    return sum(1 for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]") if re.search(pattern, text))


def check_inactive_accounts(target: str, source: str, conf: configparser.RawConfigParser) -> SettingCheck:
    """`disable_user_account_days_inactive` 1-90: Keystone then disables an account unused that long."""
    raw = _get(conf, "security_compliance", "disable_user_account_days_inactive")
    days = _int(raw)
    ok = days is not None and 1 <= days <= MAX_INACTIVE_DAYS
    found = (f"accounts unused for {days} days are disabled" if ok else
             "disable_user_account_days_inactive unset: unused accounts stay enabled" if raw in (None, "") else
             f"disable_user_account_days_inactive = {raw}")
    return SettingCheck(target, Setting.KEYSTONE_INACTIVE_ACCOUNTS, ok, found, source,
                        NEEDED[Setting.KEYSTONE_INACTIVE_ACCOUNTS])


KEYSTONE_CHECKS: tuple[Callable[[str, str, configparser.RawConfigParser], SettingCheck], ...] = (
    check_lockout, check_password_expiry, check_password_complexity, check_inactive_accounts)
"""The checks of keystone.conf, in KEYSTONE_SETTINGS' order."""


def check_volume_clear(target: str, source: str, conf: configparser.RawConfigParser) -> SettingCheck:
    """Every enabled backend wipes deleted volumes whole: `volume_clear` not `none`, `volume_clear_size` 0."""
    needed = NEEDED[Setting.CINDER_VOLUME_CLEAR]
    backends = [name.strip() for name in (_get(conf, "DEFAULT", "enabled_backends") or "").split(",") if name.strip()]
    sections = backends or ["DEFAULT"]
    faults: list[str] = []
    notes: list[str] = []
    for section in sections:
        def option(name: str, section: str = section) -> str | None:
            if section == "DEFAULT":
                return _get(conf, "DEFAULT", name)
            own = _get(conf, section, name)
            return own if own is not None else _get(conf, "backend_defaults", name)

        clear = (option("volume_clear") or "zero").lower()
        size = _int(option("volume_clear_size")) or 0
        label = f"[{section}]"
        if clear == "none":
            faults.append(f"{label} volume_clear = none: deleted volumes keep their data")
        elif size:
            faults.append(f"{label} volume_clear_size = {size}: only the first {size} MiB wiped")
        else:
            driver = option("volume_driver") or LVM_DRIVER
            effect = "" if driver == LVM_DRIVER else \
                f" (it acts on LVM volumes; {driver.rsplit('.', 1)[-1]} deletes in its own way)"
            notes.append(f"{label} volume_clear = {clear}{effect}")
    if not backends:
        notes.append("no enabled_backends")
    found = "; ".join(faults) if faults else "; ".join(notes)
    return SettingCheck(target, Setting.CINDER_VOLUME_CLEAR, not faults, found, source, needed)
