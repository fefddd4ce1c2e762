"""stats oracle: gpuaug stats equals numpy over Pillow-decoded pixels (float64, 1e-9 relative)."""
from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from harness import mixed_image, random_image, smooth_image, write_spec

REL = 1e-9  # the bound; gpuaug sums exact integers, numpy sums float64 pairwise


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")).reshape(-1, 3)


def _dataset(tmp_images) -> list[Path]:
    images = {
        "a/one.png": random_image(37, 53, seed=1),
        "a/two.jpg": smooth_image(64, 48, seed=2),
        "b/three.png": mixed_image(21, 90, seed=3),
        "b/four.jpg": mixed_image(120, 80, seed=4),
        "five.png": np.full((9, 11, 3), 200, np.uint8),
    }
    return tmp_images(images, quality=90)


def _numpy_stats(pixels: np.ndarray) -> dict[str, np.ndarray]:
    x = pixels.astype(np.float64) / 255.0
    return {
        "mean": x.mean(axis=0),
        "std": x.std(axis=0),
        "covariance": np.cov(x, rowvar=False, ddof=0),
        "histogram": np.stack([np.bincount(pixels[:, c], minlength=256) for c in range(3)]),
    }


def test_stats_equal_numpy(run_gpuaug, tmp_path, tmp_images):
    paths = _dataset(tmp_images)
    out = tmp_path / "stats.json"
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", out, "--quiet")
    stats = json.loads(out.read_text())
    pixels = np.concatenate([_pixels(p) for p in paths])
    ref = _numpy_stats(pixels)
    assert stats["images"] == 5 and stats["measured"] == 5 and stats["errors"] == []
    assert stats["pixels"] == len(pixels)
    assert stats["formats"] == {"jpeg": 2, "png": 3}
    np.testing.assert_allclose(stats["mean"], ref["mean"], rtol=REL, atol=0)
    np.testing.assert_allclose(stats["std"], ref["std"], rtol=REL, atol=0)
    np.testing.assert_allclose(stats["covariance"], ref["covariance"], rtol=REL, atol=1e-15)
    np.testing.assert_array_equal(
        np.array([stats["histogram"][c] for c in "rgb"]), ref["histogram"])
    # PCA: numpy's eigh of the same covariance, eigenvectors up to sign.
    values, vectors = np.linalg.eigh(ref["covariance"])
    np.testing.assert_allclose(stats["pca"]["eigenvalues"], values[::-1], rtol=1e-9, atol=1e-15)
    for k, vec in enumerate(np.array(stats["pca"]["eigenvectors"])):
        ref_vec = vectors[:, 2 - k]
        assert abs(abs(float(np.dot(vec, ref_vec))) - 1.0) < 1e-9
    # Sizes: upright width/height quantiles as numpy computes them.
    widths = [Image.open(p).size[0] for p in sorted(paths)]
    assert stats["width"]["min"] == min(widths) and stats["width"]["max"] == max(widths)
    assert stats["width"]["p50"] == pytest.approx(float(np.quantile(widths, 0.5)))
    assert stats["width"]["p95"] == pytest.approx(float(np.quantile(widths, 0.95)))


def test_stats_same_for_any_thread_count(run_gpuaug, tmp_path, tmp_images):
    _dataset(tmp_images)
    outs = []
    for threads in (1, 2, 3):
        out = tmp_path / f"stats{threads}.json"
        run_gpuaug("stats", "--input", tmp_path / "images", "--output", out, "--threads", threads, "--quiet")
        data = json.loads(out.read_text())
        data.pop("input")
        outs.append(data)
    assert outs[0] == outs[1] == outs[2]


def test_stats_size_measures_resized_pixels(run_gpuaug, tmp_path, tmp_images):
    """--size S: the pixels `augment` produces with resize S (antialiased short side, DCT-scaled decode)."""
    _dataset(tmp_images)
    out = tmp_path / "stats.json"
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", out, "--size", 16, "--quiet")
    spec = write_spec(tmp_path / "resize.yaml", [{"resize": {"size": 16}}], dct_scaling=True)
    run_gpuaug("augment", "--spec", spec, "--input", tmp_path / "images", "--output", tmp_path / "npy",
               "--format", "npy", "--quiet")
    pixels = np.concatenate([np.load(p).reshape(-1, 3) for p in sorted((tmp_path / "npy").rglob("*.npy"))])
    ref = _numpy_stats(pixels)
    stats = json.loads(out.read_text())
    assert stats["size"] == 16 and stats["pixels"] == len(pixels)
    np.testing.assert_allclose(stats["mean"], ref["mean"], rtol=REL)
    np.testing.assert_allclose(stats["std"], ref["std"], rtol=REL)


