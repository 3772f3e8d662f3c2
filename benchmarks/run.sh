#!/usr/bin/env bash
# Backfill benchmark: rows/s, peak memory and the machine's busy core-seconds of BackfillStudio → postgres / duckdb / parquet (and the time to verify each
# copy by count and by checksum) beside baselines measured in the same run: a `psql \copy | psql \copy` pipe, the source's
# read limit (binary COPY into /dev/null) and a filtered pipe for a job matching 10 % of the rows; for each row count
# (--rows, default 500000,2000000). It prints each job's pickup time after the POST and how soon a listening node hears
# of its checkpoints, then copies rows of about 1 MB each (--wide-rows, default 300; 0 skips) against the memory bound
# 2 x BatchMaxBytes + 300 MiB. The smallest table also goes to Snowflake's SQL API emulator, for the statement requests
# per 100k rows. --destinations postgres,duckdb,parquet,snowflake picks destinations; the results go to
# docs/benchmarks.md, docs/benchmarks.svg and docs/benchmarks-cpu.svg unless --no-docs.
# Needs PostgreSQL server binaries (apt-get install postgresql). Usage: benchmarks/run.sh [--rows 2000000]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run --project benchmarks/BackfillStudio.Benchmarks -c Release -- "$@"
