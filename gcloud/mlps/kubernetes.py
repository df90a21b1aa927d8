"""The API server's level-3 settings, checked over parsed inputs: its flags, audit policy and encryption config.

The audit policy is judged by what it does, not by its shape: it is evaluated, as kube-apiserver's policy checker
does (first matching rule wins; no match is level None), on requests an assessor cares about: a department's user
changing RBAC, network policy, quotas, namespaces; a cluster admin deleting a namespace; anyone reading or writing
a Secret. Each must be recorded with its outcome (stage ResponseComplete kept), and Secrets and token reviews at
Metadata only, so no secret value is ever written to the log.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .checks import Setting, SettingCheck

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
AUDIT_MAXAGE_DAYS = 180
"""Six months: the network logs the Cybersecurity Law (art. 21) has operators keep, and what assessors ask."""
ENCRYPTING = ("aescbc", "aesgcm", "secretbox", "kms")
ENCRYPTED_PREFIX = b"k8s:enc:"
"""How kube-apiserver marks a value it encrypted before storing it in etcd (then `<provider>:v1:<key name>:`)."""
NEEDED = {
    Setting.AUDIT_POLICY: (
        "--audit-policy-file naming a Policy that records every change and every Secret access by every user at "
        "Metadata or more (Secrets and token reviews at Metadata only), with stage ResponseComplete"),
    Setting.AUDIT_RETENTION: (
        f"--audit-log-path=<file> with --audit-log-maxage={AUDIT_MAXAGE_DAYS} or more (six months, Cybersecurity "
        "Law art. 21), or --audit-webhook-config-file to a log store that keeps them"),
    Setting.SECRETS_ENCRYPTION: (
        "--encryption-provider-config whose first provider for secrets is aescbc, aesgcm, secretbox or kms, in a "
        "file only its owner reads, and every Secret in etcd rewritten encrypted (k8s:enc:)"),
}


# --- flags ----------------------------------------------------------------------------------------------------


def parse_flags(argv: Iterable[str]) -> dict[str, str]:
    """`--name=value` and `--name value` flags (the last one wins, as pflag does); the binary and others skipped."""
    tokens = list(argv)
    flags: dict[str, str] = {}
    for index, token in enumerate(tokens):
        if not token.startswith("--"):
            continue
        name, sep, value = token[2:].partition("=")
        if not sep:
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            value = following if following and not following.startswith("-") else "true"
        flags[name] = value
    return flags


def args_file_flags(text: str) -> dict[str, str]:
    """A flags file: one flag a line or one command line (shell quoting), `#` comments ignored."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return parse_flags(shlex.split("\n".join(lines)))


def manifest_flags(document: Any) -> dict[str, str]:
    """The flags of the kube-apiserver container of a static-pod manifest (command + args)."""
    containers = document.get("spec", {}).get("containers") if isinstance(document, dict) else None
    if not isinstance(containers, list) or not containers:
        raise ValueError("not a Pod manifest with containers")
    chosen = next((c for c in containers if isinstance(c, dict) and c.get("name") == "kube-apiserver"), containers[0])
    argv = [*chosen.get("command", []), *chosen.get("args", [])] if isinstance(chosen, dict) else []
    return parse_flags(str(token) for token in argv)


# --- audit policy ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A request the audit policy must record (and, when `metadata_only`, record without its body)."""

    what: str
    user: str
    groups: tuple[str, ...]
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    metadata_only: bool = False


USER, USER_GROUPS = "department-user", ("department-staff", "system:authenticated")
ADMIN_GROUPS = ("system:masters", "system:authenticated")


def probes(platform_identity: str | None = None) -> tuple[Probe, ...]:
    """The requests checked; `platform_identity` (platform.yaml's cluster identity) is probed as well."""
    found = [
        Probe("a department user creating a RoleBinding", USER, USER_GROUPS, "create",
              "rbac.authorization.k8s.io", "rolebindings", namespace="dept"),
        Probe("a department user deleting a NetworkPolicy", USER, USER_GROUPS, "delete",
              "networking.k8s.io", "networkpolicies", namespace="dept"),
        Probe("a department user patching a ResourceQuota", USER, USER_GROUPS, "patch", "", "resourcequotas",
              namespace="dept"),
        Probe("a department user reading a Pod's log", USER, USER_GROUPS, "get", "", "pods", "log", "dept"),
        Probe("a cluster admin deleting a Namespace", "cluster-admin", ADMIN_GROUPS, "delete", "", "namespaces"),
        Probe("a cluster admin changing a ClusterRoleBinding", "cluster-admin", ADMIN_GROUPS, "update",
              "rbac.authorization.k8s.io", "clusterrolebindings"),
        Probe("anyone reading a Secret", USER, USER_GROUPS, "get", "", "secrets", namespace="dept",
              metadata_only=True),
        Probe("anyone writing a Secret", USER, USER_GROUPS, "create", "", "secrets", namespace="dept",
              metadata_only=True),
        Probe("a token review (its body is a token)", "cluster-admin", ADMIN_GROUPS, "create",
              "authentication.k8s.io", "tokenreviews", metadata_only=True),
    ]
    if platform_identity:
        found.append(Probe(f"the platform's identity {platform_identity} creating a RoleBinding",
                           platform_identity, _identity_groups(platform_identity), "create",
                           "rbac.authorization.k8s.io", "rolebindings", namespace="dept"))
    return tuple(found)


