#!/usr/bin/env bash
# Runs a TypeScript script under Node with WebGPU reachable (see gpu-env.sh) and `?raw` shader imports working.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/gpu-env.sh
script=$1
shift
exec node --import ./scripts/register.mjs "$script" "$@"
