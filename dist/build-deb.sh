#!/usr/bin/env bash
# Builds the Debian package of courtmesh with Debian's own dpkg-deb (no
# other tool needed; Kylin and UOS are Debian-like and install it with
# dpkg -i or apt):
#
#   bash dist/build-deb.sh [GOARCH]      # default: this machine's
#
# writes dist/out/courtmesh_<version>_<arch>.deb holding
#   /usr/bin/courtmesh                      the binary
#   /lib/systemd/system/courtmesh.service   dist/courtmesh.service, hardened
#   /usr/share/doc/courtmesh/               operations.md, protocol.md
# and maintainer scripts (dist/debian/) that create the `courtmesh` system
# user and the data directory /var/lib/courtmesh (courtmesh:courtmesh,
# 0700). The service is not enabled: a node runs only once `courtmesh init`
# and `courtmesh trust install` have made it a certified member (see
# docs/operations.md).
#
# The native build uses cgo when a C compiler is present (PKCS#11 tokens
# work); a cross build (arm64, loong64 from amd64) is static, without cgo,
# and says PKCS#11 is unavailable if a node.key names a token. Set
# CGO_ENABLED to choose. COURTMESH_DEB_VERSION overrides the version
# (default: node.Version with the commit's date and hash, e.g.
# 0.1.0~dev+git20261207.5ceb884).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

goarch=${1:-$(go env GOARCH)}
case "$goarch" in
amd64 | arm64 | loong64) debarch=$goarch ;; # Debian's names match Go's for these
*) echo "build-deb: unsupported GOARCH $goarch (amd64, arm64, loong64)" >&2; exit 2 ;;
esac

if [ -z "${CGO_ENABLED:-}" ]; then
  if [ "$goarch" = "$(go env GOHOSTARCH)" ] && command -v gcc >/dev/null 2>&1; then
    CGO_ENABLED=1
  else
    CGO_ENABLED=0
  fi
fi
export CGO_ENABLED GOOS=linux GOARCH=$goarch

if [ -n "${COURTMESH_DEB_VERSION:-}" ]; then
  version=$COURTMESH_DEB_VERSION
else
  base=$(sed -n 's/^var Version = "\(.*\)"$/\1/p' node/node.go)
  [ -n "$base" ] || { echo "build-deb: no Version in node/node.go" >&2; exit 1; }
  version="${base//-/\~}+git$(git log -1 --format=%cd --date=format:%Y%m%d).$(git rev-parse --short=7 HEAD)"
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then version="$version.dirty"; fi
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/share/doc/courtmesh"

go build -ldflags "-s -w -X courtmesh.dev/courtmesh/node.Version=$version" -o "$root/usr/bin/courtmesh" ./cmd/courtmesh
chmod 0755 "$root/usr/bin/courtmesh"

# The unit as in dist/, with the packaged binary's path.
sed 's#/usr/local/bin/courtmesh#/usr/bin/courtmesh#g' dist/courtmesh.service >"$root/lib/systemd/system/courtmesh.service"
chmod 0644 "$root/lib/systemd/system/courtmesh.service"
grep -q '^ExecStart=/usr/bin/courtmesh ' "$root/lib/systemd/system/courtmesh.service" ||
  { echo "build-deb: the unit's ExecStart does not name /usr/bin/courtmesh" >&2; exit 1; }
install -m 0644 docs/operations.md docs/protocol.md "$root/usr/share/doc/courtmesh/"

for s in postinst prerm postrm; do
  install -m 0755 "dist/debian/$s" "$root/DEBIAN/$s"
done

depends="adduser"
if go version -m "$root/usr/bin/courtmesh" | grep -q 'CGO_ENABLED=1'; then
  depends="$depends, libc6"
  pkcs11="PKCS#11 tokens supported (built with cgo)."
else
  pkcs11="Static build without cgo: PKCS#11 tokens are unavailable; keys are kept in files."
fi
cat >"$root/DEBIAN/control" <<CONTROL
Package: courtmesh
Version: $version
Architecture: $debarch
Maintainer: courtmesh project <courtmesh@courtmesh.dev>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: net
Priority: optional
Description: court-to-court mesh for enforcement case transfer (交叉执行)
 A court's node of courtmesh: a peer-to-peer mesh through which courts
 hand enforcement cases to one another, with signed records, sealed
 dossiers and a hash-chained audit log. The package installs the binary,
 the hardened systemd unit, the courtmesh system user and the data
 directory /var/lib/courtmesh; run courtmesh init as that user, get
 certified, then systemctl enable --now courtmesh.
 .
 $pkcs11
CONTROL

mkdir -p dist/out
out="dist/out/courtmesh_${version}_${debarch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
