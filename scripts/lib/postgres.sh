# A throwaway PostgreSQL cluster, for scripts/test (the API suite's second
# pass) and scripts/bench (--database postgres). Source this file; it
# defines functions and sets nothing else.
#
# start_postgres [-c name=value ...]
#   initdb into a temporary folder and start a cluster listening only on a
#   unix socket in that folder (no port to collide with). The arguments are
#   server options added to those (each caller chooses its own durability
#   and connection settings). PostgreSQL refuses to run as root, so as root
#   the folder belongs to the unprivileged `postgres` user that Debian's
#   package creates, and the cluster runs as that user. With PG_CPUS set
#   (a taskset list), the cluster and every process it forks run on those
#   CPUs only. Sets PG_DIR, PG_BIN and PG_URL (the superuser's URL of the
#   `postgres` database) and PG_PID (the postmaster's pid).
# stop_postgres
#   stops the cluster at once and deletes its folder; does nothing when none
#   runs. Callers run it from an EXIT trap, so failures stop it too.
# pg_as_owner COMMAND...
#   runs a command as the cluster's owner (for createdb, psql).

PG_DIR=""

pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL is not installed (no initdb under /usr/lib/postgresql)." \
      "Install it with: scripts/setup --test" >&2
    exit 1
  fi
  PG_BIN="$bin"
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/auth-demo-pg.XXXXXX")"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
  pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
    -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
  local pin=()
  if [ -n "${PG_CPUS:-}" ]; then pin=(taskset -c "$PG_CPUS"); fi
  pg_as_owner ${pin[@]+"${pin[@]}"} "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-c listen_addresses='' -k $PG_DIR $*" \
    start >/dev/null || { cat "$PG_DIR/server.log" >&2; exit 1; }
  PG_PID="$(head -n1 "$PG_DIR/data/postmaster.pid")"
  PG_URL="postgres://postgres@localhost/postgres?host=$PG_DIR"
}

stop_postgres() {
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
  PG_DIR=""
  PG_URL=""
  PG_PID=""
}
