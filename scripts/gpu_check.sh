#!/usr/bin/env bash
# On the GPU machine: build, run every test (the `gpu` label included, and pytest), compute-
# sanitizer on the GPU tests, and the benchmarks; logs go to $OUT (or ./gpu-check-out).
set -uo pipefail
out=${OUT:-$PWD/gpu-check-out}
mkdir -p "$out"
jobs=$(nproc)
export PATH=/usr/local/cuda/bin:$PATH
# Peer wheels carried with the tree (Kornia for the augment-only comparison), when present.
if ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
{
  nvidia-smi -L; nvcc --version | tail -2; g++ --version | head -1; cmake --version | head -1
  # The Python module in the same build (static CUDA runtime, as the wheel links it, so torch's
  # runtime beside it is no trouble): one compile of the library instead of two.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGPUAUG_WERROR=OFF \
    -DGPUAUG_BUILD_PYTHON=ON -DGPUAUG_STATIC_CUDA=ON ${GPUAUG_CMAKE_ARGS:-}
  ninja -C build -k 0 -j "$jobs"
} > "$out/build.log" 2>&1
tail -3 "$out/build.log"
ctest --test-dir build -j "$jobs" --output-on-failure > "$out/ctest.log" 2>&1
grep -E "tests passed|tests failed|Failed|\*\*\*" "$out/ctest.log" | head -40
./build/tests/test_plan_gpu > "$out/gpu_tests.log" 2>&1
echo "CPU-vs-GPU cases with max diff 0: $(grep -c 'max |gpu - cpu| = 0 ' "$out/gpu_tests.log"); nonzero: $(grep 'max |gpu - cpu|' "$out/gpu_tests.log" | grep -vc '= 0 ')"
grep -E "^\[  (PASSED|FAILED) " "$out/gpu_tests.log" | head -8
./build/tests/test_codec_gpu > "$out/nvjpeg_tests.log" 2>&1; grep -E "nvJPEG|PASSED|FAILED" "$out/nvjpeg_tests.log" | head -12
if [ "${SANITIZE:-1}" = 1 ]; then
  compute-sanitizer --tool memcheck --error-exitcode 9 ./build/tests/test_plan_gpu --gtest_filter='*17x19_b7*:*Large*rrc_flip*' > "$out/memcheck.log" 2>&1
  echo "memcheck exit $?: $(grep -E 'ERROR SUMMARY' "$out/memcheck.log" | tail -1)"
  compute-sanitizer --tool racecheck --error-exitcode 9 ./build/tests/test_plan_gpu --gtest_filter='*jitter_blur_jitter_17x19_b7*:*full_chain_f32_64x48_b7*' > "$out/racecheck.log" 2>&1
  echo "racecheck exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/racecheck.log" | tail -1)"
  # Images handed over in GPU memory, 8-bit and float (the conversion kernel, both source types).
  compute-sanitizer --tool memcheck --error-exitcode 9 ./build/tests/test_pipeline_gpu --gtest_filter='ImageBatchGpu.*' > "$out/memcheck_images.log" 2>&1
  echo "memcheck (image batches) exit $?: $(grep -E 'ERROR SUMMARY' "$out/memcheck_images.log" | tail -1)"
fi
# The Python tests with the package of this tree (python/gpuaug and the module built above, in a
# folder of their own), torch and torchvision being there for the GPU and torchvision-oracle
# tests. PYTEST=0 skips.
if [ "${PYTEST:-1}" = 1 ]; then
  site=/tmp/gpuaug-site
  rm -rf "$site" && mkdir -p "$site" && cp -r python/gpuaug "$site/" && cp build/_gpuaug*.so "$site/gpuaug/" \
    || echo "the module was not built: see build.log"
  PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH} GPUAUG_BIN=$PWD/build/gpuaug python3 -m pytest -q tests/python \
    > "$out/pytest.log" 2>&1
  tail -3 "$out/pytest.log"
fi
if [ "${BENCH:-1}" = 1 ]; then
  PYTHONUNBUFFERED=1 python3 bench/gpu_vs_peers.py --images "${IMAGES:-8000}" ${GPU_BENCH_ARGS:-} > "$out/gpu_bench.md" 2>&1; tail -22 "$out/gpu_bench.md"
  PYTHONUNBUFFERED=1 python3 bench/cpu_decode_augment.py --images 1000 > "$out/cpu_bench.md" 2>&1; tail -14 "$out/cpu_bench.md"
fi
