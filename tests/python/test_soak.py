"""The soak benchmark in short (CI): 12 epochs on 2 threads, memory flat within 2% after epoch 2
for the Python Pipeline and `gpuaug bench` on the CPU (bench/soak.py; 100 epochs on the GPU
machine, where 16 threads' allocator arenas still settle upward: bench/RESULTS.md)."""
from __future__ import annotations

import subprocess
import sys

import pytest


def test_memory_is_flat_over_epochs(gpuaug_bin, repo_root, tmp_path):
    pytest.importorskip("gpuaug")
    proc = subprocess.run([sys.executable, repo_root / "bench" / "soak.py", "--epochs", "12", "--images", "32",
                           "--devices", "cpu", "--gpuaug", gpuaug_bin, "--workdir", tmp_path, "--threads", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("| host RSS |") == 2
    # Bytes malloc has out (glibc): flat too, which tells a leak from an arena settling.
    assert proc.stdout.count("| malloc in use |") == 2, proc.stdout
