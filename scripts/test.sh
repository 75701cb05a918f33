#!/usr/bin/env bash
# The whole test suite: type check, unit + GPU kernel tests (vitest on Node WebGPU), then browser end-to-end tests
# (Playwright driving Debian's chromium with WebGPU on SwiftShader, against the production build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
source scripts/gpu-env.sh
echo "== type check"
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p bench/tsconfig.json
echo "== unit and GPU kernel tests (vitest)"
npx vitest run
echo "== end-to-end tests (Playwright, headless chromium)"
npx playwright test
