"""govcloud's own state as files in the state folder: one machine, or one shared disk.

Every file is rewritten atomically (temp file + rename) under a lock file, so concurrent runs on the machine never
lose each other's entries.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gcloud.localfs import file_lock
from gcloud.plan.record import RECORD_NAME, AppliedRecord, AppliedTenant, record_document, record_from_document

RESULTS_DIR = "results"


class LocalStateStore:
    """The record (`govcloud-applied.json`) and results (`results/<kind>.json`) in a state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def describe(self) -> str:
        return f"files in {self.state_dir}"

    # --- the applied record -----------------------------------------------------------------------------------

    def read_record(self) -> AppliedRecord:
        return record_from_document(_read_json(self.state_dir / RECORD_NAME) or {})

    def update_record(self, applied: Mapping[str, AppliedTenant | None]) -> AppliedRecord:
        with file_lock(self.state_dir / f"{RECORD_NAME}.lock"):
            current = dict(self.read_record().tenants)
            for name, entry in applied.items():
                if entry is None:
                    current.pop(name, None)
                else:
                    current[name] = entry
            record = AppliedRecord(current)
            _write_json(self.state_dir / RECORD_NAME, record_document(record))
            return record

    def replace_record(self, record: AppliedRecord) -> None:
        with file_lock(self.state_dir / f"{RECORD_NAME}.lock"):
            _write_json(self.state_dir / RECORD_NAME, record_document(record))

    # --- results ----------------------------------------------------------------------------------------------

    def _results_file(self, kind: str) -> Path:
        if not kind.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"result kind {kind!r} must be letters, digits, - or _")
        return self.state_dir / RESULTS_DIR / f"{kind}.json"

    def put_result(self, kind: str, tenant: str, document: Any) -> None:
        path = self._results_file(kind)
        with file_lock(path.with_name(path.name + ".lock")):
            results = _read_json(path) or {}
            results[tenant] = document
            _write_json(path, dict(sorted(results.items())))

    def get_results(self, kind: str) -> dict[str, Any]:
        return dict(_read_json(self._results_file(kind)) or {})

    def all_results(self) -> dict[str, dict[str, Any]]:
        folder = self.state_dir / RESULTS_DIR
        if not folder.is_dir():
            return {}
        return {path.stem: self.get_results(path.stem) for path in sorted(folder.glob("*.json"))}

    def replace_results(self, results: Mapping[str, Mapping[str, Any]]) -> None:
        for kind, documents in results.items():
            path = self._results_file(kind)
            with file_lock(path.with_name(path.name + ".lock")):
                _write_json(path, dict(sorted(documents.items())))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    Path(temp).replace(path)
