#!/bin/sh
# Entry point of the PostgreSQL stand-in (scripts/image.py, studio-standin/postgres): Debian's
# postgresql package behaving as the official postgres image does for docker-compose.yml, where that
# image cannot be pulled. The same contract, as far as the studio uses it:
#   POSTGRES_PASSWORD (required), POSTGRES_USER (postgres), POSTGRES_DB (= POSTGRES_USER),
#   POSTGRES_INITDB_ARGS, PGDATA (/var/lib/postgresql/data); an empty data folder is initialised
#   once, then reused; connections from other containers need the password (scram-sha-256);
#   arguments starting with `-` are passed to postgres (`-c fsync=off`).
# Not carried over: /docker-entrypoint-initdb.d scripts and the POSTGRES_HOST_AUTH_METHOD variants.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  # As the official image: root only prepares the folders a fresh volume leaves to root, then
  # the same script goes on as postgres.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: the database is not initialised and POSTGRES_PASSWORD is empty" >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options, as in the official image
  initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    # A server on a private socket only: no client, nor the healthcheck's pg_isready, sees it
    # before the database exists.
    sockets=$(mktemp -d)
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses='' -c unix_socket_directories=$sockets" --wait --silent start
    # From stdin, where psql quotes :"db" (it leaves --command text alone).
    echo 'CREATE DATABASE :"db";' | psql --host="$sockets" --username="$user" --dbname=postgres --quiet \
      --no-psqlrc --set ON_ERROR_STOP=1 --set db="$db"
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    rmdir "$sockets"
  fi
  echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)"
fi

if [ "$1" = postgres ]; then
  shift
  exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
