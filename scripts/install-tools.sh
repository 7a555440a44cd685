#!/usr/bin/env bash
# Installs the build and test tools this project needs, skipping any already present
# at the right version. Safe to run repeatedly; works as root or as a normal user
# (Debian packages are installed with sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130   # must equal the `wasm-bindgen = "=…"` pin in Cargo.toml
SQLX_CLI_VERSION=0.8.6
BINARYEN_NPM_VERSION=132        # Debian's binaryen 108 builds WASM that never hydrates

# --browser: also Chromium and the Playwright packages; --server-only: only what the server,
# the simulator and the torture run need (no cargo-leptos, wasm-bindgen or wasm-opt).
want_browser=0
want_front=1
case "${1:-}" in
  --browser) want_browser=1 ;;
  --server-only) want_front=0 ;;
esac

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || [ -n "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || apt_missing+=(postgresql)
command -v psql >/dev/null || apt_missing+=(postgresql-client)
if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then apt_missing+=(chromium); fi
command -v npm >/dev/null || apt_missing+=(nodejs npm)
command -v cc >/dev/null || apt_missing+=(build-essential)
command -v pkg-config >/dev/null || apt_missing+=(pkg-config)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${apt_missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

# rustup may not auto-install targets here (RUSTUP_AUTO_INSTALL=0), so ask explicitly.
rustup toolchain install "$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)" --profile minimal --component rustfmt,clippy >/dev/null 2>&1 || true
[ "$want_front" = 1 ] && rustup target add wasm32-unknown-unknown >/dev/null

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
version_of() { "$cargo_bin/$1" --version 2>/dev/null | awk '{print $2}'; }

if [ "$want_front" = 1 ] && [ "$(version_of cargo-leptos)" != "$CARGO_LEPTOS_VERSION" ]; then
  echo "==> cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi
if [ "$want_front" = 1 ] && [ "$(version_of wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
  echo "==> cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # not --locked: its lockfile names a crate version this registry lacks
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if [ "${WITH_SQLX_CLI:-0}" = 1 ] && [ "$("$cargo_bin/sqlx" --version 2>/dev/null | awk '{print $2}')" != "$SQLX_CLI_VERSION" ]; then
  echo "==> cargo install sqlx-cli $SQLX_CLI_VERSION"
  cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --no-default-features --features postgres,rustls --locked
fi

tools=.tools
if [ "$want_front" = 1 ] && [ ! -x "$tools/node_modules/.bin/wasm-opt" ]; then
  echo "==> npm binaryen@$BINARYEN_NPM_VERSION (wasm-opt)"
  mkdir -p "$tools"
  (cd "$tools" && npm install --silent --no-audit --no-fund --prefix . "binaryen@$BINARYEN_NPM_VERSION" >/dev/null)
fi

# npm ci when end2end/node_modules is missing or older than the lockfile
if [ "$want_browser" = 1 ] && { [ ! -f end2end/node_modules/.package-lock.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; }; then
  echo "==> npm ci in end2end/"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