def _identity_groups(user: str) -> tuple[str, ...]:
    parts = user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return ("system:serviceaccounts", f"system:serviceaccounts:{parts[2]}", "system:authenticated")
    return ("system:authenticated",)


def policy_problem(policy: Any) -> str | None:
    """Why a document is not an audit policy the API server would load, or None."""
    if not isinstance(policy, dict) or policy.get("kind") != "Policy" or \
            policy.get("apiVersion") not in ("audit.k8s.io/v1", "audit.k8s.io/v1beta1"):
        return "not an audit.k8s.io/v1 Policy"
    rules = policy.get("rules")
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        return "has no list of rules"
    bad = [str(rule.get("level")) for rule in rules if rule.get("level") not in LEVELS]
    return f"has rules with unknown levels: {', '.join(bad)}" if bad else None


def audit_outcome(policy: Mapping[str, Any], probe: Probe) -> tuple[str, frozenset[str]]:
    """(level, omitted stages) the API server would audit `probe` at; level None when no rule matches."""
    for rule in policy.get("rules", []):
        if _rule_matches(rule, probe):
            omitted = {*policy.get("omitStages", []), *rule.get("omitStages", [])}
            return str(rule["level"]), frozenset(map(str, omitted))
    return "None", frozenset()


def _rule_matches(rule: Mapping[str, Any], probe: Probe) -> bool:
    if rule.get("users") and probe.user not in rule["users"]:
        return False
    if rule.get("userGroups") and not set(probe.groups) & set(rule["userGroups"]):
        return False
    if rule.get("verbs") and probe.verb not in rule["verbs"]:
        return False
    if rule.get("namespaces") or rule.get("resources"):
        return _resource_matches(rule, probe)
    return not rule.get("nonResourceURLs")  # every probe is a resource request


def _resource_matches(rule: Mapping[str, Any], probe: Probe) -> bool:
    if rule.get("namespaces") and probe.namespace not in rule["namespaces"]:
        return False
    kinds: Sequence[Mapping[str, Any]] = rule.get("resources") or []
    if not kinds:
        return True
    combined = f"{probe.resource}/{probe.subresource}" if probe.subresource else probe.resource
    for kind in kinds:
        if kind.get("group", "") != probe.group:
            continue
        names = kind.get("resources") or []
        if not names:
            return True  # the whole group
        if kind.get("resourceNames"):
            continue  # named objects only; the probes name none
        for name in names:
            if name in (combined, "*") or (probe.subresource and name == f"*/{probe.subresource}") or \
                    (name.endswith("/*") and name[:-2] == probe.resource):
                return True
    return False


def check_audit_policy(target: str, source: str, policy: Any, *, read_problem: str | None = None,
                       platform_identity: str | None = None) -> SettingCheck:
    """Every probe recorded, with its outcome; Secret-bearing requests at Metadata only."""
    needed = NEEDED[Setting.AUDIT_POLICY]
    problem = read_problem or policy_problem(policy)
    if problem is not None:
        return SettingCheck(target, Setting.AUDIT_POLICY, False, problem, source, needed)
    gaps = []
    for probe in probes(platform_identity):
        level, omitted = audit_outcome(policy, probe)
        if level == "None":
            gaps.append(f"{probe.what}: not recorded")
        elif probe.metadata_only and level != "Metadata":
            gaps.append(f"{probe.what}: level {level} writes the secret itself into the log")
        elif "ResponseComplete" in omitted:
            gaps.append(f"{probe.what}: ResponseComplete omitted (no record says whether it succeeded)")
    count = len(probes(platform_identity))
    found = "; ".join(gaps) if gaps else f"all {count} probed requests recorded (Secrets at Metadata)"
    return SettingCheck(target, Setting.AUDIT_POLICY, not gaps, found, source, needed)


# --- audit log retention ----------------------------------------------------------------------------------


