#!/usr/bin/env bash
# Install what beacon and its tests need on a Debian 12 machine (root), then build.
# Idempotent: apt-get runs only when a package is missing; npm ci only when the lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run for real (etcd, etcdctl, ignition-validate, systemd-analyze, ...).
PKGS=(etcd-server etcd-client ignition systemd jq openssl iproute2 curl binutils strace systemd-container debootstrap prometheus nginx-light iptables stress-ng chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a system etcd on 2379; beacon's tests and demo run their own, so keep it out of the way.
  if systemctl is-active --quiet etcd 2>/dev/null; then systemctl stop etcd || true; fi
fi

stamp=node_modules/.bootstrap-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build
