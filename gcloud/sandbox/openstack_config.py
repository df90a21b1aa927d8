"""What the OpenStack sandbox runs and the config files it writes: pure values, no effects.

Everything here is derived from one `OpenStackLayout` (state dir, ports, mode, password) so a unit test can
render every file without a venv. The settings are the measured ones of the shared sandbox guide.
"""

from __future__ import annotations

import grp
import hashlib
import hmac
import json
import os
import pwd
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gcloud.guardrails import LOCKED_ROLE, neutron_policy_file
from gcloud.passwords import complete
from gcloud.privileges import OPENSTACK_USER, PROVISIONER_ROLE, policy_file
from gcloud.sandbox.process import LOOPBACK, SandboxDirs

SANDBOX_PASSWORD_REGEX = r"^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])(?=.*[^A-Za-z0-9]).{12,}"
"""Keystone matches it with `re.match` (anchored at the start only), so it needs no `$`, which oslo.config would
read as a substitution."""
SANDBOX_PASSWORD_RULE = "12 characters or more, with upper- and lower-case letters, digits and signs"
CLOUD_NAME = "gov-east"
"""The clouds.yaml entry of govcloud's own user; the example platform.yaml names this cloud."""
ADMIN_CLOUD_NAME = "gov-east-admin"
"""The clouds.yaml entry of the cloud admin (platform.yaml's `cleanupCloud`)."""
REGION = "RegionOne"
SERVICE_PROJECT = "service"
EXTERNAL_NETWORK = "gov-extranet"
EXTERNAL_PHYSNET = "extranet"
EXTERNAL_CIDR = "172.24.4.0/24"
"""Where router gateways get their address (devstack's public range; outside the tenants' 10.16.0.0/12)."""
TENANT_ROLES: tuple[str, ...] = ("manager", "member", "reader", LOCKED_ROLE, PROVISIONER_ROLE)
"""Keystone roles the platform's role mapping names (admin -> manager, member, reader), and the marker role of
level-3 tenants' groups that the Neutron guardrails read."""
HOST = "govcloud-sandbox"


@dataclass(frozen=True)
class Ports:
    """Every TCP port the OpenStack sandbox listens on, shifted together by one offset."""

    keystone: int
    neutron: int
    nova: int
    cinder: int
    placement: int
    glance: int
    rabbitmq: int
    rabbitmq_dist: int
    epmd: int

    @classmethod
    def with_offset(cls, offset: int = 0) -> Ports:
        if not 0 <= offset <= 30000:
            raise ValueError(f"port offset must be between 0 and 30000, not {offset}")
        return cls(
            keystone=5000 + offset, neutron=9696 + offset, nova=8774 + offset, cinder=8776 + offset,
            placement=8778 + offset, glance=9292 + offset,
            # One above the Erlang/RabbitMQ defaults: a system RabbitMQ (Debian starts one on install) keeps its own.
            rabbitmq=5673 + offset, rabbitmq_dist=25673 + offset, epmd=4370 + offset,
        )


@dataclass(frozen=True)
class ApiService:
    """An OpenStack API served by gunicorn through the argv shim."""

    name: str
    component: str
    """The project it belongs to (keystone, neutron, nova, cinder, placement): names its config and DB init."""
    port: int
    wsgi_module: str
    config_env: Mapping[str, str]
    argv: tuple[str, ...] = ()
    health_path: str = "/"
    catalog: tuple[tuple[str, str, str], ...] = ()
    """(service type, service name, path appended to the base URL) registered in Keystone."""
    user: str | None = None
    """The service user Keystone knows it by (none for Keystone itself)."""
    warm_up: str = ""
    """`module:function` the shim calls once in each worker before it serves. Neutron and Cinder build their policy
    enforcer on the first request that checks a policy, and publish it before its default rules are registered:
    a second request thread meanwhile checks against the file's overrides alone, where `update_quota` and the
    rules the overrides name (`admin_only`, `sg_owner`) do not exist, so the admin's first calls of a parallel
    apply got 403 `rule:update_quota is disallowed by policy` (oslo.policy logged "Policies [...] reference a rule
    that is not defined" at the same moment). Built single-threaded before serving, the enforcer is whole."""

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class WorkerService:
    """An RPC service of --full mode (nova conductor/scheduler/compute, cinder scheduler/volume)."""

    name: str
    argv: tuple[str, ...]
    database: str
    """The SQLite database whose `services` table it registers in (one writer start at a time per file)."""


