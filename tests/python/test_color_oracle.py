"""color_jitter and grayscale vs numpy float32 re-implementations of torchvision's uint8 path."""
from __future__ import annotations

import numpy as np
import pytest

from harness import augment, mixed_image, run_one
from oracles import (F32, adjust_brightness_u8, adjust_contrast_u8, adjust_hue_u8,
                     adjust_saturation_u8, blend_u8, rgb_to_grayscale_u8, to_float32)

ADJUST = {
    "brightness": adjust_brightness_u8,
    "contrast": adjust_contrast_u8,
    "saturation": adjust_saturation_u8,
    "hue": adjust_hue_u8,
}
NAMES = ["brightness", "contrast", "saturation", "hue"]  # torchvision's fn_idx ids 0..3


def _test_image() -> np.ndarray:
    """Random + smooth halves, plus white, black, pure red, mid gray and near-gray pixels."""
    img = mixed_image(45, 60, seed=60)
    img[0, :6] = [[255, 255, 255], [0, 0, 0], [255, 0, 0], [128, 128, 128], [0, 255, 255],
                  [200, 201, 200]]
    return img


def _assert_close(out: np.ndarray, ref: np.ndarray, exact: bool) -> None:
    assert out.shape == ref.shape and out.dtype == ref.dtype
    d = np.abs(out.astype(int) - ref.astype(int))
    if exact:
        assert d.max() == 0, (d.max(), int((d > 0).sum()))
    else:
        # contrast: torch's float32 mean (cascade sum) and gpuaug's may differ in the last bit,
        # which can flip a truncated blend by one on a few pixels.
        assert d.max() <= 1 and (d > 0).mean() <= 0.005


@pytest.mark.parametrize("name,value", [("brightness", 0.6), ("contrast", 0.7),
                                        ("saturation", 0.9), ("hue", 0.5),
                                        ("brightness", [0.0, 0.3]), ("hue", [-0.5, -0.4])])
def test_color_jitter_single_vs_torchvision_uint8(run_gpuaug, tmp_path, name, value):
    # Oracle: oracles.adjust_* with the recorded factor: torchvision's adjust_brightness /
    # adjust_contrast / adjust_saturation / adjust_hue on uint8 tensors, float32 op for op
    # (blend = fma(other, 1 - f, x * f), clamp, truncate; gray floored; hue through HSV with
    # x * f32(1/255) and trunc(x * 255.999)). Tolerance: exact for brightness, saturation and
    # hue (the same float32 operations in the same order); contrast within 1 on <= 0.5% of
    # values (the image mean's summation order). Factors within the documented range.
    img = _test_image()
    res = augment(run_gpuaug, tmp_path, [{"color_jitter": {name: value}}], {"a.png": img},
                  copies=5)
    lo, hi = (value if isinstance(value, list) else
              ([-value, value] if name == "hue" else [max(0.0, 1 - value), 1 + value]))
    for rec in res.records:
        e = rec["ops"][0]
        assert sorted(e["order"]) == [0, 1, 2, 3]
        assert {k for k in e if k.endswith("_factor")} == {f"{name}_factor"}
        f = e[f"{name}_factor"]
        assert lo <= f <= hi
        assert float(F32(f)) == f  # drawn as float32: the recorded value is the applied one
        _assert_close(res.array(rec), ADJUST[name](img, f), exact=name != "contrast")


def test_color_jitter_all_four_in_recorded_order(run_gpuaug, tmp_path):
    # Oracle: the four oracles.adjust_* applied in the recorded order (torchvision's fn_idx
    # from randperm(4)), each truncating to uint8. Tolerance: within 1 on <= 0.5% of values
    # (contrast's mean); the 8 samples must show more than one order.
    img = _test_image()
    res = augment(run_gpuaug, tmp_path, [{"color_jitter": {
        "brightness": 0.5, "contrast": 0.5, "saturation": 0.5, "hue": 0.3}}], {"a.png": img},
        copies=8)
    orders = set()
    for rec in res.records:
        e = rec["ops"][0]
        orders.add(tuple(e["order"]))
        ref = img
        for fn_id in e["order"]:
            ref = ADJUST[NAMES[fn_id]](ref, e[f"{NAMES[fn_id]}_factor"])
        _assert_close(res.array(rec), ref, exact=False)
    assert len(orders) > 1


