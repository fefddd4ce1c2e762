"""One worker per GPU: --device cuda:all and lists such as cuda:0,2 (a GPU named twice gets two
workers) give byte-identical outputs to cuda:0 in augment, bench, stats, reduce, clean and tile,
and the summaries report each worker's share. On one GPU, cuda:0,0 runs the multi-worker code
(two workers taking batches on demand) against the single worker. Without a GPU, device lists
fail clearly and write nothing."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from harness import mixed_image, tree_hash, write_spec

LISTS = ["cuda:all", "cuda:0,0"]


@pytest.fixture
def dataset(tmp_images, tmp_path) -> Path:
    # JPEGs (the GPU decodes those it takes) and PNGs, odd sizes, three classes.
    tmp_images({f"c{i % 3}/img_{i:02d}.{'jpg' if i % 2 else 'png'}": mixed_image(61 + 3 * i, 83 + i, seed=i)
                for i in range(37)}, quality=90)
    return tmp_path / "images"


@pytest.fixture
def spec(tmp_path) -> Path:
    return write_spec(tmp_path / "spec.yaml", [{"random_resized_crop": {"size": [32, 40], "scale": [0.3, 1.0]}},
                                              {"horizontal_flip": {}}, {"color_jitter": {"brightness": 0.3}},
                                              {"gaussian_noise": {"sigma": 0.05}}], seed=11)


def test_device_lists_without_a_gpu_fail_clearly(run_gpuaug, tmp_path, dataset, spec, has_gpu):
    if has_gpu:
        pytest.skip("a GPU is visible")
    for device, cause in (("cuda:all", "no CUDA GPU is visible"), ("cuda:0,1", "device")):
        out = tmp_path / f"out-{device.replace(':', '_').replace(',', '_')}"
        proc = run_gpuaug("augment", "--spec", spec, "--input", dataset, "--output", out, "--device", device,
                          "--quiet", check=False)
        assert proc.returncode == 1 and cause in proc.stderr, proc.stderr
        assert not list(out.rglob("*.png")) if out.exists() else True


@pytest.mark.parametrize("device", ["cuda:0,", "cuda:a", "gpu:0", "cuda:0;1"])
def test_malformed_device_lists_say_what_is_expected(run_gpuaug, tmp_path, dataset, spec, device):
    proc = run_gpuaug("augment", "--spec", spec, "--input", dataset, "--output", tmp_path / "out", "--device",
                      device, "--quiet", check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"'{device}'" in proc.stderr and "cuda:all" in proc.stderr, proc.stderr


@pytest.fixture
def gpu(has_gpu):
    if not has_gpu:
        pytest.skip("no GPU: the multi-worker runs need one")


def test_augment_any_device_list_equals_cuda0(gpu, run_gpuaug, tmp_path, dataset, spec):
    args = ["augment", "--spec", spec, "--input", dataset, "--copies", 2, "--batch", 5, "--format", "npy"]
    run_gpuaug(*args, "--output", tmp_path / "one", "--record", tmp_path / "one.jsonl", "--device", "cuda:0",
               "--quiet")
    expected = tree_hash(tmp_path / "one")
    assert len(expected) == 37 * 2
    for device in LISTS:
        out = tmp_path / device.replace(":", "_").replace(",", "_")
        proc = run_gpuaug(*args, "--output", out, "--record", out.with_suffix(".jsonl"), "--device", device)
        assert tree_hash(out) == expected, device
        assert out.with_suffix(".jsonl").read_text() == (tmp_path / "one.jsonl").read_text()
        if device == "cuda:0,0":
            # Two workers per listed GPU (augment overlaps one's host work with the other's kernels).
            shares = re.findall(r"(cuda:0(?:#\d)?) (\d+) \(", proc.stderr)
            assert [w for w, _ in shares] == ["cuda:0", "cuda:0#2", "cuda:0#3", "cuda:0#4"], proc.stderr
            assert sum(int(n) for _, n in shares) == 37 * 2


@pytest.mark.parametrize("mode", [[], ["--augment-only"]], ids=["end_to_end", "augment_only"])
def test_bench_shares_add_up(gpu, run_gpuaug, dataset, spec, mode):
    proc = run_gpuaug("bench", "--spec", spec, "--input", dataset, "--device", "cuda:0,0", "--batch", 4,
                      "--iters", 2, "--warmup", 0, "--json", *mode)
    result = json.loads(proc.stdout)
    # One GPU named twice: two workers each (bench runs two per listed GPU, as augment does).
    assert result["gpus"] == 1 and result["workers"] == 4 and result["device"] == "cuda:0,0"
    assert sorted(result["shares"]) == ["cuda:0", "cuda:0#2", "cuda:0#3", "cuda:0#4"]
    assert sum(result["shares"].values()) == 37 * 2 == result["images"]
    assert len(result["device_used_bytes"]) == 2


def test_stats_any_device_list_equals_cuda0(gpu, run_gpuaug, tmp_path, tmp_images):
    tmp_images({f"img_{i:03d}.jpg": mixed_image(40 + i % 7, 56, seed=i) for i in range(300)}, quality=90)
    args = ["stats", "--input", tmp_path / "images", "--gpu-share", 0.75, "--quiet"]
    run_gpuaug(*args, "--output", tmp_path / "one.json", "--device", "cuda:0")
    for device in LISTS:
        out = tmp_path / f"{device.replace(':', '_').replace(',', '_')}.json"
        run_gpuaug(*args, "--output", out, "--device", device)
        assert out.read_bytes() == (tmp_path / "one.json").read_bytes(), device


@pytest.mark.parametrize("layout", [[], ["--shards", 4], ["--shard-size", "20kB"]], ids=["tree", "shards", "sized"])
def test_reduce_any_device_list_equals_cuda0(gpu, run_gpuaug, tmp_path, dataset, layout):
    args = ["reduce", "--input", dataset, "--max-side", 48, "--format", "png", "--batch", 4, *layout, "--quiet"]
    run_gpuaug(*args, "--output", tmp_path / "one", "--device", "cuda:0")
    for device in LISTS:
        out = tmp_path / device.replace(":", "_").replace(",", "_")
        run_gpuaug(*args, "--output", out, "--device", device)
        assert tree_hash(out) == tree_hash(tmp_path / "one"), device


def test_clean_any_device_list_equals_cuda0(gpu, run_gpuaug, tmp_path, dataset):
    run_gpuaug("clean", "--input", dataset, "--report", tmp_path / "one.json", "--device", "cuda:0", "--quiet")
    for device in LISTS:
        report = tmp_path / f"{device.replace(':', '_').replace(',', '_')}.json"
        run_gpuaug("clean", "--input", dataset, "--report", report, "--device", device, "--quiet")
        assert report.read_bytes() == (tmp_path / "one.json").read_bytes(), device
    # Nothing here is near a threshold: the CPU finds the same.
    run_gpuaug("clean", "--input", dataset, "--report", tmp_path / "cpu.json", "--quiet")
    assert json.loads((tmp_path / "one.json").read_text()) == json.loads((tmp_path / "cpu.json").read_text())


def test_tile_on_two_workers_equals_one(gpu, run_gpuaug, tmp_path):
    from PIL import Image
    source = tmp_path / "big.png"
    Image.fromarray(mixed_image(700, 900, seed=3)).save(source)
    spec = write_spec(tmp_path / "tile.yaml", [{"rotate": {"degrees": [10, 10], "interpolation": "bilinear"}},
                                              {"gaussian_blur": {"kernel_size": 7, "sigma": [1.5, 1.5]}},
                                              {"to_dtype": {"dtype": "float32"}}], seed=2)
    for device in ("cuda:0", "cuda:0,0", "cuda:all"):
        run_gpuaug("tile", "--spec", spec, "--input", source, "--output", tmp_path / f"{device[5:]}.npy",
                   "--tile", 128, "--device", device, "--quiet")
    one = np.load(tmp_path / "0.npy")
    for name in ("0,0", "all"):
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), one)
