"""Backup and restore of the whole fleet's state: every stack, its config, the record, results and audit log.

One tar.gz bundle:

    manifest.json            format, version, when, backend (password masked), what is inside
    stacks/<tenant>.json     `pulumi stack export` (secrets stay encrypted: never `--show-secrets`)
    config/Pulumi.<tenant>.yaml   the stack's config (its encryption salt; secret values encrypted)
    record.json              the applied record (the format of govcloud-applied.json)
    results.json             results by kind and tenant
    audit/audit.jsonl        the audit log's lines, byte for byte (their hashes chain over those bytes)
    audit/audit.jsonl.head   its signed head

Stacks are exported and imported by the pinned engine itself (`pulumi stack export` / `stack import`), so the
bundle works for any backend and restores into any other (a file folder into PostgreSQL, or back). The
passphrase and the audit signing key are NOT in the bundle: keep them apart from it (they are what makes it
usable). A restore goes into an empty backend only: it never overwrites stacks that exist.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcloud.audit import AuditLog
from gcloud.audit.store import StoredLog
from gcloud.engine.errors import classify_failure
from gcloud.engine.settings import EngineSettings
from gcloud.errors import InputError
from gcloud.plan.record import record_document, record_from_document

from .backend import is_postgres, open_store, redact

FORMAT = "govcloud-state-backup"
VERSION = 1
EXPORT_PARALLEL = 4
"""Engine processes at once: each export is one short `pulumi` run, mostly waiting on the backend."""


@dataclass(frozen=True)
class BundleReport:
    """What a backup wrote or a restore read."""

    path: Path
    stacks: tuple[str, ...]
    tenants_recorded: int
    audit_lines: int
    results: int
    size_bytes: int
    duration_s: float
    backend: str


POSTGRES_SAFE_ENV = {"PULUMI_DIY_BACKEND_PARALLEL": "1"}
"""Pulumi 3.259's PostgreSQL bucket deadlocks listing many stacks: each of the (default 10) listing workers holds
a pooled connection for its rows while asking for another per key, and the pool has 2 x GOMAXPROCS connections
(4 on 2 cores): measured, `pulumi stack ls` over 9 stacks hung with 4 idle sessions. One worker needs two."""


def _engine(settings: EngineSettings, *args: str, stack: str = "", operation: str = "") -> str:
    """One `pulumi` command in the state's project folder, with govcloud's engine environment."""
    extra = POSTGRES_SAFE_ENV if is_postgres(settings.backend_url) else {}
    done = subprocess.run([str(settings.toolchain.pulumi), *args, "--non-interactive"], cwd=settings.work_dir,
                          env={**os.environ, **settings.env(), **extra}, capture_output=True, text=True,
                          check=False, timeout=600)
    if done.returncode != 0:
        raise classify_failure(done.stdout, done.stderr, stack=stack, operation=operation)
    return done.stdout


def stack_names(settings: EngineSettings) -> list[str]:
    """The project's stacks in the backend."""
    listed = json.loads(_engine(settings, "stack", "ls", "--json", operation="list") or "[]")
    return sorted(str(item["name"]).rsplit("/", 1)[-1] for item in listed)


def backup(settings: EngineSettings, out: Path) -> BundleReport:
    """Write the bundle of everything the fleet's state holds to `out` (mode 0600, atomically)."""
    started = time.monotonic()
    settings.prepare()
    names = stack_names(settings)
    with ThreadPoolExecutor(max_workers=EXPORT_PARALLEL) as pool:
        exports = list(pool.map(
            lambda name: _engine(settings, "stack", "export", "--stack", name, stack=name, operation="export"),
            names))
    store = open_store(settings.state_dir, settings.backend_url)
    record = store.read_record()
    results = store.all_results()
    audit = AuditLog.at(settings.state_dir).store.read_all()
    manifest = {"format": FORMAT, "version": VERSION, "createdAt": dt.datetime.now(dt.UTC).isoformat(),
                "backend": redact(settings.backend_url), "stacks": names, "recordTenants": len(record.tenants),
                "auditLines": len(audit.lines), "results": {kind: len(docs) for kind, docs in results.items()}}
    members: list[tuple[str, bytes]] = [("manifest.json", _json(manifest))]
    for name, exported in zip(names, exports, strict=True):
        members.append((f"stacks/{name}.json", exported.encode()))
        config = settings.config_dir / f"Pulumi.{name}.yaml"
        if config.is_file():
            members.append((f"config/{config.name}", config.read_bytes()))
    members += [("record.json", _json(record_document(record))), ("results.json", _json(results)),
                ("audit/audit.jsonl", b"".join(line + b"\n" for line in audit.lines) + audit.partial)]
    if audit.head is not None:
        members.append(("audit/audit.jsonl.head", audit.head))
    _write_tar(out, members)
    return BundleReport(out, tuple(names), len(record.tenants), len(audit.lines),
                        sum(len(docs) for docs in results.values()), out.stat().st_size,
                        time.monotonic() - started, redact(settings.backend_url))


