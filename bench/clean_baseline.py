"""Python baseline for `gpuaug clean`: the same checks with Pillow + numpy over a process pool.

Usage: python3 bench/clean_baseline.py INPUT --report baseline.json [--workers 16]
       [--min-side 32] [--max-aspect 10] [--near-dup-distance 6] [--constant-std 2]

Decodes every file fully (Pillow, EXIF orientation applied, RGB), checks what src/jobs/clean.h
lists with the same rules, hashes the pixels (blake2b of the RGB bytes and the size), computes
the same 64-bit dHash (integer area average, see src/jobs/near_duplicates.h, so the bits
match gpuaug's), finds near pairs by a plain numpy scan and groups them. Prints images/s and
writes its findings in the report's shape, so a comparison can check "same findings"
(files, reasons, groups; the detail texts differ). Known difference: Pillow decodes some
damaged JPEGs that libjpeg-turbo, as gpuaug runs it, refuses (docs/design.md "Bad input").
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REASONS = ("zero_byte", "unreadable", "truncated", "extension_mismatch", "tiny",
           "extreme_aspect", "near_constant", "duplicate", "near_duplicate")
OPTIONS: dict = {}


def list_images(root: Path) -> list[str]:
    """Relative paths of .jpg/.jpeg/.png files under root, hidden entries skipped, byte order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            stem, ext = os.path.splitext(name)
            if name.startswith(".") or not stem or ext.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            out.append(Path(dirpath, name).relative_to(root).as_posix())
    return sorted(out, key=lambda s: s.encode())


def area_weights(n: int, k: int) -> np.ndarray:
    """k x n integer weights: pixel p gives cell i the length of [i n, (i+1) n) ∩ [p k, (p+1) k)."""
    i = np.arange(k)[:, None]
    p = np.arange(n)[None, :]
    return np.clip(np.minimum((i + 1) * n, (p + 1) * k) - np.maximum(i * n, p * k), 0, None)


def dhash(rgb: np.ndarray) -> int:
    r, g, b = (rgb[..., c].astype(np.int64) for c in range(3))
    gray = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16
    h, w = gray.shape
    cells = area_weights(h, 8) @ gray @ area_weights(w, 9).T  # exact in int64
    bits = (cells[:, :-1] < cells[:, 1:]).reshape(-1)
    return sum(1 << int(k) for k in np.flatnonzero(bits))


def analyse(path: str) -> dict:
    o = OPTIONS
    out = {"findings": [], "decoded": False}
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        out["findings"].append(("unreadable", f"read: {e.strerror}"))
        return out
    if not data:
        out["findings"].append(("zero_byte", "0 bytes"))
        return out
    fmt = "JPEG" if data[:3] == b"\xff\xd8\xff" else "PNG" if data[:8] == b"\x89PNG\r\n\x1a\n" else None
    ext = os.path.splitext(path)[1].lower()
    if fmt and ext not in ({"JPEG": (".jpg", ".jpeg"), "PNG": (".png",)}[fmt]):
        out["findings"].append(("extension_mismatch", f"{fmt} data named {ext}"))
    try:
        with Image.open(path) as im:
            im.load()
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except Exception as e:  # Pillow raises many kinds; all mean "cannot decode"
        text = str(e)
        low = text.lower()
        reason = "truncated" if ("truncated" in low or "premature end" in low) else "unreadable"
        out["findings"].append((reason, f"decode: {text}"))
        return out
    h, w = rgb.shape[:2]
    out.update(decoded=True, width=w, height=h)
    if min(w, h) < o["min_side"]:
        out["findings"].append(("tiny", f"{w}x{h}, smaller side below {o['min_side']}"))
    aspect = max(w, h) / min(w, h) if min(w, h) > 0 else float("inf")
    if aspect > o["max_aspect"]:
        out["findings"].append(("extreme_aspect", f"aspect {aspect:.1f} above {o['max_aspect']}"))
    std = rgb.reshape(-1, 3).std(axis=0)
    flat = bool(np.all(std < o["constant_std"]))
    if flat:
        out["findings"].append(("near_constant", "channel std " + ", ".join(f"{s:.2f}" for s in std)))
    digest = hashlib.blake2b(rgb.tobytes(), digest_size=8, key=f"{w}x{h}".encode())
    out["pixel_hash"] = digest.hexdigest()
    out["dhash"] = dhash(rgb)
    out["searchable"] = not flat and w >= 9 and h >= 8
    return out


