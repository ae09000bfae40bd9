#!/usr/bin/env bash
# Quick start, command 2: set up everything, then build, typecheck and run the
# whole test suite. The last line printed is `N passed, N failed`.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fail() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}
# Set-up runs once in a child shell so a failure still ends with the summary line.
bash "$here/setup.sh" || fail "set-up or build failed (see above)"
set -e
. "$here/setup.sh"
cd "$DYNCONV_ROOT"
pnpm exec turbo run typecheck --output-logs=errors-only || fail "typecheck failed (see above)"
pnpm exec vitest run "$@"
