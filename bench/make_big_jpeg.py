"""One large synthetic JPEG (smooth waves plus noise, q90) for the tile benchmarks:
python bench/make_big_jpeg.py OUT.jpg [WIDTH HEIGHT]  (default 12000 x 9000)."""
from __future__ import annotations

import sys

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None


def main() -> None:
    out = sys.argv[1]
    w, h = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (12000, 9000)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    noise = np.random.default_rng(0).integers(-10, 10, (h, w, 1))
    img = np.stack([128 + 100 * np.sin(20 * x + 7 * y), 128 + 100 * np.cos(13 * x * y + 3 * x),
                    128 + 90 * np.sin(9 * y - 5 * x)], -1)
    Image.fromarray((img + noise).clip(0, 255).astype(np.uint8)).save(out, quality=90)


if __name__ == "__main__":
    main()
