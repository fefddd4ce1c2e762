"""gpuaug.functional on float images (CPU): torchvision's float-tensor numerics against numpy
oracles, with the tolerance in each test: geometry reads the float pixels and does not round,
colour steps clamp to [0, 1] without truncating, normalize takes the values as they are, to_dtype
uint8 scales by 255.999, fills given 0..255 are scaled by 1/255; and the same draws as uint8
images, so a float run times 255 is within half a level of the uint8 run of the same pixels."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpuaug  # noqa: E402
import gpuaug.functional as F  # noqa: E402
from gpuaug import ops  # noqa: E402
from harness import check_cuda_equals_cpu  # noqa: E402
from oracles import resize_float  # noqa: E402


def u8_batch(n: int = 3, h: int = 17, w: int = 19, channels: int = 3, seed: int = 0) -> np.ndarray:
    """An (n, C, H, W) uint8 batch of gradients plus noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x * y) % 256], axis=0)[:channels]
    return np.clip(base[None] + rng.integers(0, 60, (n, channels, h, w)), 0, 255).astype(np.uint8)


def as_float(x: np.ndarray) -> np.ndarray:
    """to_dtype(float32, scale=True) of a uint8 array: x * float32(1/255)."""
    return x.astype(np.float32) * np.float32(1 / 255)


def test_flips_and_crops_move_values_unchanged() -> None:
    x = as_float(u8_batch(h=17, w=19))
    out = F.horizontal_flip(x, p=1.0, seed=0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x[..., ::-1])
    np.testing.assert_array_equal(F.vertical_flip(x, p=1.0, seed=0), x[:, :, ::-1])
    np.testing.assert_array_equal(F.center_crop(x, size=[9, 7], seed=0), x[:, :, 4:13, 6:13])
    hwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(F.horizontal_flip(hwc, p=1.0, seed=0, layout="NHWC"), hwc[:, :, ::-1])


@pytest.mark.parametrize("h, w, out", [(45, 60, (20, 31)), (17, 19, (40, 9)), (32, 24, (32, 24))])
def test_resize_equals_the_float64_oracle_within_2e_6(h: int, w: int, out: tuple[int, int]) -> None:
    """Antialiased bilinear, not rounded: torchvision's resize of a float tensor (float32 sums of
    float32 weights; 2e-6 covers their rounding against the float64 oracle)."""
    x = np.random.default_rng(3).random((2, 3, h, w), dtype=np.float32)
    got = F.resize(x, size=list(out), seed=0)
    assert got.dtype == np.float32 and got.shape == (2, 3, *out)
    for i in range(len(x)):
        ref = resize_float(x[i].transpose(1, 2, 0), *out, "bilinear").transpose(2, 0, 1)
        np.testing.assert_allclose(got[i], ref, rtol=0, atol=2e-6)
    if out != (h, w):  # values between the 255 levels: nothing rounded them
        assert np.abs(got * 255 - np.round(got * 255)).max() > 0.1


def test_brightness_clamps_to_one_and_does_not_truncate() -> None:
    x = np.random.default_rng(1).random((2, 3, 8, 9), dtype=np.float32)
    got = F.color_jitter(x, brightness=[1.7, 1.7], seed=0)
    # adjust_brightness on floats: clamp(x * f, 0, 1), float32
    np.testing.assert_allclose(got, np.clip(x * np.float32(1.7), 0, 1), rtol=0, atol=1e-7)
    assert got.max() == 1.0 and np.abs(got * 255 - np.round(got * 255)).max() > 0.1


def test_normalize_and_to_dtype_uint8_take_the_values_as_they_are() -> None:
    x = np.random.default_rng(2).random((2, 3, 5, 6), dtype=np.float32)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    got = F.normalize(x, mean=mean, std=std, seed=0)  # no 1/255: the image is on [0, 1] already
    ref = (x - np.float32(mean)[:, None, None]) / np.float32(std)[:, None, None]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(F.to_dtype(x, dtype="float32", seed=0), x)  # float to float: as is
    u8 = F.to_dtype(x, dtype="uint8", seed=0)
    assert u8.dtype == np.uint8
    np.testing.assert_array_equal(u8, np.trunc(x * np.float32(255.999)).astype(np.uint8))


