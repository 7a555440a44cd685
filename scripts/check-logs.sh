#!/usr/bin/env bash
# Fails when any log of the test run holds a secret or a full refund account number: the
# simulator's PortOne secret, and the full account numbers the tests type into refund forms
# (tests/it/refund.rs, tests/it/portone.rs, tests/it/operations.rs) and the account holder's
# phone they type (tests/it/refund.rs, end2end/tests/pg-fields.spec.ts). Only the masked form
# (**********8400) may appear.
#
#   scripts/check-logs.sh <log dir or file>...
set -euo pipefail
forbidden=(
  "demo-secret-for-the-simulator-only"
  "56211105948400"
  "562-111-05948400"
  "01012345678"
  "010-1234-5678"
)
files=()
for path in "$@"; do
  [ -e "$path" ] && while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$path" -type f -name '*.log' -print0)
done
[ "${#files[@]}" -gt 0 ] || { echo "check-logs: no logs found in $*" >&2; exit 1; }
bad=0
for needle in "${forbidden[@]}"; do
  if grep -lF -- "$needle" "${files[@]}"; then
    echo "check-logs: a secret or full account number (${needle:0:6}…) is in the files above" >&2
    bad=1
  fi
done
[ "$bad" = 0 ] || exit 1
lines=$(cat "${files[@]}" | wc -l)
echo "check-logs: ${#files[@]} log files, $lines lines, no secret and no full account number"
