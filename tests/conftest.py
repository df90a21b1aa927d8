"""Shared test helpers: run the real CLI in-process and capture its exit code and output."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Call `govcloud ARGS` through its real entry point (the one error boundary included)."""
    from gcloud.cli.app import main

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["govcloud", *args])
        monkeypatch.delenv("GOVCLOUD_DEBUG", raising=False)
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """A copy of the example platform and tenants to break at will."""
    shutil.copy(REPO / "platform.yaml", tmp_path / "platform.yaml")
    shutil.copytree(REPO / "tenants", tmp_path / "tenants")
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)
