#!/usr/bin/env bash
# `make test`: set up everything and run every test: unit, integration (real Postgres, the
# simulator over HTTP), and Playwright in Chromium against the app built by cargo-leptos.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-tools.sh --browser
# Integration tests create one fresh database per test (sqlx::test) next to this one.
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/pg.sh portone_refund_test)"
  export DATABASE_URL
fi

echo "==> unit and integration tests"
# One test at a time: every integration test runs in one binary (tests/it), each with its own
# runtime, app, simulator and database, sharing sqlx's one connection budget per process; run
# side by side they occasionally starved each other. A hung test fails the run instead of
# eating CI's time.
timeout 1800 env RUSTFLAGS="--cfg erase_components" cargo test --features ssr -- --test-threads=1 ${TEST_FILTER:+"$TEST_FILTER"}
timeout 600 env RUSTFLAGS="--cfg erase_components" cargo test -p portone-sim ${TEST_FILTER:+-- "$TEST_FILTER"}

echo "==> torture run, short (two app instances, faults, console cancels, kill -9)"
scripts/torture.sh --seed "${TORTURE_SEED:-7}" --requests 1500 --kills 4 --shoppers 20 --payments 120

echo "==> browser tests"
scripts/e2e.sh
