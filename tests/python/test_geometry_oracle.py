"""Geometry oracles: resize vs Pillow / OpenCV / numpy weights; crops, pad and flips vs numpy."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from harness import augment, mixed_image, random_image, run_one, smooth_image
from oracles import resize_float, resize_weights, round_u8, short_side_size

PIL_FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}

# (input h, w), size as the spec writes it; shrink, enlarge, mixed, odd, 1x1 in and out.
RESIZE_CASES = [
    ((90, 120), [37, 50]),
    ((90, 120), 31),  # int: short side 31, long side trunc(31 * 120 / 90) = 41
    ((23, 31), [50, 41]),
    ((31, 23), 40),
    ((17, 19), [1, 1]),
    ((1, 1), [17, 19]),
    ((19, 17), [17, 19]),
    ((90, 120), [200, 60]),
    ((17, 19), [34, 38]),
]
CASE_IDS = [f"{h}x{w}->{s}" for (h, w), s in RESIZE_CASES]


def _out_hw(hw: tuple[int, int], size) -> tuple[int, int]:
    return tuple(size) if isinstance(size, list) else short_side_size(*hw, size)


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape, (a.shape, b.shape)
    return np.abs(a.astype(np.int64) - b.astype(np.int64))


@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
@pytest.mark.parametrize("hw,size", RESIZE_CASES, ids=CASE_IDS)
def test_resize_antialias_vs_pillow(run_gpuaug, tmp_path, interp, hw, size):
    # Oracle: Pillow Image.resize(BILINEAR / BICUBIC). torchvision's antialias=True weights are
    # Pillow's precompute_coeffs (support widened by the shrink, edge taps renormalized, bicubic
    # a = -0.5) in both directions: torchvision upscales with the antialias kernel too, so Pillow
    # is the right reference for enlarging as well. Tolerance 1: Pillow uses 22-bit fixed-point
    # weights and stores its horizontal pass as uint8, gpuaug sums in float32 and rounds once.
    # Smooth content in [40, 215]: on random pixels bicubic overshoots 0..255 and Pillow clamps
    # its uint8 intermediate, which moves results by more than 1 (the float test below covers
    # random pixels).
    img = smooth_image(*hw, seed=11)
    out, rec = run_one(run_gpuaug, tmp_path, [{"resize": {"size": size, "interpolation": interp}}],
                       img)
    oh, ow = _out_hw(hw, size)
    assert out.shape == (oh, ow, 3)
    assert rec["ops"][0]["size"] == [oh, ow]
    ref = np.asarray(Image.fromarray(img).resize((ow, oh), PIL_FILTERS[interp]))
    assert _diff(out, ref).max() <= 1


@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
@pytest.mark.parametrize("hw,size", RESIZE_CASES, ids=CASE_IDS)
def test_resize_antialias_vs_float64_weights(run_gpuaug, tmp_path, interp, hw, size):
    # Oracle: torchvision's antialias weights (oracles.resize_weights) applied in float64 to
    # random pixels, no intermediate rounding or clamping, then clamp + round half to even.
    # Tolerance: within 1, and at most 1% of values off by 1 (gpuaug sums in float32: only
    # values within ~1e-4 of a .5 tie can round the other way).
    img = random_image(*hw, seed=12)
    out, _ = run_one(run_gpuaug, tmp_path, [{"resize": {"size": size, "interpolation": interp}}],
                     img)
    d = _diff(out, round_u8(resize_float(img, *_out_hw(hw, size), interp, antialias=True)))
    assert d.max() <= 1
    assert (d > 0).mean() <= 0.01


@pytest.mark.parametrize("interp", ["bilinear", "bicubic"])
@pytest.mark.parametrize("hw,size", [((17, 19), [34, 38]), ((23, 31), [50, 41]),
                                     ((90, 120), [37, 50]), ((31, 23), [62, 11])],
                         ids=["up2x", "up", "down", "mixed"])
def test_resize_no_antialias_vs_opencv(run_gpuaug, tmp_path, interp, hw, size):
    # Oracle: cv2.resize on float32 input (INTER_LINEAR / INTER_CUBIC: half-pixel centres,
    # bicubic a = -0.75, border replicated), which is torch's upsample_{bilinear,bicubic}2d with
    # align_corners=False, i.e. torchvision resize(antialias=False). Also checked against
    # oracles.resize_weights(antialias=False). Tolerance: within 1 (float32 sums and rounding
    # ties), at most 1% of values off by 1.
    img = random_image(*hw, seed=13)
    out, _ = run_one(run_gpuaug, tmp_path, [{"resize": {"size": size, "interpolation": interp,
                                                        "antialias": False}}], img)
    oh, ow = size
    flag = cv2.INTER_LINEAR if interp == "bilinear" else cv2.INTER_CUBIC
    ref = round_u8(cv2.resize(img.astype(np.float32), (ow, oh), interpolation=flag))
    assert _diff(ref, round_u8(resize_float(img, oh, ow, interp, antialias=False))).max() <= 1
    d = _diff(out, ref)
    assert d.max() <= 1
    assert (d > 0).mean() <= 0.01


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("hw,size", RESIZE_CASES, ids=CASE_IDS)
def test_resize_nearest_exact(run_gpuaug, tmp_path, hw, size, antialias):
    # Oracle: numpy index map floor((i + 0.5) * in / out) (pixel centres: Pillow's NEAREST,
    # torch's 'nearest-exact'; not torch's legacy 'nearest'). Tolerance: exact. (Pillow itself
    # differs where (i + 0.5) * in / out is an exact integer that its own float arithmetic puts
    # just below, e.g. 90 -> 37 rows at i = 18, so it is not used here.)
    img = random_image(*hw, seed=14)
    out, _ = run_one(run_gpuaug, tmp_path, [{"resize": {"size": size, "interpolation": "nearest",
                                                        "antialias": antialias}}], img)
    oh, ow = _out_hw(hw, size)
    rows = np.argmax(resize_weights(hw[0], oh, "nearest"), axis=1)
    cols = np.argmax(resize_weights(hw[1], ow, "nearest"), axis=1)
    np.testing.assert_array_equal(out, img[rows][:, cols])


@pytest.mark.parametrize("hw,size,max_size,expect", [
    ((90, 120), 40, None, (40, 53)),
    ((120, 90), 40, None, (53, 40)),
    ((90, 120), 40, 45, (33, 45)),   # long side capped: short = trunc(45 * 90 / 120)
    ((23, 31), 23, None, (23, 31)),  # unchanged size: a copy
])
def test_resize_short_side_and_max_size(run_gpuaug, tmp_path, hw, size, max_size, expect):
    # Oracle: torchvision _compute_resized_output_size written out by hand in the table.
    # Tolerance: exact size; an unchanged size returns the input exactly.
    img = random_image(*hw, seed=15)
    out, rec = run_one(run_gpuaug, tmp_path,
                       [{"resize": {"size": size, "max_size": max_size}}], img)
    assert out.shape[:2] == expect
    assert tuple(rec["ops"][0]["size"]) == expect
    if expect == hw:
        np.testing.assert_array_equal(out, img)


# --- center_crop ----------------------------------------------------------------------------

def _center_crop_reference(img: np.ndarray, ch: int, cw: int) -> tuple[np.ndarray, int, int]:
    """torchvision center_crop: zero-pad (left (cw-w)//2, rest right) when larger, then
    top = round((H - ch) / 2) half to even. Returns the crop and the top/left in the input."""
    h, w = img.shape[:2]
    pl = (cw - w) // 2 if cw > w else 0
    pt = (ch - h) // 2 if ch > h else 0
    pr = (cw - w + 1) // 2 if cw > w else 0
    pb = (ch - h + 1) // 2 if ch > h else 0
    padded = np.pad(img, ((pt, pb), (pl, pr), (0, 0)))
    top = int(round((padded.shape[0] - ch) / 2.0))
    left = int(round((padded.shape[1] - cw) / 2.0))
    return padded[top:top + ch, left:left + cw], top - pt, left - pl


@pytest.mark.parametrize("size", [9, [10, 7], [8, 19], [6, 6], [1, 1], [17, 19], [25, 30],
                                  [10, 25], [30, 4]])
def test_center_crop_exact(run_gpuaug, tmp_path, size):
    # Oracle: numpy slicing/padding with torchvision's offsets (17 - 8 = 9 -> 4.5 rounds to 4,
    # 17 - 6 = 11 -> 5.5 rounds to 6: half to even). Tolerance: exact; the record's top/left
    # (negative where it pads) equal the oracle's.
    img = random_image(17, 19, seed=21)
    ch, cw = (size, size) if isinstance(size, int) else size
    out, rec = run_one(run_gpuaug, tmp_path, [{"center_crop": {"size": size}}], img)
    ref, top, left = _center_crop_reference(img, ch, cw)
    np.testing.assert_array_equal(out, ref)
    entry = rec["ops"][0]
    assert (entry["top"], entry["left"], entry["height"], entry["width"]) == (top, left, ch, cw)


# --- pad and random_crop --------------------------------------------------------------------

def _np_pad(img: np.ndarray, ltrb, mode: str, fill) -> np.ndarray:
    """numpy.pad with torchvision's [left, top, right, bottom] and per-channel constant fill."""
    l, t, r, b = ltrb
    width = ((t, b), (l, r))
    if mode != "constant":
        return np.pad(img, width + ((0, 0),), mode=mode)
    fill = [fill] * 3 if np.isscalar(fill) else fill
    return np.stack([np.pad(img[..., c], width, constant_values=int(fill[c]))
                     for c in range(3)], axis=-1)


def _ltrb(padding) -> list[int]:
    if isinstance(padding, int):
        return [padding] * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    return list(padding)


PAD_MODES = ["constant", "edge", "reflect", "symmetric"]


@pytest.mark.parametrize("mode", PAD_MODES)
@pytest.mark.parametrize("padding", [3, [2, 5], [1, 0, 4, 6], [0, 0, 0, 0], [16, 1, 18, 2]])
def test_pad_exact(run_gpuaug, tmp_path, mode, padding):
    # Oracle: numpy.pad with the same mode names (torchvision's pad follows numpy's naming:
    # reflect = d c b | a b c d, symmetric = b a | a b c d). Pads up to size-1 (torch's reflect
    # limit). Tolerance: exact; the record's padding is [left, top, right, bottom].
    img = random_image(17, 19, seed=22)
    fill = [10, 200, 77]
    out, rec = run_one(run_gpuaug, tmp_path,
                       [{"pad": {"padding": padding, "padding_mode": mode, "fill": fill}}], img)
    assert rec["ops"][0]["padding"] == _ltrb(padding)
    np.testing.assert_array_equal(out, _np_pad(img, _ltrb(padding), mode, fill))


def test_pad_scalar_fill_and_1x1(run_gpuaug, tmp_path):
    # Oracle: numpy.pad constant. 1x1 input with reflect/symmetric is a tile of that pixel.
    # Tolerance: exact.
    img = random_image(1, 1, seed=23)
    out, _ = run_one(run_gpuaug, tmp_path, [{"pad": {"padding": [2, 3], "fill": 9}}], img)
    np.testing.assert_array_equal(out, _np_pad(img, [2, 3, 2, 3], "constant", 9))
    for mode in ("edge", "symmetric"):
        out, _ = run_one(run_gpuaug, tmp_path, [{"pad": {"padding": 2, "padding_mode": mode}}],
                         img, name=mode)
        np.testing.assert_array_equal(out, np.broadcast_to(img, (5, 5, 3)))


RANDOM_CROP_CASES = [
    dict(size=[9, 11]),
    dict(size=17),
    dict(size=[17, 19]),
    dict(size=[12, 25], padding=[4, 1], fill=[255, 0, 128]),
    dict(size=[20, 20], padding=2, padding_mode="edge"),
    dict(size=[19, 21], padding=[1, 2, 3, 4], padding_mode="reflect"),
    dict(size=[21, 24], padding=[3, 2], padding_mode="symmetric"),
    dict(size=[25, 30], pad_if_needed=True),
    dict(size=[25, 30], pad_if_needed=True, padding_mode="reflect"),
    dict(size=[22, 9], padding=[0, 1, 0, 1], pad_if_needed=True, fill=50),
]


@pytest.mark.parametrize("params", RANDOM_CROP_CASES, ids=lambda p: "-".join(map(str, p.values())))
def test_random_crop_exact(run_gpuaug, tmp_path, params):
    # Oracle: numpy.pad by the recorded padding (which must equal torchvision's: the padding
    # argument, plus with pad_if_needed the shortfall on both sides), then slicing at the
    # recorded top/left. Tolerance: exact; top/left inside [0, padded - size].
    h, w = 17, 19
    img = random_image(h, w, seed=24)
    res = augment(run_gpuaug, tmp_path, [{"random_crop": params}], {"img.png": img}, copies=6)
    ch, cw = (params["size"],) * 2 if isinstance(params["size"], int) else params["size"]
    pad = _ltrb(params.get("padding", 0))
    if params.get("pad_if_needed"):
        short_h = max(ch - (h + pad[1] + pad[3]), 0)
        short_w = max(cw - (w + pad[0] + pad[2]), 0)
        pad = [pad[0] + short_w, pad[1] + short_h, pad[2] + short_w, pad[3] + short_h]
    padded = _np_pad(img, pad, params.get("padding_mode", "constant"), params.get("fill", 0))
    tops = set()
    for rec in res.records:
        e = rec["ops"][0]
        assert e["padding"] == pad
        assert (e["height"], e["width"]) == (ch, cw)
        assert 0 <= e["top"] <= padded.shape[0] - ch and 0 <= e["left"] <= padded.shape[1] - cw
        tops.add((e["top"], e["left"]))
        np.testing.assert_array_equal(
            res.array(rec), padded[e["top"]:e["top"] + ch, e["left"]:e["left"] + cw])
    if padded.shape[0] - ch + padded.shape[1] - cw >= 4:
        assert len(tops) > 1, "six copies all drew the same position"


# --- flips ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op,flip", [("horizontal_flip", np.fliplr), ("vertical_flip", np.flipud)])
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_flip_exact(run_gpuaug, tmp_path, op, flip, p):
    # Oracle: numpy fliplr / flipud where the record says applied. Tolerance: exact. p=0 never
    # flips, p=1 always; p=0.5 over 16 samples flips some and not others.
    imgs = {f"i{k}.png": random_image(17 + k, 19, seed=30 + k) for k in range(2)}
    res = augment(run_gpuaug, tmp_path, [{op: {"p": p}}], imgs, copies=8)
    applied = []
    for rec in res.records:
        src = imgs[rec["file"]]
        a = rec["ops"][0]["applied"]
        applied.append(a)
        np.testing.assert_array_equal(res.array(rec), flip(src) if a else src)
    if p == 0.0:
        assert not any(applied)
    elif p == 1.0:
        assert all(applied)
    else:
        assert 0 < sum(applied) < len(applied)


def test_flips_compose_with_crop(run_gpuaug, tmp_path):
    # Oracle: numpy: crop at the recorded box, then the recorded flips in order. Tolerance: exact.
    img = random_image(23, 31, seed=33)
    res = augment(run_gpuaug, tmp_path, [{"random_crop": {"size": [11, 13]}},
                                         {"horizontal_flip": {"p": 0.5}},
                                         {"vertical_flip": {"p": 0.5}}], {"a.png": img}, copies=8)
    for rec in res.records:
        crop, hf, vf = rec["ops"]
        ref = img[crop["top"]:crop["top"] + 11, crop["left"]:crop["left"] + 13]
        ref = np.fliplr(ref) if hf["applied"] else ref
        ref = np.flipud(ref) if vf["applied"] else ref
        np.testing.assert_array_equal(res.array(rec), ref)


# --- random_resized_crop and local_crops ----------------------------------------------------

def _check_box(e: dict, h: int, w: int, scale, ratio) -> None:
    """A crop box inside the image, consistent with scale/ratio up to the rounding of w and h,
    or torchvision's centre fallback."""
    top, left, ch, cw = e["top"], e["left"], e["height"], e["width"]
    assert 0 < ch <= h and 0 < cw <= w
    assert 0 <= top <= h - ch and 0 <= left <= w - cw
    area_lo = (cw - 0.5) * (ch - 0.5) / (h * w)
    area_hi = (cw + 0.5) * (ch + 0.5) / (h * w)
    ratio_lo = (cw - 0.5) / (ch + 0.5)
    ratio_hi = (cw + 0.5) / max(ch - 0.5, 1e-9)
    in_bounds = (area_hi >= scale[0] and area_lo <= scale[1]
                 and ratio_hi >= ratio[0] and ratio_lo <= ratio[1])
    fallback = top == (h - ch) // 2 and left == (w - cw) // 2 and (ch == h or cw == w)
    assert in_bounds or fallback, (e, h, w)


def _rrc_reference(img: np.ndarray, e: dict, size) -> np.ndarray:
    crop = img[e["top"]:e["top"] + e["height"], e["left"]:e["left"] + e["width"]]
    return np.asarray(Image.fromarray(crop).resize((size[1], size[0]), Image.BILINEAR))


@pytest.mark.parametrize("hw,size,scale,ratio,fallback", [
    ((90, 120), [24, 24], [0.08, 1.0], [3 / 4, 4 / 3], None),
    ((90, 120), [17, 31], [0.3, 0.6], [0.5, 2.0], None),
    ((31, 23), [40, 40], [0.5, 1.0], [3 / 4, 4 / 3], None),
    # Aspect 2.5..3 never fits 23x31: torchvision's fallback, w = W = 31, h = rne(31 / 2.5) = 12,
    # top = (23 - 12) // 2, left = 0.
    ((23, 31), [19, 17], [0.9, 1.0], [2.5, 3.0], (5, 0, 12, 31)),
    # Image wider than ratio allows the other way: h = H = 40, w = rne(40 * 0.5) = 20.
    ((40, 90), [8, 8], [0.95, 1.0], [0.4, 0.5], (0, 35, 40, 20)),
])
def test_random_resized_crop_vs_pillow(run_gpuaug, tmp_path, hw, size, scale, ratio, fallback):
    # Oracle: numpy crop at the recorded top/left/height/width, then Pillow resize(BILINEAR)
    # to `size` (torchvision's resized_crop = crop + antialiased bilinear resize; Pillow's
    # weights are the same). Tolerance 1 (Pillow's fixed point and uint8 intermediate vs one
    # float32 sum, see the resize test). Boxes: inside the image and consistent with
    # scale/ratio, or (where no try can fit) exactly torchvision's centre fallback.
    imgs = {"a.png": mixed_image(*hw, seed=40), "b.png": smooth_image(*hw, seed=41)}
    res = augment(run_gpuaug, tmp_path, [{"random_resized_crop": {
        "size": size, "scale": scale, "ratio": ratio}}], imgs, copies=6)
    boxes = set()
    for rec in res.records:
        e = rec["ops"][0]
        assert e["size"] == size
        _check_box(e, *hw, scale, ratio)
        boxes.add((e["top"], e["left"], e["height"], e["width"]))
        out = res.array(rec)
        assert out.shape == (*size, 3)
        assert _diff(out, _rrc_reference(imgs[rec["file"]], e, size)).max() <= 1
    assert boxes == {fallback} if fallback else len(boxes) > 1


def test_random_resized_crop_int_size_bicubic_vs_float64(run_gpuaug, tmp_path):
    # Oracle: crop at the recorded box + oracles.resize_float (torchvision antialias bicubic
    # weights, float64) on random pixels. Tolerance: within 1, at most 1% off by 1.
    img = random_image(60, 80, seed=42)
    res = augment(run_gpuaug, tmp_path, [{"random_resized_crop": {
        "size": 21, "interpolation": "bicubic"}}], {"a.png": img}, copies=6)
    for rec in res.records:
        e = rec["ops"][0]
        crop = img[e["top"]:e["top"] + e["height"], e["left"]:e["left"] + e["width"]]
        d = _diff(res.array(rec), round_u8(resize_float(crop, 21, 21, "bicubic")))
        assert d.max() <= 1 and (d > 0).mean() <= 0.01


@pytest.mark.parametrize("n", [1, 4])
def test_local_crops_vs_pillow(run_gpuaug, tmp_path, n):
    # Oracle: as random_resized_crop, per crop: numpy crop at the recorded box + Pillow
    # resize(BILINEAR), tolerance 1. n outputs per image and copy (-c<j>), records numbered by
    # "crop", boxes inside the image and within the default scale (0.05, 0.4).
    imgs = {"a.png": mixed_image(60, 80, seed=43), "sub/b.png": smooth_image(45, 37, seed=44)}
    res = augment(run_gpuaug, tmp_path, [{"local_crops": {"n": n, "size": 16}}], imgs, copies=2)
    assert len(res.records) == 2 * 2 * n
    assert sorted(res.outputs) == sorted(f"{stem}-{c}-c{j}" for stem in ("a", "sub/b")
                                         for c in range(2) for j in range(n))
    for rec in res.records:
        e = rec["ops"][0]
        img = imgs[rec["file"]]
        _check_box(e, *img.shape[:2], [0.05, 0.4], [3 / 4, 4 / 3])
        assert _diff(res.array(rec), _rrc_reference(img, e, [16, 16])).max() <= 1
    boxes = {tuple(r["ops"][0][k] for k in ("top", "left", "height", "width")) for r in res.records}
    assert len(boxes) > len(res.records) // 2


def test_resize_then_crop_equals_numpy(run_gpuaug, tmp_path):
    # A crop after a resize folds into the same resampling: the result must equal slicing the
    # resized image. Oracle: gpuaug's own resize output sliced by numpy at the recorded box
    # (an exact identity of the fold, not a numerics comparison). Tolerance: exact.
    img = random_image(45, 60, seed=45)
    resized, _ = run_one(run_gpuaug, tmp_path, [{"resize": {"size": [30, 40]}}], img, name="r")
    res = augment(run_gpuaug, tmp_path, [{"resize": {"size": [30, 40]}},
                                         {"random_crop": {"size": [13, 17]}}],
                  {"a.png": img}, copies=4, name="rc")
    for rec in res.records:
        e = rec["ops"][1]
        np.testing.assert_array_equal(
            res.array(rec), resized[e["top"]:e["top"] + 13, e["left"]:e["left"] + 17])


def test_chw_layout_is_transposed_hwc(run_gpuaug, tmp_path):
    # Oracle: numpy transpose of the HWC output. Tolerance: exact.
    img = random_image(23, 31, seed=46)
    hwc, _ = run_one(run_gpuaug, tmp_path, [{"resize": {"size": [11, 13]}}], img, name="hwc")
    chw, _ = run_one(run_gpuaug, tmp_path, [{"resize": {"size": [11, 13]}}], img, name="chw",
                     layout=None)
    np.testing.assert_array_equal(chw, hwc.transpose(2, 0, 1))


def test_rrc_scale_bounds_statistics(run_gpuaug, tmp_path):
    # The drawn area fraction is U(scale) before w and h are rounded: over 40 draws of square
    # crops (ratio [1, 1]) on a square image, where every try fits, the mean area lies near the
    # middle of the range. Oracle: the uniform distribution's mean 0.5; tolerance 0.1 (3.6
    # standard errors of a mean of 40 draws of U(0.2, 0.8), sd 0.173 each); every area within
    # the range up to the rounding of w and h.
    img = smooth_image(100, 100, seed=47)
    res = augment(run_gpuaug, tmp_path, [{"random_resized_crop": {
        "size": 8, "scale": [0.2, 0.8], "ratio": [1.0, 1.0]}}], {"a.png": img}, copies=40)
    areas = [r["ops"][0]["height"] * r["ops"][0]["width"] / 100**2 for r in res.records]
    assert len(areas) == 40
    assert abs(np.mean(areas) - 0.5) < 0.1
    assert min(areas) >= 0.2 - 0.01 and max(areas) <= 0.8 + 0.01
    assert all(r["ops"][0]["height"] == r["ops"][0]["width"] for r in res.records)
