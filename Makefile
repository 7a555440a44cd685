# Both targets do all set-up on a fresh Debian/Ubuntu machine (as root or a normal user).
.PHONY: run test e2e sqlx-prepare

run:
	scripts/run.sh

test:
	scripts/test.sh

# Browser tests only (after `make test` has set things up once).
e2e:
	scripts/e2e.sh

# Refresh `.sqlx/` after changing a query (needs sqlx-cli; installs with scripts/install-tools.sh).
sqlx-prepare:
	scripts/sqlx-prepare.sh
