#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++, ASan + UBSan, no CUDA) into build-fuzz/ and runs each
# for SECONDS (default 60) on its seed corpus; exits non-zero on any crash, sanitizer report,
# leak, timeout (10 s an input) or allocation above 256 MiB, after replaying the committed
# regression inputs first.
#
#   bash tests/fuzz/run_fuzzers.sh [SECONDS]   0: build and replay the regressions only
#   FUZZ_TARGETS="fuzz_png fuzz_exif"   run only these
#   FUZZ_COVERAGE=1                     then report the line coverage of what each target's
#                                       corpus reaches in src/ (a second, uninstrumented-for-
#                                       sanitizers build with clang's source coverage)
#
# New inputs that raise coverage go to build-fuzz/corpus/<target>/ (never the committed seeds),
# kept between runs. A crash leaves build-fuzz/artifacts/<target>-crash-<sha1>: fix the bug,
# then commit the file to tests/fuzz/regressions/<target>/ (the gtests FuzzReplay.* and every
# later run replay it). tests/fuzz/make_seed_corpus.py writes the seeds and dictionaries.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SECONDS_EACH="${1:-60}"
OUT="${FUZZ_BUILD_DIR:-build-fuzz}"
CXX="${FUZZ_CXX:-clang++}"
read -r -a TARGETS <<<"${FUZZ_TARGETS:-fuzz_jpeg fuzz_png fuzz_exif fuzz_spec fuzz_tar}"

# Per target: the longest input (bytes) and the sources it links beyond core/error.cpp.
declare -A MAX_LEN=([fuzz_jpeg]=65536 [fuzz_png]=65536 [fuzz_exif]=4096 [fuzz_spec]=4096
  [fuzz_tar]=16384)
CODEC_SOURCES="src/codec/decoder.cpp src/codec/image_info.cpp src/codec/exif.cpp
  src/codec/jpeg_decoder.cpp src/codec/jpeg_huffman.cpp src/codec/png_decoder.cpp
  src/codec/orientation.cpp src/core/tensor.cpp src/core/block_pool.cpp"
