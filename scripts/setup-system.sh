#!/usr/bin/env bash
# Installs what is missing from Debian, starts PostgreSQL and gives the centre's role a
# generated password (Redis and Mosquitto: the centre starts its own, see hotline/base/localservices.py).
# Idempotent: on a machine that has everything it only checks.
set -euo pipefail

need_pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in python3-venv debootstrap baresip espeak-ng sox redis-server mosquitto \
           mosquitto-clients postgresql \
           chromium fonts-wqy-microhei \
           faketime sip-tester openssl; do  # browser tests (and a CJK font); the suite in
  # 2027 and 2028 (libfaketime); sipp as the SIP carrier of the load test and
  # `python -m bench load`; openssl: the browser softphone's wss:// certificate
  have "$pkg" || need_pkgs+=("$pkg")
done
# npm installs SIP.js for the browser softphone (make vendor); a Node.js from elsewhere that
# brings its own npm is kept (Debian's npm package would conflict with it).
command -v npm >/dev/null || need_pkgs+=(npm)
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

# Redis and Mosquitto are not started here: `hotline up` (and the test suite) start the centre's
# own instances with generated credentials (hotline/base/localservices.py), never an open one.
if ! port_open 5432; then
  echo "setup: starting PostgreSQL on 127.0.0.1:5432"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  wait_port 5432 PostgreSQL
fi

# The role the tests and a PostgreSQL-backed centre use, with a generated password (kept in
# /var/lib/hotline/secrets/postgres-password, 0600); see scripts/pg-role.sh.
bash "$(dirname "$0")/pg-role.sh"
