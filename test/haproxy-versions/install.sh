#!/usr/bin/env bash
# Puts one HAProxy binary per supported series into a machine-wide cache, for
# the tests:  $HAPROXY_VERSIONS_DIR/<series>/haproxy  (2.6, 3.0, 3.2).
#
# Each one is Debian's own package, from the suite that ships that series:
# bookworm (2.6), trixie (3.0), sid (3.2). A series the machine's own haproxy
# already is gets a link to it; the others are fetched with `apt-get download`
# through an apt configuration of their own (own sources list, lists and
# cache under the cache directory; the system's apt state is never touched),
# unpacked with `dpkg-deb -x` together with the libraries they need, and
# pointed at those libraries with patchelf, so they run on any Debian.
#
# Idempotent: a series whose binary is there and runs is left alone, so a
# second run takes well under a second. Prints "<series> <path> <version>"
# per series.
set -euo pipefail

root=${HAPROXY_VERSIONS_DIR:-/var/cache/haproxy-sync-test}
# series:suite; the suite is where Debian ships that series.
series_suites=(2.6:bookworm 3.0:trixie 3.2:sid)
# The same mirror the machine's own apt sources name.
mirror=${HAPROXY_VERSIONS_MIRROR:-$(sed -n 's,^URIs: *\(https\?://[^ ]*/debian\)/\?$,\1,p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$root"
# Several checkouts may run this at once: one at a time.
exec 9>"$root/.lock"
flock 9

series_of() { # the "3.0" of "HAProxy version 3.0.11-1 ..."
  "$1" -v 2>/dev/null | sed -n 's/^HA-\?Proxy version \([0-9]*\.[0-9]*\)\..*/\1/p' | head -n1
}

version_of() {
  "$1" -v 2>/dev/null | sed -n 's/^HA-\?Proxy version \([^ ]*\).*/\1/p' | head -n1
}

need_tools() {
  local missing=()
  command -v patchelf >/dev/null || missing+=(patchelf)
  command -v dpkg-deb >/dev/null || missing+=(dpkg)
  command -v flock >/dev/null || missing+=(util-linux)
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# apt options that keep all state under $root/.apt/<suite>; nothing of the system's.
apt_opts() {
  local dir="$root/.apt/$1"
  echo -o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/sources.list.d" \
    -o "Dir::Etc::Preferences=$dir/preferences" -o "Dir::Etc::PreferencesParts=$dir/preferences.d" \
    -o "Dir::State=$dir/state" -o "Dir::State::Lists=$dir/state/lists" -o "Dir::State::status=$dir/state/status" \
    -o "Dir::Cache=$dir/cache" -o "Dir::Cache::Archives=$dir/cache/archives" \
    -o APT::Sandbox::User=root -o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Debug::NoLocking=true
}

# haproxy and every library it needs, transitively, in that suite.
packages_for() {
  # shellcheck disable=SC2046 # the options are words without spaces
  apt-cache $(apt_opts "$1") depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances haproxy \
    | grep -E '^(haproxy|lib[a-z0-9.+-]*|zlib1g)$' | sort -u
}

fetch() {
  local series=$1 suite=$2
  local dir="$root/.apt/$suite"
  mkdir -p "$dir/sources.list.d" "$dir/preferences.d" "$dir/state/lists/partial" "$dir/cache/archives/partial"
  : >"$dir/preferences"
  [ -f "$dir/state/status" ] || : >"$dir/state/status"
  echo "deb [signed-by=$keyring] $mirror $suite main" >"$dir/sources.list"
  # shellcheck disable=SC2046
  apt-get $(apt_opts "$suite") -qq update

  local work
  work=$(mktemp -d "$root/.new-$series.XXXXXX")
  chmod 755 "$work"
  local pkgs
  mapfile -t pkgs < <(packages_for "$suite")
  if [ ${#pkgs[@]} -eq 0 ]; then
    echo "install.sh: no haproxy package in $suite at $mirror" >&2
    exit 1
  fi
  # shellcheck disable=SC2046
  (cd "$work" && apt-get $(apt_opts "$suite") -qq download "${pkgs[@]}" >/dev/null)
  mkdir "$work/root"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
  rm -f "$work"/*.deb

  # The interpreter and rpath name the final place, where the directory is moved next.
  local final="$root/$series"
  local lib="$final/root/usr/lib/x86_64-linux-gnu"
  patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$lib" "$work/root/usr/sbin/haproxy"
  ln -s root/usr/sbin/haproxy "$work/haproxy"
  rm -rf "$final"
  mv "$work" "$final"

  local got
  got=$(series_of "$final/haproxy")
  if [ "$got" != "$series" ]; then
    echo "install.sh: $suite ships HAProxy ${got:-(does not run)}, not $series; $final/haproxy is that one" >&2
  fi
}

need_tools
system=$(command -v haproxy || true)
for entry in "${series_suites[@]}"; do
  series=${entry%%:*} suite=${entry#*:}
  bin="$root/$series/haproxy"
  if [ -x "$bin" ] && [ -n "$(series_of "$bin")" ]; then
    :
  elif [ -n "$system" ] && [ "$(series_of "$system")" = "$series" ]; then
    rm -rf "${root:?}/$series"
    mkdir -p "$root/$series"
    ln -s "$(readlink -f "$system")" "$bin"
  else
    fetch "$series" "$suite"
  fi
  echo "$series $bin $(version_of "$bin")"
done
