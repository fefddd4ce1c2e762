#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora and dictionaries: make_seed_corpus.py [GPUAUG_BIN] [TARGET...].

tests/fuzz/corpus/<target>/   a few tiny valid (and a few odd) inputs per target
tests/fuzz/<target>.dict      libFuzzer dictionaries (markers, chunk names, spec words)

The spec dictionary's op and parameter names come from `gpuaug ops --json` (the registry),
so GPUAUG_BIN (default build/gpuaug) must exist. The output is committed; rerun this after
adding an op or changing a seed, and keep the corpora tiny (well under 100 KB in all). Naming
targets (fuzz_tar ...) rewrites only theirs (the others' seeds depend on Pillow's version).
"""
from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "data"))
from make_bad_inputs import (drop_segments, hand_png, jpeg_bytes, noise, png_chunk,  # noqa: E402
                             relabel_sof, segment, smooth_rgb)


def exif_payload(orientation: int, *, big_endian: bool = False, long: bool = False) -> bytes:
    """An APP1 payload: "Exif\\0\\0", a TIFF header, IFD0 with one entry (0x0112)."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    value = struct.pack(e + "I", orientation) if long else struct.pack(e + "HH", orientation, 0)
    tiff += struct.pack(e + "HHHI", 1, 0x0112, 4 if long else 3, 1) + value + b"\0\0\0\0"
    return b"Exif\0\0" + tiff


def jpeg_seeds() -> dict[str, bytes]:
    rgb = smooth_rgb(16, 24, 1)
    base = jpeg_bytes(rgb, quality=50)
    ycck = bytearray(jpeg_bytes(smooth_rgb(8, 8, 2), "CMYK", quality=50))
    off, _ = segment(bytes(ycck), 0xEE)
    ycck[off + 15] = 2
    files = {
        "baseline_420": base,
        "baseline_444": jpeg_bytes(rgb, quality=50, subsampling=0),
        "gray": jpeg_bytes(smooth_rgb(8, 16, 3), "L", quality=50),
        "progressive": jpeg_bytes(rgb, quality=50, progressive=True),
        "cmyk": jpeg_bytes(smooth_rgb(8, 8, 2), "CMYK", quality=50),
        "ycck": bytes(ycck),
        "exif6": jpeg_bytes(smooth_rgb(9, 17, 4), quality=50, exif=exif_payload(6)),
        "exif7": jpeg_bytes(smooth_rgb(17, 9, 5), quality=50, exif=exif_payload(7, big_endian=True)),
        "arithmetic_label": relabel_sof(drop_segments(base, 0xC4), 0xC9),
        "one_pixel": jpeg_bytes(smooth_rgb(1, 1, 6), quality=50),
    }
    # The 5-byte prefix fuzz_jpeg.cpp reads: scale (bits 0-1), region (bit 2), relative (3).
    prefixes = [bytes([0, 0, 0, 0, 0]), bytes([1 | 4 | 8, 64, 32, 128, 200]),
                bytes([2 | 4, 11, 9, 5, 3]), bytes([3 | 4 | 8, 250, 0, 6, 255])]
    return {f"{name}_{i}": prefixes[i % len(prefixes)] + data
            for i, (name, data) in enumerate(files.items())}


def png_seeds() -> dict[str, bytes]:
    palette = noise((4, 3), 10)
    index = noise((5, 7), 11, high=4)
    return {
        "rgb8": hand_png(noise((5, 7, 3), 12), 2, 8),
        "rgba8": hand_png(noise((5, 7, 4), 13), 6, 8),
        "gray8": hand_png(noise((5, 7), 14), 0, 8),
        "gray_alpha8": hand_png(noise((5, 7, 2), 15), 4, 8),
        "gray1": hand_png(noise((5, 9), 16, high=2), 0, 1),
        "gray4": hand_png(noise((5, 9), 17, high=16), 0, 4),
        "palette2_trns": hand_png(index, 3, 2, palette=palette, trns=b"\x00\x80"),
        "rgb16": hand_png(noise((3, 5, 3), 18, np.uint16, 65536), 2, 16),
        "gray16": hand_png(noise((3, 5), 19, np.uint16, 65536), 0, 16),
        "interlaced": hand_png(noise((9, 10, 3), 20), 2, 8, interlace=True),
        "pillow": _pillow_png(),
        # eXIf before IDAT (PNG's form: the TIFF structure without APP1's "Exif\0\0"):
        # orientation 6 turns the 5x7 image to 7x5.
        "exif6": hand_png(noise((5, 7, 3), 22), 2, 8,
                          extra=[png_chunk(b"eXIf", exif_payload(6, big_endian=True)[6:])]),
    }


