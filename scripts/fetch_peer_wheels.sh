#!/usr/bin/env bash
# Downloads the peers' wheels that bench/gpu_vs_peers.py compares with (Kornia and its Rust
# helper) into .whl/, for a GPU machine that reaches no package registry: the tree carries them
# there, and scripts/gpu_check.sh (or `pip install --no-index --target DIR .whl/*.whl`) installs
# them. Pinned to the versions of bench/RESULTS.md; PYTHON_VERSION picks the target's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download --no-deps --only-binary=:all: --python-version "${PYTHON_VERSION:-3.12}" \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "kornia==0.9.0" "kornia_rs==0.2.0"
ls -l .whl
