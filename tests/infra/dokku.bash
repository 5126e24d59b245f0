# Body of the fake `dokku`: the datastore-plugin commands dflow uses, backed by a real
# PostgreSQL. fake_dokku.py prepends the shebang and PG_BINDIR, PG_HOST, PG_PORT,
# PG_USER and DOKKU_VERSION. A Dokku service name is the database name.
set -o pipefail
unset PGDATABASE PGSERVICE PGSERVICEFILE PGPASSFILE PGOPTIONS
export PGCONNECT_TIMEOUT=10

pg_args=(-h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER")

fail() {
  echo " !     $*" >&2
  exit 1
}

postgres_services() {
  "$PG_BINDIR/psql" "${pg_args[@]}" -X -At -d postgres -c \
    "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY datname"
}

require_postgres_service() {
  local name=$1 services
  [[ -n "$name" ]] || fail "Please specify a valid name for the service"
  [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] ||
    fail "Valid service names may only contain letters, numbers, dashes and underscores"
  services=$(postgres_services) || fail "Postgres server unreachable"
  grep -Fxq -- "$name" <<<"$services" || fail "Postgres service $name does not exist"
}

plugin_label() {
  case "$1" in
    mysql) echo MySQL ;;
    mariadb) echo MariaDB ;;
    mongo) echo Mongo ;;
    redis) echo Redis ;;
  esac
}

command=${1:-}
case "$command" in
  version | --version)
    echo "dokku version $DOKKU_VERSION"
    ;;
  postgres:list)
    services=$(postgres_services) || fail "Postgres server unreachable"
    echo "=====> Postgres services"
    [[ -z "$services" ]] || printf '%s\n' "$services"
    ;;
  postgres:export)
    require_postgres_service "${2:-}"
    exec "$PG_BINDIR/pg_dump" "${pg_args[@]}" -Fc --no-acl --no-owner -d "$2"
    ;;
  postgres:import)
    require_postgres_service "${2:-}"
    [[ ! -t 0 ]] || fail "No data provided on stdin."
    exec "$PG_BINDIR/pg_restore" "${pg_args[@]}" --clean --if-exists --no-owner -d "$2"
    ;;
  mysql:list | mariadb:list | mongo:list | redis:list)
    echo "=====> $(plugin_label "${command%%:*}") services"
    ;;
  mysql:* | mariadb:* | mongo:* | redis:*)
    fail "The ${command%%:*} plugin is not installed"
    ;;
  "")
    fail "Usage: dokku COMMAND <app> [command-specific-options]"
    ;;
  *)
    fail "\`$command\` is not a dokku command."
    ;;
esac
