#!/usr/bin/env bash
# On the GPU machine, after a build in build/ and `pip install .`: the measurements that go to
# bench/RESULTS.md, one after another, logs in $OUT (or ./gpu-bench-out). SKIP="soak example"
# leaves those out.
set -uo pipefail
out=${OUT:-$PWD/gpu-bench-out}
mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
skip=" ${SKIP:-} "
corpus=/tmp/gpuaug-corpus
[ -d "$corpus" ] || python3 bench/make_jpegs.py "$corpus" 8000 > /dev/null
nvidia-smi -L
CORPUS=$corpus bash bench/gpu_workers.sh 2>&1 | tee "$out/workers.log"
build/gpuaug bench --compare --spec bench/rrc_normalize_f16.yaml --input "$corpus" --limit 4096 \
  --output "$out" > "$out/compare.log" 2>&1; tail -22 "$out/compare.log"
timeout 240 python3 bench/python_loader.py --images 8192 --corpus /tmp/gpuaug-loader --workers 16 --epochs 2 \
  > "$out/loader.log" 2>&1; tail -8 "$out/loader.log"
if [[ "$skip" != *" example "* ]]; then
  timeout 300 python3 examples/train_classifier.py --loader both --model resnet50 --batch 256 --crop 224 \
    --size 256 --epochs 1 --per-class 300 > "$out/resnet50.log" 2>&1; tail -6 "$out/resnet50.log"
fi
if [[ "$skip" != *" soak "* ]]; then
  timeout 300 python3 bench/soak.py --epochs ${SOAK_EPOCHS:-60} --images 256 --threads 16 > "$out/soak.log" 2>&1
  tail -12 "$out/soak.log"
fi
