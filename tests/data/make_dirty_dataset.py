#!/usr/bin/env python3
"""Writes a class-per-folder dataset with planted problems for `gpuaug clean`.

    make_dirty_dataset.py ROOT [--seed N] [--clean N]

ROOT/images/<class>/...   the dataset (cats, dogs, birds)
ROOT/expected.json        {"seed", "images": count, "planted": {relative: [reasons]},
                           "groups": [{"kind", "files": [keeper, ...]}], "clean": [relative...]}

Planted, one file each (reasons as `gpuaug clean` names them, src/jobs/clean.h):
  truncated            a JPEG cut to 60% of its bytes
  zero_byte            an empty .jpg
  extension_mismatch   PNG data named .jpg
  tiny                 a 20x20 picture
  tiny, extreme_aspect a 1x200 strip (width 1)
  near_constant        one colour plus noise in {-1, 0, 1} (std about 0.8)
  duplicate            a JPEG's pixels as decoded by Pillow, saved as PNG; a PNG saved again
                       with another compression level (other bytes, same pixels)
  near_duplicate       a picture resized to 90% and recompressed as JPEG at quality 70; a
                       picture 5% brighter
Each copy is named <original stem>_<what>, so the original sorts first and is the keeper.
The clean pictures are smooth random fields (bicubic-upsampled noise) with a few random
shapes, one seed each: their 64-bit dHashes are tens of bits apart. Deterministic from the
seed (Pillow and numpy only).
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

CLASSES = ("birds", "cats", "dogs")


def picture(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A natural-ish picture: a smooth random colour field with a few shapes on it."""
    coarse = rng.integers(0, 256, size=(int(rng.integers(3, 7)), int(rng.integers(3, 7)), 3),
                          dtype=np.uint8)
    image = Image.fromarray(coarse, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1 + 8, y1 + 8), fill=colour)
        else:
            draw.rectangle((x0, y0, x1 + 8, y1 + 8), fill=colour)
    # Fine grain, as a camera would give: keeps JPEG honest and the pixels distinct.
    array = np.asarray(image, dtype=np.int16) + rng.integers(-4, 5, size=(height, width, 3))
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def save(image: Image.Image, path: Path, **kwargs: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        kwargs.setdefault("quality", 90)
        image.save(path, "JPEG", **kwargs)
    else:
        image.save(path, "PNG", **kwargs)


def make(root: Path, seed: int, clean_count: int) -> dict:
    rng = np.random.default_rng(seed)
    images = root / "images"
    planted: dict[str, list[str]] = {}
    groups: list[dict] = []
    clean: list[str] = []

    # The clean pictures, spread over the classes, JPEG and PNG, 96..320 pixels a side.
    for k in range(clean_count):
        cls = CLASSES[k % len(CLASSES)]
        ext = "jpg" if k % 3 != 2 else "png"
        rel = f"{cls}/{cls[:-1]}_{k:03d}.{ext}"
        w, h = int(rng.integers(96, 321)), int(rng.integers(96, 321))
        if max(w, h) / min(w, h) > 2.0:
            h = int(w * 0.75)
        save(picture(rng, w, h), images / rel)
        clean.append(rel)
    jpegs = [r for r in clean if r.endswith(".jpg")]
    pngs = [r for r in clean if r.endswith(".png")]

    # Exact duplicates: decoded JPEG pixels as PNG; a PNG re-saved with other settings.
    for original, copy, how in (
        (jpegs[0], jpegs[0][:-4] + "_decoded.png", "jpeg"),
        (pngs[0], pngs[0][:-4] + "_copy.png", "png"),
    ):
        with Image.open(images / original) as im:
            pixels = im.convert("RGB")
            save(pixels, images / copy, compress_level=1 if how == "png" else 6)
        planted[copy] = ["duplicate"]
        groups.append({"kind": "duplicate", "files": [original, copy]})

    # Near duplicates: 90% size, JPEG quality 70; 5% brighter.
    with Image.open(images / jpegs[1]) as im:
        base = im.convert("RGB")
    small = base.resize((round(base.width * 0.9), round(base.height * 0.9)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=70)
    copy = jpegs[1][:-4] + "_small.jpg"
    (images / copy).write_bytes(buffer.getvalue())
    planted[copy] = ["near_duplicate"]
    groups.append({"kind": "near_duplicate", "files": [jpegs[1], copy]})
    with Image.open(images / pngs[1]) as im:
        brighter = ImageEnhance.Brightness(im.convert("RGB")).enhance(1.05)
    copy = pngs[1][:-4] + "_bright.png"
    save(brighter, images / copy)
    planted[copy] = ["near_duplicate"]
    groups.append({"kind": "near_duplicate", "files": [pngs[1], copy]})

    # Broken and odd files.
    buffer = io.BytesIO()
    picture(rng, 200, 150).save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    (images / "birds/cut_short.jpg").write_bytes(data[: len(data) * 6 // 10])
    planted["birds/cut_short.jpg"] = ["truncated"]
    (images / "dogs/empty.jpg").write_bytes(b"")
    planted["dogs/empty.jpg"] = ["zero_byte"]
    buffer = io.BytesIO()
    picture(rng, 180, 140).save(buffer, "PNG")
    (images / "cats/really_a_png.jpg").write_bytes(buffer.getvalue())
    planted["cats/really_a_png.jpg"] = ["extension_mismatch"]
    save(picture(rng, 20, 20), images / "birds/tiny.png")
    planted["birds/tiny.png"] = ["tiny"]
    strip = rng.integers(0, 256, size=(200, 1, 3), dtype=np.uint8)
    save(Image.fromarray(strip, "RGB"), images / "dogs/strip.png")
    planted["dogs/strip.png"] = ["tiny", "extreme_aspect"]
    flat = np.full((150, 200, 3), rng.integers(30, 220, 3), dtype=np.int16)
    flat += rng.integers(-1, 2, size=flat.shape)
    save(Image.fromarray(flat.astype(np.uint8), "RGB"), images / "cats/flat_colour.png")
    planted["cats/flat_colour.png"] = ["near_constant"]

    expected = {
        "seed": seed,
        "images": len(clean) + len(planted),
        "planted": dict(sorted(planted.items())),
        "groups": groups,
        "clean": sorted(clean),
    }
    (root / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clean", type=int, default=30, help="clean pictures (at least 6)")
    args = parser.parse_args()
    if args.clean < 6:
        parser.error("--clean must be at least 6")
    make(args.root, args.seed, args.clean)


if __name__ == "__main__":
    main()
