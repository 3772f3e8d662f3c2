#!/usr/bin/env bash
# Runs every test. The tests start their own throwaway PostgreSQL cluster from the machine's
# PostgreSQL binaries (apt-get install postgresql); nothing else needs to be running.
set -euo pipefail
cd "$(dirname "$0")"
dotnet test BackfillStudio.sln -c Release --logger "console;verbosity=normal" "$@"