def _pillow_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(smooth_rgb(6, 5, 21)).save(buf, "PNG")
    return buf.getvalue()


def exif_seeds() -> dict[str, bytes]:
    return {
        "le_short_6": exif_payload(6),
        "be_short_8": exif_payload(8, big_endian=True),
        "le_long_3": exif_payload(3, long=True),
        "be_long_5": exif_payload(5, big_endian=True, long=True),
        "not_exif": b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>",
        # A PNG eXIf chunk's data: the TIFF structure alone (tiff_orientation's input).
        "tiff_only_7": exif_payload(7)[6:],
        # Two entries, the orientation second, IFD0 not at 8.
        "two_entries": b"Exif\0\0II*\0" + struct.pack("<I", 10) + b"\0\0" + struct.pack(
            "<HHHII", 2, 0x010F, 2, 4, 0x6F6F6F) + struct.pack("<HHIHH", 0x0112, 3, 1, 2, 0)
        + b"\0\0\0\0",
    }


def _tar(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.USTAR_FORMAT,
         end: bool = True) -> bytes:
    """An archive without tarfile's padding to 10240 bytes (seeds stay small): the members,
    then the two zero blocks unless end is False."""
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=fmt)
    for info, data in members:
        tf.addfile(info, io.BytesIO(data) if info.isfile() else None)
    size = tf.offset
    return buf.getvalue()[:size] + (bytes(1024) if end else b"")


def _info(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE,
          link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_seeds() -> dict[str, bytes]:
    sample = [_info("s/000.jpg", hand_png(noise((2, 2, 3), 70), 2, 8)), _info("s/000.cls", b"3"),
              _info("s/001.jpg", b"\xff\xd8\xff" + bytes(600)), _info("s/001.cls", b"7"),
              _info("s/001.seg.png", b"")]
    long_name = "d/" + "l" * 120 + "/" + "m" * 130 + ".jpg"
    return {
        "ustar_samples": _tar(sample),
        "no_end": _tar(sample[:2], end=False),
        "gnu_longname": _tar([_info(long_name, b"x" * 20), _info("d/k.cls", b"1")],
                             tarfile.GNU_FORMAT),
        "pax_path": _tar([_info(long_name, b"y" * 30), _info("caf\u00e9.json", b"{}")],
                         tarfile.PAX_FORMAT),
        "ustar_prefix": _tar([_info("p" * 130 + "/" + "n" * 90 + ".txt", b"z")]),
        "dir_and_files": _tar([_info("d", kind=tarfile.DIRTYPE), _info("d/a.jpg", b"a")]),
        "symlink": _tar([_info("a.jpg", b"a"), _info("b.jpg", kind=tarfile.SYMTYPE,
                                                      link="a.jpg")]),
        "escape": _tar([_info("../../x", b"escape\n")]),
        "split_sample": _tar([_info("a.jpg"), _info("b.jpg"), _info("a.cls")]),
    }


SPEC_SEEDS = {
    "demo": None,  # data/demo.yaml
    "every_geometry": """seed: 7
decode: {dct_scaling: true, max_pixels: 100000000, gpu: false}
ops:
  - center_crop: {size: [20, 30]}
  - pad: {padding: [1, 2, 3, 4], fill: [1, 2, 3], padding_mode: reflect}
  - random_crop: {size: 12, padding: 2, pad_if_needed: true, padding_mode: edge}
  - resize: {size: 9, interpolation: bicubic, max_size: 40, antialias: false}
  - vertical_flip: {p: 1}
  - random_affine: {degrees: [-10, 10], translate: [0.1, 0.2], scale: [0.8, 1.2],
                    shear: [1, 2, 3, 4], interpolation: bilinear, fill: 5, center: [1, 2]}
output: {layout: CHW}
""",
    "every_pixel_op": """seed: 18446744073709551615
ops:
  - random_resized_crop: {size: [7, 5], scale: [0.5, 1], ratio: [0.5, 2], interpolation: nearest}
  - rotate: {degrees: 90, expand: true, center: [0.5, 0.5], fill: [0, 128, 255]}
  - color_jitter: {brightness: [0.5, 1.5], contrast: 0.3, saturation: 0.2, hue: 0.5, p: 0.9}
  - grayscale: {num_output_channels: 3, p: 0.5}
  - gaussian_blur: {kernel_size: [3, 5], sigma: 1.5}
  - random_erasing: {p: 1, scale: [0.1, 0.2], ratio: [0.5, 2], value: random}
  - to_dtype: {dtype: float16, scale: true}
  - gaussian_noise: {mean: 0.1, sigma: 0.2, clip: false}
  - normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
output: {layout: HWC}
""",
    "local_crops": """seed: 3
ops:
  - resize: {size: [40, 50]}
  - local_crops: {n: 3, size: 8, scale: [0.05, 0.4], ratio: [0.75, 1.33333]}
  - horizontal_flip: {}
  - to_dtype: {dtype: bfloat16}
""",
    "json_op_form": '{"seed": 1, "ops": [{"op": "resize", "size": [4, 6]}, '
                    '{"op": "horizontal_flip", "p": 1}, {"op": "to_dtype", "dtype": "uint8"}]}\n',
    "empty_ops": "seed: 0\nops: []\n",
    "errors": "seed: -1\nfoo: 1\nops:\n  - resize: {size: abc}\n  - horizontl_flip: {p: 2}\n",
}


def spec_seeds() -> dict[str, bytes]:
    out = {}
    for name, text in SPEC_SEEDS.items():
        if text is None:
            text = (HERE.parents[1] / "data" / "demo.yaml").read_text()
        out[name] = text.encode()
    return out


def dict_line(token: bytes) -> str:
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02X}"
                         for b in token) + '"'


