#!/usr/bin/env bash
# System test: the package from `npm run package`, installed on a booted
# Debian 13 (systemd as PID 1, in systemd-nspawn), set up by running the
# operator guide's own commands (the blocks marked <!-- system-test: NAME -->),
# then checked the way an admin would look at it.
#
# Prints TAP and a closing "# { total: N, pass: P, fail: F }" line.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
started=$(date +%s)

for tool in systemd-nspawn nsenter dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "system test: $tool is missing (apt-get install systemd-container util-linux dpkg)" >&2; exit 1; }
done

deb=$(npm run --silent package | tail -n 1)
tarball=$(bash test/system/trixie-root.sh)

work=$(mktemp -d /var/tmp/haproxy-sync-system.XXXXXX)
root="$work/root"
mkdir "$root"
tar -C "$root" -xf "$tarball"
cp "$deb" "$root/root/"
# debootstrap leaves /etc/hosts as the build machine's; the container's own names, as an installer writes them.
printf '127.0.0.1\tlocalhost\n127.0.1.1\tlb-1\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
echo lb-1 >"$root/etc/hostname"
nspawn_pid=
pid1=

cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --keep-unit/--register=no: this machine's PID 1 is not systemd, so there is no machined to register with.
systemd-nspawn -q -D "$root" -b --register=no --keep-unit --private-network >"$work/console.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 1 100); do
  # The container's init once it runs systemd: nspawn's first child may be a helper that forks it and exits.
  pid1=$(pgrep -P "$nspawn_pid" -x systemd | head -n 1 || true)
  [ -n "$pid1" ] && break
  sleep 0.1
done
[ -n "$pid1" ] || { echo "system test: the container did not start" >&2; cat "$work/console.log" >&2; exit 1; }

# A command inside the container, in all its namespaces, with a plain environment.
inside() { nsenter -t "$pid1" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
sh_inside() { inside bash -euo pipefail -c "$1"; }

for _ in $(seq 1 150); do
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 0.2
done

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ -z "${2:-}" ] || printf '  # %s\n' "${2//$'\n'/$'\n'  # }"; }
check() { # check "description" command...: passes when the command succeeds
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what" "$out"; fi
}
eventually() { # eventually SECONDS "description" command...
  local seconds=$1 what=$2 out deadline
  shift 2
  deadline=$(($(date +%s) + seconds))
  until out=$("$@" 2>&1); do
    if [ "$(date +%s)" -ge "$deadline" ]; then not_ok "$what" "$out"; return; fi
    sleep 0.3
  done
  ok "$what"
}

# The guide's block named $1, as the operator would paste it, run in /root.
guide_block() {
  awk -v name="$1" '
    $0 == "<!-- system-test: " name " -->" { armed = 1; next }
    armed && /^```sh$/ { inblock = 1; next }
    inblock && /^```$/ { exit }
    inblock { print }
  ' docs/operator-guide.md
}
run_guide() {
  local block
  block=$(guide_block "$1")
  if [ -z "$block" ]; then not_ok "guide step \"$1\" exists"; return 1; fi
  check "guide step \"$1\" runs as written" sh_inside "cd /root && $block"
}

echo "TAP version 14"
echo "# HAProxy: $(inside haproxy -v | sed -n 1p)"

# --- the world the guide assumes: an etcd, and pods at the addresses of its services file
inside systemctl start etcd
for address in 10.0.0.11 10.0.0.21; do inside ip addr add "$address/32" dev lo; done
debian_cfg=$(inside md5sum /etc/haproxy/haproxy.cfg)

