#!/usr/bin/env python3
"""Writes the bad-input corpus and its manifest: make_bad_inputs.py OUT_DIR.

OUT_DIR/files/      one entry per case (files, a folder named like an image, links)
OUT_DIR/special/    a FIFO, reached through a link in files/
OUT_DIR/refs/       expected RGB arrays (.npy) where Pillow is not the reference
OUT_DIR/tar/        tar shards data::list_tar must refuse
OUT_DIR/manifest.json
    {"cases": [{"name", "expect", "why", ...}], "tar_cases": [...]}, expect one of
    "decode"      must decode; "reference" is "pillow" (ImageOps.exif_transpose(open).convert
                  ("RGB"), exact) or "refs/<name>.npy" (exact)
    "fail"        must fail: "stage" (read, header or decode; a list where either may come
                  first) and "cause", a regex the cause must match
    "either"      damaged scan data: fails at decode, or decodes exactly as Pillow does
    "not_listed"  a folder scan does not list it (a folder named x.jpg); "list_stage" and
                  "list_cause" say how it fails when a file list names it
    Cases with "needs_non_root": true only fail for a user that file modes bind.
    "tar_cases" (files under tar/) are shards, not images: {"name", "member", "stage", "cause",
    "why"}; reading one must fail naming "<shard>#<member>", the stage and the cause. No CLI
    command reads shards yet, so tests/data/test_tar.cpp builds the same bytes and checks the
    reader; test_bad_inputs.py checks that Python's tarfile refuses them too.

Everything is made here from Pillow, numpy and hand-written bytes (no cjpeg): CMYK JPEGs
by Pillow, YCCK by flipping the Adobe transform flag of a CMYK one, 12-bit, lossless and
arithmetic-coded JPEGs by relabelling a baseline file's SOF (a valid header over scan data
that the new process cannot hold; real arithmetic-coded files decode, which
tests/codec/test_jpeg_decoder.cpp checks with libjpeg's encoder), PNGs of every colour type
and depth by hand.
"""
from __future__ import annotations

import io
import json
import os
import struct
import sys
import tarfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SEED = 20240601


# --- images ---------------------------------------------------------------------------------

