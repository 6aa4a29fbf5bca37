#!/bin/sh
# Regenerates tower.sqlite and tower.pg.sql in this directory with the store
# code of the release that shipped schema 1 (see README.md). Needs the normal
# build dependencies, sqlite3, and PostgreSQL server binaries (initdb, pg_ctl).
# Run as a normal user (initdb refuses root) or as root with a 'postgres' user.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
release=697186e  # "server/store: one Store interface, ... embedded numbered migrations"
work=$(mktemp -d)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_as=""
if [ "$(id -u)" = 0 ]; then pg_as="runuser -u postgres --"; fi
trap 'if [ -f "$work/pg/postmaster.pid" ]; then $pg_as "$bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null; fi; rm -rf "$work"' EXIT

git -C "$repo" archive "$release" | tar -x -C "$work" --one-top-level=src
cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" --target argus_store >/dev/null
c++ -std=c++20 -O1 -I"$work/src" "$here/make_schema1.cpp" -o "$work/make_schema1" \
    "$work/build/server/libargus_store.a" "$work/build/common/libargus_common.a" \
    -lpqxx -lpq -lsqlite3 -lsecp256k1 -lsodium -lcrypto

rm -f "$here/tower.sqlite"
"$work/make_schema1" sqlite "$work/tower.sqlite"
# One self-contained file: fold the WAL back in and leave rollback-journal mode.
sqlite3 "$work/tower.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; VACUUM;' >/dev/null
cp "$work/tower.sqlite" "$here/tower.sqlite"

if [ -n "$pg_as" ]; then chown postgres "$work"; chmod 755 "$work"; fi
$pg_as "$bin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
$pg_as "$bin/pg_ctl" -D "$work/pg" -o "-c listen_addresses='' -k $work" -w start >/dev/null
"$work/make_schema1" postgres "host=$work user=postgres dbname=postgres"
pg_dump --format=plain --no-owner --no-privileges -h "$work" -U postgres postgres >"$here/tower.pg.sql"
echo "wrote $here/tower.sqlite and $here/tower.pg.sql"
