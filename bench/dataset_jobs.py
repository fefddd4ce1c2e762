"""Benchmark of the dataset jobs: `gpuaug stats` and `gpuaug clean` (CPU threads and one GPU)
against their Python baselines (Pillow + numpy over a 16-process pool) on the same corpus, in
the same run; checks that the findings agree and prints a markdown table of times and ratios.

Usage: python3 bench/dataset_jobs.py [--images 20000] [--workdir /tmp/dataset_jobs]
       [--gpuaug build/gpuaug] [--threads 16] [--workers 16] [--devices cpu,cuda]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd: list) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stdout}\n{proc.stderr}")
    return seconds


def findings(report: Path) -> set[tuple[str, tuple[str, ...]]]:
    data = json.loads(report.read_text())
    return {(f["file"], tuple(sorted(f["reasons"]))) for f in data["findings"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dataset_jobs"))
    ap.add_argument("--gpuaug", type=Path, default=Path("build/gpuaug"))
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--devices", default="cpu,cuda")
    args = ap.parse_args()
    corpus = args.workdir / f"jpegs{args.images}"
    if not corpus.is_dir() or len(list(corpus.glob("*.jpg"))) < args.images:
        subprocess.run([sys.executable, HERE / "make_jpegs.py", corpus, str(args.images)], check=True)
    out = args.workdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    devices = args.devices.split(",")
    rows = []

    # stats
    base_s = timed([sys.executable, HERE / "stats_baseline.py", corpus, "--output", out / "stats_base.json",
                    "--workers", args.workers])
    base = json.loads((out / "stats_base.json").read_text())
    rows.append(("stats", f"Python (Pillow + numpy, {args.workers} processes)", base_s, 1.0, "reference"))
    for device in devices:
        target = out / f"stats_{device}.json"
        target.unlink(missing_ok=True)
        s = timed([args.gpuaug, "stats", "--input", corpus, "--output", target, "--threads", args.threads,
                   "--device", device, "--quiet"])
        got = json.loads(target.read_text())
        diff = max(abs(a - b) for a, b in zip(got["mean"] + got["std"], base["mean"] + base["std"]))
        rel = max(abs(a - b) / abs(b) for a, b in zip(got["mean"] + got["std"], base["mean"] + base["std"]))
        agree = f"mean/std max rel diff {rel:.1e} (abs {diff:.1e})"
        rows.append(("stats", f"gpuaug {device} ({args.threads} threads)", s, base_s / s, agree))

    # clean
    base_s = timed([sys.executable, HERE / "clean_baseline.py", corpus, "--report", out / "clean_base.json",
                    "--workers", args.workers])
    base_findings = findings(out / "clean_base.json")
    rows.append(("clean", f"Python (Pillow + numpy dHash, {args.workers} processes)", base_s, 1.0,
                 f"{len(base_findings)} findings"))
    for device in devices:
        report = out / f"clean_{device}.json"
        report.unlink(missing_ok=True)
        s = timed([args.gpuaug, "clean", "--input", corpus, "--report", report, "--threads", args.threads,
                   "--device", device, "--quiet"])
        got = findings(report)
        agree = "same findings" if got == base_findings else (
            f"DIFFERENT: {len(got - base_findings)} only gpuaug, {len(base_findings - got)} only Python")
        rows.append(("clean", f"gpuaug {device} ({args.threads} threads)", s, base_s / s, agree))

    print(f"\n{args.images} images ({corpus})\n")
    print("| job | run | seconds | images/s | speed-up vs Python | agreement |")
    print("|---|---|---:|---:|---:|---|")
    for job, name, s, ratio, agree in rows:
        print(f"| {job} | {name} | {s:.2f} | {args.images / s:.0f} | {ratio:.2f}x | {agree} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
