SHELL := /bin/bash

# Both targets do all set-up on a fresh Debian/Ubuntu machine (as root or a normal user).
.PHONY: run test test-rust e2e torture sqlx-prepare bench-sim bench-admin bench-first-visit bench-refunds

run:
	scripts/run.sh

test:
	scripts/test.sh

# Format, lints, unit and integration tests only (no browser, no torture run).
test-rust:
	scripts/test-rust.sh

# The chaos run: two app instances, faults, console cancels, kill -9; checks both ledgers.
# Pass arguments with ARGS, e.g. `make torture ARGS="--seed 42"`.
torture:
	scripts/torture.sh $(ARGS)

# Browser tests only (after `make test` has set things up once).
e2e:
	scripts/e2e.sh

# Refresh `.sqlx/` after changing a query (needs sqlx-cli; installs with scripts/install-tools.sh).
sqlx-prepare:
	scripts/sqlx-prepare.sh

# Benchmarks (release builds; not part of `make test`).
# A customer's first visit to an order page on a slow link: bytes and time to a working 환불하기.
bench-first-visit:
	scripts/bench-first-visit.sh

# Refunds/s through the whole service on a durably committing Postgres, beside PortOne's own
# recipe (the refund guide's Express server, scripts/express-recipe/) and pgbench.
bench-refunds:
	scripts/bench-refunds.sh

bench-sim:
	scripts/install-tools.sh && . scripts/env.sh && cargo bench -p portone-sim --bench throughput

# 환불 내역 through HTTP at REFUNDS refunds (default 1,000,000; `make bench-admin REFUNDS=10000000`;
# ONLY=<text> keeps the filters named so, ONLY=csv the export alone).
bench-admin:
	scripts/install-tools.sh && . scripts/env.sh && DATABASE_URL="$${DATABASE_URL:-$$(scripts/pg.sh postgres)}" REFUNDS="$(REFUNDS)" ONLY="$(ONLY)" cargo bench --features ssr --bench admin_pages
