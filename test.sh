#!/usr/bin/env bash
# Runs every test. The tests start their own throwaway PostgreSQL cluster from the machine's
# PostgreSQL binaries (apt-get install postgresql); nothing else needs to be running.
set -euo pipefail
cd "$(dirname "$0")"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
dotnet test BackfillStudio.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  # The failures scroll away among the app's log lines; repeat them where a reader of the tail looks.
  echo
  echo "==== Failed tests (repeated from the output above) ===="
  awk '/^  Failed /{p=1} /^  (Passed|Skipped) /{p=0} p && !/^(info|warn|fail|dbug): / && !/^      [A-Z]/' "$log" | head -400
fi
exit "$rc"
