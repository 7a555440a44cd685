#!/usr/bin/env bash
# Builds with cargo-leptos, starts the simulator and the app on their own ports against a
# fresh database with the demo data, and runs the Playwright tests in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

site="127.0.0.1:${E2E_PORT:-3198}"
sim="127.0.0.1:${E2E_SIM_PORT:-3199}"
sim_v2="127.0.0.1:${E2E_SIM_V2_PORT:-3197}"
db="portone_refund_e2e_${site##*:}"  # per port, so two runs can share the cluster

cargo leptos build
plain_cargo build -p portone-sim -p portone-demo

admin_url="$(scripts/pg.sh postgres)"
psql "$admin_url" -qAt -c "drop database if exists $db with (force)" -c "create database $db" >/dev/null
export DATABASE_URL="${admin_url%/*}/$db"

mkdir -p target/e2e
export DEV_MODE=1
LEPTOS_SITE_ADDR="$site" target/debug/portone-demo seed target/e2e/sim-payments.json
# the shop's side for shop.spec.ts: a sign-in secret and an API key, made as a shop makes them
SHOP_LOGIN_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SHOP_LOGIN_SECRET
REFUND_ACCOUNT_KEY="e2e:$(head -c 32 /dev/urandom | base64)"
export REFUND_ACCOUNT_KEY
SHOP_API_KEY="$(LEPTOS_SITE_ADDR="$site" RUST_LOG=warn target/debug/portone-refund api-key create e2e 2>/dev/null | grep '^rk_')"
export SHOP_API_KEY
# V2 beside V1, as `make run` has it; a V2 virtual-account refund stays 환불 접수됨 for the run
export PORTONE_V2_SECRET=demo-v2-secret-for-the-simulator-only
export PORTONE_V2_WEBHOOK_SECRET=whsec_ZGVtby13ZWJob29rLXNlY3JldC1zaW0h
target/debug/portone-sim --addr "$sim" --v2-addr "$sim_v2" --payments target/e2e/sim-payments.json \
  --webhook-url "http://$site/portone/webhook" --v2-webhook-url "http://$site/portone/webhook/v2" \
  --v2-webhook-secret "$PORTONE_V2_WEBHOOK_SECRET" --v2-vbank-delay-ms 600000 > target/e2e/sim.log 2>&1 &
sim_pid=$!
LEPTOS_SITE_ADDR="$site" PORTONE_API_URL="http://$sim" PORTONE_V2_API_URL="http://$sim_v2" \
  RECONCILE_INTERVAL_SECS=1 METRICS_ADDR=127.0.0.1:0 \
  PORTONE_TIMEOUT_SECS=2 PORTONE_DEADLINE_SECS=3 REFUND_LEASE_SECS=5 target/debug/portone-refund > target/e2e/app.log 2>&1 &
app_pid=$!
trap 'kill "$app_pid" "$sim_pid" 2>/dev/null || true' EXIT

cd end2end
BASE_URL="http://$site" SIM_URL="http://$sim" SIM_V2_URL="http://$sim_v2" npx playwright test "$@"
