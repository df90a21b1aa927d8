#!/usr/bin/env bash
# Build the pinned Pulumi CLI from its Go modules into a version-keyed user cache.
# Idempotent: does nothing when the binary for this version is already there.
# Usage: scripts/build-pulumi.sh [VERSION]   (prints the bin directory on stdout)
set -euo pipefail
VERSION="${1:-${GOVCLOUD_PULUMI_VERSION:-3.259.0}}"
CACHE="${GOVCLOUD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/govcloud}"
OUT="$CACHE/pulumi/$VERSION"
BIN="$OUT/bin"
if [ -x "$BIN/pulumi" ] && "$BIN/pulumi" version 2>/dev/null | grep -qx "v$VERSION"; then
  echo "$BIN"; exit 0
fi
mkdir -p "$OUT/src" "$BIN"
cd "$OUT/src"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"
export CGO_ENABLED=0
log() { echo "[build-pulumi] $*" >&2; }
log "building Pulumi v$VERSION from Go modules into $BIN (cold build takes minutes)"
pkgdir=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
  || { log "module github.com/pulumi/pulumi/pkg/v3@v$VERSION is not served"; exit 3; }
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
go mod tidy -e >&2 2>build.log || true
go build -trimpath -tags osusergo,grpcnotrace \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION" \
  -o "$BIN/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
mv "$BIN/pulumi.tmp" "$BIN/pulumi"
log "built $BIN/pulumi"
echo "$BIN"
