#!/usr/bin/env bash
# Builds a Debian 13 (trixie) root for the system test once, with debootstrap
# from the machine's own Debian mirror, and keeps it as a tarball in a cache
# shared by every checkout, so later runs only unpack it.  Prints its path.
#
# The root has systemd (booted by systemd-nspawn -b) and what the test drives
# from inside: etcd, curl, jq. HAProxy itself is pulled in by the package
# under test, as on a real host.
set -euo pipefail

cache=${HAPROXY_SYNC_TEST_CACHE:-/var/cache/haproxy-sync-test}
# Bump when the package list changes, so an old cache is not reused.
generation=2
tarball="$cache/trixie-root-$generation.tar"
mirror=$(sed -n 's,^URIs: *\(https\?://[^ ]*/debian\)/\?$,\1,p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,etcd-server,etcd-client,curl,jq,ca-certificates,iproute2,procps,haproxy

mkdir -p "$cache"
exec 9>"$cache/.trixie.lock"
flock 9
if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

work=$(mktemp -d "$cache/.trixie.XXXXXX")
trap 'rm -rf "$work"' EXIT
# haproxy comes in the cache so that the test does not download it on every run;
# the test still installs the .deb with apt, which resolves the dependency.
debootstrap --variant=minbase --include="$packages" trixie "$work/root" "$mirror" >&2
# The etcd and haproxy the packages start at boot would race the test's own.
chroot "$work/root" systemctl disable etcd.service haproxy.service >&2 || true
rm -f "$work/root/etc/machine-id" && : >"$work/root/etc/machine-id"
tar -C "$work/root" -cf "$work/root.tar" .
mv "$work/root.tar" "$tarball"
echo "$tarball"