def test_stats_lists_bad_files_and_measures_the_rest(run_gpuaug, tmp_path, tmp_images):
    paths = _dataset(tmp_images)
    (tmp_path / "images" / "broken.jpg").write_bytes(paths[1].read_bytes()[:300])
    (tmp_path / "images" / "empty.png").write_bytes(b"")
    out = tmp_path / "stats.json"
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", out, "--quiet")
    stats = json.loads(out.read_text())
    assert stats["images"] == 7 and stats["measured"] == 5
    bad = {e["file"]: e["error"] for e in stats["errors"]}
    assert set(bad) == {"broken.jpg", "empty.png"}
    assert "broken.jpg" in bad["broken.jpg"] and "empty file" in bad["empty.png"]
    # --on-error raise stops at the first, naming it; nothing half written.
    out2 = tmp_path / "stats2.json"
    proc = run_gpuaug("stats", "--input", tmp_path / "images", "--output", out2, "--on-error", "raise",
                      "--quiet", check=False)
    assert proc.returncode == 1 and ("broken.jpg" in proc.stderr or "empty.png" in proc.stderr)
    assert not out2.exists()


def test_stats_with_nothing_measured_fail_and_write_no_moments(run_gpuaug, tmp_path):
    # Every file bad: zeros for mean and std would pass for a measurement (and a normalize that
    # used them would divide by 0): null there, the errors listed, and the command fails.
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (folder / "garbage.png").write_bytes(b"garbage")
    out = tmp_path / "stats.json"
    proc = run_gpuaug("stats", "--input", folder, "--output", out, "--quiet", check=False)
    assert proc.returncode != 0 and "no image could be measured (2 errors" in proc.stderr, proc.stderr
    stats = json.loads(out.read_text())
    assert stats["measured"] == 0 and stats["pixels"] == 0
    assert stats["mean"] is None and stats["std"] is None and stats["pca"]["eigenvectors"] is None
    assert len(stats["errors"]) == 2


def test_stats_on_gpu_match_cpu(run_gpuaug, tmp_path, tmp_images, has_gpu):
    """--device cuda: the GPU sums what the CPU threads decode, so the file is --device cpu's.
    --gpu-share 0.5: half the JPEGs decoded by nvJPEG, whose pixels differ from libjpeg-turbo's
    by a little (tests/codec/gpu_test_nvjpeg.cpp: mean |diff| <= 1.5 levels). The reduction
    itself is exact (gtest GpuPixelStats.EqualsTheCpuSumsExactly); on these noise-heavy 4:2:0
    JPEGs the chroma upsampling differences move blue's std by 1.7 levels (measured on an
    H100), so std gets 3 levels."""
    if not has_gpu:
        pytest.skip("no GPU")
    _dataset(tmp_images)
    cpu, gpu, nvjpeg = tmp_path / "cpu.json", tmp_path / "gpu.json", tmp_path / "nvjpeg.json"
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", cpu, "--quiet")
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", gpu, "--device", "cuda", "--quiet")
    assert json.loads(cpu.read_text()) == json.loads(gpu.read_text())
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", nvjpeg, "--device", "cuda",
               "--gpu-share", 0.5, "--quiet")
    a, b = json.loads(cpu.read_text()), json.loads(nvjpeg.read_text())
    assert a["pixels"] == b["pixels"] and a["formats"] == b["formats"] and a["width"] == b["width"]
    np.testing.assert_allclose(b["mean"], a["mean"], atol=1.5 / 255)
    np.testing.assert_allclose(b["std"], a["std"], atol=3 / 255)
    # PNG only: exact.
    for p in (tmp_path / "images").rglob("*.jpg"):
        p.unlink()
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", cpu, "--quiet")
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", nvjpeg, "--device", "cuda",
               "--gpu-share", 0.5, "--quiet")
    assert json.loads(cpu.read_text()) == json.loads(nvjpeg.read_text())


def _many_images(tmp_images, tmp_path):
    """1,200 small JPEGs of varied sizes in three folders, 40 PNGs, one corrupt file."""
    rng = np.random.default_rng(7)
    images = {f"c{i % 3}/{i:04d}.jpg": rng.integers(0, 256, (24 + i % 5, 32 + i % 7, 3), np.uint8)
              for i in range(1200)}
    images.update({f"png/{i}.png": rng.integers(0, 256, (17, 19, 3), np.uint8) for i in range(40)})
    tmp_images(images, quality=90)
    (tmp_path / "images" / "c0" / "0003.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")


def _odd_jpegs(folder: Path):
    """An EXIF-rotated JPEG, a gray one and a CMYK one."""
    exif = Image.Exif()
    exif[0x0112] = 6
    rng = np.random.default_rng(8)
    Image.fromarray(rng.integers(0, 256, (23, 31, 3), np.uint8)).save(folder / "rotated.jpg", exif=exif, quality=90)
    Image.fromarray(rng.integers(0, 256, (40, 30), np.uint8)).save(folder / "gray.jpg", quality=90)
    Image.fromarray(rng.integers(0, 256, (21, 26, 3), np.uint8)).convert("CMYK").save(folder / "cmyk.jpg", quality=90)


