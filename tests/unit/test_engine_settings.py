"""Engine settings and toolchain discovery: the pure parts (environment in, paths and variables out)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import yaml

from gcloud.engine.errors import EngineMissing, MissingPassphrase
from gcloud.engine.settings import (
    OFFLINE_ENV,
    EngineSettings,
    checkout_dir,
    detached_project_file,
    find_passphrase,
    project_file,
    state_location,
)
from gcloud.engine.toolchain import LAUNCHER, Toolchain, cached_bin_dir, find_engine, sdk_version
from gcloud.localfs import cache_root


def _toolchain(tmp_path: Path) -> Toolchain:
    return Toolchain(pulumi=tmp_path / "engine" / "bin" / "pulumi", version="3.259.0", source="cache",
                     launcher=tmp_path / "plugins" / LAUNCHER)


def test_the_passphrase_comes_from_the_variable_first_then_the_file(tmp_path: Path) -> None:
    file = tmp_path / "pass"
    file.write_text("from-file\n")
    both = find_passphrase({"PULUMI_CONFIG_PASSPHRASE": "p1", "PULUMI_CONFIG_PASSPHRASE_FILE": str(file)})
    assert both.env == {"PULUMI_CONFIG_PASSPHRASE": "p1"}
    only_file = find_passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(file)})
    assert only_file.env == {"PULUMI_CONFIG_PASSPHRASE_FILE": str(file)}
    assert "p1" not in repr(both) and "from-file" not in repr(only_file)


@pytest.mark.parametrize("environ", [
    {},
    {"PULUMI_CONFIG_PASSPHRASE": ""},
    {"PULUMI_CONFIG_PASSPHRASE_FILE": "/nonexistent/passphrase"},
])
def test_no_usable_passphrase_is_a_clear_error(environ: dict[str, str]) -> None:
    with pytest.raises(MissingPassphrase) as caught:
        find_passphrase(environ)
    assert "PULUMI_CONFIG_PASSPHRASE" in str(caught.value) and caught.value.hint


def test_an_empty_passphrase_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(MissingPassphrase, match="is empty"):
        find_passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "empty")})


def test_state_defaults_to_the_project_and_honours_overrides(tmp_path: Path) -> None:
    assert state_location(tmp_path, {}) == (tmp_path / ".govcloud" / "state",
                                            (tmp_path / ".govcloud" / "state").as_uri())
    custom = tmp_path / "elsewhere"
    assert state_location(tmp_path, {"GOVCLOUD_STATE_DIR": str(custom)}) == (custom, custom.as_uri())
    bucket = {"PULUMI_BACKEND_URL": "s3://gov-state?endpoint=127.0.0.1:9000"}
    assert state_location(tmp_path, bucket)[1] == "s3://gov-state?endpoint=127.0.0.1:9000"


def test_engine_environment_is_offline_with_our_interpreter_and_plugins_first(tmp_path: Path) -> None:
    settings = EngineSettings.from_environment(
        tmp_path, environ={"PULUMI_CONFIG_PASSPHRASE": "pw", "PATH": "/usr/bin"}, toolchain=_toolchain(tmp_path),
        extra_env={"PYTHONPATH": "/src"})
    env = settings.env({"PATH": "/usr/bin"})
    for key, value in OFFLINE_ENV.items():
        assert env[key] == value
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_BACKEND_URL"] == (tmp_path / ".govcloud" / "state").as_uri()
    assert env["PULUMI_HOME"] == str(tmp_path / ".govcloud" / "state" / "home")
    assert env["PATH"].split(os.pathsep) == [str(tmp_path / "engine" / "bin"), str(tmp_path / "plugins"), "/usr/bin"]
    assert env["PULUMI_PYTHON_CMD"] == settings.python
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "pw"
    assert env["PYTHONPATH"] == "/src"
    assert "pw" not in repr(settings)


def test_settings_pickle_for_worker_processes_and_prepare_writes_the_project(tmp_path: Path) -> None:
    settings = EngineSettings.from_environment(tmp_path, environ={"PULUMI_CONFIG_PASSPHRASE": "pw"},
                                               toolchain=_toolchain(tmp_path))
    copy = pickle.loads(pickle.dumps(settings))
    assert copy.env({}) == settings.env({})
    copy.prepare()
    copy.prepare()  # idempotent
    detached = (settings.work_dir / "Pulumi.yaml").read_text()
    assert detached == detached_project_file(project_file().read_text())
    project = yaml.safe_load(detached)
    assert (project["name"], project["runtime"]) == ("govcloud", "python")
    assert not {"main", "stackConfigDir", "backend"} & set(project)  # an inline program; config beside the file
    assert settings.backend_dir == tmp_path / ".govcloud" / "state"
    assert settings.backend_dir.is_dir() and settings.pulumi_home.is_dir()


def test_the_cache_is_keyed_by_version_under_the_documented_roots(tmp_path: Path) -> None:
    assert cache_root({"GOVCLOUD_CACHE": str(tmp_path)}) == tmp_path
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "govcloud"
    assert cached_bin_dir("3.259.0", {"GOVCLOUD_CACHE": str(tmp_path)}) == tmp_path / "pulumi" / "3.259.0" / "bin"


def test_a_missing_engine_says_where_it_looked_and_how_to_fix_it(tmp_path: Path) -> None:
    environ = {"GOVCLOUD_CACHE": str(tmp_path / "cache"), "PATH": str(tmp_path / "empty")}
    with pytest.raises(EngineMissing) as caught:
        find_engine(environ)
    message = str(caught.value)
    assert f"Pulumi engine v{sdk_version()} not found" in message
    assert str(tmp_path / "cache" / "pulumi" / sdk_version() / "bin" / "pulumi") in message
    assert "scripts/bootstrap.sh" in caught.value.hint


def test_a_wrong_explicit_engine_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho v1.0.0\n")
    fake.chmod(0o755)
    with pytest.raises(EngineMissing, match=r"v1\.0\.0, not v"):
        find_engine({"GOVCLOUD_PULUMI_BIN": str(fake), "PATH": ""})


def test_the_checkout_state_runs_the_engine_at_the_root_pulumi_yaml(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # any current folder: the checkout's project and state are found all the same
    settings = EngineSettings.from_environment(environ={"PULUMI_CONFIG_PASSPHRASE": "pw"},
                                               toolchain=_toolchain(tmp_path))
    root = checkout_dir()
    assert root is not None and settings.work_dir == root and settings.project == root
    assert settings.state_dir == root / ".govcloud" / "state"
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    assert project["name"] == "govcloud" and project["runtime"] == "python"
    assert root / project["stackConfigDir"] == settings.config_dir  # Pulumi.<tenant>.yaml where the CLI looks
    assert project["backend"]["url"] == "file://.govcloud/state"
    assert (root / "gcloud" / "engine" / "Pulumi.yaml").read_text() == (root / "Pulumi.yaml").read_text()
