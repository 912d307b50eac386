#!/usr/bin/env bash
# Installs and configures podman for the local container stack (tests/e2e/test_stack.py, and
# scripts/deploy.sh run by hand without Docker): podman with runc, debootstrap for the base image, and the
# engine settings containers need on hosts whose cgroups are a v1/v2 hybrid without systemd. Root only;
# safe to run again. podman-compose itself comes with the dev extras (.venv/bin/podman-compose).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "container-runtime.sh: needs root (apt-get and /etc/containers)" >&2
  exit 2
fi

need_apt=()
# netavark + aardvark-dns: compose networks where containers find each other by service name (netavark
# sets them up with iptables, which Debian's podman only suggests); catatonit: `init: true`.
for pkg in podman runc netavark aardvark-dns iptables catatonit debootstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "==> apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# crun (podman's default) fails on hybrid cgroups; without systemd, cgroups are managed directly; the
# default open-files limit is too low for PostgreSQL and Chromium; netavark rather than CNI, whose
# networks have no DNS for container names.
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
if ! grep -q '^network_backend = "netavark"' "$conf" 2>/dev/null; then
  echo "==> writing $conf"
  [ -f "$conf" ] && cp "$conf" "$conf.orig"
  cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"

[network]
network_backend = "netavark"
CONF
fi
podman --version