@dataclass(frozen=True)
class InitStep:
    """One DB-initialisation command (argv[0] names a venv binary, or `python` for the venv's interpreter)."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenStackLayout:
    """Where everything of one OpenStack sandbox lives and how it is wired; the source of every config file."""

    dirs: SandboxDirs
    ports: Ports
    full: bool
    password: str = field(repr=False)

    # --- paths -------------------------------------------------------------------------------------------
    def etc(self, service: str) -> Path:
        return self.dirs.etc / service

    def conf(self, service: str) -> Path:
        return self.etc(service) / f"{service}.conf"

    def db_path(self, name: str) -> Path:
        return self.dirs.data / f"{name}.db"

    def db_url(self, name: str) -> str:
        return f"sqlite:///{self.db_path(name)}"

    @property
    def glance_conf(self) -> Path:
        return self.etc("glance") / "glance-api.conf"

    @property
    def clouds_yaml(self) -> Path:
        return self.dirs.etc / "openstack" / "clouds.yaml"

    @property
    def wsgi_dir(self) -> Path:
        return self.dirs.etc / "wsgi"

    @property
    def auth_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.keystone}/v3"

    @property
    def transport_url(self) -> str:
        if self.full:
            return f"rabbit://guest:guest@{LOOPBACK}:{self.ports.rabbitmq}/"
        return "fake://"

    # --- services ----------------------------------------------------------------------------------------
    @property
    def keystone(self) -> ApiService:
        return ApiService(
            "keystone", "keystone", self.ports.keystone, "keystone.wsgi.api",
            {"OS_KEYSTONE_CONFIG_DIR": str(self.etc("keystone")), "OS_KEYSTONE_CONFIG_FILES": "keystone.conf"},
            health_path="/v3/",
        )

    @property
    def apis(self) -> tuple[ApiService, ...]:
        """The APIs other than Keystone, each with its catalog entries and service user (glance with --full)."""
        p = self.ports
        return (
            ApiService(
                "neutron", "neutron", p.neutron, "neutron.wsgi.api",
                {"OS_NEUTRON_CONFIG_DIR": str(self.etc("neutron")),
                 "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini"},
                catalog=(("network", "neutron", ""),), user="neutron", warm_up="neutron.policy:init",
            ),
            ApiService(
                "nova-api", "nova", p.nova, "nova.wsgi.osapi_compute", {"OS_NOVA_CONFIG_DIR": str(self.etc("nova"))},
                catalog=(("compute", "nova", "/v2.1"),), user="nova",
            ),
            ApiService(
                "cinder-api", "cinder", p.cinder, "cinder.wsgi.api", {},
                argv=("--config-file", str(self.conf("cinder"))),
                catalog=(("block-storage", "cinder", "/v3"), ("volumev3", "cinderv3", "/v3")), user="cinder",
                warm_up="cinder.policy:init",
            ),
            ApiService(
                "placement", "placement", p.placement, "placement.wsgi.api",
                {"OS_PLACEMENT_CONFIG_DIR": str(self.etc("placement"))},
                catalog=(("placement", "placement", ""),), user="placement",
            ),
            # --full only: nova needs an image service to boot (even from a volume, for its notifications).
            *((ApiService(
                "glance", "glance", p.glance, "glance.wsgi.api", {"OS_GLANCE_CONFIG_DIR": str(self.etc("glance"))},
                catalog=(("image", "glance", ""),), user="glance",
            ),) if self.full else ()),
        )

    @property
    def workers(self) -> tuple[WorkerService, ...]:
        """--full mode's RPC services, in the start order the guide found safe on SQLite."""
        if not self.full:
            return ()
        nova = ("--config-file", str(self.conf("nova")))
        cinder = ("--config-file", str(self.conf("cinder")))
        return (
            WorkerService("nova-conductor", ("nova-conductor", *nova), "nova"),
            WorkerService("cinder-scheduler", ("cinder-scheduler", *cinder), "cinder"),
            WorkerService("nova-scheduler", ("nova-scheduler", *nova), "nova"),
            WorkerService("cinder-volume", ("cinder-volume", *cinder), "cinder"),
            WorkerService("nova-compute", ("nova-compute", *nova), "nova"),
        )

    def service_names(self) -> list[str]:
        """Every process this layout runs, in start order."""
        names = ["rabbitmq"] if self.full else []
        names += [self.keystone.name, *(api.name for api in self.apis)]
        return names + [worker.name for worker in self.workers]

    def endpoint(self, name: str) -> str:
        """What `status` shows for a service: its URL, or the broker address."""
        if name == self.keystone.name:
            return self.auth_url
        for api in self.apis:
            if api.name == name:
                return api.base_url
        if name == "rabbitmq":
            return f"amqp://{LOOPBACK}:{self.ports.rabbitmq}"
        return "rpc"

    def gunicorn_argv(self, api: ApiService) -> list[str]:
        """gunicorn for one API (argv[0] is resolved against the venv by the caller)."""
        return [
            "gunicorn", "--chdir", str(self.wsgi_dir), "--bind", f"{LOOPBACK}:{api.port}",
            "--workers", "1", "--threads", "4", "--timeout", "120", "--graceful-timeout", "5",
            "--no-control-socket", "--name", f"govcloud-{api.name}", "govcloud_wsgi:application",
        ]

    def api_env(self, api: ApiService) -> dict[str, str]:
        """The environment the argv shim reads, plus the service's own config-location variables."""
        return {
            "GOVCLOUD_WSGI_MODULE": api.wsgi_module,
            "GOVCLOUD_WSGI_ARGV": json.dumps(list(api.argv)),
            "GOVCLOUD_WSGI_WARM_UP": api.warm_up,
            **api.config_env,
        }

    # --- DB initialisation -------------------------------------------------------------------------------
    def keystone_init(self) -> list[InitStep]:
        """Keystone's schema and admin (the bootstrap password travels in the environment, not in argv)."""
        manage = ("keystone-manage", "--config-file", str(self.conf("keystone")))
        url = self.auth_url + "/"
        return [
            InitStep((*manage, "db_sync")),
            InitStep(
                (*manage, "bootstrap", "--bootstrap-region-id", REGION, "--bootstrap-admin-url", url,
                 "--bootstrap-internal-url", url, "--bootstrap-public-url", url),
                {"OS_BOOTSTRAP_PASSWORD": self.password},
            ),
        ]

    def keystone_keys(self) -> list[InitStep]:
        """Token and credential key repositories: no DB involved, so they run beside `db_sync`."""
        user = pwd.getpwuid(os.getuid())
        owner = ("--keystone-user", user.pw_name, "--keystone-group", _group_name(user.pw_gid))
        manage = ("keystone-manage", "--config-file", str(self.conf("keystone")))
        return [InitStep((*manage, "fernet_setup", *owner)), InitStep((*manage, "credential_setup", *owner))]

    def service_inits(self) -> dict[str, list[InitStep]]:
        """The other services' DB inits; independent of each other and of Keystone, so they run in parallel."""
        neutron_confs = ("--config-file", str(self.conf("neutron")),
                         "--config-file", str(self.etc("neutron") / "ml2_conf.ini"))
        nova = ("nova-manage", "--config-file", str(self.conf("nova")))
        return {
            # neutron's alembic migrations cannot ALTER constraints on SQLite: build the schema from the models
            # (as neutron's own unit tests do), then stamp the migration heads (one process: imports cost 2 s).
            "neutron": [InitStep(("python", "-c", _NEUTRON_SCHEMA, self.db_url("neutron"), *neutron_confs))],
            "nova": [
                InitStep((*nova, "api_db", "sync")),
                InitStep((*nova, "cell_v2", "map_cell0", "--database_connection", self.db_url("nova_cell0"))),
                InitStep((*nova, "db", "sync")),
                InitStep((*nova, "cell_v2", "create_cell", "--name", "cell1")),
            ],
            "cinder": [InitStep(("cinder-manage", "--config-file", str(self.conf("cinder")), "db", "sync"))],
            "placement": [
                InitStep(("placement-manage", "--config-file", str(self.conf("placement")), "db", "sync")),
            ],
            "glance": [InitStep(("glance-manage", "--config-file", str(self.glance_conf), "db_sync"))],
        }

    def databases(self, service: str) -> list[Path]:
        """The SQLite files a service's init creates (switched to WAL before the service starts)."""
        names = {"keystone": ["keystone"], "neutron": ["neutron"], "nova": ["nova_api", "nova", "nova_cell0"],
                 "cinder": ["cinder"], "placement": ["placement"], "glance": ["glance"]}[service]
        return [self.db_path(name) for name in names]

    # --- files -------------------------------------------------------------------------------------------
    def config_files(self) -> dict[Path, str]:
        """Every config file the sandbox writes (paste files are copied from the venv separately)."""
        files = {
            self.conf("keystone"): self._keystone_conf(),
            self.conf("neutron"): self._neutron_conf(),
            self.etc("neutron") / "ml2_conf.ini": self._ml2_conf(),
            self.conf("nova"): self._nova_conf(),
            self.conf("cinder"): self._cinder_conf(),
            self.conf("placement"): self._placement_conf(),
            self.clouds_yaml: self.render_clouds_yaml(),
        }
        if self.full:
            files[self.glance_conf] = self._glance_conf()
        return files

    def paste_files(self) -> dict[str, tuple[str, ...]]:
        """Files each service's wheel ships under `<venv>/etc/<service>/` that its config points at."""
        files = {"neutron": ("api-paste.ini",), "nova": ("api-paste.ini",),
                 "cinder": ("api-paste.ini", "resource_filters.json")}
        if self.full:
            files["glance"] = ("glance-api-paste.ini",)
        return files

    @property
    def govcloud_password(self) -> str:
        """govcloud's own user's password, derived from the admin's so the sandbox keeps one secret file."""
        return complete(hmac.new(self.password.encode(), b"govcloud-user", hashlib.sha256).hexdigest())

    def render_clouds_yaml(self) -> str:
        """Two entries: `gov-east`, govcloud's least-privilege user (a domain manager, gcloud.privileges), which
        platform.yaml names, and `gov-east-admin`, the cloud admin, for the one call Neutron reserves to an admin
        (a destroyed project's default security group) and for tests that look at the cloud from outside."""
        common = {"auth_url": self.auth_url, "user_domain_name": "Default"}
        document = {"clouds": {
            CLOUD_NAME: {
                "auth": {**common, "username": OPENSTACK_USER, "password": self.govcloud_password,
                         "domain_name": "Default"},
                "region_name": REGION, "interface": "public", "identity_api_version": 3,
            },
            ADMIN_CLOUD_NAME: {
                "auth": {**common, "username": "admin", "password": self.password, "project_name": "admin",
                         "project_domain_name": "Default"},
                "region_name": REGION, "interface": "public", "identity_api_version": 3,
            },
        }}
        return yaml.safe_dump(document, sort_keys=False)

    def _db(self, name: str) -> dict[str, str]:
        # No fsync per commit: a sandbox need not survive power loss, and DB inits ran 2x slower with it.
        return {"connection": self.db_url(name), "sqlite_synchronous": "false"}

    def _authtoken(self, user: str, *, www: bool = True) -> dict[str, str]:
        section = {
            "www_authenticate_uri": f"http://{LOOPBACK}:{self.ports.keystone}",
            "auth_url": f"http://{LOOPBACK}:{self.ports.keystone}",
            "auth_type": "password", "project_domain_name": "Default", "user_domain_name": "Default",
            "project_name": SERVICE_PROJECT, "username": user, "password": self.password,
        }
        if not www:
            del section["www_authenticate_uri"]
            section["region_name"] = REGION
        return section

    def _keystone_conf(self) -> str:
        keys = self.etc("keystone")
        return render_ini({
            "DEFAULT": {},
            "database": self._db("keystone"),
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": str(keys / "fernet-keys")},
            "fernet_receipts": {"key_repository": str(keys / "fernet-keys")},
            "credential": {"key_repository": str(keys / "credential-keys")},
            # bcrypt's minimum cost: a sandbox has no password worth 0.3 s per login and per user created.
            # max_password_length = bcrypt's own limit, else Keystone logs a warning on every password check.
            "identity": {"password_hash_rounds": "4", "max_password_length": "72"},
            # Keystone's own cache, as every production Keystone runs it (there with memcached): without it each
            # token it validates re-reads the user's effective role assignments from the database.
            "cache": {"enabled": "true", "backend": "dogpile.cache.memory"},
            # A level-3 cloud's login rules (GB/T 22239-2019 8.1.4.1 a, b, 8.1.4.2 c; `govcloud doctor --mlps`
            # reads them): a user is locked for 30 minutes after 5 wrong passwords, a password lasts 90 days, has
            # 12 characters or more of all four classes, and an account unused for 90 days is disabled. All are
            # per user, no test guesses a password, and every password govcloud makes has the four classes.
            "security_compliance": {"lockout_failure_attempts": "5", "lockout_duration": "1800",
                                    "password_expires_days": "90", "password_regex": SANDBOX_PASSWORD_REGEX,
                                    "password_regex_description": SANDBOX_PASSWORD_RULE,
                                    "disable_user_account_days_inactive": "90"},
            "oslo_policy": {"policy_file": str(policy_file("keystone"))},
        })

    def _neutron_conf(self) -> str:
        data = self.dirs.data / "neutron"
        return render_ini({
            "DEFAULT": {
                "core_plugin": "ml2", "service_plugins": "router", "auth_strategy": "keystone",
                "transport_url": self.transport_url, "api_paste_config": str(self.etc("neutron") / "api-paste.ini"),
                "state_path": str(data), "notify_nova_on_port_status_changes": "false",
                "notify_nova_on_port_data_changes": "false",
            },
            "database": self._db("neutron"),
            "oslo_concurrency": {"lock_path": str(data / "lock")},
            "quotas": {"quota_driver": "neutron.db.quota.driver_nolock.DbQuotaNoLockDriver"},
            # govcloud's guardrails, the very file a real cloud installs (README: Neutron guardrails)
            "oslo_policy": {"policy_file": str(neutron_policy_file())},
            "keystone_authtoken": self._authtoken("neutron"),
        })

    def _ml2_conf(self) -> str:
        return render_ini({
            "ml2": {
                "type_drivers": "flat,vlan,vxlan", "project_network_types": "vxlan",
                "mechanism_drivers": "govcloud_agentless", "extension_drivers": "port_security",
            },
            "ml2_type_flat": {"flat_networks": EXTERNAL_PHYSNET},
            "ml2_type_vxlan": {"vni_ranges": "1:1000"},
            "securitygroup": {"enable_security_group": "true", "firewall_driver": "noop"},
        })

    def _nova_conf(self) -> str:
        data = self.dirs.data / "nova"
        return render_ini({
            "DEFAULT": {
                "transport_url": self.transport_url, "state_path": str(data), "my_ip": LOOPBACK, "host": HOST,
                # FakeDriverWithoutFakeNodes keeps its node identity in state_path, so a restart finds it again.
                "compute_driver": "fake.FakeDriverWithoutFakeNodes", **_QUICK_STOP,
            },
            "api": {"auth_strategy": "keystone"},
            "wsgi": {"api_paste_config": str(self.etc("nova") / "api-paste.ini")},
            "api_database": self._db("nova_api"),
            "database": self._db("nova"),
            "oslo_concurrency": {"lock_path": str(data / "lock")},
            "conductor": {"workers": "1"},
            "scheduler": {"workers": "1", "discover_hosts_in_cells_interval": "2"},
            "oslo_messaging_notifications": {"driver": "noop"},
            "keystone_authtoken": self._authtoken("nova"),
            "placement": self._authtoken("placement", www=False),
            "neutron": self._authtoken("neutron", www=False),
            "oslo_policy": {"policy_file": str(policy_file("nova"))},
        })

    def _cinder_conf(self) -> str:
        data = self.dirs.data / "cinder"
        return render_ini({
            "DEFAULT": {
                "transport_url": self.transport_url, "auth_strategy": "keystone", "state_path": str(data),
                "api_paste_config": str(self.etc("cinder") / "api-paste.ini"),
                "resource_query_filters_file": str(self.etc("cinder") / "resource_filters.json"),
                "my_ip": LOOPBACK, "host": HOST, "enabled_backends": "fake",
                # cinder-volume reports its pools at start (lost if the scheduler is not listening yet) and
                # then every periodic_interval (default 60 s + up to 60 s fuzz): report every 10 s instead.
                "periodic_interval": "10", "periodic_fuzzy_delay": "0", **_QUICK_STOP,
            },
            "fake": {
                "volume_driver": "cinder.tests.fake_driver.FakeLoggingVolumeDriver",
                "volume_backend_name": "fake",
                # deleted volumes are wiped whole (GB/T 22239-2019 8.1.4.10 b, 8.2.4.7 a): cinder-volume reads the
                # backend's own section (then [backend_defaults]), not [DEFAULT]
                "volume_clear": "zero", "volume_clear_size": "0",
            },
            "database": self._db("cinder"),
            "oslo_concurrency": {"lock_path": str(data / "lock")},
            "oslo_messaging_notifications": {"driver": "noop"},
            "keystone_authtoken": self._authtoken("cinder"),
            "oslo_policy": {"policy_file": str(policy_file("cinder"))},
        })

    def _glance_conf(self) -> str:
        data = self.dirs.data / "glance"
        return render_ini({
            "DEFAULT": {"enabled_backends": "fs:file"},
            "database": self._db("glance"),
            "paste_deploy": {"flavor": "keystone", "config_file": str(self.etc("glance") / "glance-api-paste.ini")},
            "glance_store": {"default_backend": "fs"},
            "fs": {"filesystem_store_datadir": str(data / "images")},
            "os_glance_staging_store": {"filesystem_store_datadir": str(data / "staging")},
            "os_glance_tasks_store": {"filesystem_store_datadir": str(data / "tasks")},
            "oslo_concurrency": {"lock_path": str(data / "lock")},
            "keystone_authtoken": self._authtoken("glance"),
        })

    def _placement_conf(self) -> str:
        return render_ini({
            "DEFAULT": {},
            "api": {"auth_strategy": "keystone"},
            "placement_database": self._db("placement"),
            "keystone_authtoken": self._authtoken("placement"),
        })