def test_color_jitter_p_and_float_domain(run_gpuaug, tmp_path):
    # Oracle: (1) p=0: applied false, output equal to the input (exact). (2) After
    # to_dtype(float32): brightness and saturation on [0, 1] floats, clamp to [0, 1], no
    # truncation: numpy float32 (fma emulated), tolerance 1e-6.
    img = _test_image()
    out, rec = run_one(run_gpuaug, tmp_path, [{"color_jitter": {"brightness": 0.5, "p": 0.0}}],
                       img, name="p0")
    assert rec["ops"][0]["applied"] is False
    np.testing.assert_array_equal(out, img)
    res = augment(run_gpuaug, tmp_path, [{"to_dtype": {"dtype": "float32"}},
                                         {"color_jitter": {"brightness": 0.5, "saturation": 0.5}}],
                  {"a.png": img}, copies=4, name="float")
    for rec in res.records:
        e = rec["ops"][1]
        x = to_float32(img)
        for fn_id in e["order"]:
            if fn_id == 0:
                x = np.clip(x * F32(e["brightness_factor"]), 0, 1)
            elif fn_id == 2:
                gray = _gray_float(x)[..., None]
                f = F32(e["saturation_factor"])
                x = np.clip((np.float64(gray) * np.float64(F32(1 - e["saturation_factor"]))
                             + np.float64(x * f)).astype(F32), 0, 1)
        out = res.array(rec)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, x, rtol=0, atol=1e-6)


def _gray_float(x: np.ndarray) -> np.ndarray:
    r, g, b = (x[..., c].astype(np.float64) for c in range(3))
    r32 = (r * np.float64(F32(0.2989))).astype(F32)
    g32 = (g * np.float64(F32(0.587)) + r32).astype(F32)
    return (b * np.float64(F32(0.114)) + g32).astype(F32)


@pytest.mark.parametrize("channels", [1, 3])
def test_grayscale_vs_torchvision_uint8(run_gpuaug, tmp_path, channels):
    # Oracle: rgb_to_grayscale on uint8: float32 0.2989 R + 0.587 G + 0.114 B (fma chain),
    # truncated by .to(uint8): white becomes 254 (the trap), black stays 0. Tolerance: exact.
    img = _test_image()
    out, rec = run_one(run_gpuaug, tmp_path,
                       [{"grayscale": {"num_output_channels": channels}}], img)
    ref = rgb_to_grayscale_u8(img)
    assert rec["ops"][0]["num_output_channels"] == channels
    assert out.shape == (*img.shape[:2], channels)
    for c in range(channels):
        np.testing.assert_array_equal(out[..., c], ref)
    assert out[0, 0, 0] == 254 and out[0, 1, 0] == 0


def test_random_grayscale_keeps_three_channels(run_gpuaug, tmp_path):
    # Oracle: RandomGrayscale(p=0.5): applied -> gray replicated to 3 channels, else unchanged;
    # an applied record's num_output_channels is the input's 3. Tolerance: exact; both
    # outcomes seen.
    img = _test_image()
    res = augment(run_gpuaug, tmp_path, [{"grayscale": {"p": 0.5}}], {"a.png": img}, copies=10)
    gray3 = np.repeat(rgb_to_grayscale_u8(img)[..., None], 3, axis=2)
    seen = set()
    for rec in res.records:
        e = rec["ops"][0]
        if e["applied"]:
            assert e["num_output_channels"] == 3
        seen.add(e["applied"])
        np.testing.assert_array_equal(res.array(rec), gray3 if e["applied"] else img)
    assert seen == {True, False}


def test_one_channel_jitter_and_chw(run_gpuaug, tmp_path):
    # Oracle: on a 1-channel image (after grayscale(1)) torchvision's adjust_saturation and
    # adjust_hue return the image unchanged and adjust_contrast blends with the plain mean of
    # the channel (no gray conversion). CHW layout: shape (1, H, W). Tolerance: within 1 on
    # <= 0.5% (contrast's mean), otherwise exact.
    img = _test_image()
    res = augment(run_gpuaug, tmp_path, [
        {"grayscale": {}},
        {"color_jitter": {"contrast": 0.6, "saturation": 0.9, "hue": 0.4}}],
        {"a.png": img}, copies=4, layout=None)
    gray = rgb_to_grayscale_u8(img)
    for rec in res.records:
        out = res.array(rec)
        assert out.shape == (1, *img.shape[:2])
        f = rec["ops"][1]["contrast_factor"]
        mean = F32(gray.astype(np.float64).mean())
        _assert_close(out[0], blend_u8(gray, mean, f), exact=False)
