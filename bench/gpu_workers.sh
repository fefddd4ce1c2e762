#!/usr/bin/env bash
# On the GPU machine, after a build in build/: the end-to-end and augment-only rates with one and
# two workers on cuda:0 (with each side's wall time), the 16-thread CPU rate, augment and reduce
# on the CPU and on the GPU, all on the same corpus (bench/make_jpegs.py). One line each.
set -uo pipefail
corpus=${CORPUS:-/tmp/gpuaug-corpus}
count=${IMAGES:-8000}
B=${GPUAUG_BIN:-build/gpuaug}
S=${SPEC:-bench/rrc_normalize_f16.yaml}
[ -d "$corpus" ] || python3 bench/make_jpegs.py "$corpus" "$count" > /dev/null
show() {  # label, then bench --json on stdin
  python3 -c "import json,sys; r=json.load(sys.stdin); print('$1', round(r['images_per_s']), 'images/s;',
    ' '.join(f'{k}={round(r[k], 3)}' for k in ('gpu_decode_share', 'prepare_wall_s', 'decode_wall_s',
    'launch_wall_s', 'kernel_images_per_s') if k in r))"
}
for device in ${DEVICES:-cuda:0 cuda:0,0}; do
  "$B" bench --spec "$S" --input "$corpus" --device "$device" --iters 3 --json | show "$device end to end"
  "$B" bench --spec "$S" --input "$corpus" --device "$device" --iters 3 --augment-only --json | show "$device augment only"
done
"$B" bench --spec "$S" --input "$corpus" --iters 2 --json | show "cpu $(nproc) threads"
for device in cpu cuda:0; do
  /usr/bin/time -f "augment --device $device: %e s" "$B" augment --spec "$S" --input "$corpus" \
    --output "/tmp/gpuaug-augment-${device/:/_}" --format npy --device "$device" --quiet
  /usr/bin/time -f "reduce --device $device: %e s" "$B" reduce --input "$corpus" \
    --output "/tmp/gpuaug-reduce-${device/:/_}" --max-side 256 --device "$device" --quiet
done