def test_stats_on_gpu_same_however_the_batches_fall(run_gpuaug, tmp_path, tmp_images, has_gpu):
    """--gpu-share 0.5: a GPU worker decodes the claims waiting for it together (up to 512
    images) and reads the next ones while nvJPEG decodes: which side measures a sample depends on
    its index only, so the file is the same whether one thread or eight feed it, and over 1,200
    images (several batches, a corrupt file and PNGs among them) within nvJPEG's margins of the
    CPU's."""
    if not has_gpu:
        pytest.skip("no GPU")
    _many_images(tmp_images, tmp_path)
    runs = {}
    for name, args in {"cpu": ("--threads", "4"),
                       "one": ("--device", "cuda", "--gpu-share", "0.5", "--threads", "1"),
                       "eight": ("--device", "cuda", "--gpu-share", "0.5", "--threads", "8")}.items():
        out = tmp_path / f"{name}.json"
        run_gpuaug("stats", "--input", tmp_path / "images", "--output", out, "--on-error", "skip", "--quiet", *args)
        runs[name] = json.loads(out.read_text())
    assert runs["one"] == runs["eight"]
    cpu, gpu = runs["cpu"], runs["eight"]
    assert gpu["measured"] == cpu["measured"] == 1239 and len(gpu["errors"]) == 1
    assert gpu["pixels"] == cpu["pixels"] and gpu["formats"] == cpu["formats"]
    np.testing.assert_allclose(gpu["mean"], cpu["mean"], atol=1.5 / 255)
    np.testing.assert_allclose(gpu["std"], cpu["std"], atol=3 / 255)


def _damaged_scans(folder: Path):
    """Two JPEGs whose headers are whole and whose scans are not: 20 bytes cut from the middle
    (libjpeg runs out of data or meets a bad code: an error), one bit flipped."""
    rng = np.random.default_rng(9)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), np.uint8)).save(buffer, "JPEG", quality=90)
    good = buffer.getvalue()
    data = good.rindex(b"\xff\xda") + 2 + int.from_bytes(good[good.rindex(b"\xff\xda") + 2:][:2], "big")
    middle = (data + len(good) - 2) // 2
    (folder / "cut.jpg").write_bytes(good[:middle] + good[middle + 20:])
    flipped = bytearray(good)
    flipped[middle] ^= 0x10
    (folder / "flipped.jpg").write_bytes(bytes(flipped))


@pytest.mark.parametrize("mode", ["sums", "resize"])
def test_stats_on_gpu_equal_the_cpu_exactly(run_gpuaug, tmp_path, tmp_images, has_gpu, mode):
    """--device cuda, "sums": the CPU threads read images into pinned slots and the GPU sums them,
    an image going to whichever side is free. JPEGs go as their scans, which the GPU
    Huffman-decodes (libjpeg's blocks), turns into libjpeg's planes (libjpeg-turbo's IDCT) and
    finishes to libjpeg-turbo's RGB (4:2:0 here, gray, and an EXIF-rotated one: the sums ignore
    orientation); two with damaged scans, which the GPU declines and the CPU lists or measures as
    --device cpu does; PNGs and a CMYK JPEG as RGB rows. "resize" (--size): the CPU threads decode (DCT-scaled, as
    --device cpu; gray and CMYK made RGB, the rotated one turned) and the GPU resizes in the fused
    kernel and sums on the device. A corrupt file goes back to the CPU's path either way. The sums
    are exact integers of the same pixels, so the file equals --device cpu's, byte for byte, with
    one thread or eight."""
    if not has_gpu:
        pytest.skip("no GPU")
    _many_images(tmp_images, tmp_path)
    _odd_jpegs(tmp_path / "images")
    _damaged_scans(tmp_path / "images")
    size = ("--size", 24) if mode == "resize" else ()
    gpu_share = r"cpu decode \+ cuda:0 sums (\d+) images" if mode == "sums" else r"cuda:0 (\d+) images"
    texts = {}
    # GPUAUG_STATS_AWAIT_GPU: nothing is claimed before the GPU sums, which this small a dataset
    # would otherwise finish before (CUDA starts in a few hundred ms). --size sends every image
    # to the GPU workers anyway.
    env = {**os.environ, "GPUAUG_STATS_AWAIT_GPU": "1"}
    for name, args in {"cpu": ("--threads", "4"), "one": ("--device", "cuda", "--threads", "1"),
                       "eight": ("--device", "cuda", "--threads", "8")}.items():
        out = tmp_path / f"{name}.json"
        proc = run_gpuaug("stats", "--input", tmp_path / "images", "--output", out, *size, "--on-error", "skip", *args,
                          env=env)
        texts[name] = out.read_text()
        if name != "cpu":
            on_gpu = re.search(gpu_share, proc.stderr)
            assert on_gpu and int(on_gpu.group(1)) > (1000 if size else 0), proc.stderr
    assert texts["one"] == texts["cpu"] and texts["eight"] == texts["cpu"]
    stats = json.loads(texts["cpu"])
    assert stats["measured"] + len(stats["errors"]) == 1245 and len(stats["errors"]) >= 2
    assert any("cut.jpg" in e["file"] for e in stats["errors"])
    assert stats["size"] == (24 if size else None)


