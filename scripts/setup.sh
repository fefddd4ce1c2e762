#!/usr/bin/env bash
# Installs what gpuaug needs (only what is missing), builds it, installs it and runs the demo.
#
# Environment:
#   PREFIX             install prefix (default /usr/local, so `gpuaug` lands on PATH)
#   GPUAUG_WERROR=OFF  do not treat compiler warnings as errors (default ON)
#   GPUAUG_CMAKE_ARGS  extra CMake configure arguments, split on whitespace
#   BUILD_DIR          build folder (default build)
# Safe to run again: a second run installs nothing and rebuilds only what changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PREFIX="${PREFIX:-/usr/local}"
[[ "$PREFIX" == /* ]] || PREFIX="$PWD/$PREFIX"
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="$(nproc 2>/dev/null || echo 2)"

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'setup.sh: warning: %s\n' "$*" >&2; }

SUDO=()
if [[ "$(id -u)" -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
fi

# --- System packages ------------------------------------------------------------------------
# A package counts as present when dpkg says so or when what it provides is already there
# (a header or a command), so machines that got a library some other way are left alone.
# Debian and Ubuntu name the libjpeg-turbo package differently (libjpeg62-turbo-dev,
# libjpeg-turbo8-dev); libjpeg-dev pulls in the right one on both.
dpkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

have_header() {
  local multiarch dir
  multiarch="$(gcc -print-multiarch 2>/dev/null || true)"
  for dir in /usr/include ${multiarch:+"/usr/include/$multiarch"} /usr/local/include \
    "$PREFIX/include"; do
    [[ -e "$dir/$1" ]] && return 0
  done
  return 1
}

have_cmd() { command -v "$1" >/dev/null 2>&1; }

# package : probe (cmd:NAME or a header path)
APT_REQUIREMENTS=(
  "build-essential:cmd:g++"
  "cmake:cmd:cmake"
  "ninja-build:cmd:ninja"
  "pkg-config:cmd:pkg-config"
  "libjpeg-dev:jpeglib.h"
  "libpng-dev:png.h"
  "libyaml-cpp-dev:yaml-cpp/yaml.h"
  "libfmt-dev:fmt/format.h"
  "libcli11-dev:CLI/CLI.hpp"
  "nlohmann-json3-dev:nlohmann/json.hpp"
  "libgtest-dev:gtest/gtest.h"
  "libbenchmark-dev:benchmark/benchmark.h"
  "libopenmpi-dev:cmd:mpicxx"
  "openmpi-bin:cmd:mpirun"
  "clang:cmd:clang++"
  "libclang-rt-dev:pkg"
)

step "System packages"
missing=()
for entry in "${APT_REQUIREMENTS[@]}"; do
  pkg="${entry%%:*}"
  probe="${entry#*:}"
  dpkg_installed "$pkg" && continue
  if [[ "$probe" == cmd:* ]]; then
    have_cmd "${probe#cmd:}" && continue
  else
    have_header "$probe" && continue
  fi
  missing+=("$pkg")
done
have_cmd python3 || missing+=(python3)
if ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  note "all present"
elif ! have_cmd apt-get; then
  warn "missing ${missing[*]} and no apt-get here: install them by hand"
else
  note "installing: ${missing[*]}"
  # A failed install is reported, not fatal: on a machine without network the configure
  # step below says precisely which library is really missing.
  apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::http::Timeout=30)
  if ! { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; }
  then
    warn "apt-get could not install ${missing[*]}; continuing with what is here"
  fi
fi

# --- Python packages (test oracles; matplotlib draws `gpuaug stats --plots`; scikit-image's
# sample photos make the benchmark corpus, bench/make_jpegs.py, which the soak test uses) -----
# module:package
PY_REQUIREMENTS=(
  "numpy:numpy"
  "PIL:pillow"
  "cv2:opencv-python-headless"
  "pytest:pytest"
  "matplotlib:matplotlib"
  "skimage:scikit-image"
  "nanobind:nanobind"
  "scikit_build_core:scikit-build-core"
)

step "Python packages"
py_missing=()
for entry in "${PY_REQUIREMENTS[@]}"; do
  python3 -c "import ${entry%%:*}" >/dev/null 2>&1 || py_missing+=("${entry#*:}")
done

pip_install() {
  local log status=0
  log="$(mktemp)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
  python3 -m pip install -q "$@" >"$log" 2>&1 || status=$?
  if [[ $status -ne 0 ]] && grep -q 'externally-managed-environment' "$log"; then
    note "pip says this Python is externally managed: using --break-system-packages"
    status=0
    python3 -m pip install -q --break-system-packages "$@" || status=$?
  else
    cat "$log"
  fi
  rm -f "$log"
  return "$status"
}

if [[ ${#py_missing[@]} -eq 0 ]]; then
  note "all present"
elif ! python3 -m pip --version >/dev/null 2>&1; then
  warn "no pip for $(command -v python3 || echo python3): cannot install ${py_missing[*]}"
else
  note "installing: ${py_missing[*]}"
  pip_install "${py_missing[@]}" ||
    warn "pip could not install ${py_missing[*]}; the Python tests will need them"
fi

# --- Configure, build, install --------------------------------------------------------------
if [[ -d /usr/local/cuda/bin ]] && ! have_cmd nvcc; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

step "Configure (CMake, Release)"
case "${GPUAUG_WERROR:-ON}" in
  OFF | off | Off | 0 | NO | no | FALSE | false) werror=OFF ;;
  *) werror=ON ;;
esac
generator=()
# An existing build folder keeps the generator it was made with (CMake refuses a change).
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]] && have_cmd ninja; then
  generator=(-G Ninja)
fi
read -r -a extra_args <<<"${GPUAUG_CMAKE_ARGS:-}"
cmake -S . -B "$BUILD_DIR" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DGPUAUG_WERROR="$werror" \
  "${extra_args[@]}"

step "Build ($JOBS jobs)"
cmake --build "$BUILD_DIR" -j "$JOBS"

step "Install to $PREFIX"
install_cmd=()
existing="$PREFIX"
while [[ ! -e "$existing" ]]; do existing="$(dirname "$existing")"; done
if [[ ! -w "$existing" ]]; then
  install_cmd=("${SUDO[@]}")
fi
"${install_cmd[@]}" cmake --install "$BUILD_DIR"

step "Python package (gpuaug)"
# scikit-build-core + nanobind build the extension (pyproject.toml); no build isolation, so
# nothing is fetched at build time.
CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" pip_install --no-build-isolation \
  -C cmake.define.GPUAUG_WERROR="$werror" .

step "Demo"
gpuaug_bin="$PREFIX/bin/gpuaug"
"$gpuaug_bin" demo
if [[ "$(command -v gpuaug || true)" != "$gpuaug_bin" ]]; then
  note "note: $PREFIX/bin is not first on PATH; run $gpuaug_bin, or add $PREFIX/bin to PATH"
fi