def check_audit_retention(target: str, source: str, flags: Mapping[str, str]) -> SettingCheck:
    """A log file kept at least 180 days (or a webhook backend, whose receiver keeps the records)."""
    needed = NEEDED[Setting.AUDIT_RETENTION]
    path, webhook = flags.get("audit-log-path", ""), flags.get("audit-webhook-config-file", "")
    if webhook:
        return SettingCheck(target, Setting.AUDIT_RETENTION, True,
                            f"sent to the webhook of {webhook}: its receiver keeps them", source, needed)
    if not path:
        return SettingCheck(target, Setting.AUDIT_RETENTION, False, "no --audit-log-path: no audit log is written",
                            source, needed)
    if path == "-":
        return SettingCheck(target, Setting.AUDIT_RETENTION, False,
                            "--audit-log-path=- (standard output): kept only as long as container logs", source,
                            needed)
    raw = flags.get("audit-log-maxage", "0")
    try:
        days = int(raw)
    except ValueError:
        return SettingCheck(target, Setting.AUDIT_RETENTION, False, f"--audit-log-maxage={raw} is not a number",
                            source, needed)
    files = flags.get("audit-log-maxbackup", "0")
    size = flags.get("audit-log-maxsize", "0")
    bound = f"; at most {files} old files of {size} MB" if files != "0" else ""
    if days < AUDIT_MAXAGE_DAYS:
        said = "unset: no retention declared" if days == 0 else f"{days} days"
        return SettingCheck(target, Setting.AUDIT_RETENTION, False, f"{path}, --audit-log-maxage {said}{bound}",
                            source, needed)
    return SettingCheck(target, Setting.AUDIT_RETENTION, True, f"{path}, kept {days} days{bound}", source, needed)


# --- Secrets at rest ------------------------------------------------------------------------------------------


def secrets_provider(config: Any) -> str:
    """The provider that writes Secrets (the first one of the entry covering them); `identity` when none."""
    if not isinstance(config, dict) or config.get("kind") != "EncryptionConfiguration":
        raise ValueError("not an EncryptionConfiguration")
    for entry in config.get("resources") or []:
        covered = entry.get("resources") or [] if isinstance(entry, dict) else []
        if {"secrets", "*.", "*.*"} & set(covered):
            providers = entry.get("providers") or []
            first = providers[0] if providers and isinstance(providers[0], dict) else {}
            return next(iter(first), "identity")
    return "identity"


@dataclass(frozen=True)
class EtcdSample:
    """What etcd holds under the Secrets prefix: how many values, and the keys of those not encrypted."""

    endpoint: str
    total: int
    sampled: int
    plaintext: tuple[str, ...]

    @classmethod
    def of(cls, endpoint: str, total: int, values: Iterable[tuple[str, bytes]]) -> EtcdSample:
        """Only each value's first bytes are looked at, and nothing of a value is kept."""
        items = list(values)
        plain = tuple(key for key, value in items if not value.startswith(ENCRYPTED_PREFIX))
        return cls(endpoint, total, len(items), plain)


def check_secrets_encryption(target: str, source: str, provider: str | None, *, problem: str | None = None,
                             config_mode: int | None = None, sample: EtcdSample | None = None,
                             sample_problem: str | None = None) -> SettingCheck:
    """Secrets written by an encrypting provider, the key file readable by its owner only, and (when etcd is
    reachable) every stored Secret carrying the `k8s:enc:` prefix."""
    needed = NEEDED[Setting.SECRETS_ENCRYPTION]
    if problem is not None or provider is None:
        return SettingCheck(target, Setting.SECRETS_ENCRYPTION, False, problem or "no encryption config", source,
                            needed)
    faults: list[str] = []
    notes = [f"secrets written with {provider}"]
    if provider not in ENCRYPTING:
        faults.append(f"secrets written with {provider}: stored in plaintext")
        notes = []
    if config_mode is not None and config_mode & 0o077:
        faults.append(f"the config holding the key is mode {config_mode:04o}: others can read the key")
    if sample_problem is not None:
        faults.append(f"etcd: {sample_problem}")
    elif sample is not None:
        if sample.plaintext:
            shown = ", ".join(sample.plaintext[:5]) + (" ..." if len(sample.plaintext) > 5 else "")
            faults.append(f"{len(sample.plaintext)} of {sample.sampled} Secrets in etcd stored in plaintext "
                          f"({shown})")
        else:
            notes.append(f"etcd {sample.endpoint}: {sample.sampled} of {sample.total} Secrets read, all k8s:enc:"
                         if sample.sampled else f"etcd {sample.endpoint}: no Secret stored yet")
    found = "; ".join(faults) if faults else "; ".join(notes)
    return SettingCheck(target, Setting.SECRETS_ENCRYPTION, not faults, found, source, needed)