TAR_SOURCES="src/data/tar_reader.cpp src/data/mapped_file.cpp src/jobs/tar_writer.cpp src/jobs/temporary_path.cpp"
SPEC_SOURCES="src/pipeline/spec.cpp src/pipeline/chain.cpp src/core/random.cpp
  src/core/tensor.cpp src/core/block_pool.cpp src/plan/region.cpp $(echo src/ops/*.cpp)"
declare -A SOURCES=(
  [fuzz_jpeg]="$CODEC_SOURCES" [fuzz_png]="$CODEC_SOURCES"
  [fuzz_exif]="src/codec/exif.cpp" [fuzz_spec]="$SPEC_SOURCES" [fuzz_tar]="$TAR_SOURCES")
# What FUZZ_COVERAGE reports for each: the code the target is there to exercise.
declare -A COVERS=(
  [fuzz_jpeg]="src/codec/decoder.cpp src/codec/image_info.cpp src/codec/exif.cpp
    src/codec/jpeg_decoder.cpp src/codec/jpeg_huffman.cpp src/codec/orientation.cpp"
  [fuzz_png]="src/codec/decoder.cpp src/codec/image_info.cpp src/codec/png_decoder.cpp"
  [fuzz_exif]="src/codec/exif.cpp"
  [fuzz_spec]="src/pipeline/spec.cpp src/pipeline/chain.cpp src/plan/region.cpp $(echo src/ops/*.cpp)"
  [fuzz_tar]="src/data/tar_reader.cpp src/jobs/tar_writer.cpp")

for tool in "$CXX" ninja; do
  command -v "$tool" >/dev/null ||
    { echo "run_fuzzers.sh: no $tool (Debian: apt-get install clang libclang-rt-dev ninja-build)" >&2; exit 1; }
done

COMMON="-std=c++20 -g -fno-omit-frame-pointer -ffp-contract=off -Isrc -Itests/fuzz
  -DGPUAUG_HAVE_CUDA=0 -DGPUAUG_HAVE_NVJPEG=0"
LIBS="-ljpeg -lpng -lz -lyaml-cpp -lfmt"

# Writes DIR/build.ninja for the targets (incremental, header dependencies from -MMD) and
# builds it on every core. $2: compile flags, $3: link flags.
build() {
  local dir="$1" cflags="$2" lflags="$3" t src obj objs
  local -A seen=()
  mkdir -p "$dir"
  {
    echo "rule cxx"
    echo "  command = $CXX $(echo $cflags) -MMD -MF \$out.d -c \$in -o \$out"
    echo "  depfile = \$out.d"
    echo "  deps = gcc"
    echo "rule link"
    echo "  command = $CXX $(echo $lflags) \$in -o \$out $LIBS"
    for t in "${TARGETS[@]}"; do
      objs="$dir/obj/tests/fuzz/$t.o"
      echo "build $objs: cxx tests/fuzz/$t.cpp"
      for src in src/core/error.cpp ${SOURCES[$t]}; do
        obj="$dir/obj/${src%.cpp}.o"
        objs="$objs $obj"
        [[ -n "${seen[$obj]:-}" ]] || { echo "build $obj: cxx $src"; seen[$obj]=1; }
      done
      echo "build $dir/$t: link $objs"
    done
  } >"$dir/build.ninja"
  ninja -f "$dir/build.ninja" >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; exit 1; }
}

SAN="-O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined"
build "$OUT" "$COMMON $SAN -fsanitize=fuzzer-no-link" "$COMMON $SAN -fsanitize=fuzzer"

# UBSan: stop at the first report, with a stack; ASan: leaks count.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=64"
failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts"
  flags=(-max_len="${MAX_LEN[$t]}" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10
         -artifact_prefix="$OUT/artifacts/$t-" -print_final_stats=1)
  # A fixed seed (FUZZ_SEED) makes a run repeat the same mutations; 0 draws one.
  [[ -n "${FUZZ_SEED:-}" ]] && flags+=(-seed="$FUZZ_SEED")
  [[ -f "tests/fuzz/$t.dict" ]] && flags+=(-dict="tests/fuzz/$t.dict")
  regressions=(tests/fuzz/regressions/"$t"/*)
  if [[ -e "${regressions[0]}" ]]; then
    printf '\n==> %s: %d regression inputs\n' "$t" "${#regressions[@]}"
    if ! "$OUT/$t" "${flags[@]}" "${regressions[@]}" >"$OUT/$t.regressions.log" 2>&1; then
      tail -n 40 "$OUT/$t.regressions.log" >&2
      failed+=("$t (regressions)")
      continue
    fi
  fi
  [[ "$SECONDS_EACH" -gt 0 ]] || continue
  printf '\n==> %s: %s s\n' "$t" "$SECONDS_EACH"
  if "$OUT/$t" "${flags[@]}" -max_total_time="$SECONDS_EACH" "$OUT/corpus/$t" \
    "tests/fuzz/corpus/$t" >"$OUT/$t.log" 2>&1; then
    grep -E 'DONE|stat::number_of_executed_units|stat::peak_rss_mb' "$OUT/$t.log" || true
  else
    tail -n 60 "$OUT/$t.log" >&2
    failed+=("$t")
  fi
done

if [[ -n "${FUZZ_COVERAGE:-}" ]]; then
  COV="$OUT/coverage"
  build "$COV" "$COMMON -O0 -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer-no-link" \
    "$COMMON -fprofile-instr-generate -fsanitize=fuzzer"
  for t in "${TARGETS[@]}"; do
    LLVM_PROFILE_FILE="$COV/$t.profraw" "$COV/$t" -runs=0 "$OUT/corpus/$t" \
      "tests/fuzz/corpus/$t" >"$COV/$t.log" 2>&1
    llvm-profdata-14 merge -sparse "$COV/$t.profraw" -o "$COV/$t.profdata" 2>/dev/null ||
      llvm-profdata merge -sparse "$COV/$t.profraw" -o "$COV/$t.profdata"
    printf '\n==> %s: coverage of src/ by its corpus (build-fuzz/corpus and the seeds)\n' "$t"
    "$(command -v llvm-cov-14 || command -v llvm-cov)" report "$COV/$t" \
      -instr-profile="$COV/$t.profdata" ${COVERS[$t]} |
      awk 'NR == 1 {print "file lines line-cover branch-cover"} /\.cpp|^TOTAL/ {print $1, $8, $10, $13}' |
      column -t
  done
fi

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "run_fuzzers.sh: FAILED: ${failed[*]} (inputs in $OUT/artifacts/)" >&2
  exit 1
fi
echo "run_fuzzers.sh: ${#TARGETS[@]} passed, 0 failed"
