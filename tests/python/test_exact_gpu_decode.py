"""decode.exact_share: gpuaug's own GPU JPEG decoder (Huffman, IDCT, upsampling and colour on the
GPU; the CPU threads only read headers and scans) gives the CPU decoder's pixels bit for bit, so
`augment --device cuda` with every JPEG in that share writes the same bytes as `--device cpu`
(full-scale decode on both). Files it does not take (progressive, EXIF-rotated, PNG) and scans it
declines (damaged) go to the CPU decoder, which decodes the crop's region as on the CPU: it names a
fault it meets there and, like libjpeg reading part of a file, does not see damage below it. The share is checked
against nvJPEG's."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from harness import mixed_image, tree_hash

OPS = ("ops:\n  - random_resized_crop: {size: [32, 40], scale: [0.3, 1.0]}\n  - horizontal_flip: {}\n"
       "  - color_jitter: {brightness: 0.3, saturation: 0.3}\n  - gaussian_noise: {sigma: 0.05}\n"
       "output: {layout: HWC}\n")


def _spec(path, decode: str):
    path.write_text(f"seed: 5\ndecode: {decode}\n" + OPS)
    return path


def _dataset(root):
    root.mkdir(parents=True)
    for i in range(30):
        pixels = mixed_image(41 + 7 * i, 53 + 5 * i, seed=i)
        sampling = (0, 1, 2)[i % 3]  # 4:4:4, 4:2:2, 4:2:0
        Image.fromarray(pixels).save(root / f"rgb_{i:02d}.jpg", quality=(60, 90, 100)[i % 3], subsampling=sampling)
    Image.fromarray(mixed_image(50, 70, seed=40)[:, :, 0]).save(root / "gray.jpg", quality=90)
    Image.fromarray(mixed_image(50, 70, seed=41)).save(root / "progressive.jpg", quality=90, progressive=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(mixed_image(45, 65, seed=42)).save(root / "rotated.jpg", quality=90, exif=exif)
    Image.fromarray(mixed_image(33, 44, seed=43)).save(root / "picture.png")
    buffer = io.BytesIO()
    Image.fromarray(mixed_image(48, 64, seed=44)).save(buffer, "JPEG", quality=90)
    good = buffer.getvalue()
    sos = good.rindex(b"\xff\xda")
    data = sos + 2 + int.from_bytes(good[sos + 2:sos + 4], "big")
    middle = (data + len(good) - 2) // 2
    (root / "cut.jpg").write_bytes(good[:middle] + good[middle + 20:])
    # Ones where the first code should be (0xFF stuffed as 0xFF00): no code matches, in the first
    # MCU, which every region a crop decodes on the CPU reads.
    (root / "bad_code.jpg").write_bytes(good[:data] + b"\xff\x00" * 4 + good[data + 8:])
    flipped = bytearray(good)
    flipped[middle] ^= 0x10
    (root / "flipped.jpg").write_bytes(bytes(flipped))


def test_exact_share_may_not_pass_one_with_nvjpegs(run_gpuaug, tmp_path):
    _dataset(tmp_path / "images")
    spec = _spec(tmp_path / "spec.yaml", "{gpu_share: 0.75, exact_share: 0.5}")
    proc = run_gpuaug("augment", "--spec", spec, "--input", tmp_path / "images", "--output", tmp_path / "out",
                      "--quiet", check=False)
    assert proc.returncode == 1 and "decode.exact_share" in proc.stderr and "may not pass 1" in proc.stderr


def test_augment_with_the_exact_gpu_decoder_equals_the_cpu(run_gpuaug, tmp_path, has_gpu):
    if not has_gpu:
        pytest.skip("no GPU")
    images = tmp_path / "images"
    _dataset(images)
    spec = _spec(tmp_path / "spec.yaml", "{dct_scaling: false, gpu_share: 0, exact_share: 1}")
    outputs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        proc = run_gpuaug("augment", "--spec", spec, "--input", images, "--output", out, "--format", "npy",
                          "--record", tmp_path / f"{device}.jsonl", "--on-error", "skip", "--batch", 8,
                          "--device", device, check=False)
        assert proc.returncode == 0, proc.stderr
        assert re.search(r"bad_code\.jpg.*decode.*Huffman", proc.stderr), proc.stderr
        outputs[device] = tree_hash(out)
    assert len(outputs["cpu"]) == 36  # 37 files, the bad code's skipped
    assert outputs["cuda"] == outputs["cpu"]
    assert (tmp_path / "cuda.jsonl").read_text() == (tmp_path / "cpu.jsonl").read_text()


def test_bench_reports_the_exact_share(run_gpuaug, tmp_path, has_gpu):
    if not has_gpu:
        pytest.skip("no GPU")
    images = tmp_path / "images"
    images.mkdir()
    for i in range(16):
        Image.fromarray(mixed_image(60, 80, seed=i)).save(images / f"{i:02d}.jpg", quality=90)
    spec = _spec(tmp_path / "spec.yaml", "{gpu_share: 0.5, exact_share: 0.5}")
    proc = run_gpuaug("bench", "--spec", spec, "--input", images, "--batch", 8, "--device", "cuda", "--iters", 1,
                      "--json")
    import json
    result = json.loads(proc.stdout)
    assert result["exact_decode_share"] == pytest.approx(0.5), result
