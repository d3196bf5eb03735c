#!/usr/bin/env bash
# Set-up command 1: install the build dependencies (Debian 12), build, and
# start `relance demo` (sample cohort + console staff channel).
# Extra arguments go to `relance demo`, e.g. --data-dir ~/relance-demo
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELANCE_BUILD_TESTS=OFF -DRELANCE_BUILD_BENCH=OFF >/dev/null
cmake --build build --target relance
exec build/bot/app/relance demo "$@"
