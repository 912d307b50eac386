#!/usr/bin/env bash
# Builds the local stand-ins for the registry images of the compose stack (docker-compose.local.yml), for
# hosts that cannot pull from a container registry: a Debian base image made from Debian's own packages
# (debootstrap from the mirror apt already uses), and on it PostgreSQL and Python. The base is kept once
# made (REBUILD=1 makes it again); the stand-ins come from podman's layer cache when nothing changed.
# Needs root, podman and debootstrap (scripts/container-runtime.sh installs them).
set -euo pipefail
cd "$(dirname "$0")"

BASE=localhost/debian:bookworm

build_standins() {
  echo "==> stand-in images"
  podman build --quiet -t localhost/tsv-standin-postgres:15 -f postgres.Containerfile . >/dev/null
  podman build --quiet -t localhost/tsv-standin-python:3.11 -f python.Containerfile . >/dev/null
  echo "==> localhost/tsv-standin-postgres:15 and localhost/tsv-standin-python:3.11 ready"
}

if podman image exists "$BASE" && [ "${REBUILD:-0}" != 1 ]; then
  echo "==> $BASE present"
  build_standins
  exit 0
fi

# The Debian mirrors apt is configured with (deb822 .sources or one-line .list files).
mirror_for() {
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
  } | grep -E "/$1/?\$" | head -1 || true
}
mirror="${DEBIAN_MIRROR:-$(mirror_for debian)}"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-$(mirror_for debian-security)}"
security="${security:-http://deb.debian.org/debian-security}"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "==> debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
# Keep the image small: no package lists or downloaded .debs (each stand-in runs apt-get update).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
# A host behind a TLS-inspecting proxy trusts its extra certificate authorities (the local ones of
# update-ca-certificates); so do the stand-ins, once their ca-certificates package is installed.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root"/usr/local/share/ca-certificates
  cp /usr/local/share/ca-certificates/*.crt "$root"/usr/local/share/ca-certificates/
fi
# The suites of the official Debian images: Chromium, for one, is current only in bookworm-security.
rm -f "$root"/etc/apt/sources.list
cat >"$root"/etc/apt/sources.list.d/debian.sources <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
tar -C "$root" -c . | podman import --quiet --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
echo "==> $BASE imported"
build_standins
