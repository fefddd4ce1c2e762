"""gpuaug tile: any tile size gives the bytes of the whole image at once (and of `augment` on
the same image, index and seed), for JPEG and PNG sources, .npy/.png/.jpg outputs; and its
errors: bad input, several samples, contrast in tiles, an unknown output type — none leaves a
file behind."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import mixed_image, smooth_image

CHAIN = """seed: 5
ops:
  - resize: {size: [241, 333]}
  - rotate: {degrees: 12, interpolation: bilinear, fill: [10, 20, 30]}
  - gaussian_blur: {kernel_size: [7, 5], sigma: 1.5}
  - color_jitter: {brightness: 0.3, saturation: 0.3, hue: 0.05}
  - gaussian_noise: {sigma: 0.03}
  - random_erasing: {p: 1}
  - to_dtype: {dtype: float16}
  - normalize: {}
output: {layout: CHW}
"""


@pytest.fixture
def big(tmp_images) -> dict[str, Path]:
    a = smooth_image(517, 389, seed=3)
    b = mixed_image(517, 389, seed=4)
    paths = tmp_images({"big.jpg": a, "big.png": b}, quality=90)
    return {p.suffix: p for p in paths}


def _spec(tmp_path: Path, text: str = CHAIN) -> Path:
    path = tmp_path / "tile.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("source", [".jpg", ".png"])
def test_every_tile_size_gives_the_whole_image(run_gpuaug, tmp_path, big, source):
    spec = _spec(tmp_path)
    outputs = {}
    for tile in (0, 1000, 64, 37):
        for ext in ("npy", "png"):
            out = tmp_path / f"t{tile}.{ext}"
            run_gpuaug("tile", "--spec", spec, "--input", big[source], "--output", out, "--tile", tile,
                       "--threads", 2, "--quiet")
            outputs[tile, ext] = out.read_bytes()
    for ext in ("npy", "png"):
        whole = outputs[0, ext]
        for tile in (1000, 64, 37):
            assert outputs[tile, ext] == whole, f"tile {tile} .{ext} differs from the whole image"
    tensor = np.load(tmp_path / "t0.npy")
    assert tensor.dtype == np.float16 and tensor.shape == (3, 241, 333)
    assert np.isfinite(tensor).all() and tensor.astype(np.float32).std() > 0.1


def test_equals_augment_of_the_same_image(run_gpuaug, tmp_path, big):
    spec = _spec(tmp_path)
    run_gpuaug("augment", "--spec", spec, "--input", big[".jpg"], "--output", tmp_path / "aug", "--format", "npy",
               "--threads", 2, "--quiet")
    (augmented,) = list((tmp_path / "aug").rglob("*.npy"))
    run_gpuaug("tile", "--spec", spec, "--input", big[".jpg"], "--output", tmp_path / "t.npy", "--tile", 50,
               "--quiet")
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), np.load(augmented))


def test_summary_names_tiles_and_region(run_gpuaug, tmp_path, big):
    proc = run_gpuaug("tile", "--spec", _spec(tmp_path), "--input", big[".png"], "--output", tmp_path / "o.png",
                      "--tile", 100)
    assert "333x241 output in 12 tiles" in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", ["corrupt", "local_crops", "contrast", "extension"])
def test_errors_name_the_cause_and_write_nothing(run_gpuaug, tmp_path, big, case):
    spec, source, out = _spec(tmp_path), big[".png"], tmp_path / "out.png"
    want = ""
    if case == "corrupt":
        source = tmp_path / "broken.jpg"
        source.write_bytes(big[".jpg"].read_bytes()[:300])
        want = "broken.jpg"
    elif case == "local_crops":
        spec = _spec(tmp_path, "ops:\n  - local_crops: {n: 3, size: 32}\n")
        want = "local_crops"
    elif case == "contrast":
        spec = _spec(tmp_path, "ops:\n  - color_jitter: {contrast: 0.5}\n")
        want = "contrast"
    else:
        out = tmp_path / "out.tif"
        want = ".npy"
    proc = run_gpuaug("tile", "--spec", spec, "--input", source, "--output", out, "--tile", 64, check=False)
    assert proc.returncode == 1, proc.stderr
    assert want in proc.stderr and "error" in proc.stderr, proc.stderr
    assert not out.exists()
    assert not list(tmp_path.glob("*gpuaug-tmp*"))
    if case == "contrast":  # one tile: the whole image's mean is there
        run_gpuaug("tile", "--spec", spec, "--input", source, "--output", out, "--tile", 0, "--quiet")
        assert out.exists()


def test_cuda_tiles_equal_the_whole_image_and_the_cpu(run_gpuaug, tmp_path, big, has_gpu):
    spec = _spec(tmp_path)
    if not has_gpu:  # the error names the stage and writes nothing
        out = tmp_path / "g.npy"
        proc = run_gpuaug("tile", "--spec", spec, "--input", big[".jpg"], "--output", out, "--device", "cuda",
                          check=False)
        assert proc.returncode == 1 and "device" in proc.stderr, proc.stderr
        assert not out.exists()
        return
    run_gpuaug("tile", "--spec", spec, "--input", big[".jpg"], "--output", tmp_path / "cpu.npy", "--tile", 0,
               "--quiet")
    cpu = np.load(tmp_path / "cpu.npy").astype(np.float32)
    whole = None
    for tile in (0, 64, 37):
        out = tmp_path / f"g{tile}.npy"
        run_gpuaug("tile", "--spec", spec, "--input", big[".jpg"], "--output", out, "--tile", tile, "--device",
                   "cuda", "--quiet")
        whole = whole or out.read_bytes()
        assert out.read_bytes() == whole, f"GPU tile {tile} differs from the GPU's whole image"
    # float16 outputs: one half-precision step (2^-9 at 1..2, 2^-8 at 2..4) where the float32
    # values, within 1e-5 of the CPU's, round the other way
    np.testing.assert_allclose(np.load(tmp_path / "g0.npy").astype(np.float32), cpu, rtol=0, atol=2 ** -7)
