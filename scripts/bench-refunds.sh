#!/usr/bin/env bash
# `make bench-refunds`: refunds per second through the whole service — release app, release
# simulator, and a private Postgres that commits durably (fsync and synchronous_commit on, as
# in production) — with signed-in customers over HTTP, two shapes at 10 and 50 clients; beside
# it PortOne's own refund recipe (the guide's Express + pg server, `scripts/express-recipe/`)
# against the same simulator and cluster, loaded the same way; and pgbench's TPC-B on the same
# cluster in the same run, for the ratios; what each refund cost Postgres, the server, the
# simulator and the load generator itself in CPU time while it was measured; and one row with
# a shop's endpoint taking the service's events (`scripts/shop-receiver.js`, answering in
# 20 ms and one request in twenty in 500 ms), with how long after each refund its event
# reached the shop.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-tools.sh
site="127.0.0.1:${BENCH_PORT:-3398}"
sim="127.0.0.1:${BENCH_SIM_PORT:-3399}"
seconds="${SECONDS_PER_RUN:-20}"
state="${XDG_STATE_HOME:-$HOME/.local/state}"
[ "$(id -u)" = 0 ] && state=/var/lib/postgresql
durable_url="$(PG_DIR="$state/portone-refund-durable" PG_PORT="${BENCH_PG_PORT:-55433}" PG_DURABLE=1 scripts/pg.sh postgres)"
psql "$durable_url" -qAt -c "show fsync" -c "show synchronous_commit" | paste -sd' ' | grep -qx "on on" \
  || { echo "bench-refunds: the cluster does not commit durably" >&2; exit 1; }

cargo leptos build --release
plain_cargo build --release -p portone-sim -p refund-load -p portone-demo
recipe_port="${BENCH_RECIPE_PORT:-3397}"
hook_port="${BENCH_HOOK_PORT:-3396}"
[ -d scripts/express-recipe/node_modules ] || (cd scripts/express-recipe && npm ci --no-audit --no-fund)

out=target/bench-refunds
mkdir -p "$out"
: > "$out/results.jsonl"
run_app() {
  local db="portone_refund_bench"
  psql "$durable_url" -qAt -c "drop database if exists $db with (force)" -c "create database $db" >/dev/null
  export DATABASE_URL="${durable_url%/*}/$db"
  DEV_MODE=1 METRICS_ADDR=off RUST_LOG=warn LEPTOS_SITE_ADDR="$site" \
    target/release/portone-demo seed "$out/sim-payments.json" >/dev/null
  target/release/portone-sim --addr "$sim" --payments "$out/sim-payments.json" > "$out/sim.log" 2>&1 &
  sim_pid=$!
  DEV_MODE=1 METRICS_ADDR=off RUST_LOG=warn LEPTOS_SITE_ADDR="$site" PORTONE_API_URL="http://$sim" \
    REFUND_REQUESTS_PER_MINUTE=100000000 target/release/portone-refund > "$out/app.log" 2>&1 &
  app_pid=$!
  for _ in $(seq 1 100); do curl -fs "http://$site/healthz" >/dev/null && break; sleep 0.2; done
}
stop_app() {
  kill "$app_pid" "$sim_pid" ${hook_pid:-} 2>/dev/null || true
  wait "$app_pid" "$sim_pid" ${hook_pid:-} 2>/dev/null || true
  hook_pid=
}
trap stop_app EXIT
# the recipe: the same simulator (with the demo's key), its own database on the same cluster
run_recipe() {
  local db="portone_refund_recipe"
  psql "$durable_url" -qAt -c "drop database if exists $db with (force)" -c "create database $db" >/dev/null
  target/release/portone-sim --addr "$sim" > "$out/sim.log" 2>&1 &
  sim_pid=$!
  PORT="$recipe_port" DATABASE_URL="${durable_url%/*}/$db" PORTONE_API_URL="http://$sim" \
    IMP_KEY=imp_demo_key IMP_SECRET=demo-secret-for-the-simulator-only \
    node scripts/express-recipe/server.js > "$out/recipe.log" 2>&1 &
  app_pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$recipe_port/" && break; sleep 0.2; done
}

# CPU time (utime + stime, in clock ticks) of the given processes, summed
ticks() {
  local t=0 pid stat
  for pid in "$@"; do
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    read -r -a f <<< "${stat##*) }"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
# Postgres (every process of the cluster), the server under test, the simulator
cpu_now() { echo "$(ticks $(pgrep -x postgres)) $(ticks "$app_pid") $(ticks "$sim_pid")"; }
# runs refund-load with the arguments given, and after its line one with the CPU milliseconds
# each refund cost Postgres, the server, the simulator (from the line it writes to stderr when
# set-up is done) and refund-load itself (its own count) while it measured
load() {
  target/release/refund-load "$@" 2> >(while read -r line; do
    case "$line" in measuring*) cpu_now > "$out/cpu-before" ;; *) echo "$line" >&2 ;; esac
  done) | tee "$out/last.json" | tee -a "$out/results.jsonl"
  read -r pg0 app0 sim0 < "$out/cpu-before"
  read -r pg1 app1 sim1 <<< "$(cpu_now)"
  node -e '
    const r = JSON.parse(process.argv[1]), hz = Number(process.argv[2]), d = process.argv.slice(3).map(Number);
    const per = cpu_ms => Math.round(cpu_ms / r.refunds * 1000) / 1000, ms = t => per(t / hz * 1000);
    console.log(JSON.stringify({cpu_of: r.label, shape: r.shape, clients: r.clients,
      postgres_ms: ms(d[1] - d[0]), server_ms: ms(d[3] - d[2]), sim_ms: ms(d[5] - d[4]),
      load_ms: per(r.load_cpu_ms)}));
  ' "$(tail -1 "$out/last.json")" "$(getconf CLK_TCK)" "$pg0" "$pg1" "$app0" "$app1" "$sim0" "$sim1" \
    | tee -a "$out/results.jsonl"
}

