"""gpuaug.functional on numpy arrays (torch CPU and CUDA cases skip without torch or a GPU):
numpy oracles for flips, centre crop, normalize and resize; the Pipeline's bytes for the same
decoded PNGs, seed, epoch and indices; determinism and seeds; layouts, strides, odd sizes and
gray images; errors naming the cause; the generated functions and their stubs."""
from __future__ import annotations

import gc
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gpuaug._gpuaug")
import gpuaug  # noqa: E402
import gpuaug.functional as F  # noqa: E402
from harness import check_cuda_equals_cpu  # noqa: E402
from gpuaug import ops  # noqa: E402
from oracles import resize_float, round_u8  # noqa: E402

SIZES = [(1, 1), (17, 19), (32, 24), (45, 60)]  # (height, width)


def random_image(rng: np.random.Generator, h: int, w: int, channels: int = 3) -> np.ndarray:
    """H x W x C: gradients plus noise, so crops, flips and resizes change the bytes."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w, 1), y * 255 // max(h, 1), (x * y) % 256], axis=-1)[..., :channels]
    return np.clip(base + rng.integers(0, 60, (h, w, channels)), 0, 255).astype(np.uint8)


def nchw(images_hwc: list[np.ndarray]) -> np.ndarray:
    return np.stack([np.ascontiguousarray(im.transpose(2, 0, 1)) for im in images_hwc])


@pytest.fixture(scope="module")
def pngs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[np.ndarray]]:
    """PNG files of different sizes and their pixels as decoded by Pillow (exact: PNG)."""
    root = tmp_path_factory.mktemp("functional")
    rng = np.random.default_rng(5)
    paths, arrays = [], []
    for k, (h, w) in enumerate(SIZES * 3):
        path = root / f"{k:02d}.png"
        Image.fromarray(random_image(rng, h, w)).save(path)
        paths.append(path)
        arrays.append(np.asarray(Image.open(path).convert("RGB")))
    return paths, arrays


def batch(n: int = 4, h: int = 17, w: int = 19, channels: int = 3, seed: int = 0) -> np.ndarray:
    """An (n, C, H, W) uint8 batch."""
    rng = np.random.default_rng(seed)
    return nchw([random_image(rng, h, w, channels) for _ in range(n)])


# --- oracles ---------------------------------------------------------------------------------

@pytest.mark.parametrize("h, w", SIZES)
def test_flips_are_numpy_flips(h: int, w: int) -> None:
    x = batch(3, h, w)  # layout given: a 1x1 image has 1 or 3 at both ends
    np.testing.assert_array_equal(F.horizontal_flip(x, p=1.0, seed=0, layout="NCHW"), x[..., ::-1])
    np.testing.assert_array_equal(F.vertical_flip(x, p=1.0, seed=0, layout="NCHW"), x[:, :, ::-1, :])
    hwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(F.horizontal_flip(hwc, p=1.0, seed=0, layout="NHWC"), hwc[:, :, ::-1])


@pytest.mark.parametrize("h, w, size", [(17, 19, [10, 7]), (45, 60, [20, 33]), (17, 19, [17, 19]), (1, 1, [1, 1])])
def test_center_crop_is_the_centre_slice(h: int, w: int, size: list[int]) -> None:
    x = batch(2, h, w)
    # torchvision's center_crop: top = int(round((H - h) / 2.0)), Python's round (half to even).
    top, left = int(round((h - size[0]) / 2.0)), int(round((w - size[1]) / 2.0))
    expected = x[:, :, top:top + size[0], left:left + size[1]]
    np.testing.assert_array_equal(F.center_crop(x, size=size, seed=0, layout="NCHW"), expected)


def test_normalize_matches_numpy_within_1e_6() -> None:
    x = batch(3, 17, 19)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    out = F.normalize(x, mean=mean, std=std, seed=0)
    assert out.dtype == np.float32 and out.shape == x.shape
    # to_dtype(float32, scale=True) first (x * float32(1/255)), then (x - mean) / std.
    ref = ((x.astype(np.float32) * np.float32(1 / 255) - np.float32(mean)[:, None, None])
           / np.float32(std)[:, None, None])
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("h, w, out", [(45, 60, (20, 31)), (17, 19, (40, 9)), (32, 24, (32, 24))])
def test_resize_is_within_1_of_the_oracle(h: int, w: int, out: tuple[int, int]) -> None:
    x = batch(2, h, w, seed=3)
    got = F.resize(x, size=list(out), seed=0)
    for i in range(len(x)):
        ref = round_u8(resize_float(x[i].transpose(1, 2, 0), *out, "bilinear")).transpose(2, 0, 1)
        assert np.abs(got[i].astype(int) - ref.astype(int)).max() <= 1


# --- the Pipeline's bytes --------------------------------------------------------------------

def random_chain(seed: int) -> list[ops.Op]:
    """A fixed-size crop, then a random pick of geometric and pixel ops in a valid order."""
    rng = np.random.default_rng(seed)
    geometric = [ops.HorizontalFlip(), ops.VerticalFlip(p=0.3),
                 ops.Rotate(degrees=20, interpolation="bilinear"), ops.Pad(padding=2, padding_mode="reflect"),
                 ops.CenterCrop(size=[20, 22])]
    pixel = [ops.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1), ops.Grayscale(p=0.3),
             ops.GaussianBlur(kernel_size=3), ops.ToDtype(dtype="float32"), ops.GaussianNoise(sigma=0.05),
             ops.RandomErasing(p=0.7)]
    chain: list[ops.Op] = [ops.RandomResizedCrop(size=[22, 26], scale=(0.2, 1.0))]
    chain += [op for op in geometric if rng.random() < 0.6]
    chain += [op for op in pixel if rng.random() < 0.6]
    if rng.random() < 0.5:
        chain.append(ops.Normalize())
    return chain


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equals_the_pipeline_for_the_same_pngs(pngs, seed: int) -> None:
    paths, arrays = pngs
    chain = random_chain(seed)
    pipe = gpuaug.Pipeline(chain, paths, batch_size=5, seed=100 + seed, shuffle=True, prefetch=0, as_torch=False)
    pipe.set_epoch(seed + 1)
    for images, _, indices in pipe:
        expected = np.from_dlpack(images)
        # Differently sized images: a list of (H, W, C) arrays, in the Pipeline's order.
        got = F.augment([arrays[i] for i in indices], chain, seed=100 + seed, epoch=seed + 1, indices=indices)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.transpose(0, 3, 1, 2), expected)  # HWC in, CHW out
        got = F.augment([np.ascontiguousarray(arrays[i].transpose(2, 0, 1)) for i in indices], chain,
                        seed=100 + seed, epoch=seed + 1, indices=indices)
        np.testing.assert_array_equal(got, expected)


def test_a_batch_equals_the_pipeline_in_both_layouts(pngs) -> None:
    paths, arrays = pngs
    same = [k for k, a in enumerate(arrays) if a.shape[:2] == (45, 60)]
    spec = {"ops": [op.to_spec() for op in random_chain(7)], "output": {"layout": "HWC"}}
    pipe = gpuaug.Pipeline(spec, [paths[k] for k in same], batch_size=len(same), seed=9, shuffle=False,
                           prefetch=0, as_torch=False)
    images, _, indices = next(iter(pipe))
    expected = np.from_dlpack(images)  # the spec names HWC: the output follows it
    hwc = np.stack([arrays[k] for k in same])
    np.testing.assert_array_equal(F.augment(hwc, spec, seed=9, indices=indices), expected)
    np.testing.assert_array_equal(F.augment(np.ascontiguousarray(hwc.transpose(0, 3, 1, 2)), spec, seed=9), expected)


def test_local_crops_give_rows_per_image() -> None:
    out = F.local_crops(batch(3, 45, 60), n=4, size=8, seed=1)
    assert out.shape == (12, 3, 8, 8)


# --- determinism and seeds -------------------------------------------------------------------

CHAIN = [ops.RandomResizedCrop(size=12), ops.HorizontalFlip(), ops.ColorJitter(brightness=0.5, hue=0.2),
         ops.ToDtype(dtype="float32"), ops.GaussianNoise()]


def test_same_seed_epoch_and_indices_give_the_same_bytes() -> None:
    x = batch(6, 32, 24)
    a = F.augment(x, CHAIN, seed=4, epoch=2, indices=[10, 11, 12, 13, 14, 15])
    b = F.augment(x, CHAIN, seed=4, epoch=2, indices=np.arange(10, 16))
    np.testing.assert_array_equal(a, b)
    # An image's draws depend on its index alone, not on its neighbours or the batch size.
    np.testing.assert_array_equal(F.augment(x[2:3], CHAIN, seed=4, epoch=2, indices=[12]), a[2:3])
    for other in (F.augment(x, CHAIN, seed=4, epoch=2), F.augment(x, CHAIN, seed=4, epoch=3, indices=range(10, 16)),
                  F.augment(x, CHAIN, seed=5, epoch=2, indices=range(10, 16))):
        assert all(not np.array_equal(other[i], a[i]) for i in range(len(x)))
    # The same image at two indices gets two different draws.
    twice = F.augment(np.stack([x[0], x[0]]), CHAIN, seed=4)
    assert not np.array_equal(twice[0], twice[1])


def test_seed_from_a_generator_or_numpys_global_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # numpy's global state, torch imported or not
    x = batch(3, 32, 24)
    a = F.random_resized_crop(x, size=10, generator=np.random.default_rng(8))
    b = F.random_resized_crop(x, size=10, generator=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    seed = int(np.random.default_rng(8).integers(0, 2**64, dtype=np.uint64))
    np.testing.assert_array_equal(F.random_resized_crop(x, size=10, seed=seed), a)
    np.random.seed(3)
    c = F.random_resized_crop(x, size=10)
    np.random.seed(3)
    np.testing.assert_array_equal(F.random_resized_crop(x, size=10), c)
    assert not np.array_equal(F.random_resized_crop(x, size=10), c)  # the next call draws anew
    with pytest.raises(ValueError, match="pass one"):
        F.resize(x, size=4, seed=1, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="generator"):
        F.resize(x, size=4, generator=3)


# --- layouts, strides, sizes, gray -----------------------------------------------------------

@pytest.mark.parametrize("h, w", SIZES)
def test_nhwc_and_nchw_agree(h: int, w: int) -> None:
    x = batch(3, h, w, seed=h)
    hwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    chain = [ops.RandomResizedCrop(size=[5, 7]), ops.HorizontalFlip(), ops.ColorJitter(saturation=0.5)]
    a = F.augment(x, chain, seed=1, layout="NCHW")
    b = F.augment(hwc, chain, seed=1, layout="NHWC")
    assert a.shape == (3, 3, 5, 7) and b.shape == (3, 5, 7, 3)
    np.testing.assert_array_equal(b.transpose(0, 3, 1, 2), a)


def test_strided_views_give_the_bytes_of_their_copies() -> None:
    big = batch(4, 40, 50, seed=2)
    hwc = big.transpose(0, 2, 3, 1)  # a non-contiguous NHWC view
    for view, layout in ((big[:, :, 3:30:2, 5:40:3], "NCHW"), (hwc, "NHWC"), (hwc[:, ::-1, 4:44], "NHWC"),
                         (big[::2], "NCHW")):
        chain = [ops.RandomResizedCrop(size=9), ops.ColorJitter(brightness=0.3)]
        np.testing.assert_array_equal(F.augment(view, chain, seed=3, layout=layout),
                                      F.augment(np.ascontiguousarray(view), chain, seed=3, layout=layout))


def test_gray_images_keep_one_channel() -> None:
    gray = batch(3, 17, 19, channels=1, seed=4)
    rgb = np.repeat(gray, 3, axis=1)
    geometric = [ops.RandomResizedCrop(size=[9, 11]), ops.HorizontalFlip(), ops.Rotate(degrees=30),
                 ops.ColorJitter(brightness=0.5)]
    g = F.augment(gray, geometric, seed=2)
    assert g.shape == (3, 1, 9, 11)
    # The gray pixels go through the chain as every channel of the same RGB image does.
    np.testing.assert_array_equal(g, F.augment(rgb, geometric, seed=2)[:, :1])
    # Saturation and hue leave a gray image (torchvision on 1-channel tensors); 3 channels on request.
    jitter = F.augment(gray, [ops.ColorJitter(saturation=0.9, hue=0.4), ops.Grayscale(num_output_channels=3)], seed=0)
    np.testing.assert_array_equal(jitter, rgb)
    hwc = np.ascontiguousarray(gray.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(F.horizontal_flip(hwc, p=1.0, seed=0, layout="NHWC"), hwc[:, :, ::-1])


def test_empty_batch_keeps_the_output_shape() -> None:
    out = F.resize(np.zeros((0, 3, 20, 30), np.uint8), size=10, seed=0)
    assert out.shape == (0, 3, 10, 15) and out.dtype == np.uint8


def test_thread_count_does_not_change_the_bytes() -> None:
    x = batch(7, 32, 24)
    expected = F.augment(x, CHAIN, seed=2)
    try:
        for threads in (1, 3):
            F.set_threads(threads)
            np.testing.assert_array_equal(F.augment(x, CHAIN, seed=2), expected)
    finally:
        F.set_threads(0)
    with pytest.raises(ValueError, match="threads=-1"):
        F.set_threads(-1)


def test_numpy_in_numpy_out_except_bfloat16() -> None:
    x = batch(2, 17, 19)
    half = F.to_dtype(x, dtype="float16", seed=0)
    assert isinstance(half, np.ndarray) and half.dtype == np.float16
    np.testing.assert_array_equal(half, (x * np.float32(1 / 255)).astype(np.float16))
    brain = F.to_dtype(x, dtype="bfloat16", seed=0)  # numpy has no bfloat16: the DLPack array
    assert not isinstance(brain, np.ndarray) and hasattr(brain, "__dlpack__")
    # Read-only and broadcast (stride 0) inputs are read, never written.
    broadcast = np.broadcast_to(x[:1], (3, *x.shape[1:]))
    np.testing.assert_array_equal(F.horizontal_flip(broadcast, p=1.0, seed=0), broadcast[..., ::-1])


def test_the_result_owns_its_memory() -> None:
    x = batch(2, 32, 24)
    out = F.resize(x, size=[8, 8], seed=0)
    expected = out.copy()
    del x
    gc.collect()
    np.testing.assert_array_equal(out, expected)
    assert out.flags.writeable


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("images, kwargs, message", [
    (np.zeros((3, 17, 19), np.uint8), {}, "a batch is 4-D"),
    (np.zeros((2, 3, 8, 8), np.int32), {}, "the batch is int32: gpuaug.functional takes uint8 images"),
    (np.zeros((2, 3, 8, 8), np.int16), {}, "is int16"),
    (np.zeros((2, 2, 8, 8), np.uint8), {}, "neither 1 nor 3 channels"),
    (np.zeros((2, 4, 8, 8), np.uint8), {"layout": "NCHW"}, "4 channels as NCHW: gpuaug takes gray (1) or RGB (3)"),
    (np.zeros((2, 8, 8, 2), np.uint8), {"layout": "NHWC"}, "2 channels as NHWC"),
    (np.zeros((2, 3, 5, 3), np.uint8), {}, "pass layout='NCHW' or 'NHWC' to say which"),
    (np.zeros((2, 3, 8, 8), np.uint8), {"layout": "NCWH"}, "layout 'NCWH': expected NCHW or NHWC"),
    ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)], {}, "image 1 has shape (8, 8): each image of a list is 3-D"),
    ([np.zeros((8, 8, 3), np.uint8), [[1, 2]]], {}, "image 1 is a list: pass a numpy array"),
    ([], {}, "no images"),
    (np.zeros((2, 3, 0, 8), np.uint8), {}, "image 0 is 0x8"),
    (np.zeros((2, 3, 8, 8), np.uint8), {"indices": [1, 2, 3]}, "3 indices for 2 images"),
    (np.zeros((2, 3, 8, 8), np.uint8), {"indices": [1, -2]}, "index -2"),
])
def test_bad_input_raises_gpuaug_error(images, kwargs, message: str) -> None:
    with pytest.raises(gpuaug.Error) as info:
        F.horizontal_flip(images, seed=0, **kwargs)
    assert message in str(info.value)
    assert info.value.stage == "functional" and info.value.file == ""
    assert message in info.value.cause


def test_a_list_whose_outputs_differ_in_shape_says_how_to_fix_it() -> None:
    rng = np.random.default_rng(0)
    images = [random_image(rng, 17, 19), random_image(rng, 20, 19)]
    with pytest.raises(gpuaug.Error, match=r"image 0 gives 3x17x19 uint8, image 1 gives 3x20x19 uint8.*fixed-size"):
        F.horizontal_flip(images, seed=0)
    assert F.resize(images, size=[8, 8], seed=0).shape == (2, 8, 8, 3)


def test_op_parameters_by_position_in_torchvisions_order() -> None:
    x = batch(3, 32, 24)
    np.testing.assert_array_equal(F.resize(x, [8, 9], "bicubic", seed=0),
                                  F.resize(x, size=[8, 9], interpolation="bicubic", seed=0))
    np.testing.assert_array_equal(F.random_resized_crop(x, 10, (0.5, 1.0), seed=1),
                                  F.random_resized_crop(x, size=10, scale=(0.5, 1.0), seed=1))
    with pytest.raises(TypeError, match=r"horizontal_flip\(\) takes 1 parameters after the images \(p\), 2 given"):
        F.horizontal_flip(x, 0.5, 0.7)
    with pytest.raises(TypeError, match="size given by position and by name"):
        F.resize(x, 8, size=8)


def test_op_parameter_errors_come_from_the_op() -> None:
    with pytest.raises(TypeError, match=r"resize\(\): unknown parameter sise"):
        F.resize(batch(), sise=3)
    with pytest.raises(gpuaug.Error, match="size"):
        F.resize(batch(), size=-3, seed=0)


# --- the generated functions -----------------------------------------------------------------

def test_one_function_per_op_with_the_descriptors_signature_and_docs() -> None:
    names = [d["name"] for d in ops.DESCRIPTORS]
    assert sorted(F.FUNCTIONS) == sorted(names) and set(names) <= set(F.__all__)
    for d in ops.DESCRIPTORS:
        fn = getattr(F, d["name"])
        params = inspect.signature(fn).parameters
        assert list(params)[0] == "images" and params["images"].kind is inspect.Parameter.POSITIONAL_ONLY
        assert all(params[p["name"]].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in d["params"])
        assert all(params[o].kind is inspect.Parameter.KEYWORD_ONLY for o in F._OPTIONS)
        assert [p for p in params if p != "images"] == [p["name"] for p in d["params"]] + list(F._OPTIONS)
        for p in d["params"]:
            assert params[p["name"]].default == p["default"]
        assert d["summary"] in fn.__doc__ and d["reference"] in fn.__doc__


def test_stubs_are_current_and_installed(repo_root: Path) -> None:
    from gpuaug import stubs

    assert stubs.render_functional() == (repo_root / "python" / "gpuaug" / "functional.pyi").read_text()
    assert (Path(gpuaug.__file__).parent / "functional.pyi").is_file()


# --- torch: CPU here where torch is installed, CUDA on the GPU machine ------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cuda(torch):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    return torch


def test_torch_cpu_tensors_give_torch_tensors(torch) -> None:
    x = batch(4, 32, 24)
    out = F.augment(torch.from_numpy(x), CHAIN, seed=6)
    assert isinstance(out, torch.Tensor) and out.device.type == "cpu"
    np.testing.assert_array_equal(out.numpy(), F.augment(x, CHAIN, seed=6))
    g = torch.Generator().manual_seed(1)
    a = F.random_resized_crop(torch.from_numpy(x), size=10, generator=g)
    b = F.random_resized_crop(torch.from_numpy(x), size=10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    # No seed, torch imported: drawn from torch's global generator, which torch.manual_seed sets.
    torch.manual_seed(7)
    c = F.random_resized_crop(x, size=10)
    torch.manual_seed(7)
    np.testing.assert_array_equal(F.random_resized_crop(x, size=10), c)
    # An image that requires grad is just pixels here; a CPU float one runs as floats.
    grad = torch.rand((1, 3, 4, 4), requires_grad=True)
    assert torch.equal(F.horizontal_flip(grad, p=1.0, seed=0), grad.detach().flip(-1))
    assert F.horizontal_flip(grad.double(), p=1.0, seed=0).dtype == torch.float32
    assert F.horizontal_flip(grad.bfloat16(), p=1.0, seed=0).dtype == torch.bfloat16


GPU_CHAIN = [ops.RandomResizedCrop(size=[20, 24], scale=(0.2, 1.0)), ops.HorizontalFlip(),
             ops.Rotate(degrees=15, interpolation="bilinear"),
             ops.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1), ops.GaussianBlur(kernel_size=3),
             ops.ToDtype(dtype="float32"), ops.GaussianNoise(sigma=0.05), ops.Normalize(), ops.RandomErasing()]


def test_cuda_tensors_give_the_cpu_bytes_on_their_gpu(cuda) -> None:
    torch = cuda
    x = batch(6, 45, 60, seed=1)
    gray = batch(3, 17, 19, channels=1, seed=2)
    cases = [(x, "NCHW"), (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), "NHWC"), (gray, "NCHW"),
             (np.ascontiguousarray(gray.transpose(0, 2, 3, 1)), "NHWC")]
    for host, layout in cases:
        check_cuda_equals_cpu(torch, host, GPU_CHAIN, layout)


def test_cuda_input_written_on_another_stream_is_read_complete(cuda) -> None:
    torch = cuda
    x = batch(8, 64, 64, seed=3)
    expected = F.augment(x, GPU_CHAIN, seed=1)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        source = torch.from_numpy(x).pin_memory().cuda(non_blocking=True)
        source = (source.to(torch.int16) * 1).to(torch.uint8)  # queued work the read must wait for
        out = F.augment(source, GPU_CHAIN, seed=1)
    np.testing.assert_array_equal(out.cpu().numpy(), expected)


def test_cuda_and_cpu_images_do_not_mix(cuda) -> None:
    torch = cuda
    images = [torch.zeros((3, 8, 8), dtype=torch.uint8), torch.zeros((3, 8, 8), dtype=torch.uint8, device="cuda")]
    with pytest.raises(gpuaug.Error, match="share a device"):
        F.horizontal_flip(images, seed=0)


def test_numpy_values_as_op_parameters() -> None:
    # Op objects sent numpy scalars and arrays to JSON as they were: "int64 is not JSON
    # serializable", naming no parameter. They are plain numbers and lists now, as in dict specs.
    x = np.zeros((1, 16, 20, 3), np.uint8)
    plain = F.augment(x, [ops.Resize(size=8)], seed=0)
    assert np.array_equal(F.augment(x, [ops.Resize(size=np.int64(8))], seed=0), plain)
    assert np.array_equal(F.resize(x, size=np.int64(8), seed=0), plain)
    assert np.array_equal(F.horizontal_flip(x, p=np.float32(1.0), seed=0), x[:, :, ::-1])
    F.normalize(x.astype(np.float32), mean=np.array([0.5, 0.5, 0.5]), std=np.array([0.2, 0.2, 0.2]), seed=0)


@pytest.mark.parametrize("kwargs,error,text", [({"epoch": 2**64}, ValueError, "epoch="),
                                               ({"indices": [0, 1, 2, 2**63]}, gpuaug.Error, "index 9223372036854775808"),
                                               ({"layout": 3}, TypeError, "layout=3")])
def test_arguments_out_of_range_name_themselves(kwargs, error, text) -> None:
    # They were all reported as "cannot read the images as arrays".
    x = np.zeros((4, 3, 20, 24), np.uint8)
    with pytest.raises(error, match=text):
        F.augment(x, [ops.HorizontalFlip()], seed=1, **kwargs)


def test_a_list_mixing_layouts_names_the_image_that_differs() -> None:
    # (6, 5, 3) then (3, 6, 5): the message blamed image 0's shape, which has 3 channels last.
    x = np.zeros((6, 5, 3), np.uint8)
    with pytest.raises(gpuaug.Error, match=r"image 1 has shape \(3, 6, 5\), image 0 \(6, 5, 3\): a list's images share"):
        F.horizontal_flip([x, np.ascontiguousarray(x.transpose(2, 0, 1))], seed=0)
