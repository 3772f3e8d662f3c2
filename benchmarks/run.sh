#!/usr/bin/env bash
# Backfill benchmark: rows/s and peak memory of BackfillStudio → postgres / duckdb (and the time to verify each copy
# by count and by checksum) beside a
# `psql \copy | psql \copy` baseline, for each row count (default: 500000,2000000).
# It prints each job's pickup time after the POST. Then rows of about 1 MB each (--wide-rows, default 300; 0 skips) and the peak RSS against 2 x BatchMaxBytes + 300 MiB.
# Needs PostgreSQL server binaries (apt-get install postgresql). Usage: benchmarks/run.sh [--rows 2000000]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run --project benchmarks/BackfillStudio.Benchmarks -c Release -- "$@"