for shape in many hot; do
  for clients in 10 50; do
    run_app
    echo "==> $shape orders, $clients clients, ${seconds}s"
    load --app "http://$site" --sim "http://$sim" --shape "$shape" \
      --clients "$clients" --seconds "$seconds" --history "${HISTORY:-1000}"
    stop_app
    run_recipe
    echo "==> the refund guide's recipe: $shape orders, $clients clients, ${seconds}s"
    load --app "http://127.0.0.1:$recipe_port" --sim "http://$sim" --shape "$shape" \
      --clients "$clients" --seconds "$seconds" --history "${HISTORY:-1000}" --anonymous --label recipe
    stop_app
  done
done

# A shop that takes the service's events (registered through the shop API, as README's
# "Events to your shop" says): what a refund costs with them on, and how far behind the
# deliveries are when the load stops
run_app
PORT="$hook_port" FAST_MS=20 SLOW_MS=500 SLOW_EVERY=20 node scripts/shop-receiver.js > "$out/receiver.log" 2>&1 &
hook_pid=$!
shop_key="$(DEV_MODE=1 RUST_LOG=warn LEPTOS_SITE_ADDR="$site" target/release/portone-demo shop | sed -n 's/^SHOP_API_KEY=//p')"
curl -fsS -o /dev/null -X POST "http://$site/api/v1/webhook-endpoints" -H "Authorization: Bearer $shop_key" \
  -H 'Content-Type: application/json' -d "{\"url\": \"http://127.0.0.1:$hook_port/hooks/refunds\"}"
echo "==> many orders, 10 clients, the shop's events on, ${seconds}s"
load --app "http://$site" --sim "http://$sim" --shape many --clients 10 --seconds "$seconds" --label events
psql "$DATABASE_URL" -qAt -c "
  select json_build_object('events_of', 'many', 'clients', 10,
         'delivered', count(*) filter (where d.status = 'delivered'),
         'pending', count(*) filter (where d.status = 'pending'),
         'lag_p50_ms', round(percentile_cont(0.5) within group (order by extract(epoch from d.delivered_at - e.created_at))::numeric * 1000, 1),
         'lag_p99_ms', round(percentile_cont(0.99) within group (order by extract(epoch from d.delivered_at - e.created_at))::numeric * 1000, 1))
  from webhook_deliveries d join shop_events e on e.id = d.event_id" | tee -a "$out/results.jsonl"
stop_app

echo "==> pgbench TPC-B on the same cluster"
psql "$durable_url" -qAt -c "drop database if exists pgbench" -c "create database pgbench" >/dev/null
pgbench_url="${durable_url%/*}/pgbench"
pgbench -q -i -s 50 "$pgbench_url" >/dev/null 2>&1
for clients in 10 50; do
  tps=$(pgbench -n -c "$clients" -j 2 -T "$seconds" "$pgbench_url" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  echo "{\"pgbench_clients\": $clients, \"tps\": $tps}" | tee -a "$out/results.jsonl"
done

node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const tps = Object.fromEntries(rows.filter(r => r.pgbench_clients).map(r => [r.pgbench_clients, r.tps]));
  const recipe = Object.fromEntries(rows.filter(r => r.label === "recipe").map(r => [r.shape + r.clients, r]));
  console.log("| shape | clients | refunds/s | p50 | p99 | recipe refunds/s | × recipe | pgbench TPS | × pgbench |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of rows.filter(r => r.label === "service")) {
    const t = tps[r.clients], e = recipe[r.shape + r.clients];
    console.log(`| ${r.shape} | ${r.clients} | ${r.refunds_per_s} | ${r.p50_ms} ms | ${r.p99_ms} ms | ${e.refunds_per_s} | ${(r.refunds_per_s / e.refunds_per_s).toFixed(2)} | ${t.toFixed(0)} | ${(r.refunds_per_s / t).toFixed(2)} |`);
  }
  console.log("\nWith events to the shop (one endpoint answering in 20 ms, one request in twenty in 500 ms):\n");
  console.log("| shape | clients | refunds/s | p50 | p99 | events delivered by the end | pending at the end | delivered after (p50) | (p99) |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  const events = rows.find(r => r.events_of);
  for (const r of rows.filter(r => r.label === "events")) {
    console.log(`| ${r.shape} | ${r.clients} | ${r.refunds_per_s} | ${r.p50_ms} ms | ${r.p99_ms} ms | ${events.delivered} | ${events.pending} | ${events.lag_p50_ms} ms | ${events.lag_p99_ms} ms |`);
  }
  console.log("\nCPU time per refund while measured (ms; 2,000 ms of CPU a second on two cores):\n");
  console.log("| shape | clients | who | Postgres | server (service or recipe) | simulator | load generator |");
  console.log("|---|---|---|---|---|---|---|");
  for (const c of rows.filter(r => r.cpu_of)) {
    console.log(`| ${c.shape} | ${c.clients} | ${c.cpu_of} | ${c.postgres_ms} | ${c.server_ms} | ${c.sim_ms} | ${c.load_ms} |`);
  }
' "$out/results.jsonl" | tee "$out/table.md"
