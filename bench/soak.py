"""Soak benchmark: many epochs over a small set, memory after each — host RSS (and GPU memory in
use on cuda) must stay flat within 2% after epoch 2 (issue 8). Runs the Python Pipeline (CPU)
in this process, and `gpuaug bench --iters N` (one process, one pass an epoch) on the CPU and,
where there is a GPU, end to end (the default GPU decode) and augment-only.

Usage: python3 bench/soak.py [--epochs 100] [--images 256] [--gpuaug build/gpuaug]
       [--devices cpu,cuda] [--workdir /tmp/soak] [--threads 0]
Prints a markdown table (rows name their thread count: --threads 16 on a machine of fewer
cores still gives 16 threads their own malloc arenas); exits 1 when host RSS or GPU memory
grows more than 2%. Malloc in use is shown beside them, not judged: it tells a leak (it grows
with it) from allocator state, but Python's own objects and glibc's per-thread caches of small
chunks move it by a few percent at 16 threads.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT = 0.02


def rss_bytes() -> int:
    """Resident memory after handing back what the allocator holds free (glibc's malloc_trim),
    so a rise means memory still in use — what a leak looks like — and not a grown arena."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def heap_in_use_bytes() -> int:
    """Bytes malloc has handed out and not got back (glibc's mallinfo2: all arenas and its own
    mmaps). It grows under a leak; RSS also moves with how the arenas happen to be cut, and
    with the free chunks each thread's cache keeps (up to 7 of each small size)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        return int(info.uordblks + info.hblkhd)
    except (OSError, AttributeError):
        return 0


def growth(series: list[int]) -> float:
    """Largest rise after epoch 2, relative to epoch 2."""
    if len(series) < 3:
        return 0.0
    base = series[1]
    return (max(series[2:]) - base) / base if base else 0.0


def python_pipeline(corpus: Path, epochs: int, threads: int) -> tuple[list[int], list[int]]:
    import gpuaug

    spec = {"seed": 0, "ops": [{"random_resized_crop": {"size": [224, 224]}}, {"horizontal_flip": {}},
                               {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]}
    pipe = gpuaug.Pipeline(spec, str(corpus), batch_size=64, threads=threads)
    rss, heap = [], []
    for epoch in range(epochs):
        pipe.set_epoch(epoch)
        for images, labels, indices in pipe:
            del images, labels, indices
        rss.append(rss_bytes())
        heap.append(heap_in_use_bytes())
    return rss, heap


def cli_bench(gpuaug: Path, corpus: Path, epochs: int, device: str, threads: int, extra: list[str]) -> dict:
    cmd = [str(gpuaug), "bench", "--spec", str(HERE / "rrc_normalize_f16.yaml"), "--input", str(corpus),
           "--iters", str(epochs), "--warmup", "0", "--device", device, "--threads", str(threads), "--json", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    return json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--gpuaug", type=Path, default=Path("build/gpuaug"))
    ap.add_argument("--devices", default="cpu,cuda")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/soak"))
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    args = ap.parse_args()
    corpus = args.workdir / f"jpegs{args.images}"
    if not corpus.is_dir() or len(list(corpus.glob("*.jpg"))) < args.images:
        subprocess.run([sys.executable, HERE / "make_jpegs.py", corpus, str(args.images)], check=True)

    rows = []
    if "cpu" in args.devices.split(","):
        rss, heap = python_pipeline(corpus, args.epochs, args.threads)
        name = f"Python Pipeline (CPU, {args.threads or len(os.sched_getaffinity(0))} threads)"
        rows.append((name, "host RSS", rss))
        if any(heap):
            rows.append((name, "malloc in use", heap))
        r = cli_bench(args.gpuaug, corpus, args.epochs, "cpu", args.threads, [])
        name = f"gpuaug bench cpu ({r['threads']} threads)"
        rows.append((name, "host RSS", r["host_rss_bytes"]))
        if r.get("host_heap_in_use_bytes"):
            rows.append((name, "malloc in use", r["host_heap_in_use_bytes"]))
    if "cuda" in args.devices.split(","):
        for name, extra in (("end to end (GPU decode)", ["--batch", "128"]), ("augment-only", ["--augment-only"])):
            r = cli_bench(args.gpuaug, corpus, args.epochs, "cuda", args.threads, extra)
            rows.append((f"gpuaug bench cuda {name}", "host RSS", r["host_rss_bytes"]))
            if r.get("host_heap_in_use_bytes"):
                rows.append((f"gpuaug bench cuda {name}", "malloc in use", r["host_heap_in_use_bytes"]))
            rows.append((f"gpuaug bench cuda {name}", "GPU memory in use", r["device_used_bytes"]))

    print(f"\n{args.epochs} epochs of {args.images} images ({corpus})\n")
    print("| run | memory | epoch 1 | epoch 2 | max after epoch 2 | last | growth after epoch 2 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    ok = True
    for name, what, series in rows:
        g = growth(series)
        judged = what != "malloc in use"
        ok &= g <= LIMIT or not judged
        note = "(not judged)" if not judged else "" if g <= LIMIT else "(above 2%)"
        mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
        print(f"| {name} | {what} | {mib(series[0])} | {mib(series[1])} | {mib(max(series[2:]))} | "
              f"{mib(series[-1])} | {100 * g:+.2f}% {note} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