_QUICK_STOP = {"graceful_shutdown_timeout": "5"}
"""RPC services wait up to 60 s for in-flight work on SIGTERM; a sandbox's `down` should not."""

STATE_DIRS: tuple[str, ...] = (
    "neutron/lock", "nova/lock", "cinder/lock", "glance/lock", "glance/images", "glance/staging", "glance/tasks",
)
"""Folders under data/ the services expect to exist."""

_NEUTRON_SCHEMA = (
    "import sys, sqlalchemy\n"
    "from neutron.db.migration.models import head\n"
    "engine = sqlalchemy.create_engine(sys.argv[1])\n"
    "sqlalchemy.event.listen(engine, 'connect', lambda c, _: c.execute('PRAGMA synchronous=OFF'))\n"
    "head.get_metadata().create_all(engine)\n"
    # create_all skips the data migrations; one matters: the default security group rule templates (egress
    # allow-all on every new group, as on any real Neutron). Insert them as that migration does, from its data.
    "import importlib.util, pathlib, neutron.db.migration as migration\n"
    "seed_file = pathlib.Path(migration.__file__).parent / 'alembic_migrations/versions/2023.2/expand/"
    "c33da356b165_security_group_default_rules.py'\n"
    "spec = importlib.util.spec_from_file_location('sg_template_rules', seed_file)\n"
    "seed = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(seed)\n"
    "with engine.begin() as conn:\n"
    "    table = sqlalchemy.Table(seed.table_name, sqlalchemy.MetaData(), autoload_with=conn)\n"
    "    for rule in map(dict, seed.default_template_rules):\n"
    "        attr = conn.execute(sqlalchemy.insert(seed.standardattr).values(\n"
    "            description=rule.pop('description'), resource_type=seed.table_name))\n"
    "        conn.execute(sqlalchemy.insert(table).values(standard_attr_id=attr.inserted_primary_key[0], **rule))\n"
    "from neutron.db.migration.cli import main\n"
    "sys.argv = ['neutron-db-manage', *sys.argv[2:], 'stamp', 'heads']\n"
    "sys.exit(main())\n"
)


def render_ini(sections: Mapping[str, Mapping[str, str]]) -> str:
    """oslo.config INI text; values are written verbatim (they never contain newlines)."""
    lines: list[str] = []
    for name, options in sections.items():
        lines.append(f"[{name}]")
        for key, value in options.items():
            if "\n" in value:
                raise ValueError(f"[{name}] {key}: a config value cannot span lines")
            lines.append(f"{key} = {value}")
        lines.append("")
    return "\n".join(lines)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def venv_argv(venv_bin: Path, argv: Sequence[str]) -> list[str]:
    """Resolve argv[0] of a sandbox command against the venv's bin folder."""
    return [str(venv_bin / argv[0]), *argv[1:]]
