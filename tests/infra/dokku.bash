# Body of the fake `dokku`: the datastore-plugin commands dflow uses, backed by real
# servers. fake_dokku.py prepends the shebang and PG_BINDIR, PG_HOST, PG_PORT, PG_USER,
# MY_HOST, MY_PORT, MY_USER (MariaDB, for the mysql and mariadb plugins: empty when
# none runs), REDIS_ROOT (empty without redis-server) and DOKKU_VERSION.
# postgres: a service is the database of its name. mysql/mariadb: the database
# `<plugin>_<name>` ('-' → '_', as the plugins name it), so the two plugins keep
# their own services. redis: a redis-server of its own per service, under
# $REDIS_ROOT/<name> on a unix socket, as the plugin gives each service a container.
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
  valid_name "$name"
  services=$(postgres_services) || fail "Postgres server unreachable"
  grep -Fxq -- "$name" <<<"$services" || fail "Postgres service $name does not exist"
}

# --- mysql / mariadb ---------------------------------------------------------------

my_args=(--no-defaults --host="$MY_HOST" --port="$MY_PORT" --user="$MY_USER" --protocol=TCP)

my_database() { # plugin name → the database
  local name=${2//-/_}
  echo "${1}_${name}"
}

my_services() { # plugin → its service names (from the database names)
  mariadb "${my_args[@]}" -N -B -e "SHOW DATABASES LIKE '${1}\\_%'" | sed "s/^${1}_//"
}

require_my_service() {
  local plugin=$1 name=$2 services
  valid_name "$name"
  [[ -n "$MY_PORT" ]] || fail "The $plugin plugin is not installed"
  services=$(my_services "$plugin") || fail "$(plugin_label "$plugin") server unreachable"
  grep -Fxq -- "${name//-/_}" <<<"$services" || fail "$(plugin_label "$plugin") service $name does not exist"
}

# --- redis ------------------------------------------------------------------------

redis_dir() { echo "$REDIS_ROOT/$1"; }

redis_up() { # starts the service's server unless it answers
  local dir
  dir=$(redis_dir "$1")
  redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1 && return 0
  redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" --dbfilename dump.rdb \
    --save "" --appendonly no --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" >/dev/null || fail "Redis service $1 could not start"
  for _ in $(seq 100); do
    redis-cli -s "$dir/redis.sock" PING >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  fail "Redis service $1 did not start"
}

redis_down() {
  local dir
  dir=$(redis_dir "$1")
  redis-cli -s "$dir/redis.sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  for _ in $(seq 100); do
    [[ -e "$dir/redis.pid" ]] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null || return 0
    sleep 0.05
  done
}

redis_services() {
  [[ -d "$REDIS_ROOT" ]] || return 0
  find "$REDIS_ROOT" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort
}

require_redis_service() {
  valid_name "$1"
  [[ -n "$REDIS_ROOT" ]] || fail "The redis plugin is not installed"
  [[ -d "$(redis_dir "$1")" ]] || fail "Redis service $1 does not exist"
}

valid_name() {
  [[ -n "$1" ]] || fail "Please specify a valid name for the service"
  [[ "$1" =~ ^[A-Za-z0-9_-]+$ ]] ||
    fail "Valid service names may only contain letters, numbers, dashes and underscores"
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
  postgres:exists)
    require_postgres_service "${2:-}"
    ;;
  postgres:create)
    valid_name "${2:-}"
    "$PG_BINDIR/createdb" "${pg_args[@]}" "$2" || fail "Postgres service $2 could not be created"
    echo "=====> Postgres container created: $2"
    ;;
  postgres:destroy)
    require_postgres_service "${2:-}"
    "$PG_BINDIR/dropdb" "${pg_args[@]}" --force "$2" || fail "Postgres service $2 could not be destroyed"
    echo "=====> Postgres container deleted: $2"
    ;;
  postgres:connect)
    require_postgres_service "${2:-}"
    exec "$PG_BINDIR/psql" "${pg_args[@]}" -X -q -v ON_ERROR_STOP=1 -d "$2"
    ;;
  mysql:list | mariadb:list)
    plugin=${command%%:*}
    echo "=====> $(plugin_label "$plugin") services"
    if [[ -n "$MY_PORT" ]]; then
      services=$(my_services "$plugin") || fail "$(plugin_label "$plugin") server unreachable"
      [[ -z "$services" ]] || printf '%s\n' "$services"
    fi
    ;;
  mysql:exists | mariadb:exists)
    require_my_service "${command%%:*}" "${2:-}"
    ;;
  mysql:export | mariadb:export)
    plugin=${command%%:*}
    require_my_service "$plugin" "${2:-}"
    exec mariadb-dump "${my_args[@]}" --single-transaction --quick --routines --events \
      "$(my_database "$plugin" "$2")"
    ;;
  mysql:import | mariadb:import | mysql:connect | mariadb:connect)
    plugin=${command%%:*}
    require_my_service "$plugin" "${2:-}"
    [[ "$command" == *:connect || ! -t 0 ]] || fail "No data provided on stdin."
    exec mariadb "${my_args[@]}" "$(my_database "$plugin" "$2")"
    ;;
  mysql:create | mariadb:create)
    plugin=${command%%:*}
    valid_name "${2:-}"
    [[ -n "$MY_PORT" ]] || fail "The $plugin plugin is not installed"
    mariadb "${my_args[@]}" -e "CREATE DATABASE \`$(my_database "$plugin" "$2")\`" ||
      fail "$(plugin_label "$plugin") service $2 could not be created"
    echo "=====> $(plugin_label "$plugin") container created: $2"
    ;;
  mysql:destroy | mariadb:destroy)
    plugin=${command%%:*}
    require_my_service "$plugin" "${2:-}"
    mariadb "${my_args[@]}" -e "DROP DATABASE \`$(my_database "$plugin" "$2")\`" ||
      fail "$(plugin_label "$plugin") service $2 could not be destroyed"
    echo "=====> $(plugin_label "$plugin") container deleted: $2"
    ;;
  redis:list)
    echo "=====> Redis services"
    redis_services
    ;;
  redis:exists)
    require_redis_service "${2:-}"
    ;;
  redis:create)
    valid_name "${2:-}"
    [[ -n "$REDIS_ROOT" ]] || fail "The redis plugin is not installed"
    [[ ! -e "$(redis_dir "$2")" ]] || fail "Redis service $2 already exists"
    mkdir -p "$(redis_dir "$2")" && redis_up "$2"
    echo "=====> Redis container created: $2"
    ;;
  redis:export)
    # As the plugin does: SAVE, then the RDB file on stdout.
    require_redis_service "${2:-}"
    redis_up "$2"
    redis-cli -s "$(redis_dir "$2")/redis.sock" SAVE >&2 || fail "Redis service $2 could not save"
    exec cat "$(redis_dir "$2")/dump.rdb"
    ;;
  redis:import)
    # The RDB on stdin replaces the whole dataset: stop, swap the file, start.
    require_redis_service "${2:-}"
    [[ ! -t 0 ]] || fail "No data provided on stdin."
    dir=$(redis_dir "$2")
    cat >"$dir/import.rdb" || fail "Could not read the import"
    [[ -s "$dir/import.rdb" ]] || fail "No data provided on stdin."
    head -c 5 "$dir/import.rdb" | grep -q '^REDIS' || { rm -f "$dir/import.rdb"; fail "Not an RDB file"; }
    redis_down "$2"
    mv "$dir/import.rdb" "$dir/dump.rdb"
    redis_up "$2"
    ;;
  redis:connect)
    require_redis_service "${2:-}"
    redis_up "$2"
    exec redis-cli -s "$(redis_dir "$2")/redis.sock"
    ;;
  redis:destroy)
    require_redis_service "${2:-}"
    redis_down "$2"
    rm -rf "$(redis_dir "$2")"
    echo "=====> Redis container deleted: $2"
    ;;
  mongo:list)
    echo "=====> Mongo services"
    ;;
  mongo:*)
    fail "The mongo plugin is not installed"
    ;;
  mysql:* | mariadb:* | redis:*)
    fail "\`$command\` is not a command of the ${command%%:*} plugin here"
    ;;
  "")
    fail "Usage: dokku COMMAND <app> [command-specific-options]"
    ;;
  *)
    fail "\`$command\` is not a dokku command."
    ;;
esac
