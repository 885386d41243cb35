#!/usr/bin/env bash
# Installs the server packages the integration tests need, only those that
# are missing (a prepared machine skips apt entirely). System services are
# neither started nor stopped: the tests start private servers on free ports.
# Called by test/run-all.sh (`npm test`) and therefore by .ci/run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
log() { printf '\n[servers] %s\n' "$*"; }
elapsed() { printf '[servers] %s took %ss\n' "$1" "$(( SECONDS - $2 ))"; }

packages=(postgresql-15 postgresql-15-pgaudit postgresql-15-wal2json postgresql-client-15 postgresql-server-dev-15 make gcc
          mariadb-server mariadb-client nats-server sysbench)
missing=()
for pkg in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != 'install ok installed' ]]; then
    missing+=("$pkg")
  fi
done
if (( ${#missing[@]} > 0 )); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "[servers] missing Debian packages: ${missing[*]}" >&2
    echo "[servers] fix: run as root (or: sudo apt-get install -y ${missing[*]}), then npm test again" >&2
    exit 2
  fi
  log "installing missing packages: ${missing[*]}"
  t=$SECONDS
  # policy-rc.d 101 keeps Debian maintainer scripts from starting the system
  # PostgreSQL/MariaDB/NATS services; the tests never use them.
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" < /dev/null
  if (( created_policy )); then rm -f /usr/sbin/policy-rc.d; fi
  elapsed "apt-get install" "$t"
else
  log "system packages present: ${packages[*]}"
fi
for bin in /usr/lib/postgresql/15/bin/postgres /usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/sbin/nats-server; do
  [[ -x "$bin" ]] || { echo "[servers] $bin is missing after installation" >&2; exit 2; }
done


# Server headers for the native identity emitter on PostgreSQL majors other
# than Debian 12's 15: the npm packages ship the other majors' binaries
# without headers. Debian 13 (trixie) has postgresql-server-dev-17 and
# unstable has -18; the package is only extracted into node_modules/.cache
# (dpkg-deb -x), never installed. Without them (no network, not Debian) the
# native emitter is tested on 15 only, and those tests say so.
headers_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/node_modules/.cache/pg-server-headers"
fetch_headers() { # major suite
  local major=$1 suite=$2 dir="$headers_root/$1" tmp file arch
  [[ -f "$dir/usr/include/postgresql/$major/server/postgres.h" ]] && return 0
  arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  tmp=$(mktemp -d)
  local base=http://deb.debian.org/debian
  if curl -fsS --max-time 120 -o "$tmp/Packages.xz" "$base/dists/$suite/main/binary-$arch/Packages.xz" \
    && file=$(xz -dc "$tmp/Packages.xz" | awk -v p="postgresql-server-dev-$major" '$1 == "Package:" { cur = $2 } cur == p && $1 == "Filename:" && !done { print $2; done = 1 }') \
    && [[ -n "$file" ]] \
    && curl -fsS --max-time 300 -o "$tmp/dev.deb" "$base/$file" \
    && mkdir -p "$tmp/x" && dpkg-deb -x "$tmp/dev.deb" "$tmp/x" \
    && [[ -f "$tmp/x/usr/include/postgresql/$major/server/postgres.h" ]]; then
    mkdir -p "$headers_root" && rm -rf "$dir" && mv "$tmp/x" "$dir"
    log "PostgreSQL $major server headers from Debian $suite ($(basename "$file")) in $dir"
  else
    log "PostgreSQL $major server headers not fetched from Debian $suite: the native emitter is tested without $major"
  fi
  rm -rf "$tmp"
}
fetch_headers 17 trixie
fetch_headers 18 sid
