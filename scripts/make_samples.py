#!/usr/bin/env python3
"""Regenerates data/samples/ from scikit-image's bundled sample photos.

Run once by hand (`pip install scikit-image`, then `python3 scripts/make_samples.py`); the
outputs are committed, so neither setup nor the tests need scikit-image.
"""
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageOps

OUT = Path(__file__).resolve().parent.parent / "data" / "samples"
LONG_SIDE = 200
EXIF_ORIENTATION = 0x0112

# (class, file name, skimage.data function, options)
SAMPLES = [
    ("animals", "chelsea.jpg", "chelsea", {}),
    ("animals", "chelsea_exif6.jpg", "chelsea", {"orientation": 6}),
    ("objects", "coffee.jpg", "coffee", {}),
    ("objects", "rocket.png", "rocket", {"long_side": 120}),
    ("people", "astronaut.jpg", "astronaut", {}),
    ("people", "camera_gray.jpg", "camera", {}),
    ("people", "camera_gray.png", "camera", {"long_side": 128}),
    ("science", "immunohistochemistry.jpg", "immunohistochemistry", {}),
    ("science", "retina.jpg", "retina", {"progressive": True}),
    ("science", "hubble_deep_field.jpg", "hubble_deep_field", {}),
]


def resized(pixels: np.ndarray, long_side: int) -> Image.Image:
    img = Image.fromarray(pixels)
    scale = long_side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def main() -> None:
    for cls, name, func, opts in SAMPLES:
        upright = resized(getattr(skimage.data, func)(), opts.get("long_side", LONG_SIDE))
        path = OUT / cls / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".png":
            upright.save(path, optimize=True)
            print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size} bytes")
            continue
        stored, kwargs = upright, {}
        if opts.get("orientation") == 6:
            # Orientation 6: the viewer rotates the stored pixels 90 degrees clockwise, so
            # store them rotated 90 degrees counter-clockwise.
            stored = upright.transpose(Image.Transpose.ROTATE_90)
            exif = Image.Exif()
            exif[EXIF_ORIENTATION] = 6
            kwargs["exif"] = exif.tobytes()
        stored.save(path, quality=85, progressive=opts.get("progressive", False), **kwargs)
        if "orientation" in opts:
            with Image.open(path) as check:
                shown = ImageOps.exif_transpose(check)
                assert shown.size == upright.size, (shown.size, upright.size)
        print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