def test_pad_fill_is_given_in_levels_and_lands_scaled() -> None:
    x = np.random.default_rng(4).random((1, 3, 4, 5), dtype=np.float32)
    got = F.pad(x, padding=[2], fill=[255, 51, 0], seed=0)
    assert got.shape == (1, 3, 8, 9)
    np.testing.assert_array_equal(got[:, :, 2:6, 2:7], x)
    np.testing.assert_allclose(got[0, :, 0, 0], [1.0, 0.2, 0.0], rtol=0, atol=1e-7)


CHAINS = {
    "resized_crop": [ops.RandomResizedCrop(size=[20, 24], scale=(0.2, 1.0)), ops.HorizontalFlip()],
    "rotate": [ops.Rotate(degrees=30, interpolation="bilinear", fill=[10, 200, 30])],
    "affine": [ops.RandomAffine(degrees=20, translate=[0.1, 0.2], scale=[0.8, 1.2], shear=[5, 5],
                                interpolation="bilinear")],
    "pad_resize": [ops.Pad(padding=[3, 1], fill=[255, 0, 128]), ops.Resize(size=[13, 29])],
    "bicubic": [ops.Resize(size=[40, 30], interpolation="bicubic")],
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_float_run_is_the_uint8_run_before_its_rounding(name: str) -> None:
    """The same draws for float and uint8 pixels: the uint8 path resamples x and rounds to a
    level, the float path resamples x / 255 and keeps it, so 255 * float is within half a level
    (plus float32 rounding, 2e-3) of the uint8 output, and rounds to it except at ties. Bicubic
    overshoots: the uint8 path clamps to 0..255, so compare the clamped float."""
    x = u8_batch(n=4, h=31, w=37, seed=6)
    chain = CHAINS[name]
    u8 = F.augment(x, chain, seed=11, epoch=2).astype(np.float64)
    fl = F.augment(as_float(x), chain, seed=11, epoch=2)
    assert fl.dtype == np.float32 and fl.shape == u8.shape
    scaled = np.clip(fl.astype(np.float64) * 255, 0, 255)
    diff = np.abs(scaled - u8)
    assert diff.max() <= 0.5 + 2e-3
    # Away from a tie the uint8 value is the float one rounded (bilinear upscales make many ties).
    assert (diff[np.abs(diff - 0.5) > 2e-3] < 0.5).all()
    assert (diff > 0.1).any()  # the float run kept what rounding drops


def test_gray_and_list_inputs() -> None:
    gray = as_float(u8_batch(n=2, channels=1))
    out = F.augment(gray, [ops.Resize(size=[9, 11]), ops.ColorJitter(brightness=[0.5, 0.5])], seed=0)
    assert out.shape == (2, 1, 9, 11) and out.dtype == np.float32
    images = [np.random.default_rng(k).random((h, w, 3), dtype=np.float32) for k, (h, w) in enumerate([(9, 10), (20, 7)])]
    got = F.resize(images, size=[6, 6], seed=0)
    assert got.shape == (2, 6, 6, 3) and got.dtype == np.float32


def test_other_float_precisions_keep_theirs_and_mixed_dtypes_are_refused() -> None:
    """float16 stays float16 (computed in float32, rounded at the end, as torchvision keeps a
    tensor's dtype), float64 comes back float32; to_dtype names another."""
    x = np.random.default_rng(5).random((2, 3, 6, 7))
    for dtype, out in ((np.float64, np.float32), (np.float16, np.float16)):
        got = F.horizontal_flip(x.astype(dtype), p=1.0, seed=0)
        assert got.dtype == out
        np.testing.assert_array_equal(got, x.astype(dtype).astype(out)[..., ::-1])
    half = x.astype(np.float16)
    resized = F.resize(half, size=[4, 5], seed=0)
    assert resized.dtype == np.float16
    np.testing.assert_array_equal(resized, F.resize(half.astype(np.float32), size=[4, 5], seed=0).astype(np.float16))
    assert F.augment(half, [ops.ToDtype(dtype="float32")], seed=0).dtype == np.float32
    with pytest.raises(gpuaug.Error, match=r"image 0 gives 3x6x7 float32, image 1 gives 3x6x7 uint8"):
        F.horizontal_flip([x[0].astype(np.float32), (x[1] * 255).astype(np.uint8)], seed=0, layout="CHW")


def test_torchvision_float_numerics() -> None:
    """Against torchvision itself where it is installed (the GPU machine; skipped in CI): resize
    (antialiased bilinear and bicubic), brightness, saturation, hue and grayscale of float
    tensors, within 1e-5 (float32 sums in another order; hue's polynomial vs libm)."""
    torch = pytest.importorskip("torch")
    tvf = pytest.importorskip("torchvision.transforms.v2.functional")
    x = torch.rand((2, 3, 23, 31), generator=torch.Generator().manual_seed(0))
    cases = [
        ([ops.Resize(size=[11, 17])], lambda t: tvf.resize(t, [11, 17], antialias=True)),
        ([ops.Resize(size=[40, 50])], lambda t: tvf.resize(t, [40, 50], antialias=True)),
        ([ops.Resize(size=[12, 40], interpolation="bicubic")],
         lambda t: tvf.resize(t, [12, 40], interpolation=tvf.InterpolationMode.BICUBIC, antialias=True)),
        ([ops.ColorJitter(brightness=[1.4, 1.4])], lambda t: tvf.adjust_brightness(t, 1.4)),
        ([ops.ColorJitter(saturation=[0.3, 0.3])], lambda t: tvf.adjust_saturation(t, 0.3)),
        ([ops.ColorJitter(hue=[0.2, 0.2])], lambda t: tvf.adjust_hue(t, 0.2)),
        ([ops.Grayscale(num_output_channels=3)], lambda t: tvf.rgb_to_grayscale(t, num_output_channels=3)),
    ]
    for chain, reference in cases:
        got = F.augment(x, chain, seed=0)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
        torch.testing.assert_close(got, reference(x), rtol=0, atol=1e-5, msg=str(chain))


FLOAT_GPU_CHAIN = [ops.RandomResizedCrop(size=[20, 24], scale=(0.2, 1.0)), ops.HorizontalFlip(),
                   ops.Rotate(degrees=15, interpolation="bilinear", fill=[0, 90, 255]),
                   ops.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
                   ops.GaussianBlur(kernel_size=3), ops.GaussianNoise(sigma=0.05), ops.Normalize(),
                   ops.RandomErasing()]


def test_cuda_float_tensors_give_the_cpu_floats_on_their_gpu() -> None:
    """Float CUDA tensors (the GPU machine; skipped in CI) give the CPU run's values bit for bit,
    as uint8 ones do: NCHW and NHWC, gray, a strided view (converted on the GPU), a list, and
    float16 / float64 inputs, which keep float16 and come back float32 as on the CPU."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    x = as_float(u8_batch(n=6, h=45, w=60, seed=1))
    gray = as_float(u8_batch(n=3, h=17, w=19, channels=1, seed=2))
    cases = [(x, "NCHW"), (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), "NHWC"), (gray, "NCHW"),
             (np.ascontiguousarray(gray.transpose(0, 2, 3, 1)), "NHWC")]
    for host, layout in cases:
        check_cuda_equals_cpu(torch, host, FLOAT_GPU_CHAIN, layout)
        assert F.augment(torch.from_numpy(host[:1]).cuda(), FLOAT_GPU_CHAIN, seed=0, layout=layout).dtype == torch.float32
    # A float and a uint8 image in one list (both end float32): each as it runs alone.
    u8 = u8_batch(n=1, h=30, w=40, seed=3)[0]
    mixed = F.augment([torch.from_numpy(x[0]).cuda(), torch.from_numpy(u8).cuda()], FLOAT_GPU_CHAIN, seed=1,
                      layout="CHW")
    np.testing.assert_array_equal(mixed.cpu().numpy(),
                                  F.augment([x[0], u8], FLOAT_GPU_CHAIN, seed=1, layout="CHW"))
    half = torch.from_numpy(x).cuda().half()
    resized = F.resize(half, size=[9, 11], seed=0)
    assert resized.dtype == torch.float16 and resized.is_cuda
    np.testing.assert_array_equal(resized.cpu().numpy(), F.resize(half.cpu(), size=[9, 11], seed=0).numpy())
    assert F.resize(torch.from_numpy(x).cuda().double(), size=[9, 11], seed=0).dtype == torch.float32
