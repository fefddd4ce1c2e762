"""The README's Python example runs as written (docs examples must not rot)."""
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
