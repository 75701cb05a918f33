#!/usr/bin/env bash
# The whole test suite: type check, unit + GPU kernel tests (vitest on Node WebGPU), then browser end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci
source scripts/gpu-env.sh
npx tsc --noEmit -p tsconfig.json
npx vitest run
