#!/usr/bin/env bash
# `make test-rust`: formatting, lints (server and browser halves), then every Rust test: unit
# tests in each crate and the integration tests (tests/it: real Postgres, the simulator over
# HTTP). Part of `make test`; needs no browser.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-tools.sh --server-only
# the browser half is linted too
rustup target add wasm32-unknown-unknown >/dev/null
# Integration tests create one fresh database per test (sqlx::test) next to this one.
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/pg.sh portone_refund_test)"
  export DATABASE_URL
fi

echo "==> format and lints"
cargo fmt --all --check
plain_cargo clippy --workspace --features ssr --all-targets -- -D warnings
plain_cargo clippy --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings
echo "==> .sqlx/ holds exactly the queries the code runs"
scripts/sqlx-prepare.sh --check

echo "==> unit and integration tests"
# One test at a time: every integration test runs in one binary (tests/it), each with its own
# runtime, app, simulator and database, sharing sqlx's one connection budget per process; run
# side by side they occasionally starved each other. A hung test fails the run instead of
# eating CI's time.
# The output is kept: scripts/check-logs.sh reads it for secrets and account numbers.
mkdir -p target/test-logs
timeout 1800 env RUSTFLAGS="--cfg erase_components" cargo test --workspace --features ssr -- --test-threads=1 ${TEST_FILTER:+"$TEST_FILTER"} \
  2>&1 | tee target/test-logs/cargo-test.log
