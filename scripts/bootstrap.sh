#!/usr/bin/env bash
# One idempotent set-up step for a fresh machine: the project venv, govcloud itself, and the pinned
# Pulumi engine (found on PATH at the pinned version, else built from Go modules into a user cache) with
# the launcher the engine starts Python dynamic providers through.
# Prints only the engine's bin directory on stdout; progress on stderr; skips every step already done.
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
  log "installing govcloud and its pinned dependencies into .venv (log: .venv/pip-install.log)"
  if ! .venv/bin/python -m pip install --disable-pip-version-check -e ".[dev]" >.venv/pip-install.log 2>&1; then
    log "pip install failed; the last lines of .venv/pip-install.log:"
    tail -n 25 .venv/pip-install.log >&2
    exit 1
  fi
  touch "$stamp"
fi
# The engine must be the version of the Pulumi SDK pinned in pyproject.toml (the Automation API talks to it).
PULUMI_VERSION=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("pulumi"))')
if [ -n "${GOVCLOUD_PULUMI_BIN:-}" ]; then
  # An explicit engine (the binary or its folder); govcloud checks its version and says so when it is wrong.
  if [ -d "$GOVCLOUD_PULUMI_BIN" ]; then bin="$GOVCLOUD_PULUMI_BIN"; else bin=$(dirname "$GOVCLOUD_PULUMI_BIN"); fi
elif command -v pulumi >/dev/null && pulumi version 2>/dev/null | grep -qx "v$PULUMI_VERSION"; then
  bin=$(dirname "$(command -v pulumi)")
else
  bin=$(scripts/build-pulumi.sh "$PULUMI_VERSION")
fi
# The launcher the engine starts Python dynamic providers through: written by govcloud itself, into the
# version-keyed cache (govcloud puts that folder on the engine's PATH), so its path and content exist once.
.venv/bin/python -m gcloud.engine.toolchain
echo "$bin"