def test_stats_size_on_gpu_equals_the_cpu_however_claims_split_and_after_a_gpu_failure(run_gpuaug, tmp_path, tmp_images,
                                                                                    has_gpu):
    """--size --device cuda: claims go to the CPU threads until the GPU is ready and to the GPU
    after (its bytes are the CPU's, so the split may follow timing: this small a dataset may well
    be done before CUDA is up), and a batch that fails on the GPU (GPUAUG_STATS_FAIL_GPU_BATCH=n,
    as running out of device memory would) is measured on the CPU with every claim after it, the
    first batch or the second, with 8 threads (two claim loops waiting for the GPU). Either way
    the file equals --device cpu's byte for byte, and the shares add up."""
    if not has_gpu:
        pytest.skip("no GPU")
    _many_images(tmp_images, tmp_path)
    _odd_jpegs(tmp_path / "images")
    common = ("stats", "--input", tmp_path / "images", "--size", 24, "--on-error", "skip")
    run_gpuaug(*common, "--output", tmp_path / "cpu.json", "--threads", "4")
    expected = (tmp_path / "cpu.json").read_text()

    def shares(stderr: str) -> tuple[int, int]:
        on_gpu, on_cpu = re.search(r"cuda:0 (\d+) images", stderr), re.search(r"cpu 8 threads (\d+) images", stderr)
        assert on_gpu and on_cpu, stderr
        # 1242 measured, and the corrupt file counts as the CPU's where a CPU claim met it.
        assert 1242 <= int(on_gpu.group(1)) + int(on_cpu.group(1)) <= 1243, stderr
        return int(on_gpu.group(1)), int(on_cpu.group(1))

    proc = run_gpuaug(*common, "--output", tmp_path / "split.json", "--device", "cuda", "--threads", "8")
    assert (tmp_path / "split.json").read_text() == expected
    shares(proc.stderr)
    for batch in (1, 2):
        env = {**os.environ, "GPUAUG_STATS_AWAIT_GPU": "1", "GPUAUG_STATS_FAIL_GPU_BATCH": str(batch)}
        out = tmp_path / f"failed{batch}.json"
        proc = run_gpuaug(*common, "--output", out, "--device", "cuda", "--threads", "8", env=env, timeout=60)
        assert out.read_text() == expected, batch
        assert re.search(r"cuda:0 failed \(.*failure injected by GPUAUG_STATS_FAIL_GPU_BATCH\); its images are measured on "
                         r"the CPU", proc.stderr), proc.stderr
        on_gpu, _ = shares(proc.stderr)
        assert (on_gpu == 0) if batch == 1 else (0 < on_gpu < 1242), proc.stderr  # the first batch only


def test_stats_plots(run_gpuaug, tmp_path, tmp_images):
    """--plots DIR: histogram.png and sizes.png drawn by matplotlib (python -m gpuaug.plots)."""
    pytest.importorskip("matplotlib")
    _dataset(tmp_images)
    out = tmp_path / "stats.json"
    run_gpuaug("stats", "--input", tmp_path / "images", "--output", out, "--plots", tmp_path / "plots", "--quiet")
    for name in ("histogram.png", "sizes.png"):
        with Image.open(tmp_path / "plots" / name) as im:
            assert im.format == "PNG" and im.size[0] >= 600 and im.size[1] >= 300
            # Not a blank canvas: the curves and bars put several colours on it.
            assert len(im.convert("RGB").getcolors(1 << 20) or []) > 20
    assert not list((tmp_path / "plots").glob("*.gpuaug-tmp-*"))
    # A Python without the package fails clearly, after stats.json is written.
    proc = run_gpuaug("stats", "--input", tmp_path / "images", "--output", tmp_path / "s2.json", "--plots",
                      tmp_path / "p2", "--quiet", check=False, env={**__import__("os").environ,
                                                                     "GPUAUG_PYTHON": "/nonexistent/python"})
    assert proc.returncode == 1 and "plots" in proc.stderr and (tmp_path / "s2.json").exists()
