#!/usr/bin/env bash
# `make run`: set up everything, seed demo data, and serve the app against the PortOne simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

SITE_ADDR="${SITE_ADDR:-127.0.0.1:3000}"
SIM_ADDR="${SIM_ADDR:-127.0.0.1:3100}"

scripts/install-tools.sh
# Demo accounts (with their published passwords) go only into the private development
# database, or into another one when asked for explicitly with SEED_DEMO=1.
seed_demo="${SEED_DEMO:-0}"
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/pg.sh portone_refund)"
  export DATABASE_URL
  seed_demo=1
fi

echo "==> building (cargo leptos build)"
cargo leptos build
plain_cargo build -p portone-sim -p portone-demo

mkdir -p target/demo
if [ "$seed_demo" = 1 ]; then
  DEV_MODE=1 LEPTOS_SITE_ADDR="$SITE_ADDR" target/debug/portone-demo seed target/demo/sim-payments.json
else
  echo "==> DATABASE_URL is set: no demo accounts are written to it (SEED_DEMO=1 to write them)"
  echo "[]" > target/demo/sim-payments.json
fi

# The demo shop: its sign-in secret (new each run unless given), an API key for its server,
# and a ready /shop-login link for 김민수 (valid for 10 minutes).
SHOP_LOGIN_SECRET="${SHOP_LOGIN_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export SHOP_LOGIN_SECRET
# customers' typed refund accounts are kept sealed while their refund is open: the demo's key
# stays with the demo's database (target/demo), so a restart still opens what it sealed
if [ -z "${REFUND_ACCOUNT_KEY:-}" ]; then
  [ -s target/demo/refund-account-key ] || echo "demo:$(head -c 32 /dev/urandom | base64)" > target/demo/refund-account-key
  REFUND_ACCOUNT_KEY="$(cat target/demo/refund-account-key)"
fi
export REFUND_ACCOUNT_KEY
shop_lines=""
if [ "$seed_demo" = 1 ]; then
  shop_lines="$(DEV_MODE=1 LEPTOS_SITE_ADDR="$SITE_ADDR" RUST_LOG=warn target/debug/portone-demo shop | grep -E '^(SHOP_API_KEY=|SHOP_LOGIN_SECRET=|http)')"
fi

# PortOne V2 beside V1 (one ledger): the app checks the V2 secret at /readyz and verifies the
# simulator's signed V2 webhooks; a V2 virtual-account refund stays 환불 접수됨 for a minute
SIM_V2_ADDR="${SIM_V2_ADDR:-127.0.0.1:3101}"
PORTONE_V2_SECRET="${PORTONE_V2_SECRET:-demo-v2-secret-for-the-simulator-only}"
PORTONE_V2_WEBHOOK_SECRET="${PORTONE_V2_WEBHOOK_SECRET:-whsec_ZGVtby13ZWJob29rLXNlY3JldC1zaW0h}"
export PORTONE_V2_SECRET PORTONE_V2_WEBHOOK_SECRET
target/debug/portone-sim --addr "$SIM_ADDR" --v2-addr "$SIM_V2_ADDR" --payments target/demo/sim-payments.json \
  --webhook-url "http://$SITE_ADDR/portone/webhook" \
  --v2-webhook-url "http://$SITE_ADDR/portone/webhook/v2" --v2-webhook-secret "$PORTONE_V2_WEBHOOK_SECRET" \
  --v2-vbank-delay-ms "${SIM_V2_VBANK_DELAY_MS:-60000}" &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT

cat <<INFO

  환불 서비스: http://$SITE_ADDR
  PortOne simulator: http://$SIM_ADDR  (imp_key imp_demo_key, imp_secret demo-secret-for-the-simulator-only)
  PortOne V2 simulator: http://$SIM_V2_ADDR
PORTONE_V2_SECRET=$PORTONE_V2_SECRET
PORTONE_V2_WEBHOOK_SECRET=$PORTONE_V2_WEBHOOK_SECRET

  Demo accounts (demo only):
    김민수  minsu@example.com / minsu-pass-1234
    이지우  jiwoo@example.com / jiwoo-pass-1234
    관리자  admin@example.com / admin-pass-1234

  The demo shop (see "Connecting your shop" in the README):
INFO
if [ -n "$shop_lines" ]; then
  printf '%s\n' "$shop_lines"
  echo "  (the link signs 김민수 in from the shop; it works once, for 10 minutes)"
fi
cat <<INFO

  Ctrl-C stops both.
INFO

DEV_MODE=1 \
LEPTOS_SITE_ADDR="$SITE_ADDR" \
PORTONE_API_URL="${PORTONE_API_URL:-http://$SIM_ADDR}" \
PORTONE_V2_API_URL="${PORTONE_V2_API_URL:-http://$SIM_V2_ADDR}" \
RECONCILE_INTERVAL_SECS="${RECONCILE_INTERVAL_SECS:-3}" \
SHOP_WEBHOOK_RETRY_SCHEDULE_SECS="${SHOP_WEBHOOK_RETRY_SCHEDULE_SECS:-1,2,4}" \
PORTONE_DEADLINE_SECS="${PORTONE_DEADLINE_SECS:-20}" \
REFUND_LEASE_SECS="${REFUND_LEASE_SECS:-30}" \
  target/debug/portone-refund