# --- install, configure, start: the guide word for word
run_guide install
check "installing starts nothing and leaves haproxy.cfg alone" sh_inside "
  ! systemctl is-active --quiet haproxy-sync
  [ \"\$(md5sum /etc/haproxy/haproxy.cfg)\" = '$debian_cfg' ]"
# The pods run on the packaged Node, so they start once the package is there.
for pod in blue:10.0.0.11 green:10.0.0.21; do
  colour=${pod%%:*} address=${pod#*:}
  inside systemd-run --quiet --unit "pod-$colour" /opt/haproxy-sync/node/bin/node -e \
    "require('http').createServer((q, s) => s.end('$colour\n')).listen(8080, '$address')"
done
run_guide config
run_guide check
run_guide start
check "the unit is Type=notify: active only once the daemon said READY" sh_inside "
  [ \"\$(systemctl show -P Type haproxy-sync)\" = notify ]
  journalctl -t haproxy-sync -o cat | grep -q 'haproxy-sync started'"

# --- a vhost and a flip, with etcdctl
sh_inside "etcdctl put /haproxy-sync/vhosts/shop.example.com/spec '{\"backends\":{\"blue\":{\"service\":\"shop/web-blue\",\"port\":\"http\"},\"green\":{\"service\":\"shop/web-green\",\"port\":\"http\"}},\"default\":\"blue\"}'" >/dev/null
serves() { sh_inside "curl -sf -H 'Host: shop.example.com' http://127.0.0.1/ | grep -qx $1"; }
eventually 20 "a vhost written with etcdctl is served by HAProxy" serves blue
check "HAProxy's workers run as user haproxy" sh_inside "ps -C haproxy -o user= | grep -qx haproxy"
check "the config HAProxy had is kept aside, and the log says where" sh_inside "
  [ \"\$(md5sum < /etc/haproxy/haproxy.cfg.before-haproxy-sync)\" = \"\$(echo '$debian_cfg' | cut -d' ' -f1)  -\" ]
  journalctl -t haproxy-sync -o cat | grep -q haproxy.cfg.before-haproxy-sync"
sh_inside "etcdctl put /haproxy-sync/vhosts/shop.example.com/active green" >/dev/null
eventually 20 "a flip with etcdctl put is served" serves green

# --- HAProxy reloaded and restarted underneath
inside systemctl reload haproxy
eventually 20 "systemctl reload haproxy: still served" serves green
inside systemctl restart haproxy
eventually 30 "systemctl restart haproxy: served again" serves green
check "haproxy-sync stayed up through both" inside systemctl is-active haproxy-sync

# --- confinement
score=$(inside systemd-analyze security haproxy-sync 2>/dev/null | sed -n 's/.*Overall exposure level for haproxy-sync.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security rates the unit at most 2.5 (got ${score:-nothing})" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.5) }'
daemon_pid=$(inside systemctl show -P MainPID haproxy-sync)
writable=()
for path in / /etc /etc/haproxy-sync /usr /opt/haproxy-sync /var /var/lib /var/log /run /run/haproxy /srv /boot /root; do
  if inside nsenter -t "$daemon_pid" -m sh -c "touch '$path/.haproxy-sync-probe' && rm -f '$path/.haproxy-sync-probe'" 2>/dev/null; then writable+=("$path"); fi
done
check "nothing is writable for the daemon outside its paths (writable: ${writable[*]:-none})" test ${#writable[@]} -eq 0
for path in /etc/haproxy /etc/haproxy/maps /var/lib/haproxy-sync; do
  check "$path is writable for the daemon" inside nsenter -t "$daemon_pid" -m sh -c "touch '$path/.haproxy-sync-probe' && rm -f '$path/.haproxy-sync-probe'"
done

# --- logs
check "the journal holds one JSON object per line under the identifier haproxy-sync" sh_inside "journalctl -t haproxy-sync -o cat | jq -e . >/dev/null"
inside systemctl stop etcd
eventually 30 "an injected error (etcd stopped) shows in journalctl -p err" sh_inside "journalctl -t haproxy-sync -p err -o cat | grep -q ETCD_UNREACHABLE"
inside systemctl start etcd
eventually 30 "etcd back: the recovery is logged at info with the outage's length" sh_inside "journalctl -t haproxy-sync -p info -o cat | grep -q 'etcd source recovered after'"

# --- watchdog: a stopped daemon is restarted by systemd (WatchdogSec made short for the test)
sh_inside "mkdir -p /run/systemd/system/haproxy-sync.service.d && printf '[Service]\nWatchdogSec=4s\n' >/run/systemd/system/haproxy-sync.service.d/watchdog.conf && systemctl daemon-reload && systemctl restart haproxy-sync"
before=$(inside systemctl show -P MainPID haproxy-sync)
inside kill -STOP "$before"
eventually 30 "kill -STOP past WatchdogSec: systemd restarts the daemon" sh_inside "
  pid=\$(systemctl show -P MainPID haproxy-sync); [ \"\$pid\" != 0 ] && [ \"\$pid\" != $before ] && systemctl is-active --quiet haproxy-sync"
eventually 20 "and it serves again" serves green

# --- stop
stop_started=$(date +%s%N)
check "systemctl stop succeeds" inside systemctl stop haproxy-sync
stop_ms=$((($(date +%s%N) - stop_started) / 1000000))
check "and takes at most 5 s (took $stop_ms ms)" test "$stop_ms" -le 5000
check "the daemon exited 0" sh_inside "[ \"\$(systemctl show -P ExecMainStatus haproxy-sync)\" = 0 ]"
check "its node key is gone" sh_inside "[ -z \"\$(etcdctl get --prefix --keys-only /haproxy-sync/nodes/)\" ]"

# --- purge
check "apt purge succeeds" inside apt-get purge -y -q haproxy-sync
check "purge leaves nothing of haproxy-sync behind" sh_inside "
  for p in /opt/haproxy-sync /etc/haproxy-sync /var/lib/haproxy-sync /usr/bin/haproxy-sync /usr/lib/systemd/system/haproxy-sync.service /usr/lib/systemd/system/haproxy.service.d/haproxy-sync.conf /etc/haproxy/maps /etc/haproxy/haproxy.cfg.before-haproxy-sync; do
    if [ -e \$p ]; then echo \"left: \$p\"; exit 1; fi
  done
  ! dpkg -l haproxy-sync 2>/dev/null | grep -q '^ii'"
check "and HAProxy has its config from before" sh_inside "[ \"\$(md5sum /etc/haproxy/haproxy.cfg)\" = '$debian_cfg' ]"

echo "1..$n"
echo "# system test took $(($(date +%s) - started)) s"
echo "# { total: $n, pass: $((n - failed)), fail: $failed }"
[ "$failed" -eq 0 ]
