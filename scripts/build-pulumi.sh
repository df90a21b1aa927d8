#!/usr/bin/env bash
# Build the pinned Pulumi CLI from its Go modules into a version-keyed user cache.
# Idempotent: does nothing when the binary for this version is already there; safe to run twice at once
# (a lock serialises builds of one version). Nothing is downloaded but Go modules from the module proxy.
# Usage: scripts/build-pulumi.sh [VERSION]   (prints the bin directory on stdout, progress on stderr)
# Exit codes: 0 built or present, 3 a module is not served, 4 no Go toolchain, 5 the build failed.
set -euo pipefail
VERSION="${1:-${GOVCLOUD_PULUMI_VERSION:-3.259.0}}"
CACHE="${GOVCLOUD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/govcloud}"
OUT="$CACHE/pulumi/$VERSION"
BIN="$OUT/bin"
log() { echo "[build-pulumi] $*" >&2; }
present() { [ -x "$BIN/pulumi" ] && "$BIN/pulumi" version 2>/dev/null | grep -qx "v$VERSION"; }

if present; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { log "no Go toolchain on PATH: install Go >= 1.24 (the engine is built from Go modules)"; exit 4; }
mkdir -p "$OUT/src" "$BIN"
exec 9>"$OUT/.build.lock"
flock 9                                  # another build of this version finishes first; then reuse it
if present; then echo "$BIN"; exit 0; fi

cd "$OUT/src"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"
export CGO_ENABLED=0
started=$(date +%s)
log "building Pulumi v$VERSION from Go modules into $BIN (cold build: about 4 minutes on 2 cores)"
if ! pkgjson=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$VERSION" 2>"$OUT/download.log"); then
  log "module github.com/pulumi/pulumi/pkg/v3@v$VERSION is not served by $(go env GOPROXY):"
  tail -n 5 "$OUT/download.log" >&2
  exit 3
fi
pkgdir=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])' <<<"$pkgjson")
# The wrapper repeats pkg's non-local replaces; sdk/v3 is pinned to the same version.
python3 - "$pkgdir/go.mod" "$VERSION" > go.mod <<'PY'
import re, sys
text = open(sys.argv[1]).read()
version = sys.argv[2]
go = re.search(r"^go (\S+)", text, re.M).group(1)
replaces = []
for block in re.findall(r"^replace \((.*?)^\)", text, re.M | re.S):
    replaces += [l.strip() for l in block.splitlines() if l.strip() and not l.strip().startswith("//")]
replaces += [m.strip() for m in re.findall(r"^replace ([^(\n].*)$", text, re.M)]
print("module govcloud.local/pulumibuild\n")
print(f"go {go}\n")
print(f"require (\n\tgithub.com/pulumi/pulumi/pkg/v3 v{version}\n\tgithub.com/pulumi/pulumi/sdk/v3 v{version}\n)\n")
for r in replaces:
    target = r.split("=>", 1)[1].strip()
    if target.startswith("."):
        continue  # local paths (../sdk) are replaced by the pinned module version
    print(f"replace {r}")
PY
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
go mod tidy -e >"$OUT/tidy.log" 2>&1 || true
if ! go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION" \
    -o "$BIN/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi 2>"$OUT/build.log"; then
  log "go build failed; the last lines of $OUT/build.log:"
  tail -n 20 "$OUT/build.log" >&2
  exit 5
fi
mv "$BIN/pulumi.tmp" "$BIN/pulumi"
log "built $BIN/pulumi in $(( $(date +%s) - started ))s"
echo "$BIN"
