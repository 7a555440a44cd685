#!/usr/bin/env bash
# `make bench-first-visit`: a release build with hashed, precompressed assets, the simulator and
# demo data on their own ports, then a customer's first visit to an order page in Chromium on
# a slow mobile link (1.6 Mbps, 150 ms round trip, cold cache): bytes transferred and the time
# until 환불하기 works. Prints each run and the median.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-tools.sh --browser
site="127.0.0.1:${BENCH_PORT:-3298}"
sim="127.0.0.1:${BENCH_SIM_PORT:-3299}"
db="portone_refund_bench_visit"

cargo leptos build --release --precompress
plain_cargo build --release -p portone-sim -p portone-demo

admin_url="$(scripts/pg.sh postgres)"
psql "$admin_url" -qAt -c "drop database if exists $db with (force)" -c "create database $db" >/dev/null
export DATABASE_URL="${admin_url%/*}/$db"
mkdir -p target/bench-visit
export DEV_MODE=1 METRICS_ADDR=off RUST_LOG=warn
LEPTOS_SITE_ADDR="$site" target/release/portone-demo seed target/bench-visit/sim-payments.json
target/release/portone-sim --addr "$sim" --payments target/bench-visit/sim-payments.json > target/bench-visit/sim.log 2>&1 &
sim_pid=$!
LEPTOS_SITE_ADDR="$site" PORTONE_API_URL="http://$sim" target/release/portone-refund > target/bench-visit/app.log 2>&1 &
app_pid=$!
trap 'kill "$app_pid" "$sim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://$site/healthz" >/dev/null && break; sleep 0.2; done

echo "==> WASM and JS as built (target/site/pkg)"
for f in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do
  printf '%-60s %9d B  gzip %8d B  brotli %8d B\n' "$f" "$(stat -c %s "$f")" \
    "$(stat -c %s "$f.gz" 2>/dev/null || echo 0)" "$(stat -c %s "$f.br" 2>/dev/null || echo 0)"
done

echo "==> first visit, throttled Chromium"
(cd end2end && BASE_URL="http://$site" RUNS="${RUNS:-5}" node perf/first-visit.mjs) | tee target/bench-visit/runs.jsonl \
  | node -e '
    const runs = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
    for (const r of runs) console.log(`run ${r.run}: ${r.bytes} B transferred, refund button works after ${r.interactiveMs} ms`);
    const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`median: ${median(runs.map(r => r.bytes))} B, ${median(runs.map(r => r.interactiveMs))} ms`);
    console.log("requests of the last run:", runs[runs.length - 1].requests.map(q => `${q.url.replace(/^https?:\/\/[^/]+/, "")} [${q.encoding || "identity"}]`).join(", "));
  '
