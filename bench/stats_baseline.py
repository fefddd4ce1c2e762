"""Python baseline for `gpuaug stats`: Pillow decode + numpy sums over a process pool.

Usage: python3 bench/stats_baseline.py INPUT --output baseline.json [--workers 16]

Per image (Pillow, EXIF orientation applied, RGB): pixel count, per-channel sums, the six
cross products and 256-bin histograms as exact int64/Python ints; the parent adds them and
derives mean, std and covariance on the [0, 1] scale as gpuaug does. Prints images/s.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def list_images(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in (".jpg", ".jpeg", ".png"):
                out.append(Path(dirpath) / name)
    return sorted(out)


def measure(path: Path):
    try:
        with Image.open(path) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except Exception as e:  # noqa: BLE001 - a baseline lists what it cannot read
        return str(path), str(e)
    x = rgb.reshape(-1, 3).astype(np.int64)
    sums = x.sum(axis=0)
    products = [int((x[:, i] * x[:, j]).sum()) for i, j in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))]
    hist = [np.bincount(rgb[..., c].ravel(), minlength=256) for c in range(3)]
    return len(x), [int(s) for s in sums], products, [h.tolist() for h in hist], rgb.shape[1], rgb.shape[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input", type=Path)
    ap.add_argument("--output", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=16)
    args = ap.parse_args()
    files = list_images(args.input)
    start = time.perf_counter()
    with Pool(args.workers) as pool:
        results = pool.map(measure, files, chunksize=16)
    n = 0
    sums = [0, 0, 0]
    products = [0] * 6
    hist = np.zeros((3, 256), np.int64)
    errors = []
    for r in results:
        if isinstance(r[1], str):
            errors.append({"file": r[0], "error": r[1]})
            continue
        n += r[0]
        sums = [a + b for a, b in zip(sums, r[1])]
        products = [a + b for a, b in zip(products, r[2])]
        hist += np.array(r[3])
    seconds = time.perf_counter() - start
    mean = [s / n / 255 for s in sums]
    pair = [[0, 3, 4], [3, 1, 5], [4, 5, 2]]
    cov = [[(products[pair[i][j]] * n - sums[i] * sums[j]) / (n * n) / 255**2 for j in range(3)] for i in range(3)]
    std = [cov[c][c] ** 0.5 for c in range(3)]
    args.output.write_text(json.dumps({"images": len(files), "pixels": n, "mean": mean, "std": std,
                                       "covariance": cov, "histogram": hist.tolist(), "errors": errors}))
    print(f"stats_baseline: {len(files)} images in {seconds:.2f} s = {len(files) / seconds:.1f} images/s "
          f"({args.workers} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
