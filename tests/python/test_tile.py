"""gpuaug tile: any tile size gives the bytes of the whole image at once (and of `augment` on
the same image, index and seed), for JPEG and PNG sources, .npy/.png/.jpg outputs; and its
errors: bad input, several samples, contrast in tiles, an unknown output type — none leaves a
file behind."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from harness import mixed_image, smooth_image, write_png, write_spec

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


@pytest.fixture
def mixed_dataset(tmp_images) -> Path:
    """Two images above a 100,000-pixel threshold (JPEG and PNG) among three below it."""
    paths = tmp_images({"a/big.jpg": smooth_image(389, 517, seed=3), "a/big2.png": mixed_image(401, 333, seed=6),
                        "a/s1.jpg": smooth_image(61, 77, seed=7), "b/s2.png": mixed_image(45, 90, seed=8),
                        "b/s3.jpg": mixed_image(120, 97, seed=9)}, quality=90)
    return paths[0].parent.parent


@pytest.mark.parametrize("fmt", ["npy", "png", "jpg"])
@pytest.mark.parametrize("chain", ["full", "crops", "contrast"])
def test_augment_tile_threshold_gives_the_same_files(run_gpuaug, tmp_path, mixed_dataset, chain, fmt):
    """Images above --tile-threshold are made in tiles after the others, each sample's file written
    as its tiles land: every output file keeps its bytes, and so does the record; a chain with
    contrast (one tile: it needs the whole image's mean) and local_crops (several samples an
    image) included."""
    text = {"full": CHAIN.replace("resize: {size: [241, 333]}", "random_resized_crop: {size: [241, 333]}"),
            "crops": "seed: 2\nops:\n  - local_crops: {n: 3, size: 150, scale: [0.3, 0.6]}\n"
                     "  - gaussian_blur: {kernel_size: 5, sigma: 1.0}\n",
            "contrast": "seed: 1\nops:\n  - resize: {size: 300}\n  - color_jitter: {contrast: 0.5}\n"}[chain]
    spec = _spec(tmp_path, text)
    files = {}
    for name, extra in (("plain", []), ("tiled", ["--tile-threshold", 100000, "--tile", 64])):
        out = tmp_path / name
        proc = run_gpuaug("augment", "--spec", spec, "--input", mixed_dataset, "--output", out, "--format", fmt,
                          "--copies", 2, "--threads", 2, "--record", tmp_path / f"{name}.jsonl", *extra)
        files[name] = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob(f"*.{fmt}"))}
        if extra:  # the two big images, two copies each, went through the tiled path
            assert re.search(r"tiled, every worker 4\b", proc.stderr), proc.stderr
    assert len(files["plain"]) == 5 * 2 * (3 if chain == "crops" else 1)
    assert files["tiled"].keys() == files["plain"].keys()
    for name, data in files["plain"].items():
        assert files["tiled"][name] == data, f"{name} differs when made in tiles"
    assert (tmp_path / "tiled.jsonl").read_text() == (tmp_path / "plain.jsonl").read_text()
    assert not list(tmp_path.rglob("*gpuaug-tmp*"))


def test_augment_tile_threshold_bad_input_is_reported_or_skipped(run_gpuaug, tmp_path, mixed_dataset):
    """A big image that fails to decode in the tiled path names the file and the stage; with
    --on-error skip it is counted and the rest are written."""
    broken = mixed_dataset / "a" / "big.jpg"
    broken.write_bytes(broken.read_bytes()[: len(broken.read_bytes()) // 2])
    spec = _spec(tmp_path)
    args = ("augment", "--spec", spec, "--input", mixed_dataset, "--format", "npy", "--tile-threshold", 100000,
            "--tile", 100, "--threads", 2)
    proc = run_gpuaug(*args, "--output", tmp_path / "raise", check=False)
    assert proc.returncode == 1 and "big.jpg" in proc.stderr and "decode" in proc.stderr, proc.stderr
    proc = run_gpuaug(*args, "--output", tmp_path / "skip", "--on-error", "skip")
    assert "big.jpg" in proc.stderr, proc.stderr
    written = sorted(p.name for p in (tmp_path / "skip").rglob("*.npy"))
    assert written == ["big2.npy", "s1.npy", "s2.npy", "s3.npy"], written
    assert not list(tmp_path.rglob("*gpuaug-tmp*"))


STREAMED_CHAINS = {
    "resize_blur": "ops:\n  - resize: {size: [300, 410]}\n  - gaussian_blur: {kernel_size: 7, sigma: 1.5}\n",
    "vflip_crop": "ops:\n  - vertical_flip: {p: 1}\n  - random_resized_crop: {size: [200, 260], scale: [0.3, 0.6]}\n",
    "rotate_expand": "ops:\n  - rotate: {degrees: [40, 40], expand: true, interpolation: bilinear, fill: [9, 99, 199]}\n",
    "mirror_pad": "ops:\n  - pad: {padding: [20, 7], padding_mode: reflect}\n  - resize: {size: [233, 301]}\n",
    "dct_scaled": "decode: {dct_scaling: true}\nops:\n  - resize: {size: [90, 120]}\n  - horizontal_flip: {p: 1}\n",
}


@pytest.mark.parametrize("ext", [".jpg", ".png"])
@pytest.mark.parametrize("name", sorted(STREAMED_CHAINS))
def test_a_tiled_image_is_streamed_with_the_same_bytes(run_gpuaug, tmp_path, tmp_images, name, ext):
    """An upright JPEG or non-interlaced PNG cut into tiles is decoded in one pass whose rows are
    held only while a tile row reads them (tile rows in the order of their first row: a vertical
    flip reads bottom up): every tile size gives the bytes of the whole decode (--tile 0), and
    for a resize far fewer rows are held than the image has."""
    (source,) = tmp_images({f"scene{ext}": mixed_image(480, 640, seed=11)}, quality=92)
    spec = _spec(tmp_path, "seed: 3\n" + STREAMED_CHAINS[name])
    run_gpuaug("tile", "--spec", spec, "--input", source, "--output", tmp_path / "whole.npy", "--tile", 0, "--quiet")
    whole = (tmp_path / "whole.npy").read_bytes()
    for tile in (1000, 64, 37):
        out = tmp_path / f"t{tile}.npy"
        proc = run_gpuaug("tile", "--spec", spec, "--input", source, "--output", out, "--tile", tile, "--threads", 2)
        assert out.read_bytes() == whole, f"--tile {tile} differs from the whole decode"
        held = re.search(r"holding at most (\d+) of its (\d+) rows", proc.stderr)
        assert held, proc.stderr
        if name == "resize_blur" and tile == 37:
            assert int(held[1]) < int(held[2]) // 4, proc.stderr


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_a_streamed_image_cut_short_names_the_file_and_writes_nothing(run_gpuaug, tmp_path, tmp_images, ext):
    (source,) = tmp_images({f"scene{ext}": mixed_image(480, 640, seed=12)}, quality=92)
    data = source.read_bytes()
    source.write_bytes(data[: len(data) * 3 // 5])  # the header whole, the scan cut off
    out = tmp_path / "out.png"
    proc = run_gpuaug("tile", "--spec", _spec(tmp_path, STREAMED_CHAINS["resize_blur"]), "--input", source,
                      "--output", out, "--tile", 50, check=False)
    assert proc.returncode == 1 and f"scene{ext}" in proc.stderr and "decode" in proc.stderr, proc.stderr
    assert not out.exists() and not list(tmp_path.glob("*gpuaug-tmp*"))


@pytest.mark.parametrize("name", ["resize_blur", "vflip_crop"])
def test_png_and_jpg_outputs_are_written_as_tiles_land(run_gpuaug, tmp_path, tmp_images, name):
    """tile writes a png or jpg output a tile row at a time as its tiles land (the rows of a tile
    row wait only for those above): the file is byte for byte augment's of the same image, and a
    streamed resize holds a tile row of the output, a vertical flip (tile rows landing bottom up)
    all of it."""
    (source,) = tmp_images({"scene.jpg": mixed_image(480, 640, seed=13)}, quality=92)
    spec = _spec(tmp_path, "seed: 3\n" + STREAMED_CHAINS[name])
    for fmt in ("png", "jpg"):
        run_gpuaug("augment", "--spec", spec, "--input", source, "--output", tmp_path / f"aug-{fmt}", "--format",
                   fmt, "--quality", 80, "--quiet")
        (augmented,) = list((tmp_path / f"aug-{fmt}").rglob(f"*.{fmt}"))
        out = tmp_path / f"t.{fmt}"
        proc = run_gpuaug("tile", "--spec", spec, "--input", source, "--output", out, "--tile", 37, "--quality", 80,
                          "--threads", 2)
        assert out.read_bytes() == augmented.read_bytes(), f"{name} .{fmt} differs from augment's"
        held = re.search(r"holding at most (\d+) of its (\d+) output rows", proc.stderr)
        assert held, proc.stderr
        if name == "resize_blur":
            assert int(held[1]) == 37 and int(held[2]) == 300, proc.stderr
        else:
            assert int(held[1]) == int(held[2]) == 200, proc.stderr
    assert not list(tmp_path.glob("*gpuaug-tmp*"))


def test_an_output_onto_the_input_is_refused(run_gpuaug, tmp_path):
    # The whole input is read before the output is renamed into place: it replaced the input,
    # exit 0. augment refuses the same; so does tile now, for the path or a link to it.
    import os

    image = tmp_path / "keep.png"
    write_png(image, mixed_image(48, 64, seed=3))
    original = image.read_bytes()
    spec = write_spec(tmp_path / "rot.yaml", [{"rotate": {"degrees": 40}}])
    os.link(image, tmp_path / "same.png")
    for output in (image, tmp_path / "same.png"):
        proc = run_gpuaug("tile", "--spec", spec, "--input", image, "--output", output, "--tile", 16, "--quiet",
                          check=False)
        assert proc.returncode != 0 and "would overwrite its input" in proc.stderr, proc.stderr
        assert image.read_bytes() == original
