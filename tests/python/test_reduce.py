"""reduce: sizes and pixels against Pillow's resize, the mirror tree, tar shards read by Python's
tarfile, labels, index.json, and errors."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import mixed_image, smooth_image, tree_hash

PILLOW_TOL = 1  # the bound: Pillow's fixed-point antialias vs gpuaug's float weights


@pytest.fixture
def dataset(tmp_images, tmp_path) -> Path:
    tmp_images({
        "cat/a.png": smooth_image(300, 200, seed=1),
        "cat/b.jpg": mixed_image(90, 400, seed=2),
        "dog/c.png": smooth_image(120, 120, seed=3),
        "dog/d.v2.png": mixed_image(50, 60, seed=4),
        "e.png": smooth_image(257, 129, seed=5),
    }, quality=92)
    return tmp_path / "images"


def _expected_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    """torchvision's Resize(size=None, max_size=M) rule, never enlarging."""
    long, short = max(w, h), min(w, h)
    if long <= max_side:
        return w, h
    new_short = int(max_side * short / long)
    return (max_side, new_short) if w >= h else (new_short, max_side)


@pytest.mark.parametrize("max_side", [100, 64])
def test_mirror_tree_equals_pillow_resize(run_gpuaug, tmp_path, dataset, max_side):
    out = tmp_path / "out"
    before = tree_hash(dataset)
    run_gpuaug("reduce", "--input", dataset, "--output", out, "--max-side", max_side, "--format", "png", "--quiet")
    assert tree_hash(dataset) == before  # input untouched
    for src in sorted(p for p in dataset.rglob("*") if p.is_file()):
        rel = src.relative_to(dataset)
        stem = str(rel.with_suffix(""))
        got = np.asarray(Image.open(out / f"{stem}.png").convert("RGB")).astype(int)
        img = Image.open(src).convert("RGB")
        size = _expected_size(*img.size, max_side)
        assert got.shape[1::-1] == size, rel
        ref = np.asarray(img.resize(size, Image.BILINEAR) if size != img.size else img).astype(int)
        assert np.abs(got - ref).max() <= PILLOW_TOL, rel
    index = json.loads((out / "index.json").read_text())
    assert index["classes"] == ["cat", "dog"]
    assert [s["source"] for s in index["samples"]] == ["cat/a.png", "cat/b.jpg", "dog/c.png", "dog/d.v2.png", "e.png"]
    assert [s["label"] for s in index["samples"]] == [0, 0, 1, 1, -1]
    assert not list(out.rglob("*.gpuaug-tmp-*")) and not (out / ".gpuaug-reduce.journal").exists()


