#!/usr/bin/env bash
# Builds dist/haproxy-sync_<version>_amd64.deb with Debian's own dpkg-deb:
# the application with its production dependencies and its own Node.js (the
# binary of the pinned `node` npm package) under /opt/haproxy-sync, so the
# host needs neither Node nor npm nor the registry.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
here=src/package/debian

# Set DEB_MAINTAINER to the name and address of whoever builds and ships the package.
maintainer=${DEB_MAINTAINER:-haproxy-sync maintainers <haproxy-sync@localhost>}
version=$(node -p 'require("./package.json").version')
arch=amd64
node_bin=node_modules/node/bin/node
[ -x "$node_bin" ] || { echo "package: $node_bin missing; run npm ci first" >&2; exit 1; }
node_version=$("$node_bin" --version)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
app="$root/opt/haproxy-sync"
mkdir -p "$app" "$root/usr/bin" "$root/usr/lib/systemd/system/haproxy.service.d" \
  "$root/etc/haproxy-sync" "$root/usr/share/doc/haproxy-sync" "$root/usr/share/lintian/overrides" "$root/DEBIAN"

# The application: what the daemon runs, nothing of the tests.
cp -r bin src templates package.json package-lock.json "$app/"
rm -rf "$app/src/package" "$app/src/demo"
mkdir -p "$app/docs" && cp docs/operator-guide.md "$app/docs/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
# What of the npm packages the daemon never reads: their docs, tests and
# examples, and native builds for other platforms or for the Bare runtime.
nm="$app/node_modules"
find "$nm" -depth -type d \( -name test -o -name tests -o -name docs -o -name example -o -name examples -o -name benchmarks \) -exec rm -rf {} +
find "$nm" -depth -type d -path '*/prebuilds/*' ! -name linux-x64 -exec rm -rf {} +
find "$nm" -depth -type d -name 'bare-*' -prune -exec rm -rf {} +
find "$nm" -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.html' -o -name '*.map' -o -name '.*' \) -delete
find "$nm" -type d -empty -delete
# Node runs the daemon through /usr/bin/haproxy-sync; no script in here is executed directly.
find "$app" -path "$app/node" -prune -o -type f -perm /111 -exec chmod a-x {} +

mkdir -p "$app/node/bin"
install -m 755 "$node_bin" "$app/node/bin/node"
strip --strip-unneeded "$app/node/bin/node"

install -m 755 "$here/haproxy-sync" "$root/usr/bin/haproxy-sync"
install -m 644 systemd/haproxy-sync.service "$root/usr/lib/systemd/system/haproxy-sync.service"
install -m 644 systemd/haproxy.service.d/haproxy-sync.conf "$root/usr/lib/systemd/system/haproxy.service.d/haproxy-sync.conf"
install -m 644 "$here/config.yaml" "$root/etc/haproxy-sync/config.yaml"
install -m 644 "$here/copyright" "$root/usr/share/doc/haproxy-sync/copyright"
sed "s/@VERSION@/$version/; s/@MAINTAINER@/$maintainer/; s/@DATE@/$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")/" "$here/changelog" | gzip -9n >"$root/usr/share/doc/haproxy-sync/changelog.gz"
install -m 644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/haproxy-sync"

for script in postinst postrm; do install -m 755 "$here/$script" "$root/DEBIAN/$script"; done
echo /etc/haproxy-sync/config.yaml >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@MAINTAINER@/$maintainer/" -e "s/@SIZE@/$size/" -e "s/@NODE@/$node_version/" "$here/control" >"$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p dist
out="dist/haproxy-sync_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$out" >&2
echo "$out"
