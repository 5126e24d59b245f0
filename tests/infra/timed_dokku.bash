#!/bin/bash
# A `dokku` whose export takes a fixed time ($TIMED_DOKKU_SECONDS, default 0.5) and logs
# when each export of each service starts and ends ($TIMED_DOKKU_LOG): for tests and
# benchmarks of how workers share the work, where the database itself does not matter.
set -u
log="${TIMED_DOKKU_LOG:?TIMED_DOKKU_LOG names the log file}"
case "${1:-}" in
  version) echo "dokku version 0.34.0 (timed stand-in)" ;;
  *:exists) exit 0 ;;
  *:export)
    echo "start $2 $(date +%s.%N)" >>"$log"
    sleep "${TIMED_DOKKU_SECONDS:-0.5}"
    printf 'PGDMP timed dump of %s\n' "$2"
    echo "end $2 $(date +%s.%N)" >>"$log"
    ;;
  *) echo "the timed dokku stand-in does not do: $*" >&2; exit 1 ;;
esac
