# Sourced by the other scripts: one place for the tool paths and build settings.
# shellcheck shell=bash
export PATH="$PWD/.tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Queries were checked against the schema when `.sqlx/` was prepared; no database needed to build.
export SQLX_OFFLINE="${SQLX_OFFLINE:-true}"
# Plain cargo commands use what cargo-leptos uses for debug builds, so they share its artifacts.
export LEPTOS_OUTPUT_NAME=portone-refund
plain_cargo() { RUSTFLAGS="--cfg erase_components" cargo "$@"; }
