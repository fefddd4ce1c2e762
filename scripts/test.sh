#!/usr/bin/env bash
# Runs every test: the C++ tests through CTest, then the Python oracle tests through pytest.
# Run scripts/setup.sh first (it builds into build/). GPU tests (ctest label `gpu`) skip
# themselves on machines without a GPU. Exits non-zero when either suite fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="$(nproc 2>/dev/null || echo 2)"
if [[ -d /usr/local/cuda/bin ]] && ! command -v nvcc >/dev/null 2>&1; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

failed=()

printf '\n==> C++ tests (ctest, %s jobs)\n' "$JOBS"
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  echo "test.sh: $BUILD_DIR/ is not configured: run bash scripts/setup.sh first" >&2
  failed+=(ctest)
elif [[ ! -f "$BUILD_DIR/CTestTestfile.cmake" ]]; then
  echo "test.sh: C++ tests are not built in $BUILD_DIR/ (GPUAUG_BUILD_TESTS=OFF); skipping"
elif ! ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"; then
  failed+=(ctest)
fi

printf '\n==> Python tests (pytest)\n'
status=0
python3 -m pytest -q tests/python || status=$?
if [[ $status -eq 5 ]] &&
  [[ -z "$(find tests/python -name 'test_*.py' -o -name '*_test.py' | head -n 1)" ]]; then
  echo "test.sh: tests/python has no test files yet; nothing to run"
elif [[ $status -ne 0 ]]; then
  failed+=(pytest)
fi

# The C++ tests again, built with AddressSanitizer + UndefinedBehaviorSanitizer (CPU code; the
# GPU tests run under compute-sanitizer on a GPU machine: scripts/gpu_check.sh). SANITIZE=0 skips.
if [[ "${SANITIZE:-1}" != 0 ]]; then
  printf '\n==> C++ tests under ASan + UBSan (%s)\n' "${ASAN_BUILD_DIR:-build-asan}"
  ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-build-asan}"
  if cmake -S . -B "$ASAN_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPUAUG_SANITIZE=ON \
      -DGPUAUG_ENABLE_CUDA=OFF -DGPUAUG_BUILD_BENCH=OFF -DGPUAUG_WERROR=OFF >/dev/null &&
    cmake --build "$ASAN_BUILD_DIR" -j "$JOBS" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j "$JOBS" -LE gpu; then
    :
  else
    failed+=(asan)
  fi
fi

# libFuzzer targets with ASan + UBSan, a bounded time each from a fixed seed (so that CI
# explores the same inputs every run); any crash fails (tests/fuzz/run_fuzzers.sh).
printf '\n==> Fuzzers (libFuzzer + ASan/UBSan, %s s each)\n' "${FUZZ_SECONDS:-30}"
FUZZ_SEED="${FUZZ_SEED:-1}" bash tests/fuzz/run_fuzzers.sh "${FUZZ_SECONDS:-30}" || failed+=(fuzz)

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
printf '\n==> All tests passed\n'
