#!/usr/bin/env bash
# The headless browser the report's browser test drives: Debian's chromium and chromium-driver, plus a CJK
# font so screenshots show the Chinese names. Idempotent: does nothing when both binaries and a Chinese font
# are there; otherwise installs them with apt-get
# (root, or sudo when there is one). Progress on stderr only.
set -euo pipefail
log() { echo "[install-browser] $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
cjk_font() { have fc-list && [ -n "$(fc-list :lang=zh family 2>/dev/null | head -n 1)" ]; }
if have chromium && have chromedriver && cjk_font; then
  exit 0
fi
if ! have apt-get; then
  log "chromium and chromedriver are missing and there is no apt-get: install them by hand"
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo -n"; else log "not root and no sudo: cannot install chromium"; exit 1; fi
fi
log "installing chromium, chromium-driver and a CJK font with apt-get (log: /tmp/install-browser.log)"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver \
       fonts-wqy-zenhei fontconfig; } \
    >/tmp/install-browser.log 2>&1; then
  log "apt-get failed; the last lines of /tmp/install-browser.log:"
  tail -n 25 /tmp/install-browser.log >&2
  exit 1
fi
have chromium && have chromedriver || { log "installed, but chromium or chromedriver is still not on PATH"; exit 1; }
log "chromium $(chromium --version 2>/dev/null | awk '{print $2}') and chromedriver ready"
