# Body of the benchmark's `dokku` stand-in: the datastore-plugin commands dflow-tui's external
# backup and restore call, with no database behind them, so that only the data path is measured.
# remote_host.py prepends the shebang and two settings:
#   DUMP_DIR    postgres:export NAME prints $DUMP_DIR/NAME.dump (a service exists when that file does)
#   IMPORT_DIR  postgres:import NAME reads its stdin to the end and writes its sha256 to
#               $IMPORT_DIR/NAME.sha256, so the benchmark can check the round trip
set -o pipefail

fail() {
  echo " !     $*" >&2
  exit 1
}

require_service() {
  local name=$1
  [[ -n "$name" ]] || fail "Please specify a valid name for the service"
  [[ "$name" =~ ^[a-z0-9][a-z0-9_-]*$ ]] ||
    fail "Valid service names may only contain letters, numbers, dashes and underscores"
  [[ -f "$DUMP_DIR/$name.dump" ]] || fail "Postgres service $name does not exist"
}

command=${1:-}
case "$command" in
  version | --version)
    echo "dokku version 0.34.0"
    ;;
  postgres:list)
    echo "=====> Postgres services"
    for dump in "$DUMP_DIR"/*.dump; do
      [[ -f "$dump" ]] && basename "$dump" .dump
    done
    ;;
  postgres:exists)
    require_service "${2:-}"
    ;;
  postgres:export)
    require_service "${2:-}"
    exec cat -- "$DUMP_DIR/$2.dump"
    ;;
  postgres:import)
    require_service "${2:-}"
    [[ ! -t 0 ]] || fail "No data provided on stdin."
    digest=$(sha256sum) || fail "Reading the dump failed"
    printf '%s\n' "${digest%% *}" >"$IMPORT_DIR/$2.sha256.partial" &&
      mv -f -- "$IMPORT_DIR/$2.sha256.partial" "$IMPORT_DIR/$2.sha256"
    ;;
  mysql:list | mariadb:list | mongo:list | redis:list)
    echo "=====> ${command%%:*} services"
    ;;
  "")
    fail "Usage: dokku COMMAND <app> [command-specific-options]"
    ;;
  *)
    fail "\`$command\` is not a dokku command."
    ;;
esac
