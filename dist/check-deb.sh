#!/usr/bin/env bash
# Installs a courtmesh .deb on this machine (as root) and checks it as court
# IT would use it, then purges it:
#
#   bash dist/check-deb.sh dist/out/courtmesh_<version>_<arch>.deb
#
# 1. dpkg -i; the binary, the hardened unit, the courtmesh user and the
#    private data directory are in place;
# 2. as the courtmesh user: courtmesh init; a throwaway national root
#    (made here as root) challenges, certifies and bundles the node;
#    courtmesh trust install;
# 3. courtmesh doctor on the installed layout must find no problem, first
#    with the node stopped, then with the node running as the unit runs it
#    (its ExecStart, as User=courtmesh);
# 4. dpkg --purge, then the data directory and user, which purge keeps on
#    purpose, are removed by hand.
# It refuses to run where courtmesh is already installed or
# /var/lib/courtmesh exists: it never touches a real node.
set -euo pipefail
deb=$(realpath "$1")
data=/var/lib/courtmesh
[ "$(id -u)" = 0 ] || { echo "check-deb: run as root" >&2; exit 1; }
if dpkg -s courtmesh >/dev/null 2>&1 || [ -e "$data" ]; then
  echo "check-deb: courtmesh is installed or $data exists on this machine; refusing to touch it" >&2
  exit 1
fi

work=$(mktemp -d)
chmod 0755 "$work"
node_pid=
cleanup() {
  set +e
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null; fi
  if dpkg -s courtmesh >/dev/null 2>&1; then dpkg --purge courtmesh >/dev/null; fi
  rm -rf "$data" "$work"
  if getent passwd courtmesh >/dev/null; then deluser --system courtmesh >/dev/null 2>&1; fi
  if getent group courtmesh >/dev/null; then delgroup --system courtmesh >/dev/null 2>&1; fi
}
trap cleanup EXIT
fail() { echo "check-deb: $*" >&2; exit 1; }

echo "-- dpkg -i $(basename "$deb")"
dpkg -i "$deb"
dpkg -s courtmesh | grep -E '^(Version|Architecture|Depends):'

echo "-- the installed layout"
[ -x /usr/bin/courtmesh ] || fail "/usr/bin/courtmesh missing"
getent passwd courtmesh | grep -q ":$data:/usr/sbin/nologin\$" || fail "courtmesh user: $(getent passwd courtmesh)"
[ "$(stat -c '%U:%G %a' "$data")" = "courtmesh:courtmesh 700" ] || fail "$data is $(stat -c '%U:%G %a' "$data"), want courtmesh:courtmesh 700"
unit=/lib/systemd/system/courtmesh.service
for line in User=courtmesh Group=courtmesh "ExecStart=/usr/bin/courtmesh run --data $data" NoNewPrivileges=true \
  ProtectSystem=strict ProtectHome=true PrivateTmp=true "ReadWritePaths=$data" UMask=0077; do
  grep -qxF "$line" "$unit" || fail "$unit lacks $line"
done
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
fi
echo "binary, unit, user and data directory in place"

as_node() { runuser -u courtmesh -- "$@"; }

echo "-- initialise and certify the node"
as_node courtmesh init --data "$data" >/dev/null
courtmesh ca init --dir "$work/root" >/dev/null
courtmesh ca challenge --dir "$work/root" --identity "$data/identity.json" --out "$work/challenge.json" >/dev/null
chmod 0644 "$work/challenge.json"
as_node courtmesh identity prove --data "$data" --challenge "$work/challenge.json" >/dev/null
courtmesh ca issue --dir "$work/root" --identity "$data/identity.json" --code 京0105 --roles court
courtmesh ca bundle --dir "$work/root" --out "$work/bundle.pb"
install -m 0644 "$work/root/root.cert" "$work/root.cert"
chmod 0644 "$work/bundle.pb"
as_node courtmesh trust install --data "$data" --root "$work/root.cert" --bundle "$work/bundle.pb"

echo "-- courtmesh doctor, node stopped"
as_node courtmesh doctor --data "$data"

echo "-- courtmesh doctor, node running as the unit runs it"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
# shellcheck disable=SC2086 # ExecStart is a command line
runuser -u courtmesh -- $exec_start >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 60); do
  if as_node courtmesh status --data "$data" >/dev/null 2>&1; then break; fi
  kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log"; fail "the node exited"; }
  sleep 0.5
done
out=$(as_node courtmesh doctor --data "$data") || { echo "$out"; cat "$work/node.log"; fail "doctor found problems"; }
echo "$out"
grep -q "node running" <<<"$out" || { cat "$work/node.log"; fail "doctor did not see the running node"; }
kill "$node_pid"
wait "$node_pid" || true
node_pid=

echo "-- dpkg --purge"
dpkg --purge courtmesh
[ ! -e /usr/bin/courtmesh ] && [ ! -e "$unit" ] || fail "purge left the binary or the unit"
echo "check-deb: ok"