def spec_dictionary(gpuaug_bin: Path) -> list[bytes]:
    ops = json.loads(subprocess.run([str(gpuaug_bin), "ops", "--json"], check=True,
                                    capture_output=True, text=True).stdout)
    words = {"seed", "decode", "ops", "output", "layout", "dct_scaling", "max_pixels", "gpu",
             "op", "HWC", "CHW", "true", "false", "null", "random", ": ", "- ", "{", "}", "[",
             "]", ", ", "\n  - ", "1e308", "-1", "0.5", "nan", ".inf", "-.inf", "65535",
             "2147483648", "&a", "*a", "!!str", "<<: *a"}
    for op in ops:
        words.add(op["name"])
        for p in op["params"]:
            words.add(p["name"])
            words.update(w.strip() for w in p["type"].split("|") if w.strip().isalpha())
    return sorted(w.encode() for w in words)


DICTIONARIES = {
    "fuzz_jpeg": [bytes([0xFF, m]) for m in (0xD8, 0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xC4,
                                             0xCC, 0xDB, 0xDD, 0xDA, 0xD9, 0xD0, 0xE0, 0xE1,
                                             0xEE, 0xFE)]
    + [b"Exif\0\0", b"Adobe", b"JFIF\0", b"II*\0", b"MM\0*", b"\x01\x12", b"\x12\x01"],
    "fuzz_png": [b"\x89PNG\r\n\x1a\n", b"IHDR", b"IDAT", b"IEND", b"PLTE", b"tRNS", b"gAMA",
                 b"sBIT", b"iCCP", b"sRGB", b"zTXt", b"iTXt", b"tEXt", b"pHYs", b"acTL",
                 b"eXIf", b"\x78\x9c", b"\x00\x00\x00\x0d"],
    "fuzz_exif": [b"Exif\0\0", b"II*\0", b"MM\0*", b"\x12\x01", b"\x01\x12", b"\x03\x00",
                  b"\x00\x03", b"\x04\x00", b"\x00\x04", b"\x01\x00\x00\x00",
                  b"\x00\x00\x00\x01", b"\xff\xff\xff\xff"],
    "fuzz_tar": [b"ustar\x0000", b"ustar  \x00", b"././@LongLink", b"././@PaxHeader",
                 b" path=", b" size=", b"0000644\x00", b"0000000\x00", b"00000001000\x00",
                 b"../", b"/..", b".jpg", b".cls", b"__", b"\x80\x00\x00\x00"],
}


def main(argv: list[str]) -> int:
    gpuaug_bin = Path(argv[1]) if len(argv) > 1 else HERE.parents[1] / "build" / "gpuaug"
    makers = {"fuzz_jpeg": jpeg_seeds, "fuzz_png": png_seeds, "fuzz_exif": exif_seeds,
              "fuzz_spec": spec_seeds, "fuzz_tar": tar_seeds}
    only = argv[2:] or list(makers)
    seeds = {target: makers[target]() for target in only}
    total = 0
    for target, files in seeds.items():
        folder = HERE / "corpus" / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            total += len(data)
    dictionaries = dict(DICTIONARIES)
    if "fuzz_spec" in only:
        dictionaries["fuzz_spec"] = spec_dictionary(gpuaug_bin)
    for target, tokens in dictionaries.items():
        if target not in only:
            continue
        lines = [f"# {target}: written by make_seed_corpus.py"]
        lines += [dict_line(t) for t in tokens]
        (HERE / f"{target}.dict").write_text("\n".join(lines) + "\n")
    print(f"seed corpora: {sum(map(len, seeds.values()))} files, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
