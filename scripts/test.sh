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
# System packages the suite drives for real: headless Chromium (browser tests)
# and PostgreSQL (cluster sweeps). Installed once here, not concurrently by tests.
missing=""
for pkg in chromium postgresql; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "test: installing$missing" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || echo "test: could not install$missing; the tests that need them will say so" >&2
fi
cd "$DYNCONV_ROOT"
pnpm exec turbo run typecheck --output-logs=errors-only || fail "typecheck failed (see above)"
pnpm exec biome check . >/dev/null 2>&1 || { pnpm exec biome check . || true; fail "lint failed (see above)"; }
pnpm exec vitest run "$@"
