#!/usr/bin/env bash
# The production binary holds only the product: none of the demo accounts' passwords
# (`crates/demo`). `make test` runs this on the binary it built; fails on one that holds any.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/portone-refund}"
mapfile -t passwords < <(grep -oE 'password: "[^"]+"' crates/demo/src/seed.rs | cut -d'"' -f2)
if [ "${#passwords[@]}" -lt 3 ]; then
  echo "check-product: found ${#passwords[@]} demo passwords in crates/demo/src/seed.rs, expected 3 or more" >&2
  exit 1
fi
status=0
for password in "${passwords[@]}"; do
  if grep -qaF "$password" "$bin"; then
    echo "check-product: $bin holds the demo password $password" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "==> $bin holds none of the ${#passwords[@]} demo passwords"
exit "$status"
