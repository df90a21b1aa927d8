"""WSGI shim for the sandbox's OpenStack APIs under gunicorn (copied into the sandbox's etc/wsgi/).

Every OpenStack service parses `sys.argv` with oslo.config inside its app factory and exits on gunicorn's own
options (`--bind ...`), so the worker crash-loops. This shim resets argv to what the service expects, taken
from GOVCLOUD_WSGI_ARGV (a JSON list), and imports `application` from GOVCLOUD_WSGI_MODULE. Config file
locations reach the services through their own environment variables (OS_KEYSTONE_CONFIG_FILES, ...).
"""

import importlib
import json
import os
import sys

sys.argv = [sys.argv[0], *json.loads(os.environ.get("GOVCLOUD_WSGI_ARGV", "[]"))]
application = importlib.import_module(os.environ["GOVCLOUD_WSGI_MODULE"]).application
