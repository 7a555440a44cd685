#!/usr/bin/env bash
# `make torture`: the chaos run (see `docs/measurements.md`, "Torture run"). Arguments go to the torture
# binary, e.g. `scripts/torture.sh --seed 42 --requests 2000 --kills 5`.
# Uses a fresh database `portone_refund_torture` in the private cluster (or TORTURE_DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-tools.sh --server-only
echo "==> building the app, the simulator and the torture run"
plain_cargo build --features ssr --bin portone-refund
plain_cargo build -p torture
plain_cargo build -p portone-sim

if [ -z "${TORTURE_DATABASE_URL:-}" ]; then
  admin_url="$(scripts/pg.sh postgres)"
  psql "$admin_url" -qAt -c "drop database if exists portone_refund_torture with (force)" >/dev/null
  TORTURE_DATABASE_URL="$(scripts/pg.sh portone_refund_torture)"
fi
rm -rf target/torture
DATABASE_URL="$TORTURE_DATABASE_URL" target/debug/torture "$@"
