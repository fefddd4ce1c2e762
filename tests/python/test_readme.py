"""The README's Python examples that run without a GPU run as written (docs examples must not
rot)."""
import os
import re
from pathlib import Path

import pytest

pytest.importorskip("gpuaug._gpuaug")

ROOT = Path(__file__).resolve().parents[2]


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has a Python example"
    cwd = os.getcwd()
    os.chdir(ROOT)  # the example names data/samples relative to the repository
    try:
        scope = {}
        exec(compile(blocks[0], "README.md", "exec"), scope)
        # the loop ends on the last batch: 10 samples in batches of 4 leave 2
        assert scope["batch"].shape == (2, 3, 64, 64)
    finally:
        os.chdir(cwd)


def test_readme_functional_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "gpuaug.functional" in b]
    assert blocks, "the README has a gpuaug.functional example"
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert scope["crops"].shape == (8, 3, 64, 64)
    assert scope["x"].shape == (8, 3, 64, 64) and str(scope["x"].dtype) == "float32"
