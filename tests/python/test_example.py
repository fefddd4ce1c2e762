"""examples/train_classifier.py runs to the end on the GPU machine with both input pipelines and
learns (skipped without torch, torchvision, scikit-image or a GPU)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest


def test_train_classifier_runs_and_learns(repo_root, has_gpu):
    if not has_gpu:
        pytest.skip("no GPU")
    for module in ("torch", "torchvision", "skimage"):
        pytest.importorskip(module)
    proc = subprocess.run([sys.executable, repo_root / "examples" / "train_classifier.py", "--loader", "both",
                           "--epochs", "3", "--per-class", "160", "--workers", "4"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {m.group(1): float(m.group(2)) for m in re.finditer(r"^\| (gpuaug|torchvision)[^|]* \|.* ([\d.]+)% \|$",
                                                              proc.stdout, re.M)}
    assert set(rows) == {"gpuaug", "torchvision"}, proc.stdout
    # Photos apart by colour and texture: well above chance (1 / classes <= 50%) after 3 epochs.
    assert rows["gpuaug"] > 60 and rows["torchvision"] > 60, proc.stdout
