#!/usr/bin/env bash
# The centre's PostgreSQL role `hotline` with a password generated here, never a fixed one.
#
# The password is kept in $HOTLINE_STATE_DIR/secrets/postgres-password (default state directory
# /var/lib/hotline; the file 0600, its folder 0700) and reaches psql on its standard input only
# (never on a command line, never printed). Idempotent: with the file and the role in place it
# changes nothing; a role left from an older setup (password `hotline`) gets the generated one.
# psql runs as the `postgres` user when run as root; PGHOST/PGPORT choose the server.
set -euo pipefail
umask 077

state_dir="${HOTLINE_STATE_DIR:-/var/lib/hotline}"
secret="$state_dir/secrets/postgres-password"
role="${HOTLINE_PG_ROLE:-hotline}"

psql_admin() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"
  else psql -X -q -v ON_ERROR_STOP=1 "$@"; fi
}

new_password=0
if [ ! -s "$secret" ]; then
  mkdir -p "$state_dir/secrets"
  chmod 700 "$state_dir/secrets"
  # 32 URL-safe characters: nothing a SQL string or a URL would need to escape.
  head -c 48 /dev/urandom | base64 -w0 | tr -d '+/=' | head -c 32 > "$secret.tmp"
  chmod 600 "$secret.tmp"
  mv "$secret.tmp" "$secret"
  new_password=1
fi
password="$(cat "$secret")"
[[ "$password" =~ ^[A-Za-z0-9_-]{16,}$ ]] || { echo "pg-role: $secret is not a generated password" >&2; exit 1; }

exists="$(psql_admin -tA -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")"
if [ "$exists" != 1 ]; then
  echo "setup: creating PostgreSQL role $role (password in $secret)"
  printf "CREATE ROLE \"%s\" LOGIN CREATEDB PASSWORD '%s';\n" "$role" "$password" \
    | psql_admin -d postgres -f -
elif [ "$new_password" = 1 ]; then
  echo "setup: PostgreSQL role $role gets a generated password (in $secret)"
  printf "ALTER ROLE \"%s\" PASSWORD '%s';\n" "$role" "$password" | psql_admin -d postgres -f -
fi
