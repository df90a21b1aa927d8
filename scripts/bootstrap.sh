#!/usr/bin/env bash
# One idempotent set-up step for a fresh machine: the project venv, govcloud itself, and the pinned
# Pulumi engine (found on PATH at the pinned version, else built from Go modules into a user cache).
# Prints nothing but progress on stderr; skips every step already done.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[bootstrap] $*" >&2; }
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.govcloud-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing govcloud and its pinned dependencies into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
  touch "$stamp"
fi
PULUMI_VERSION=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("pulumi"))')
if command -v pulumi >/dev/null && pulumi version 2>/dev/null | grep -qx "v$PULUMI_VERSION"; then
  bin=$(dirname "$(command -v pulumi)")
else
  bin=$(scripts/build-pulumi.sh "$PULUMI_VERSION")
fi
# The engine launches Python dynamic providers through this plugin; it must use the project's interpreter.
launcher="$bin/pulumi-resource-pulumi-python"
if [ -w "$bin" ] && [ ! -x "$launcher" ]; then
  cat > "$launcher" <<'SH'
#!/bin/sh
# Pulumi's launcher for Python dynamic providers: runs `python -u -m pulumi.dynamic` with PULUMI_PYTHON_CMD.
exec "${PULUMI_PYTHON_CMD:-python3}" -u -m pulumi.dynamic "$@"
SH
  chmod +x "$launcher"
fi
echo "$bin"
