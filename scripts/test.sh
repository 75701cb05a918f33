#!/usr/bin/env bash
# The whole test suite: type check, unit + GPU kernel tests (vitest on Node WebGPU), then browser end-to-end tests
# (Playwright driving Debian's chromium with WebGPU on SwiftShader, against the production build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
source scripts/gpu-env.sh
# Debian's PyTorch for the hand-over cross-checks (src/train/shards.test.ts): installed when missing if we can; where
# it cannot be, those tests say they are skipped.
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null && ! python3 -c 'import torch' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing python3-torch from Debian's packages (for the PyTorch cross-checks)..."
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch >/dev/null; } \
      || echo "apt-get install python3-torch failed: the PyTorch cross-checks will be skipped" >&2
  else
    echo "No Python with torch (Debian: sudo apt-get install python3-torch): the PyTorch cross-checks will be skipped" >&2
  fi
fi
echo "== type check"
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p bench/tsconfig.json
echo "== unit and GPU kernel tests (vitest)"
npx vitest run
echo "== end-to-end tests (Playwright, headless chromium)"
npx playwright test
