#!/usr/bin/env bash
# `make test`: set up everything and run every test: format and lints, unit and integration
# tests (real Postgres, the simulator over HTTP; scripts/test-rust.sh), the short torture run,
# Playwright in Chromium against the app built by cargo-leptos, and checks of the logs and of
# the production binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# A full disk shows up late and far from its cause (the linker dies with a bus error): say it
# first. A clean run builds about 6 GB under target/.
free_kb=$(df -Pk . 2>/dev/null | awk 'NR == 2 { print $4 }' || true)
if [ -n "$free_kb" ] && [ "$free_kb" -lt $((8 * 1024 * 1024)) ]; then
  echo "test: only $((free_kb / 1024 / 1024)) GB free here; a clean run needs about 6 GB for target/ and more for Postgres and the browser" >&2
fi

scripts/install-tools.sh --browser
scripts/test-rust.sh

echo "==> torture run, short (two app instances, faults, console cancels, kill -9)"
scripts/torture.sh --seed "${TORTURE_SEED:-7}" --requests 1500 --kills 4 --shoppers 20 --payments 120

echo "==> browser tests"
scripts/e2e.sh

echo "==> the production binary holds only the product"
scripts/check-product.sh target/debug/portone-refund

echo "==> logs of the whole run: no secret, no full account number"
scripts/check-logs.sh target/test-logs target/torture target/e2e
