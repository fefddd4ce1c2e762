"""reduce's tar shards as an input: augment, stats and the Python Pipeline read them as they read
the same images in a mirror tree (same samples, labels and output bytes)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import mixed_image, tree_hash, write_spec


@pytest.fixture
def reduced(run_gpuaug, tmp_images, tmp_path) -> tuple[Path, Path]:
    """The same images as a mirror tree (jpg) and as 3 shards (jpg, .cls labels)."""
    tmp_images({f"c{i % 3}/img_{i:02d}.png": mixed_image(50 + i, 60, seed=i) for i in range(14)})
    tree, shards = tmp_path / "tree", tmp_path / "shards"
    for out, extra in ((tree, []), (shards, ["--shards", 3])):
        run_gpuaug("reduce", "--input", tmp_path / "images", "--output", out, "--max-side", 48, *extra, "--quiet")
    return tree, shards


def test_augment_and_stats_from_shards_equal_the_tree(run_gpuaug, tmp_path, reduced):
    tree, shards = reduced
    spec = write_spec(tmp_path / "spec.yaml", [{"random_resized_crop": {"size": [20, 20]}}], seed=5)
    outs = {}
    for name, source in (("tree", tree), ("shards", shards), ("one", shards / "shard-000001.tar")):
        run_gpuaug("augment", "--spec", spec, "--input", source, "--output", tmp_path / f"aug-{name}",
                   "--format", "npy", "--quiet")
        outs[name] = tree_hash(tmp_path / f"aug-{name}")
    # The tree also holds index.json, not an image; shards give the same samples, in the same
    # order (reduce writes shards in input order), hence the same indices and draws.
    assert outs["shards"] == outs["tree"]
    assert set(outs["one"]) < set(outs["tree"]) and len(outs["one"]) == 5
    for name, source in (("tree", tree), ("shards", shards)):
        run_gpuaug("stats", "--input", source, "--output", tmp_path / f"{name}.json", "--quiet")
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("tree", "shards"))
    a.pop("input"), b.pop("input")
    assert a == b


def test_pipeline_reads_shards(reduced):
    gpuaug = pytest.importorskip("gpuaug")
    tree, shards = reduced
    spec = {"seed": 1, "ops": [{"resize": {"size": [16, 16]}}]}
    from_tree = gpuaug.Pipeline(spec, str(tree), batch_size=5, shuffle=False)
    from_shards = gpuaug.Pipeline(spec, str(shards), batch_size=5, shuffle=False)
    assert len(from_shards) == len(from_tree) and from_shards.classes == from_tree.classes == ["c0", "c1", "c2"]
    for (xa, ya, ia), (xb, yb, ib) in zip(from_tree, from_shards):
        np.testing.assert_array_equal(np.from_dlpack(xa), np.from_dlpack(xb))
        np.testing.assert_array_equal(np.from_dlpack(ya) if hasattr(ya, "__dlpack__") else ya,
                                      np.from_dlpack(yb) if hasattr(yb, "__dlpack__") else yb)