def test_scale_sizes(run_gpuaug, tmp_path, dataset):
    out = tmp_path / "out"
    run_gpuaug("reduce", "--input", dataset, "--output", out, "--scale", 0.5, "--format", "png", "--quiet")
    for s in json.loads((out / "index.json").read_text())["samples"]:
        w, h = Image.open(dataset / s["source"]).size
        assert (s["width"], s["height"]) == (w // 2, h // 2)
        assert Image.open(out / s["file"]).size == (w // 2, h // 2)


@pytest.mark.parametrize("how", [("--shards", "2"), ("--shard-size", "8kB")])
def test_shards_read_by_tarfile(run_gpuaug, tmp_path, dataset, how):
    out = tmp_path / "out"
    run_gpuaug("reduce", "--input", dataset, "--output", out, "--max-side", 64, "--quality", 80, *how, "--quiet")
    index = json.loads((out / "index.json").read_text())
    seen = {}
    for shard in index["shards"]:
        with tarfile.open(out / shard["file"]) as tar:
            names = tar.getnames()
            assert len([n for n in names if n.endswith(".jpg")]) == shard["samples"]
            for member in tar.getmembers():
                seen[member.name] = tar.extractfile(member).read()
        assert (out / shard["file"]).stat().st_size == shard["bytes"]
    if how[0] == "--shards":
        assert len(index["shards"]) == 2
    else:
        assert len(index["shards"]) >= 2
        assert all(s["bytes"] <= 8000 + 10240 for s in index["shards"]) or len(index["shards"]) == len(index["samples"])
    # Every sample once, WebDataset keys (no dot in the basename), labels as .cls members.
    assert sorted(n for n in seen if n.endswith(".jpg")) == sorted(s["file"] for s in index["samples"])
    assert "dog/d_v2.jpg" in seen and seen["cat/a.cls"] == b"0" and seen["dog/c.cls"] == b"1"
    assert "e.cls" not in seen
    decoded = Image.open(io.BytesIO(seen["cat/a.jpg"]))
    assert decoded.size == (42, 64)


def test_bad_files_raise_or_skip(run_gpuaug, tmp_path, dataset):
    (dataset / "cat" / "broken.jpg").write_bytes((dataset / "cat" / "b.jpg").read_bytes()[:200])
    out = tmp_path / "out"
    proc = run_gpuaug("reduce", "--input", dataset, "--output", out, "--max-side", 64, "--quiet", check=False)
    assert proc.returncode == 1 and "broken.jpg" in proc.stderr and "decode" in proc.stderr
    assert not list(out.rglob("*.gpuaug-tmp-*"))
    # It failed before finishing anything: no journal is left (nothing to resume).
    assert not (out / ".gpuaug-reduce.journal").exists()
    # --resume with --on-error skip finishes it: the bad file listed, every other one written.
    run_gpuaug("reduce", "--input", dataset, "--output", out, "--max-side", 64, "--on-error", "skip", "--resume",
               "--quiet")
    index = json.loads((out / "index.json").read_text())
    assert [e["source"] for e in index["errors"]] == ["cat/broken.jpg"]
    assert len(index["samples"]) == 5 and all((out / s["file"]).is_file() for s in index["samples"])
    # Options that change the outputs cannot be mixed into a resumed run.
    (out / "index.json").unlink()
    run_gpuaug("reduce", "--input", dataset, "--output", out / "x", "--max-side", 64, "--on-error", "skip", "--quiet")
    (out / "x" / ".gpuaug-reduce.journal").write_text(
        json.dumps({"job": "reduce", "max_side": 32}) + "\n")
    proc = run_gpuaug("reduce", "--input", dataset, "--output", out / "x", "--max-side", 64, "--resume", "--quiet",
                      check=False)
    assert proc.returncode == 1 and "different options" in proc.stderr


def test_gpu_equals_cpu(run_gpuaug, tmp_path, dataset, has_gpu):
    """--device cuda: the resize runs in the fused kernel (bit-identical to the CPU's); only
    nvJPEG's decode of the JPEG differs a little from libjpeg-turbo's."""
    if not has_gpu:
        pytest.skip("no GPU")
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    run_gpuaug("reduce", "--input", dataset, "--output", cpu, "--max-side", 64, "--format", "png", "--quiet")
    run_gpuaug("reduce", "--input", dataset, "--output", gpu, "--max-side", 64, "--format", "png",
               "--device", "cuda", "--batch", 2, "--quiet")
    for src in sorted(p for p in dataset.rglob("*") if p.is_file()):
        stem = str(src.relative_to(dataset).with_suffix(""))
        a = np.asarray(Image.open(cpu / f"{stem}.png")).astype(int)
        b = np.asarray(Image.open(gpu / f"{stem}.png")).astype(int)
        assert a.shape == b.shape
        if src.suffix == ".png":
            np.testing.assert_array_equal(a, b)
        else:
            assert np.abs(a - b).mean() <= 1.5
    # --gpu-share 0: the CPU threads decode every JPEG, so the files are the CPU run's, byte for byte.
    cpu_decoded = tmp_path / "gpu_share_0"
    run_gpuaug("reduce", "--input", dataset, "--output", cpu_decoded, "--max-side", 64, "--format", "png",
               "--device", "cuda", "--batch", 2, "--gpu-share", 0, "--quiet")
    for src in sorted(p for p in dataset.rglob("*") if p.is_file()):
        stem = str(src.relative_to(dataset).with_suffix(""))
        assert (cpu_decoded / f"{stem}.png").read_bytes() == (cpu / f"{stem}.png").read_bytes(), stem


def test_gpu_share_is_checked(run_gpuaug, tmp_path, dataset):
    proc = run_gpuaug("reduce", "--input", dataset, "--output", tmp_path / "out", "--max-side", 64,
                      "--gpu-share", 1.5, check=False)
    assert proc.returncode != 0 and "--gpu-share" in proc.stderr


@pytest.mark.parametrize("how", [(), ("--shard-size", "8kB")])
def test_tile_threshold_gives_the_same_files(run_gpuaug, tmp_path, dataset, how):
    """Images above --tile-threshold (a.png, b.jpg, e.png: over 30,000 pixels) are resized after the
    rest of their window in tiles over every thread: the tree or the shards and index.json keep
    their bytes, in the same order."""
    def reduce(name, *extra):
        out = tmp_path / name
        run_gpuaug("reduce", "--input", dataset, "--output", out, "--scale", 0.75, "--format", "png", *how, *extra,
                   "--threads", 2, "--quiet")
        return tree_hash(out)

    assert reduce("tiled", "--tile-threshold", 30000, "--tile", 17) == reduce("plain")


def test_tile_threshold_bad_input_raises_or_is_skipped(run_gpuaug, tmp_path, dataset):
    """A big image whose decode fails in the tiled path names the file and the stage, or is skipped
    and listed in index.json."""
    path = dataset / "cat" / "b.jpg"
    path.write_bytes(path.read_bytes()[:1500])
    args = ("reduce", "--input", dataset, "--max-side", 64, "--tile-threshold", 30000, "--tile", 16, "--quiet")
    proc = run_gpuaug(*args, "--output", tmp_path / "raise", check=False)
    assert proc.returncode == 1 and "b.jpg" in proc.stderr and "decode" in proc.stderr, proc.stderr
    run_gpuaug(*args, "--output", tmp_path / "skip", "--on-error", "skip")
    index = json.loads((tmp_path / "skip" / "index.json").read_text())
    assert [e["source"] for e in index["errors"]] == ["cat/b.jpg"]
    assert len(index["samples"]) == 4


@pytest.mark.parametrize("how", [(), ("--shards", "1")])
def test_inputs_sharing_an_output_name_are_refused_before_writing(run_gpuaug, tmp_images, tmp_path, how):
    # In shards img.1.jpg's key is img_1, as is img_1.jpg's: a tar holding one name twice.
    tmp_images({"img.1.jpg": mixed_image(40, 30, seed=1), "img_1.jpg": mixed_image(30, 40, seed=2)}, quality=90)
    out = tmp_path / "out"
    proc = run_gpuaug("reduce", "--input", tmp_path / "images", "--output", out, "--max-side", 32, *how,
                      "--quiet", check=False)
    if not how:  # as files, img.1 and img_1 differ
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode != 0
    assert "img.1.jpg" in proc.stderr and "img_1.jpg" in proc.stderr and "replace" in proc.stderr, proc.stderr
    assert not out.exists() or not list(out.rglob("*.tar"))


@pytest.mark.parametrize("size", ["0.5", "inf", "1e30", "-3", "0"])
def test_shard_sizes_below_a_byte_or_unbounded_are_refused(run_gpuaug, tmp_path, dataset, size):
    # 0.5 rounded to 0 bytes, which means unsharded: a mirror tree came out instead of shards.
    proc = run_gpuaug("reduce", "--input", dataset, "--output", tmp_path / "out", "--max-side", 32,
                      "--shard-size", size, "--quiet", check=False)
    assert proc.returncode != 0 and "--shard-size" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.*"))


def test_shard_size_bounds_the_whole_shard(run_gpuaug, tmp_path, dataset):
    # The end blocks and the padding to a whole 10240-byte record count too: a shard of more than
    # one sample stays within --shard-size (one sample alone may not fit any).
    out = tmp_path / "out"
    run_gpuaug("reduce", "--input", dataset, "--output", out, "--max-side", 64, "--quality", 80,
               "--shard-size", "20kB", "--quiet")
    shards = json.loads((out / "index.json").read_text())["shards"]
    assert any(s["samples"] > 1 for s in shards)
    for s in shards:
        assert (out / s["file"]).stat().st_size == s["bytes"]
        assert s["samples"] == 1 or s["bytes"] <= 20000, s


def test_a_name_ustar_cannot_hold_is_refused_before_any_work(run_gpuaug, tmp_images, tmp_path):
    # cls/<120 b>.jpg: the member name has no '/' that splits it into 155 + 100 bytes; the job
    # used to stop only after making every sample, --on-error skip or not.
    long_name = "cls/" + "b" * 120 + ".jpg"
    tmp_images({long_name: mixed_image(30, 40, seed=1), "cls/short.jpg": mixed_image(40, 30, seed=2)}, quality=90)
    out = tmp_path / "out"
    proc = run_gpuaug("reduce", "--input", tmp_path / "images", "--output", out, "--max-side", 16, "--shards", 1,
                      "--on-error", "skip", "--quiet", check=False)
    assert proc.returncode != 0 and "b" * 120 in proc.stderr and "ustar" in proc.stderr, proc.stderr
    assert not out.exists() or not list(out.rglob("*.tar"))


def test_a_write_that_fails_is_the_samples_error(run_gpuaug, tmp_images, tmp_path):
    # x.jpg beside x.png keep their extensions (x_jpg.png): from 253-byte inputs, 257-byte names
    # no folder holds. --on-error skip lists them and writes the rest, as augment does.
    stem = "n" * 249
    tmp_images({f"{stem}.jpg": mixed_image(30, 40, seed=1), f"{stem}.png": mixed_image(40, 30, seed=2),
                "ok.png": mixed_image(20, 20, seed=3)}, quality=90)
    out = tmp_path / "out"
    proc = run_gpuaug("reduce", "--input", tmp_path / "images", "--output", out, "--max-side", 16, "--format", "png",
                      "--on-error", "skip", "--quiet", check=False)
    assert proc.returncode == 0, proc.stderr
    index = json.loads((out / "index.json").read_text())
    assert [s["source"] for s in index["samples"]] == ["ok.png"]
    assert len(index["errors"]) == 2 and all("write" in e["error"] for e in index["errors"]), index["errors"]
    proc = run_gpuaug("reduce", "--input", tmp_path / "images", "--output", tmp_path / "out2", "--max-side", 16,
                      "--format", "png", "--quiet", check=False)
    assert proc.returncode != 0 and stem in proc.stderr and "write" in proc.stderr, proc.stderr