def init(options: dict) -> None:
    OPTIONS.update(options)


def find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", type=Path)
    ap.add_argument("--report", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--min-side", type=int, default=32)
    ap.add_argument("--max-aspect", type=float, default=10.0)
    ap.add_argument("--near-dup-distance", type=int, default=6)
    ap.add_argument("--constant-std", type=float, default=2.0)
    a = ap.parse_args()
    options = {"min_side": a.min_side, "max_aspect": a.max_aspect,
               "near_dup_distance": a.near_dup_distance, "constant_std": a.constant_std}

    start = time.perf_counter()
    files = list_images(a.input)
    paths = [str(a.input / f) for f in files]
    with Pool(a.workers, initializer=init, initargs=(options,)) as pool:
        results = pool.map(analyse, paths, chunksize=max(1, len(paths) // (a.workers * 8)))

    # Exact groups, then near groups over one file per exact group (as gpuaug does).
    groups = []
    by_hash: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        if r["decoded"]:
            by_hash.setdefault(r["pixel_hash"], []).append(i)
    copy = set()
    for members in by_hash.values():
        if len(members) > 1:
            groups.append(("duplicate", members))
            copy.update(members[1:])
    cand = [i for i, r in enumerate(results) if r["decoded"] and r["searchable"] and i not in copy]
    hashes = np.array([results[i]["dhash"] for i in cand], dtype=np.uint64)
    parent = list(range(len(cand)))
    if a.near_dup_distance >= 0:
        for k in range(len(cand) - 1):
            dist = np.bitwise_count(hashes[k + 1:] ^ hashes[k])
            for j in np.flatnonzero(dist <= a.near_dup_distance):
                x, y = find(parent, k), find(parent, k + 1 + int(j))
                if x != y:
                    parent[max(x, y)] = min(x, y)
    sets: dict[int, list[int]] = {}
    for k in range(len(cand)):
        sets.setdefault(find(parent, k), []).append(cand[k])
    groups += [("near_duplicate", m) for m in sets.values() if len(m) > 1]
    groups.sort(key=lambda g: (g[1][0], g[0]))
    for gid, (kind, members) in enumerate(groups, 1):
        keeper = files[members[0]]
        for m in members[1:]:
            r = results[m]
            detail = (f"same pixels as {keeper}" if kind == "duplicate" else
                      f"dHash distance {bin(r['dhash'] ^ results[members[0]]['dhash']).count('1')} to {keeper}")
            r["findings"].append((kind, detail))
            r["group"], r["keeper"] = gid, keeper
    seconds = time.perf_counter() - start

    findings = []
    summary = dict.fromkeys(REASONS, 0)
    for f, r in zip(files, results):
        if not r["findings"]:
            continue
        r["findings"].sort(key=lambda x: REASONS.index(x[0]))
        for reason, _ in r["findings"]:
            summary[reason] += 1
        findings.append({"file": f, "reasons": [x[0] for x in r["findings"]],
                         "detail": "; ".join(x[1] for x in r["findings"]),
                         "group": r.get("group"), "keeper": r.get("keeper")})
    report = {"input": str(a.input), "images": len(files), "options": {**options, "quarantine": None},
              "findings": findings,
              "groups": [{"id": i, "kind": k, "files": [files[m] for m in ms]}
                         for i, (k, ms) in enumerate(groups, 1)],
              "summary": summary}
    a.report.parent.mkdir(parents=True, exist_ok=True)
    a.report.write_text(json.dumps(report, indent=2) + "\n")
    print(f"clean_baseline: {len(files)} images in {seconds:.2f} s, {len(files) / seconds:.1f} images/s "
          f"({a.workers} processes), {len(findings)} flagged")


if __name__ == "__main__":
    main()
