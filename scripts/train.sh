#!/usr/bin/env bash
# Quick start, command 1: set up everything, then run the main job
# (`dynconv train` on its embedded default). Extra arguments go to `dynconv train`.
set -euo pipefail
. "$(dirname "$0")/setup.sh"
exec node "$DYNCONV_ROOT/apps/cli/bin/dynconv.mjs" train "$@"
