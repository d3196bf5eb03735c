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
# No test may depend on the day it runs: the core, the store and the engine's
# tests again with the wall clock a year ahead. The monotonic clock is left
# alone (timers keep their real pace). The service scenarios run on a test
# clock of their own, and are left out: under libfaketime an Asio timer due
# at once (timerfd) never fires, so a running service would hang there.
FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f '+365d' bash -c \
  "'$build/tests/test_domain' && '$build/tests/test_store' && '$build/tests/test_app' '~[scenario]~[imap]'" \
  >"$build/faketime-year-ahead.log" 2>&1 || { tail -n 80 "$build/faketime-year-ahead.log"; exit 1; }
echo "run-tests: the core, store and engine tests also pass a year ahead"
# The core and the store again under AddressSanitizer + UBSan: any report
# (a leak included) fails the run. Only their two executables are built
# there (they link neither the app nor the adapters), so it stays quick.
asan="$build-sanitize"
cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 -DRELANCE_SANITIZE=ON \
  -DRELANCE_BUILD_BENCH=OFF >/dev/null
cmake --build "$asan" -j "$(nproc)" --target test_domain test_store
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$asan/tests/test_domain" >"$asan/test_domain.log" 2>&1 || { tail -n 80 "$asan/test_domain.log"; exit 1; }
"$asan/tests/test_store" >"$asan/test_store.log" 2>&1 || { tail -n 80 "$asan/test_store.log"; exit 1; }
unset ASAN_OPTIONS UBSAN_OPTIONS
echo "run-tests: the core and store tests pass under AddressSanitizer and UBSan"
echo "run-tests: all tests passed in $((SECONDS - start)) s"