def restore(settings: EngineSettings, bundle: Path) -> BundleReport:
    """Restore a bundle into an empty backend: stacks (with their config), record, results, audit log."""
    started = time.monotonic()
    members = _read_tar(bundle)
    manifest = json.loads(members.get("manifest.json", b"{}"))
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise InputError.single(str(bundle), f"not a govcloud state backup (format {FORMAT} v{VERSION})",
                                code="bad-backup")
    settings.prepare()
    store = open_store(settings.state_dir, settings.backend_url)
    audit = AuditLog.at(settings.state_dir)
    existing = stack_names(settings)
    stored = audit.store.read_all()
    if existing or store.read_record().tenants or stored.lines:
        raise InputError.single(redact(settings.backend_url), "the backend is not empty: a restore never "
                                f"overwrites ({len(existing)} stack(s), {len(stored.lines)} audit line(s))",
                                code="backend-not-empty",
                                hint="restore into a new database or state folder, then point the runners at it")
    names = [str(name) for name in manifest.get("stacks", [])]
    with ThreadPoolExecutor(max_workers=EXPORT_PARALLEL) as pool:
        list(pool.map(lambda name: _import(settings, name, members), names))
    store.replace_record(record_from_document(json.loads(members["record.json"])))
    results: dict[str, dict[str, Any]] = json.loads(members.get("results.json", b"{}"))
    for kind, documents in results.items():
        for tenant, document in documents.items():
            store.put_result(kind, tenant, document)
    log = members.get("audit/audit.jsonl", b"")
    *lines, partial = log.split(b"\n")
    audit.store.replace_all(StoredLog(tuple(lines), partial, members.get("audit/audit.jsonl.head")))
    return BundleReport(bundle, tuple(names), len(store.read_record().tenants), len(lines),
                        sum(len(docs) for docs in results.values()), bundle.stat().st_size,
                        time.monotonic() - started, redact(settings.backend_url))


def _import(settings: EngineSettings, name: str, members: dict[str, bytes]) -> None:
    """Create the stack, give it back its config (its salt decrypts the exported secrets), import its state."""
    _engine(settings, "stack", "init", name, stack=name, operation="restore")
    config = members.get(f"config/Pulumi.{name}.yaml")
    if config is not None:
        (settings.config_dir / f"Pulumi.{name}.yaml").write_bytes(config)
    with _temporary(members[f"stacks/{name}.json"]) as path:
        _engine(settings, "stack", "import", "--stack", name, "--file", str(path), stack=name, operation="restore")


@contextmanager
def _temporary(data: bytes) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="govcloud-import-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def _write_tar(out: Path, members: list[tuple[str, bytes]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    os.fchmod(fd, 0o600)  # encrypted secrets and the trail: for the operators only
    with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
        now = time.time()
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), now, 0o600
            tar.addfile(info, io.BytesIO(data))
    Path(temporary).replace(out)


def _read_tar(bundle: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(bundle, mode="r:gz") as tar:
            found: dict[str, bytes] = {}
            for info in tar.getmembers():
                if info.isfile():
                    handle = tar.extractfile(info)
                    if handle is not None:
                        found[info.name] = handle.read()
            return found
    except (OSError, tarfile.TarError) as err:
        raise InputError.single(str(bundle), f"cannot be read as a backup bundle ({err})", code="bad-backup") from None
