"""The OpenStack sandbox's rendered configuration: ports, files, commands, pins. No venv, no services."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from gcloud.sandbox.openstack_config import (
    ADMIN_CLOUD_NAME,
    CLOUD_NAME,
    EXTERNAL_PHYSNET,
    OpenStackLayout,
    Ports,
    render_ini,
    venv_argv,
)
from gcloud.sandbox.openstack_venv import CONSTRAINTS, DRIVER_DIST, REQUIREMENTS, data_dir, venv_key
from gcloud.sandbox.process import SandboxDirs

PASSWORD = "s3cret-Pw_for-tests"


def layout(tmp_path: Path, *, full: bool = False, offset: int = 0) -> OpenStackLayout:
    return OpenStackLayout(SandboxDirs(tmp_path), Ports.with_offset(offset), full, PASSWORD)


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_ports_shift_together_and_refuse_nonsense() -> None:
    base, shifted = Ports.with_offset(0), Ports.with_offset(10000)
    assert (base.keystone, base.neutron, base.nova, base.cinder, base.placement) == (5000, 9696, 8774, 8776, 8778)
    assert shifted.keystone == 15000 and shifted.placement == 18778 and shifted.epmd == base.epmd + 10000
    assert base.rabbitmq != 5672, "a system RabbitMQ (Debian starts one) holds the default port"
    ports = [getattr(shifted, name) for name in shifted.__dataclass_fields__]
    assert len(set(ports)) == len(ports)
    with pytest.raises(ValueError, match="offset"):
        Ports.with_offset(-1)
    with pytest.raises(ValueError, match="offset"):
        Ports.with_offset(40000)


def test_render_ini_writes_sections_in_order_and_refuses_multiline_values() -> None:
    text = render_ini({"DEFAULT": {"a": "1"}, "database": {"connection": "sqlite:///x.db"}})
    assert text == "[DEFAULT]\na = 1\n\n[database]\nconnection = sqlite:///x.db\n"
    with pytest.raises(ValueError, match="span lines"):
        render_ini({"x": {"k": "a\nb"}})


def test_every_config_file_lives_under_etc_and_parses(tmp_path: Path) -> None:
    files = layout(tmp_path).config_files()
    assert {p.relative_to(tmp_path / "etc").as_posix() for p in files} == {
        "keystone/keystone.conf", "neutron/neutron.conf", "neutron/ml2_conf.ini", "nova/nova.conf",
        "cinder/cinder.conf", "placement/placement.conf", "openstack/clouds.yaml",
    }
    for path, text in files.items():
        if path.suffix in (".conf", ".ini"):
            parse(text)


def test_every_database_is_sqlite_under_data_without_fsync(tmp_path: Path) -> None:
    files = layout(tmp_path).config_files()
    etc = tmp_path / "etc"
    seen = []
    for conf, section in (("keystone/keystone.conf", "database"), ("neutron/neutron.conf", "database"),
                          ("nova/nova.conf", "api_database"), ("nova/nova.conf", "database"),
                          ("cinder/cinder.conf", "database"), ("placement/placement.conf", "placement_database")):
        options = parse(files[etc / conf])[section]
        assert options["connection"].startswith(f"sqlite:///{tmp_path}/data/"), conf
        assert options["sqlite_synchronous"] == "false"
        seen.append(options["connection"])
    assert len(set(seen)) == len(seen), "two services share a SQLite file"


def test_services_authenticate_against_the_shifted_keystone_as_their_own_user(tmp_path: Path) -> None:
    lay = layout(tmp_path, offset=10000)
    files = lay.config_files()
    for service, user in (("neutron", "neutron"), ("nova", "nova"), ("cinder", "cinder"),
                          ("placement", "placement")):
        auth = parse(files[lay.conf(service)])["keystone_authtoken"]
        assert auth["auth_url"] == "http://127.0.0.1:15000"
        assert auth["username"] == user and auth["password"] == PASSWORD and auth["project_name"] == "service"
    api_users = {api.user for api in lay.apis}
    assert api_users == {"neutron", "nova", "cinder", "placement"}


def test_ml2_uses_the_driver_the_package_registers(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    ml2 = parse(lay.config_files()[lay.etc("neutron") / "ml2_conf.ini"])
    pyproject = tomllib.loads((data_dir() / DRIVER_DIST / "pyproject.toml").read_text())
    registered = pyproject["project"]["entry-points"]["neutron.ml2.mechanism_drivers"]
    assert ml2["ml2"]["mechanism_drivers"] in registered
    target = registered[ml2["ml2"]["mechanism_drivers"]]
    module, _, cls = target.partition(":")
    source = (data_dir() / DRIVER_DIST / Path(*module.split("."))).with_suffix(".py").read_text()
    assert f"class {cls}(" in source
    assert ml2["ml2_type_flat"]["flat_networks"] == EXTERNAL_PHYSNET


def test_transport_is_fake_in_api_only_mode_and_rabbit_on_loopback_in_full(tmp_path: Path) -> None:
    api_only, full = layout(tmp_path), layout(tmp_path, full=True, offset=100)
    for lay, expected in ((api_only, "fake://"), (full, f"rabbit://guest:guest@127.0.0.1:{5673 + 100}/")):
        files = lay.config_files()
        for service in ("neutron", "nova", "cinder"):
            assert parse(files[lay.conf(service)])["DEFAULT"]["transport_url"] == expected


def test_full_mode_adds_rabbitmq_and_the_rpc_services_in_a_safe_order(tmp_path: Path) -> None:
    apis = ["keystone", "neutron", "nova-api", "cinder-api", "placement"]
    assert layout(tmp_path).service_names() == apis
    names = layout(tmp_path, full=True).service_names()
    assert names == ["rabbitmq", *apis, "glance", "nova-conductor", "cinder-scheduler", "nova-scheduler",
                     "cinder-volume", "nova-compute"]
    workers = layout(tmp_path, full=True).workers
    nova_chain = [w.name for w in workers if w.database == "nova"]
    assert nova_chain == ["nova-conductor", "nova-scheduler", "nova-compute"]


def test_glance_only_in_full_mode_with_its_paste_file_and_stores_under_data(tmp_path: Path) -> None:
    api_only, full = layout(tmp_path), layout(tmp_path, full=True)
    assert "glance" not in api_only.paste_files() and full.glance_conf not in api_only.config_files()
    assert full.paste_files()["glance"] == ("glance-api-paste.ini",)
    glance = parse(full.config_files()[full.glance_conf])
    assert glance["paste_deploy"]["config_file"] == str(tmp_path / "etc" / "glance" / "glance-api-paste.ini")
    for store in ("fs", "os_glance_staging_store", "os_glance_tasks_store"):
        assert glance[store]["filesystem_store_datadir"].startswith(f"{tmp_path}/data/glance/")
    assert [api.catalog for api in full.apis if api.name == "glance"] == [(("image", "glance", ""),)]


def test_rpc_services_stop_quickly(tmp_path: Path) -> None:
    lay = layout(tmp_path, full=True)
    for service in ("nova", "cinder"):
        assert parse(lay.config_files()[lay.conf(service)])["DEFAULT"]["graceful_shutdown_timeout"] == "5"


def test_clouds_yaml_carries_govcloud_least_privilege_user_and_the_admin(tmp_path: Path) -> None:
    lay = layout(tmp_path, offset=10000)
    document = yaml.safe_load(lay.config_files()[lay.clouds_yaml])
    cloud, admin = document["clouds"][CLOUD_NAME], document["clouds"][ADMIN_CLOUD_NAME]
    assert (CLOUD_NAME, ADMIN_CLOUD_NAME) == ("gov-east", "gov-east-admin")
    assert cloud["auth"]["auth_url"] == admin["auth"]["auth_url"] == "http://127.0.0.1:15000/v3"
    # govcloud's user is domain-scoped (a domain manager), never the admin, and its password is not the admin's
    assert cloud["auth"]["username"] == "govcloud" and cloud["auth"]["domain_name"] == "Default"
    assert "project_name" not in cloud["auth"] and cloud["auth"]["password"] not in ("", PASSWORD)
    assert admin["auth"]["username"] == "admin" and admin["auth"]["password"] == PASSWORD
    assert cloud["region_name"] == "RegionOne" and cloud["identity_api_version"] == 3


def test_gunicorn_binds_loopback_only_and_has_no_control_socket(tmp_path: Path) -> None:
    lay = layout(tmp_path, offset=7)
    for api in (lay.keystone, *lay.apis):
        argv = lay.gunicorn_argv(api)
        assert argv[argv.index("--bind") + 1] == f"127.0.0.1:{api.port}"
        assert "--no-control-socket" in argv and argv[-1] == "govcloud_wsgi:application"
        assert lay.endpoint(api.name).startswith(f"http://127.0.0.1:{api.port}")


def test_shim_environment_names_the_service_config(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    envs = {api.name: lay.api_env(api) for api in (lay.keystone, *lay.apis)}
    assert envs["keystone"]["OS_KEYSTONE_CONFIG_DIR"] == str(tmp_path / "etc" / "keystone")
    assert envs["neutron"]["OS_NEUTRON_CONFIG_FILES"] == "neutron.conf;ml2_conf.ini"
    assert envs["cinder-api"]["GOVCLOUD_WSGI_ARGV"] == f'["--config-file", "{lay.conf("cinder")}"]'
    assert {env["GOVCLOUD_WSGI_MODULE"] for env in envs.values()} == {
        "keystone.wsgi.api", "neutron.wsgi.api", "nova.wsgi.osapi_compute", "cinder.wsgi.api",
        "placement.wsgi.api"}


def test_no_password_appears_in_any_command_line(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    steps = [*lay.keystone_init(), *lay.keystone_keys(), *(s for v in lay.service_inits().values() for s in v)]
    argvs = [step.argv for step in steps] + [tuple(lay.gunicorn_argv(a)) for a in (lay.keystone, *lay.apis)]
    argvs += [worker.argv for worker in layout(tmp_path, full=True).workers]
    assert not [argv for argv in argvs if any(PASSWORD in arg for arg in argv)]
    bootstrap = [s for s in lay.keystone_init() if "bootstrap" in s.argv]
    assert bootstrap[0].env == {"OS_BOOTSTRAP_PASSWORD": PASSWORD}


def test_password_is_kept_out_of_the_layout_repr(tmp_path: Path) -> None:
    assert PASSWORD not in repr(layout(tmp_path))


def test_commands_resolve_against_the_venv(tmp_path: Path) -> None:
    assert venv_argv(tmp_path / "bin", ("nova-manage", "db", "sync")) == [
        str(tmp_path / "bin" / "nova-manage"), "db", "sync"]


def test_db_inits_cover_every_api_and_the_neutron_schema_stamps_heads(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    inits = lay.service_inits()
    assert {api.component for api in lay.apis} == set(inits) - {"glance"}
    assert {api.component for api in layout(tmp_path, full=True).apis} == set(inits)
    [neutron] = inits["neutron"]
    assert neutron.argv[0] == "python" and "create_all" in neutron.argv[2] and "'stamp', 'heads'" in neutron.argv[2]
    compile(neutron.argv[2], "<neutron-schema>", "exec")
    assert [s.argv[3:5] for s in inits["nova"]] == [
        ("api_db", "sync"), ("cell_v2", "map_cell0"), ("db", "sync"), ("cell_v2", "create_cell")]


# --- pins and the venv key ------------------------------------------------------------------------------------


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (data_dir() / CONSTRAINTS).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9][0-9A-Za-z.\-+]*)", line.strip())
        assert match, f"not an exact pin: {line!r}"
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        assert name not in pins, f"pinned twice: {name}"
        pins[name] = match.group(2)
    return pins


def test_constraints_pin_every_requirement_exactly() -> None:
    pins = _pins()
    for requirement in (*REQUIREMENTS, "pip", "setuptools", "neutron-lib", "oslo-db", "sqlalchemy"):
        assert requirement in pins, requirement
    assert pins["keystone"] == "30.0.0" and pins["neutron"] == "29.0.0" and pins["nova"] == "34.0.0"


def test_venv_key_follows_constraints_driver_requirements_and_python(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / DRIVER_DIST / DRIVER_DIST).mkdir(parents=True)
    (data / CONSTRAINTS).write_text("keystone==30.0.0\n")
    driver = data / DRIVER_DIST / DRIVER_DIST / "driver.py"
    driver.write_text("x = 1\n")
    key = venv_key(data, python="3.11")
    assert key == venv_key(data, python="3.11") and len(key) == 16
    assert venv_key(data, python="3.12") != key
    assert venv_key(data, ("keystone",), python="3.11") != key
    (data / DRIVER_DIST / DRIVER_DIST / "__pycache__").mkdir()
    (data / DRIVER_DIST / DRIVER_DIST / "__pycache__" / "driver.pyc").write_bytes(b"junk")
    assert venv_key(data, python="3.11") == key, "bytecode caches must not change the key"
    driver.write_text("x = 2\n")
    assert venv_key(data, python="3.11") != key
    driver.write_text("x = 1\n")
    (data / CONSTRAINTS).write_text("keystone==30.0.1\n")
    assert venv_key(data, python="3.11") != key


def test_wsgi_shim_resets_argv_and_imports_the_named_application(tmp_path: Path) -> None:
    (tmp_path / "fake_service.py").write_text(
        "import sys\ndef application(environ, start_response):\n    return sys.argv\n")
    shim = data_dir() / "wsgi" / "govcloud_wsgi.py"
    code = (f"import sys; sys.argv = ['gunicorn', '--bind', '127.0.0.1:1']; sys.path[:0] = [{str(tmp_path)!r}, "
            f"{str(shim.parent)!r}]\nimport govcloud_wsgi\nprint(govcloud_wsgi.application(None, None))")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "GOVCLOUD_WSGI_MODULE": "fake_service",
           "GOVCLOUD_WSGI_ARGV": '["--config-file", "c"]'}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['gunicorn', '--config-file', 'c']"
