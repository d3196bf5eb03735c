#!/usr/bin/env bash
# Set-up command 2: install what the tests need (Debian 12), build everything
# (tests and benchmarks included), run the whole suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
bash deploy/install-deps.sh --test
build=${RELANCE_BUILD_DIR:-build-tests}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" -j "$(nproc)" --output-on-failure --timeout 300
echo "run-tests: all tests passed in $((SECONDS - start)) s"
