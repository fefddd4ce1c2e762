"""Decode oracle: an empty chain on PNG and JPEG equals Pillow's decode (libpng, libjpeg-turbo)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from harness import augment, mixed_image, random_image

EXACT = 0  # max |gpuaug - oracle| for decode: both sides run the same integer decoders


def _decoded(run_gpuaug, tmp_path: Path, folder: Path, ops=()) -> dict[str, np.ndarray]:
    result = augment(run_gpuaug, tmp_path, list(ops), folder)
    return {name: np.load(path) for name, path in result.outputs.items()}


def _pillow_rgb(path: Path) -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))


def _adam7_png(rgb: np.ndarray) -> bytes:
    """An interlaced (Adam7) 8-bit RGB PNG, written by hand: Pillow and OpenCV cannot."""
    h, w, _ = rgb.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]  # (x0, y0, dx, dy)
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)  # 8-bit RGB, interlace method 1
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _write_pngs(folder: Path) -> None:
    """8-bit RGB, gray, gray+alpha, RGBA and palette PNGs, odd sizes, written by Pillow."""
    folder.mkdir(parents=True)
    rgb = mixed_image(31, 23, 1)
    Image.fromarray(rgb).save(folder / "rgb.png")
    Image.fromarray(random_image(19, 17, 2, channels=1)).save(folder / "gray.png")
    Image.fromarray(random_image(19, 17, 3, channels=4)).save(folder / "rgba.png")
    Image.fromarray(random_image(17, 19, 4, channels=2), "LA").save(folder / "gray_alpha.png")
    Image.fromarray(rgb).quantize(37).save(folder / "palette.png")
    Image.fromarray(random_image(1, 1, 5)).save(folder / "one.png")
    (folder / "interlaced.png").write_bytes(_adam7_png(random_image(13, 11, 6)))
    # 16-bit RGB from OpenCV (cv2.imwrite takes BGR: the file holds rgb16 in RGB order).
    rgb16 = np.random.default_rng(7).integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    cv2.imwrite(str(folder / "rgb16.png"), rgb16[..., ::-1])


@pytest.mark.parametrize(
    "name", ["rgb", "gray", "rgba", "gray_alpha", "palette", "one", "interlaced", "rgb16"])
def test_png_equals_pillow_convert_rgb(run_gpuaug, tmp_path, name):
    # Oracle: Pillow's decode + .convert("RGB") (alpha dropped, gray and palette expanded;
    # 16-bit RGB reduced to the high byte by Pillow's RGB;16B unpacker). Tolerance: exact.
    folder = tmp_path / "pngs"
    _write_pngs(folder)
    out = _decoded(run_gpuaug, tmp_path, folder)[name]
    ref = _pillow_rgb(folder / f"{name}.png")
    if name == "interlaced":  # the hand-written file is valid: Pillow reads back what we wrote
        np.testing.assert_array_equal(ref, random_image(13, 11, 6))
    assert out.dtype == np.uint8 and out.shape == ref.shape
    assert np.abs(out.astype(int) - ref).max() == EXACT


def test_png_16bit_gray_is_high_byte(run_gpuaug, tmp_path):
    # Oracle: numpy x >> 8 (libpng's png_set_strip_16, as 16-bit RGB is reduced). Pillow's
    # I;16 -> RGB conversion clips values above 255 to 255 instead, so it is not the reference
    # for 16-bit gray. Tolerance: exact.
    gray16 = np.random.default_rng(8).integers(0, 65536, (13, 7), dtype=np.uint16)
    gray16[0, :5] = [0, 255, 256, 32767, 65535]
    folder = tmp_path / "g16"
    folder.mkdir()
    Image.fromarray(gray16).save(folder / "g16.png")
    out = _decoded(run_gpuaug, tmp_path, folder)["g16"]
    ref = np.repeat((gray16 >> 8).astype(np.uint8)[..., None], 3, axis=2)
    np.testing.assert_array_equal(out, ref)


JPEG_KINDS = {
    "baseline_420": dict(subsampling=2),
    "baseline_422": dict(subsampling=1),
    "baseline_444": dict(subsampling=0),
    "progressive_420": dict(subsampling=2, progressive=True),
    "progressive_444": dict(subsampling=0, progressive=True),
    "optimized_420": dict(subsampling=2, optimize=True),
}


@pytest.mark.parametrize("size", [(31, 23), (17, 19), (90, 120), (1, 1)])
@pytest.mark.parametrize("kind", list(JPEG_KINDS))
def test_jpeg_equals_pillow(run_gpuaug, tmp_path, kind, size):
    # Oracle: Pillow's JPEG decode (libjpeg-turbo, islow IDCT, fancy upsampling), the same
    # decoder family gpuaug links. Tolerance: exact (both run libjpeg-turbo's integer islow
    # IDCT and merged/fancy upsampling, whose results do not depend on the library version).
    folder = tmp_path / "jpegs"
    folder.mkdir()
    Image.fromarray(mixed_image(*size, seed=3)).save(folder / "a.jpg", quality=88,
                                                     **JPEG_KINDS[kind])
    out = _decoded(run_gpuaug, tmp_path, folder)["a"]
    ref = _pillow_rgb(folder / "a.jpg")
    assert out.shape == ref.shape
    assert np.abs(out.astype(int) - ref).max() == EXACT


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_jpeg_gray_and_cmyk_equal_pillow(run_gpuaug, tmp_path, mode):
    # Oracle: Pillow's decode + .convert("RGB") (gray replicated; CMYK as Pillow converts an
    # Adobe-inverted CMYK JPEG that Pillow itself wrote). Tolerance: exact.
    folder = tmp_path / "jpegs"
    folder.mkdir()
    Image.fromarray(mixed_image(23, 31, seed=4)).convert(mode).save(folder / "a.jpg", quality=90)
    out = _decoded(run_gpuaug, tmp_path, folder)["a"]
    np.testing.assert_array_equal(out, _pillow_rgb(folder / "a.jpg"))


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_exif_orientation_equals_exif_transpose(run_gpuaug, tmp_path, orientation, fmt):
    # Oracle: PIL.ImageOps.exif_transpose of Pillow's decode (non-square 31x23, so transposing
    # orientations 5..8 swap the shape); for PNG Pillow writes the eXIf chunk before IDAT, where
    # torchvision's decode_png(apply_exif_orientation=True) reads it too. Tolerance: exact.
    folder = tmp_path / "exif"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = orientation
    kwargs = dict(quality=95, subsampling=0) if fmt == "jpg" else {}
    Image.fromarray(mixed_image(31, 23, seed=5)).save(folder / f"a.{fmt}", exif=exif, **kwargs)
    out = _decoded(run_gpuaug, tmp_path, folder)["a"]
    ref = _pillow_rgb(folder / f"a.{fmt}")
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)


REGION_OPS = [
    {"random_resized_crop": {"size": 24, "scale": [0.05, 0.3]}},
    {"center_crop": {"size": [31, 17]}},
    {"random_crop": {"size": [20, 33]}},
    {"rotate": {"degrees": 30, "interpolation": "bilinear"}},
    {"random_affine": {"degrees": 10, "translate": [0.3, 0.3]}},
]


@pytest.mark.parametrize("op", REGION_OPS, ids=lambda op: next(iter(op)))
def test_jpeg_region_decode_equals_full_decode(run_gpuaug, tmp_path, op):
    # Oracle: the same chain on PNG copies of Pillow's full JPEG decode (same sizes, so the same
    # draws). With dct_scaling false gpuaug decodes only the region the plan reads
    # (jpeg_crop_scanline / skip_scanlines); 4:2:0 and 4:2:2 upsampling at the region's edges
    # must still see the neighbours. Tolerance: exact.
    jpegs, pngs = tmp_path / "jpg", tmp_path / "png"
    jpegs.mkdir()
    pngs.mkdir()
    for i, (h, w, sub) in enumerate([(90, 120, 2), (87, 121, 2), (90, 120, 1), (61, 77, 0)]):
        for prog in (False, True):
            name = f"im{i}{'p' if prog else ''}"
            Image.fromarray(mixed_image(h, w, i)).save(jpegs / f"{name}.jpg", quality=85,
                                                       subsampling=sub, progressive=prog)
            Image.open(jpegs / f"{name}.jpg").convert("RGB").save(pngs / f"{name}.png")
    from_jpeg = augment(run_gpuaug, tmp_path, [op], jpegs, copies=4, seed=3, name="j")
    from_png = augment(run_gpuaug, tmp_path, [op], pngs, copies=4, seed=3, name="p")
    assert sorted(from_jpeg.outputs) == sorted(from_png.outputs)
    for name, path in from_jpeg.outputs.items():
        np.testing.assert_array_equal(np.load(path), np.load(from_png.outputs[name]), err_msg=name)
