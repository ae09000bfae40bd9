#!/usr/bin/env bash
# Quick start, command 2: set up everything, then build, typecheck and run the
# whole test suite. The last line printed is `N passed, N failed`.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
cd "$DYNCONV_ROOT"
if ! pnpm exec turbo run typecheck --output-logs=errors-only; then
  echo "typecheck failed (see above)"
  echo "0 passed, 1 failed"
  exit 1
fi
pnpm exec vitest run "$@"
