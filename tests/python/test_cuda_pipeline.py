"""gpuaug.Pipeline(device="cuda") on the GPU machine (skipped elsewhere): batches are CUDA
tensors handed to torch without a copy, equal to the CPU pipeline's bytes (CPU decode, or gpuaug's
exact GPU decoder at full scale: the default) or close to them (nvJPEG decode), the same labels
and indices; dropped batches' device blocks are reused
(GPU memory flat); a corrupt file is skipped and the batch refilled."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gpuaug = pytest.importorskip("gpuaug")

SPEC = {"seed": 4, "ops": [{"random_resized_crop": {"size": [40, 48], "scale": [0.3, 1.0]}},
                           {"horizontal_flip": {}}, {"color_jitter": {"brightness": 0.3, "saturation": 0.3}},
                           {"gaussian_blur": {"kernel_size": 3}}]}


@pytest.fixture(scope="module")
def gpu(has_gpu):
    if not has_gpu:
        pytest.skip("no GPU")
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jpegs")
    rng = np.random.default_rng(2)
    for c in ("a", "b", "c"):
        (root / c).mkdir()
        for i in range(7):
            h, w = int(rng.integers(60, 120)), int(rng.integers(60, 120))
            y, x = np.mgrid[0:h, 0:w]
            base = np.stack([x * 255 // w, y * 255 // h, (x * y) % 256], axis=-1)
            pixels = np.clip(base + rng.integers(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / c / f"{i}.jpg", quality=90)
    return root


def _run(spec, root, device, **kw):
    pipe = gpuaug.Pipeline(spec, root, batch_size=8, device=device, shuffle=True, **kw)
    out = []
    for images, labels, indices in pipe:
        out.append((images, labels.copy(), indices.copy()))
    return pipe, out


def test_batches_are_cuda_tensors_without_a_copy(gpu, jpegs) -> None:
    torch = gpu
    pipe, batches = _run(SPEC, jpegs, "cuda")
    images = batches[0][0]
    assert isinstance(images, torch.Tensor)  # torch imported: tensors, as torch.from_dlpack gives
    a, b = torch.from_dlpack(images), torch.from_dlpack(images)
    assert a.is_cuda and a.dtype == torch.uint8 and tuple(a.shape) == (8, 3, 40, 48)
    assert a.data_ptr() == b.data_ptr()  # both views of the loader's block
    assert sum(len(i) for _, _, i in batches) == 21


def test_equals_the_cpu_pipeline(gpu, jpegs) -> None:
    torch = gpu
    cpu_spec = dict(SPEC, decode={"gpu": False})  # the CPU decoder on both: identical bytes
    _, on_cpu = _run(cpu_spec, jpegs, "cpu")
    _, on_gpu = _run(cpu_spec, jpegs, "cuda")
    assert len(on_cpu) == len(on_gpu)
    for (ci, cl, cx), (gi, gl, gx) in zip(on_cpu, on_gpu):
        np.testing.assert_array_equal(cl, gl)
        np.testing.assert_array_equal(cx, gx)
        np.testing.assert_array_equal(np.from_dlpack(ci), torch.from_dlpack(gi).cpu().numpy())
    # nvJPEG (5/8 of the JPEGs it suits, the CPU the rest: the default before the exact decoder's)
    # decodes with its own IDCT: close, not equal (mean difference below 2 levels).
    _, with_nvjpeg = _run(dict(SPEC, decode={"gpu_share": 0.625, "exact_share": 0}), jpegs, "cuda")
    for (ci, _, _), (gi, _, _) in zip(on_cpu, with_nvjpeg):
        diff = np.abs(np.from_dlpack(ci).astype(int) - torch.from_dlpack(gi).cpu().numpy().astype(int))
        assert diff.mean() < 2.0, diff.mean()


def test_the_exact_gpu_decoder_equals_the_cpu_pipeline(gpu, jpegs) -> None:
    """decode.exact_share 1, which is also the default: gpuaug's own GPU decoder gives libjpeg-turbo's
    pixels, so with full-scale decodes on both sides the batches equal the CPU pipeline's, byte for
    byte."""
    torch = gpu
    _, on_cpu = _run(dict(SPEC, decode={"gpu": False, "dct_scaling": False}), jpegs, "cpu")
    for decode in ({"gpu_share": 0, "exact_share": 1, "dct_scaling": False}, {"dct_scaling": False}):
        _, on_gpu = _run(dict(SPEC, decode=decode), jpegs, "cuda")
        assert len(on_cpu) == len(on_gpu)
        for (ci, cl, cx), (gi, gl, gx) in zip(on_cpu, on_gpu):
            np.testing.assert_array_equal(cl, gl)
            np.testing.assert_array_equal(cx, gx)
            np.testing.assert_array_equal(np.from_dlpack(ci), torch.from_dlpack(gi).cpu().numpy())


def test_device_lists_yield_per_device_batches(gpu, jpegs) -> None:
    """cuda:0,0 (two loaders on one GPU): batch k comes from loader k % 2, and the batches equal
    the one-device pipeline's, in order."""
    torch = gpu
    one, expected = _run(SPEC, jpegs, "cuda")
    two, got = _run(SPEC, jpegs, "cuda:0,0")
    assert two.devices == ["cuda:0", "cuda:0"] and len(two) == len(one) == len(got)
    for (ei, el, ex), (gi, gl, gx) in zip(expected, got):
        np.testing.assert_array_equal(el, gl)
        np.testing.assert_array_equal(ex, gx)
        assert torch.equal(torch.from_dlpack(ei), torch.from_dlpack(gi))
    assert all(torch.from_dlpack(images).device.index == 0 for images, _, _ in got)
    all_gpus = gpuaug.Pipeline(SPEC, jpegs, batch_size=8, device="cuda:all")
    assert all_gpus.devices == [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def test_records_on_the_gpu_equal_the_cpus(gpu, jpegs) -> None:
    """The drawn parameters do not depend on the device: record=True gives the same rows."""
    rows = {}
    for device in ("cpu", "cuda"):
        pipe = gpuaug.Pipeline(SPEC, jpegs, batch_size=8, device=device, shuffle=True, record=True)
        rows[device] = [r for _ in pipe for r in pipe.records]
    assert rows["cuda"] == rows["cpu"] and len(rows["cpu"]) == 21


def test_cuda_is_torchs_current_device(gpu, jpegs, monkeypatch) -> None:
    torch = gpu
    torch.cuda.init()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert gpuaug.Pipeline(SPEC, jpegs, batch_size=8, device="cuda").devices == [f"cuda:{torch.cuda.current_device()}"]


def test_dropped_batches_give_their_blocks_back(gpu, jpegs) -> None:
    pipe = gpuaug.Pipeline(SPEC, jpegs, batch_size=4, device="cuda")
    assert pipe._core.lanes == 2
    made = []
    for epoch in range(6):
        pipe.set_epoch(epoch)
        for images, _, _ in pipe:
            del images
        made.append(pipe._core.device_blocks)
    # The batch in the loop, those made ahead and those in the making (one a lane), each lane
    # keeping its own blocks: bounded, and no new ones after the first epochs.
    assert made[-1] <= pipe.prefetch + 1 + 2 * pipe._core.lanes, made
    assert made[-1] == made[2], made


def test_corrupt_file_is_skipped_and_the_batch_refilled(gpu, jpegs, tmp_path) -> None:
    root = tmp_path / "data"
    (root / "x").mkdir(parents=True)
    for i, path in enumerate(sorted(jpegs.rglob("*.jpg"))[:9]):
        (root / "x" / f"{i}.jpg").write_bytes(path.read_bytes())
    (root / "x" / "00_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)  # no valid header
    pipe = gpuaug.Pipeline(SPEC, root, batch_size=4, device="cuda", shuffle=False, on_error="skip")
    sizes = [len(indices) for _, _, indices in pipe]
    assert sum(sizes) == 9 and sizes[:2] == [4, 4]
    assert pipe.stats()["skipped"] == 1
    with pytest.raises(gpuaug.Error) as info:
        list(gpuaug.Pipeline(SPEC, root, batch_size=4, device="cuda", shuffle=False))
    assert "00_broken.jpg" in info.value.file
