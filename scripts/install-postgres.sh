#!/usr/bin/env bash
# PostgreSQL server binaries (Debian's `postgresql` package) for the shared-state backend's tests and demo.
# Idempotent: does nothing when /usr/lib/postgresql/<version>/bin/initdb is there. No cluster is created or started
# by the package (govcloud starts private servers of its own on 127.0.0.1: gcloud/state/server.py). initdb and
# the server refuse to run as root, so a root run needs the unprivileged `postgres` user: Debian's package makes
# it; it is made here if it is missing.
set -euo pipefail
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-postgres: PostgreSQL is missing; run as root (or: sudo apt-get install postgresql)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # no default cluster on port 5432: nothing here uses it
  mkdir -p /etc/postgresql-common
  [ -e /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" \
    > /etc/postgresql-common/createcluster.conf
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold postgresql >/dev/null
fi
if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi
ls -d /usr/lib/postgresql/*/bin | tail -n 1
