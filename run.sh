#!/usr/bin/env bash
# Runs BackfillStudio. With no configuration it starts its own PostgreSQL cluster under ./.data
# (installing Debian's postgresql package when missing) and seeds a demo source and pipeline.
# Set ConnectionStrings__Config or CONFIG_DATABASE_URL to use an existing config database instead.
set -euo pipefail
cd "$(dirname "$0")"

if [ -z "${ConnectionStrings__Config:-}" ] && [ -z "${CONFIG_DATABASE_URL:-}" ] \
   && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "Installing PostgreSQL server binaries for the embedded default..."
  SUDO=""; if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# dotnet run starts the app in the project folder; keep the embedded data next to this script.
exec dotnet run --project BackfillStudio.Web -c Release -- \
  --urls "${BACKFILL_URLS:-http://localhost:5000}" --Embedded:DataDirectory "${BACKFILL_DATA:-$PWD/.data}" "$@"
