#!/usr/bin/env bash
# Installs what is missing from Debian and starts the local services the centre uses.
# Idempotent: on a machine that has everything it only checks.
set -euo pipefail

need_pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in python3-venv debootstrap baresip espeak-ng sox redis-server mosquitto \
           mosquitto-clients postgresql \
           chromium fonts-wqy-microhei; do  # the desktop's browser tests (and its CJK font)
  have "$pkg" || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${need_pkgs[*]}" >&2; exit 1
  fi
  echo "setup: installing from Debian: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done
  echo "setup: $2 did not come up on 127.0.0.1:$1" >&2; return 1
}

if ! port_open 6379; then
  echo "setup: starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/hotline.log
  wait_port 6379 Redis
fi
if ! port_open 1883; then
  echo "setup: starting Mosquitto on 127.0.0.1:1883"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
  wait_port 1883 Mosquitto
fi
if ! port_open 5432; then
  echo "setup: starting PostgreSQL on 127.0.0.1:5432"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  wait_port 5432 PostgreSQL
fi

# The role the tests and a PostgreSQL-backed centre use, with a generated password (kept in
# /var/lib/hotline/secrets/postgres-password, 0600); see scripts/pg-role.sh.
bash "$(dirname "$0")/pg-role.sh"