def smooth_rgb(h: int, w: int, seed: int) -> np.ndarray:
    """Gradients plus noise: JPEG-friendly content that is nowhere all zero."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([40 + 170 * x / max(w - 1, 1),
                    40 + 170 * y / max(h - 1, 1),
                    125 + 80 * np.sin((x + 2 * y) / 5.0)], axis=-1)
    img += rng.uniform(-12, 12, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def noise(shape: tuple[int, ...], seed: int, dtype=np.uint8, high: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, shape, dtype=dtype)


def jpeg_bytes(array: np.ndarray, mode: str | None = None, **kwargs: object) -> bytes:
    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    kwargs.setdefault("quality", 90)
    buf = io.BytesIO()
    image.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def pillow_png(image: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **kwargs)
    return buf.getvalue()


# --- JPEG segments --------------------------------------------------------------------------

def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, offset of 0xFF, total length with marker) of every segment before SOS's data."""
    out, pos = [], 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF, pos
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        out.append((marker, pos, 2 + length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def segment(data: bytes, marker: int) -> tuple[int, int]:
    for m, off, n in jpeg_segments(data):
        if m == marker:
            return off, n
    raise KeyError(hex(marker))


def relabel_sof(data: bytes, marker: int, precision: int | None = None) -> bytes:
    off, _ = segment(data, 0xC0)
    out = bytearray(data)
    out[off + 1] = marker
    if precision is not None:
        out[off + 4] = precision
    return bytes(out)


def drop_segments(data: bytes, marker: int) -> bytes:
    out, last = b"", 0
    for m, off, n in jpeg_segments(data):
        if m == marker:
            out += data[last:off]
            last = off + n
    return out + data[last:]


def set_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    off, _ = segment(data, 0xC0)
    out = bytearray(data)
    out[off + 5:off + 9] = struct.pack(">HH", height, width)
    return bytes(out)


# --- PNG by hand ----------------------------------------------------------------------------

def png_chunk(kind: bytes, payload: bytes, crc: int | None = None) -> bytes:
    if crc is None:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_rows(array: np.ndarray, bit_depth: int) -> list[bytes]:
    """Packed scanlines of an HxW (or HxWxC) integer array."""
    a = array if array.ndim == 3 else array[:, :, None]
    if bit_depth == 16:
        return [row.astype(">u2").tobytes() for row in a]
    if bit_depth == 8:
        return [row.astype(np.uint8).tobytes() for row in a]
    rows = []
    per_byte = 8 // bit_depth
    for row in a[:, :, 0]:
        padded = np.zeros(-(-len(row) // per_byte) * per_byte, np.uint8)
        padded[:len(row)] = row
        packed = np.zeros(len(padded) // per_byte, np.uint8)
        for k in range(per_byte):
            packed |= (padded[k::per_byte] << (8 - bit_depth * (k + 1))).astype(np.uint8)
        rows.append(packed.tobytes())
    return rows


def hand_png(array: np.ndarray, colour_type: int, bit_depth: int, *, interlace: bool = False,
             palette: np.ndarray | None = None, trns: bytes | None = None,
             extra: list[bytes] = ()) -> bytes:
    h, w = array.shape[:2]
    raw = b""
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            sub = array[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += b"".join(b"\x00" + r for r in png_rows(sub, bit_depth))
    else:
        raw = b"".join(b"\x00" + r for r in png_rows(array, bit_depth))
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, int(interlace))
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if palette is not None:
        out += png_chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    for chunk in extra:
        out += chunk
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def png_chunk_offset(data: bytes, kind: bytes) -> int:
    pos = 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == kind:
            return pos
        pos += 12 + length
    raise KeyError(kind)


def flip_crc(data: bytes, kind: bytes) -> bytes:
    pos = png_chunk_offset(data, kind)
    length = struct.unpack(">I", data[pos:pos + 4])[0]
    out = bytearray(data)
    out[pos + 8 + length] ^= 0x01
    return bytes(out)


# --- the corpus -----------------------------------------------------------------------------

class Corpus:
    def __init__(self, root: Path) -> None:
        self.files = root / "files"
        self.refs = root / "refs"
        self.files.mkdir(parents=True, exist_ok=True)
        self.refs.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.cases: list[dict] = []
        self.tar_cases: list[dict] = []

    def _add(self, name: str, case: dict) -> None:
        assert all(c["name"] != name for c in self.cases), name
        self.cases.append({"name": name, **case})

    def good(self, name: str, data: bytes, why: str, reference: np.ndarray | None = None) -> None:
        (self.files / name).write_bytes(data)
        ref = "pillow"
        if reference is not None:
            ref = f"refs/{name}.npy"
            np.save(self.root / ref, np.ascontiguousarray(reference, dtype=np.uint8))
        self._add(name, {"expect": "decode", "reference": ref, "why": why})

    def bad(self, name: str, data: bytes | None, stage: str | list[str], cause: str, why: str,
            **extra: object) -> None:
        if data is not None:
            (self.files / name).write_bytes(data)
        self._add(name, {"expect": "fail", "stage": stage, "cause": cause, "why": why, **extra})

    def bad_tar(self, name: str, data: bytes, member: str, cause: str, why: str) -> None:
        folder = self.root / "tar"
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
        self.tar_cases.append({"name": name, "member": member, "stage": "tar", "cause": cause,
                               "why": why})

    def write_manifest(self) -> None:
        manifest = {"cases": self.cases, "tar_cases": self.tar_cases}
        (self.root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


TRUNCATED_JPEG = r"Premature end of JPEG file"
TRUNCATED_PNG = r"truncated PNG data"
TOO_BIG = r"65535x65535 = 4294836225 pixels, above max_pixels"


def jpeg_cases(c: Corpus) -> None:
    rgb = smooth_rgb(29, 37, 1)
    base = jpeg_bytes(rgb)
    c.good("baseline_420.jpg", base, "baseline 4:2:0, odd size 37x29")
    c.good("baseline_444.jpg", jpeg_bytes(rgb, subsampling=0), "baseline 4:4:4")
    c.good("baseline_422.jpg", jpeg_bytes(rgb, subsampling=1), "baseline 4:2:2")
    c.good("optimized.jpg", jpeg_bytes(rgb, optimize=True), "optimised Huffman tables")
    c.good("gray.jpg", jpeg_bytes(rgb, "L"), "one-component JPEG")
    c.good("one_pixel.jpg", jpeg_bytes(smooth_rgb(1, 1, 2)), "1x1")
    c.good("progressive.jpg", jpeg_bytes(rgb, progressive=True), "progressive (SOF2)")
    c.good("progressive_gray.jpg", jpeg_bytes(rgb, "L", progressive=True), "progressive gray")
    cmyk = jpeg_bytes(rgb, "CMYK")
    c.good("cmyk.jpg", cmyk, "CMYK (Adobe APP14, transform 0), written by Pillow")
    off, _ = segment(cmyk, 0xEE)  # APP14 "Adobe": the transform flag is its last byte
    assert cmyk[off + 4:off + 9] == b"Adobe"
    ycck = bytearray(cmyk)
    ycck[off + 4 + 11] = 2
    c.good("ycck.jpg", bytes(ycck), "YCCK: a CMYK file whose Adobe transform flag says 2 "
           "(libjpeg then converts YCC to RGB before the CMYK step)")
    c.good("no_dht.jpg", drop_segments(base, 0xC4),
           "no DHT (Motion-JPEG style): libjpeg-turbo falls back to the standard tables, which "
           "Pillow wrote")
    c.good("trailing_garbage.jpg", base + noise((300,), 3).tobytes(),
           "bytes after EOI are not read")
    for k in range(1, 10):
        exif = Image.Exif()
        exif[0x0112] = k
        c.good(f"exif_orientation_{k}.jpg",
               jpeg_bytes(smooth_rgb(23, 41, 10 + k), exif=exif.tobytes()),
               f"EXIF orientation {k}" + (" (invalid: acts as 1)" if k == 9 else ""))
    bad_exif = Image.Exif()
    bad_exif[0x0112] = 6
    exif_bytes = bytearray(bad_exif.tobytes())
    exif_bytes[10:14] = struct.pack("<I", 0x7FFFFFF0)  # IFD0 offset far past the payload
    c.good("exif_bad_ifd_offset.jpg", jpeg_bytes(rgb, exif=bytes(exif_bytes)),
           "EXIF whose IFD0 offset points past the segment: orientation 1")

    # Failures with a cause libjpeg names.
    c.bad("arithmetic.jpg", relabel_sof(drop_segments(base, 0xC4), 0xC9), "decode",
          r"(?i)corrupt JPEG data|bad arithmetic code|premature end",
          "SOF9 (arithmetic) header over Huffman-coded data: the arithmetic decoder meets data "
          "it cannot hold")
    c.bad("precision12.jpg", relabel_sof(base, 0xC1, precision=12), "decode",
          r"Unsupported JPEG data precision 12", "SOF1 claiming 12-bit samples")
    c.bad("lossless.jpg", relabel_sof(base, 0xC3), "decode", r"(?i)SOF type 0xc3",
          "SOF3 (lossless)")
    c.bad("huge_header.jpg", set_jpeg_size(base, 65535, 65535), "header", TOO_BIG,
          "SOF claiming 65535x65535")
    c.bad("zero_width.jpg", set_jpeg_size(base, 0, 29), "header", r"image size 0x29 is empty",
          "SOF width 0")
    c.bad("big_header_small_data.jpg", set_jpeg_size(base, 6000, 5000), "decode",
          r"(?i)premature end|corrupt JPEG data",
          "SOF claiming 6000x5000 over 37x29 worth of data")
    c.bad("no_dqt.jpg", drop_segments(base, 0xDB), "decode",
          r"Quantization table 0x0\d was not defined", "DQT removed")
    c.bad("no_eoi.jpg", base[:-2], "decode", TRUNCATED_JPEG,
          "whole scan, EOI missing (strict: Pillow would decode it)")
    sos, _ = segment(base, 0xDA)
    sof, sof_len = segment(base, 0xC0)
    cuts = sorted({3, 4, 6, 20, sof + 2, sof + sof_len - 1, sof + sof_len, sos + 2, sos + 14,
                   sos + 40, (sos + len(base)) // 2, len(base) - 40, len(base) - 3})
    for n in cuts:
        header = n < sof + sof_len
        c.bad(f"truncated_jpeg_{n:05d}.jpg", base[:n], "header" if header else "decode",
              r"truncated header" if header else TRUNCATED_JPEG, f"baseline JPEG cut at {n}")
    prog = jpeg_bytes(rgb, progressive=True)
    for n in (len(prog) // 3, 2 * len(prog) // 3, len(prog) - 2):
        c.bad(f"truncated_progressive_{n:05d}.jpg", prog[:n], "decode", TRUNCATED_JPEG,
              f"progressive JPEG cut at {n}")
    # Corrupt but whole: libjpeg names the damage; the file ends in EOI, so the GPU path may hand
    # it to nvJPEG, which decodes it without a word even with strict bitstreams (measured on the
    # H100's hardware decoder): on the GPU these may decode ("gpu": "either").
    c.bad("scan_cut_then_eoi.jpg", base[:(sos + len(base)) // 2] + b"\xff\xd9", "decode",
          r"(?i)corrupt JPEG data: premature end of data segment",
          "scan cut in the middle, EOI after it: a whole-looking file", gpu="either")
    c.bad("extraneous_before_eoi.jpg", base[:-2] + bytes(7) + b"\xff\xd9", "decode",
          r"(?i)corrupt JPEG data: \d+ extraneous bytes before marker 0xd9",
          "seven stray bytes between the scan and EOI", gpu="either")
    # Flipped bytes inside the scan: libjpeg warns (corrupt data) or decodes other pixels; both
    # are clean, so these only have to end without a crash (expect "either").
    for k, seed in enumerate((41, 42, 43)):
        data = bytearray(base)
        rng = np.random.default_rng(seed)
        for at in rng.integers(sos + 20, len(base) - 2, 6):
            data[at] = rng.integers(0, 256)
        c.cases.append({"name": f"scan_bitflips_{k}.jpg", "expect": "either",
                        "why": "random bytes inside the scan data"})
        (c.files / f"scan_bitflips_{k}.jpg").write_bytes(bytes(data))
    c.bad("jpeg_magic_then_noise.jpg", b"\xff\xd8\xff" + noise((500,), 5).tobytes(),
          ["header"], r"(?i)malformed JPEG header|truncated header",
          "JPEG signature followed by random bytes")


def png_cases(c: Corpus) -> None:
    rgb = smooth_rgb(19, 23, 20)
    base = pillow_png(Image.fromarray(rgb))
    c.good("rgb.png", base, "8-bit RGB")
    c.good("rgba.png", pillow_png(Image.fromarray(noise((17, 13, 4), 21))), "8-bit RGBA")
    c.good("gray.png", pillow_png(Image.fromarray(noise((17, 13), 22))), "8-bit gray")
    c.good("gray_alpha.png", pillow_png(Image.fromarray(noise((13, 17, 2), 23), "LA")),
           "gray + alpha")
    c.good("one_pixel.png", pillow_png(Image.fromarray(noise((1, 1, 3), 24))), "1x1")
    palette = noise((16, 3), 25)
    index = noise((15, 21), 26, high=16)
    trns = bytes(noise((16,), 27))
    c.good("palette_trns.png", hand_png(index, 3, 8, palette=palette, trns=trns),
           "palette with a tRNS chunk (transparency dropped, as Pillow's convert('RGB'))")
    c.good("palette_4bit.png", hand_png(index, 3, 4, palette=palette), "4-bit palette")
    for depth in (1, 2, 4):
        levels = noise((11, 13), 30 + depth, high=1 << depth)
        ref = (levels.astype(np.int64) * 255 // ((1 << depth) - 1)).astype(np.uint8)
        c.good(f"gray_{depth}bit.png", hand_png(levels, 0, depth),
               f"{depth}-bit gray", reference=np.repeat(ref[:, :, None], 3, axis=2))
    rgb16 = noise((9, 11, 3), 34, np.uint16, 65536)
    c.good("rgb_16bit.png", hand_png(rgb16, 2, 16), "16-bit RGB (high byte, as Pillow's RGB;16B)")
    gray16 = noise((9, 11), 35, np.uint16, 65536)
    c.good("gray_16bit.png", hand_png(gray16, 0, 16),
           "16-bit gray: the high byte (Pillow clips I;16 at 255 instead)",
           reference=np.repeat((gray16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2))
    rgba16 = noise((7, 5, 4), 36, np.uint16, 65536)
    c.good("rgba_16bit.png", hand_png(rgba16, 6, 16), "16-bit RGBA",
           reference=(rgba16[:, :, :3] >> 8).astype(np.uint8))
    inter = noise((13, 11, 3), 37)
    c.good("interlaced.png", hand_png(inter, 2, 8, interlace=True), "Adam7 interlaced RGB",
           reference=inter)
    inter_gray = noise((10, 9), 38)
    c.good("interlaced_gray_alpha.png",
           hand_png(np.stack([inter_gray, noise((10, 9), 39)], -1), 4, 8, interlace=True),
           "Adam7 interlaced gray + alpha",
           reference=np.repeat(inter_gray[:, :, None], 3, axis=2))
    text = png_chunk(b"tEXt", b"Comment\x00hello", crc=0)
    c.good("bad_crc_ancillary.png", hand_png(rgb, 2, 8, extra=[text]),
           "wrong CRC in an ancillary tEXt chunk: libpng warns and skips it (Pillow refuses)",
           reference=rgb)
    c.good("trailing_garbage.png", base + noise((100,), 40).tobytes(),
           "bytes after IEND are not read")
    exif = Image.Exif()
    exif[0x0112] = 6
    c.good("exif_orientation_6.png", pillow_png(Image.fromarray(rgb), exif=exif.tobytes()),
           "eXIf chunk (written by Pillow, before IDAT) with orientation 6: turned upright")
    tiff6 = exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif\0\0") else exif.tobytes()
    c.good("exif_bad_crc.png", hand_png(rgb, 2, 8, extra=[png_chunk(b"eXIf", tiff6, crc=0)]),
           "eXIf with a wrong CRC: dropped as libpng drops it, orientation 1 (Pillow refuses)",
           reference=rgb)
    after = hand_png(rgb, 2, 8)
    iend = png_chunk_offset(after, b"IEND")
    c.good("exif_after_idat.png", after[:iend] + png_chunk(b"eXIf", tiff6) + after[iend:],
           "eXIf after IDAT is not read, as libpng (torchvision's decode_png) reads only the "
           "chunks before IDAT (Pillow's exif_transpose would turn it)", reference=rgb)
    c.bad("exif_claims_1GiB.png", hand_png(rgb, 2, 8)[:33] + struct.pack(">I", 1 << 30) + b"eXIf"
          + tiff6, "decode", TRUNCATED_PNG,
          "eXIf claiming 1 GiB in a small file: nothing is sized by it, the decode ends short")

    c.bad("bad_crc_idat.png", flip_crc(base, b"IDAT"), "decode", r"IDAT: CRC error",
          "wrong CRC in IDAT")
    c.bad("bad_crc_ihdr.png", flip_crc(base, b"IHDR"), "decode", r"IHDR: CRC error",
          "wrong CRC in IHDR")
    zbad = bytearray(hand_png(rgb, 2, 8))
    at = png_chunk_offset(bytes(zbad), b"IDAT")
    zbad[at + 8] ^= 0xFF  # zlib header byte; then fix the CRC so zlib is the one to complain
    length = struct.unpack(">I", zbad[at:at + 4])[0]
    zbad[at + 8 + length:at + 12 + length] = struct.pack(
        ">I", zlib.crc32(bytes(zbad[at + 4:at + 8 + length])) & 0xFFFFFFFF)
    c.bad("bad_zlib.png", bytes(zbad), "decode", r"(?i)IDAT: .*(header|invalid|incorrect)",
          "IDAT whose zlib stream header is broken (CRC fixed)")
    short = hand_png(rgb, 2, 8)
    idat = png_chunk_offset(short, b"IDAT")
    c.bad("missing_iend.png", short[:png_chunk_offset(short, b"IEND")], "decode", TRUNCATED_PNG,
          "no IEND chunk")
    c.bad("huge_header.png", hand_png(np.zeros((1, 1, 3), np.uint8), 2, 8)[:16]
          + struct.pack(">IIBBBBB", 65535, 65535, 8, 2, 0, 0, 0) + b"\0\0\0\0", "header", TOO_BIG,
          "IHDR claiming 65535x65535")
    ihdr = lambda w, h, depth, ctype: (b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)) + short[idat:])
    c.bad("zero_height.png", ihdr(23, 0, 8, 2), "header", r"image size 23x0 is empty",
          "IHDR height 0")
    c.bad("width_2_31.png", ihdr(0x80000000, 1, 8, 2), "header", r"size above 2\^31-1",
          "IHDR width 2^31")
    c.bad("colour_type_5.png", ihdr(23, 19, 8, 5), "header", r"colour type 5",
          "IHDR colour type 5 (undefined)")
    c.bad("bit_depth_3.png", ihdr(23, 19, 3, 2), "decode", r"Invalid IHDR data",
          "IHDR bit depth 3 (undefined)")
    c.bad("size_mismatch.png", ihdr(230, 190, 8, 2), "decode",
          r"(?i)not enough image data|truncat|too short|IDAT",
          "IHDR says 230x190, the data holds 23x19")
    for n in sorted({4, 8, 20, 30, 33, 40, idat + 6, idat + 30, (idat + len(base)) // 2,
                     len(base) - 14, len(base) - 12, len(base) - 1}):
        if n >= len(base):
            continue
        stage = "header" if n < 29 else "decode"
        c.bad(f"truncated_png_{n:05d}.png", base[:n], stage,
              r"truncated header" if stage == "header" else TRUNCATED_PNG,
              f"8-bit RGB PNG cut at {n}")
    c.bad("png_magic_then_noise.png", b"\x89PNG\r\n\x1a\n" + noise((200,), 41).tobytes(),
          "header", r"malformed PNG header", "PNG signature followed by random bytes")


def misc_cases(c: Corpus) -> None:
    rgb = smooth_rgb(21, 27, 50)
    c.good("jpeg_named.png", jpeg_bytes(rgb), "a JPEG named .png: the magic bytes decide")
    c.good("png_named.jpg", pillow_png(Image.fromarray(rgb)), "a PNG named .jpg")
    c.bad("empty.jpg", b"", "read", r"empty file", "zero bytes")
    c.bad("empty.png", b"", "read", r"empty file", "zero bytes")
    for k, n in enumerate((1, 7, 64, 4096)):
        data = noise((n,), 60 + k).tobytes()
        if data[:1] in (b"\xff", b"\x89"):
            data = b"\x00" + data[1:]
        c.bad(f"random_{n}.jpg", data, "header", r"not a JPEG or PNG \(starts with 0x",
              f"{n} random bytes")
    c.bad("gif.png", b"GIF89a" + bytes(20), "header",
          r"not a JPEG or PNG \(starts with 0x47 0x49 0x46 0x38\)", "a GIF named .png")
    c.bad("text.jpg", b"this is not an image\n", "header", r"not a JPEG or PNG",
          "a text file")
    c.bad("one_byte_ff.jpg", b"\xff", "header", r"truncated header", "0xFF alone")
    (c.files / "folder.jpg").mkdir()
    (c.files / "folder.jpg" / "inner.png").write_bytes(pillow_png(Image.fromarray(rgb)))
    c._add("folder.jpg", {"expect": "not_listed", "list_stage": "read",
                          "list_cause": r"Is a directory",
                          "why": "a folder named x.jpg: a scan skips it (and what it holds); "
                                 "a file list naming it fails to read"})
    os.symlink("nowhere.jpg", c.files / "broken_link.jpg")
    c.bad("broken_link.jpg", None, "read", r"No such file or directory",
          "a symlink to a missing file")
    unreadable = c.files / "unreadable.jpg"
    unreadable.write_bytes(jpeg_bytes(rgb))
    unreadable.chmod(0)
    c.bad("unreadable.jpg", None, "read", r"Permission denied",
          "mode 000 (a valid JPEG inside: root reads it, so root skips this case)",
          needs_non_root=True)
    # Special files live beside files/ and are reached through absolute links named like
    # images (a folder scan lists links, not FIFOs or devices themselves).
    special = c.root / "special"
    special.mkdir()
    os.mkfifo(special / "fifo")
    os.symlink(str((special / "fifo").resolve()), c.files / "fifo_link.jpg")
    c.bad("fifo_link.jpg", None, "read", r"empty file",
          "a link to a FIFO nobody writes: opened without blocking and read as empty "
          "(open() used to wait forever)")
    os.symlink("/dev/zero", c.files / "dev_zero_link.jpg")
    c.bad("dev_zero_link.jpg", None, "read", r"not a regular file \(a character device\)",
          "a link to /dev/zero (used to be read until memory ran out)")
    if sys.platform.startswith("linux"):
        # Opens fine, then every read fails: EIO at address 0 of the reading process.
        os.symlink("/proc/self/mem", c.files / "read_error.jpg")
        c.bad("read_error.jpg", None, "read", r"Input/output error",
              "a link to /proc/self/mem: open succeeds, read fails with EIO")


def ustar_archive(members: list[tuple[str, bytes]]) -> bytes:
    """tarfile's ustar bytes with every TarInfo field at its default (mode 0o644, mtime 0,
    uid/gid 0, empty uname/gname), padded to a 10240-byte record."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_cases(c: Corpus) -> None:
    # tests/data/test_tar.cpp (TarBadInputs.EscapingMemberFromTheCorpus) builds these bytes too.
    c.bad_tar("escape.tar", ustar_archive([("ok.jpg", b"fine\n"), ("../../x", b"escape\n")]),
              "../../x", r"member '\.\./\.\./x' escapes the archive \(a '\.\.' component\)",
              "a shard member named ../../x: extracting it would write outside the folder")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    root = Path(argv[1])
    if root.exists() and any(root.iterdir()):
        print(f"make_bad_inputs.py: {root} is not empty", file=sys.stderr)
        return 2
    corpus = Corpus(root)
    jpeg_cases(corpus)
    png_cases(corpus)
    misc_cases(corpus)
    tar_cases(corpus)
    corpus.write_manifest()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
