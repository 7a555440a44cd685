#!/usr/bin/env bash
# Regenerates `.sqlx/` (the offline query metadata) against a scratch database holding the
# current migrations; with `--check`, only says whether `.sqlx/` is current (`make test` asks).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
WITH_SQLX_CLI=1 scripts/install-tools.sh --server-only
url="$(scripts/pg.sh portone_refund_schema)"
psql "$url" -qAt -c "drop schema public cascade" -c "create schema public" -c "drop schema if exists tower_sessions cascade" >/dev/null
DATABASE_URL="$url" sqlx migrate run
DATABASE_URL="$url" SQLX_OFFLINE=false cargo sqlx prepare "$@" --workspace -- --workspace --features ssr --all-targets
