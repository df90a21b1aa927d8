"""WSGI shim for the sandbox's OpenStack APIs under gunicorn (copied into the sandbox's etc/wsgi/).

Every OpenStack service parses `sys.argv` with oslo.config inside its app factory and exits on gunicorn's own
options (`--bind ...`), so the worker crash-loops. This shim resets argv to what the service expects, taken
from GOVCLOUD_WSGI_ARGV (a JSON list), and imports `application` from GOVCLOUD_WSGI_MODULE. Config file
locations reach the services through their own environment variables (OS_KEYSTONE_CONFIG_FILES, ...).

It also makes SQLite transactions wait for each other instead of failing. oslo.db opens them with a deferred
`BEGIN`; when two request threads read and then write, the second one's upgrade to a write lock fails at once
with "database is locked" (a stale WAL snapshot never waits for the busy timeout), and the API answers 500.
Under a parallel apply Neutron did so hundreds of times a minute. `BEGIN IMMEDIATE` takes the write lock up
front, so a transaction waits (up to the busy timeout) for the one before it.

GOVCLOUD_WSGI_WARM_UP (`module:function`, optional) is called once after the app is built, before the worker
serves: Neutron's and Cinder's policy enforcers, built lazily by the first request, are not thread-safe to build
(see ApiService.warm_up in gcloud/sandbox/openstack_config.py).
"""

import importlib
import json
import os
import sqlite3
import sys
from typing import Any

BUSY_TIMEOUT_MS = 30000


def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _begin_immediate(connection: Any) -> None:
    # Class-level listeners run before oslo.db's per-engine one, which skips its own BEGIN on this marker.
    if connection.dialect.name == "sqlite" and "in_transaction" not in connection.info:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.info["in_transaction"] = True


def _immediate_sqlite_transactions() -> None:
    try:
        import sqlalchemy
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool
    except ImportError:  # a service without a database
        return
    sqlalchemy.event.listen(Pool, "connect", _busy_timeout)
    sqlalchemy.event.listen(Engine, "begin", _begin_immediate)


_immediate_sqlite_transactions()
sys.argv = [sys.argv[0], *json.loads(os.environ.get("GOVCLOUD_WSGI_ARGV", "[]"))]
application = importlib.import_module(os.environ["GOVCLOUD_WSGI_MODULE"]).application
_WARM_UP = os.environ.get("GOVCLOUD_WSGI_WARM_UP", "")
if _WARM_UP:
    _module, _function = _WARM_UP.split(":", 1)
    getattr(importlib.import_module(_module), _function)()
