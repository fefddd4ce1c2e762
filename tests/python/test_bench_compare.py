"""bench --compare on one process: the thread sweep (1, 2, 4, ... up to the cores) on the same
inputs, speed-ups and efficiencies that follow from the rates, where the CPU time went, the
GPU rows or the note that says why they are missing, and the CSV, markdown and PNG files."""
from __future__ import annotations

import csv
import os

import pytest


def test_compare_table_csv_and_plot(run_gpuaug, samples_dir, demo_spec, tmp_path, has_gpu):
    out = tmp_path / "cmp"
    proc = run_gpuaug("bench", "--compare", "--spec", demo_spec, "--input", samples_dir, "--iters", 1,
                      "--warmup", 0, "--limit", 6, "--output", out)
    table = proc.stdout
    assert "| cpu 1 thread |" in table, table
    with open(out / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cores = os.cpu_count() or 1
    cpu = [r for r in rows if r["device"] == "cpu"]
    threads = [int(r["threads"]) for r in cpu]
    assert threads[0] == 1 and threads[-1] == max(threads)
    assert all(b == 2 * a for a, b in zip(threads[:-2], threads[1:-1]))  # powers of two, then all cores
    assert max(threads) >= min(cores, 2) or cores == 1
    for r in rows:
        rate, speedup = float(r["images_per_s"]), float(r["speedup"])
        assert rate > 0
        assert speedup == pytest.approx(rate / float(cpu[0]["images_per_s"]), rel=1e-3)
        assert int(r["images"]) == 6  # --limit, one timed pass
    for r in cpu:
        assert float(r["efficiency"]) == pytest.approx(float(r["speedup"]) / int(r["threads"]), rel=1e-3)
        # Decode and CPU augment share the threads' time.
        assert float(r["decode_share"]) + float(r["augment_share"]) == pytest.approx(1.0, abs=1e-3)
    gpu_rows = [r for r in rows if r["device"].startswith("cuda")]
    if has_gpu:
        assert len(gpu_rows) == 2 and "1 GPU end to end = " in table
        assert float(gpu_rows[1]["kernel_share"]) > 0
    else:
        assert not gpu_rows and "no GPU visible" in table
    assert (out / "compare.md").read_text() == table
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_output_needs_compare(run_gpuaug, samples_dir, demo_spec, tmp_path):
    proc = run_gpuaug("bench", "--spec", demo_spec, "--input", samples_dir, "--output", tmp_path / "x", check=False)
    assert proc.returncode == 1 and "--output goes with --compare" in proc.stderr
