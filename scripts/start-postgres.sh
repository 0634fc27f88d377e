#!/usr/bin/env bash
# Start a local PostgreSQL server with a test database, for the case-file tests that run on
# PostgreSQL too. Prints the URL to put in DIALECTID_TEST_DATABASE_URL. Safe to run again.
set -euo pipefail
SUDO=""
AS_POSTGRES="runuser -u postgres --"
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; AS_POSTGRES="sudo -u postgres"; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
    $SUDO pg_createcluster "$version" main >/dev/null
fi
$SUDO pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 30); do
    $AS_POSTGRES psql -qtAc "SELECT 1" >/dev/null 2>&1 && break
    sleep 1
done
$AS_POSTGRES psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='dialectid'" | grep -q 1 \
    || $AS_POSTGRES psql -qc "CREATE ROLE dialectid LOGIN PASSWORD 'dialectid'" >/dev/null
$AS_POSTGRES psql -qtAc "SELECT 1 FROM pg_database WHERE datname='dialectid_test'" | grep -q 1 \
    || $AS_POSTGRES createdb -O dialectid dialectid_test
echo "postgresql+psycopg://dialectid:dialectid@127.0.0.1:5432/dialectid_test"
