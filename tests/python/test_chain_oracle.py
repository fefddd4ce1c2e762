"""Chains of geometric ops vs torchvision's step-by-step semantics, replayed in numpy.

gpuaug folds a chain into one resampling from the source; torchvision applies each op to the
previous op's uint8 output. With at most one resampling step in a chain (crops, pads and flips
are exact), the two must agree up to that step's rounding, whatever the order of the ops.
"""
from __future__ import annotations

import numpy as np
import pytest

from harness import augment, mixed_image, write_png, write_spec
from oracles import resize_float, rotate_reference, round_u8, short_side_size


def _pad(img: np.ndarray, ltrb, mode: str, fill) -> np.ndarray:
    l, t, r, b = ltrb
    width = ((t, b), (l, r))
    if mode != "constant":
        return np.pad(img, width + ((0, 0),), mode=mode)
    fill = [fill] * 3 if np.isscalar(fill) else fill
    return np.stack([np.pad(img[..., c], width, constant_values=int(fill[c])) for c in range(3)],
                    axis=-1)


def _crop(img: np.ndarray, top: int, left: int, h: int, w: int, fill=0) -> np.ndarray:
    """torchvision F.crop: out-of-image parts filled (zero by default)."""
    H, W = img.shape[:2]
    pt, pl = max(0, -top), max(0, -left)
    pb, pr = max(0, top + h - H), max(0, left + w - W)
    padded = _pad(img, [pl, pt, pr, pb], "constant", fill)
    return padded[top + pt:top + pt + h, left + pl:left + pl + w]


def torchvision_chain(img: np.ndarray, ops, record_ops) -> np.ndarray:
    """Each op on the previous uint8 result, with the recorded parameters (numpy + oracles)."""
    x = img
    for op, rec in zip(ops, record_ops):
        ((name, params),) = op.items()
        if not rec["applied"]:
            continue
        if name == "pad":
            x = _pad(x, rec["padding"], params.get("padding_mode", "constant"),
                     params.get("fill", 0))
        elif name == "random_crop":
            x = _pad(x, rec["padding"], params.get("padding_mode", "constant"),
                     params.get("fill", 0))
            x = _crop(x, rec["top"], rec["left"], rec["height"], rec["width"])
        elif name == "center_crop":
            x = _crop(x, rec["top"], rec["left"], rec["height"], rec["width"])
        elif name in ("resize", "random_resized_crop"):
            if name == "random_resized_crop":
                x = _crop(x, rec["top"], rec["left"], rec["height"], rec["width"])
            size = rec["size"]
            oh, ow = size if isinstance(size, list) else short_side_size(*x.shape[:2], size)
            x = round_u8(resize_float(x, oh, ow, params.get("interpolation", "bilinear"),
                                      antialias=params.get("antialias", True)))
        elif name == "horizontal_flip":
            x = x[:, ::-1]
        elif name == "vertical_flip":
            x = x[::-1]
        elif name == "rotate":
            fill = params.get("fill", 0)
            fill = fill if isinstance(fill, list) else [fill] * 3
            x = round_u8(rotate_reference(x, rec["angle"], params.get("interpolation", "nearest"),
                                          params.get("expand", False), fill))
        else:
            raise NotImplementedError(name)
    return x


# Tolerance for every chain: within 1 (the one resampling's float32 vs float64), at most 1% of
# values differing at all (nearest rotations: pixels at a rounding tie; bilinear: ties of .5).
CHAINS = {
    "pad_reflect->resize": [{"pad": {"padding": [3, 5, 7, 2], "padding_mode": "reflect"}},
                            {"resize": {"size": [50, 40]}}],
    "pad_symmetric->resize_bicubic": [
        {"pad": {"padding": [3, 5, 7, 2], "padding_mode": "symmetric"}},
        {"resize": {"size": [11, 9], "interpolation": "bicubic"}}],
    "pad_fill->resize": [{"pad": {"padding": 4, "fill": [200, 0, 50]}},
                         {"resize": {"size": [12, 12]}}],
    "crop->resize->flip": [{"random_crop": {"size": [20, 15]}}, {"resize": {"size": [9, 33]}},
                           {"horizontal_flip": {"p": 0.5}}],
    # Without antialias torch clamps the taps to the image it resizes: the crop's (the padded
    # image's) edges, not the source's.
    "crop->resize_bicubic_noaa": [{"random_crop": {"size": [20, 15]}},
                                  {"resize": {"size": [41, 29], "interpolation": "bicubic",
                                              "antialias": False}}],
    "pad_reflect->resize_bicubic_noaa": [
        {"pad": {"padding": [3, 5, 7, 2], "padding_mode": "reflect"}},
        {"resize": {"size": [19, 13], "interpolation": "bicubic", "antialias": False}}],
    "center_crop_larger->resize": [{"center_crop": {"size": [40, 30]}},
                                   {"resize": {"size": [13, 17]}}],
    "random_crop_padded->resize": [
        {"random_crop": {"size": [30, 30], "padding": 6, "fill": [200, 0, 50]}},
        {"resize": {"size": [12, 12]}}],
    "resize->pad_constant": [{"resize": {"size": [11, 9]}}, {"pad": {"padding": [3, 5, 2, 1],
                                                                      "fill": 77}}],
    "rrc->pad": [{"random_resized_crop": {"size": 8}}, {"pad": {"padding": 2}}],
    "flip->pad_reflect": [{"horizontal_flip": {"p": 1.0}},
                          {"pad": {"padding": [3, 1, 0, 2], "padding_mode": "reflect"}}],
    "resize->crop->vflip": [{"resize": {"size": 20}}, {"random_crop": {"size": [15, 11]}},
                            {"vertical_flip": {"p": 0.5}}],
    "pad0->rotate": [{"pad": {"padding": [3, 1, 0, 2]}},
                     {"rotate": {"degrees": 60, "interpolation": "bilinear"}}],
    "pad_edge->rotate": [{"pad": {"padding": 4, "padding_mode": "edge"}},
                         {"rotate": {"degrees": 60, "interpolation": "nearest"}}],
    "crop->rotate": [{"center_crop": {"size": [12, 10]}}, {"rotate": {"degrees": 60}}],
    "rotate->center_crop": [{"rotate": {"degrees": 60, "interpolation": "bilinear"}},
                            {"center_crop": {"size": [15, 11]}}],
    "rotate_expand->flip": [{"rotate": {"degrees": 60, "interpolation": "bilinear",
                                        "expand": True}}, {"horizontal_flip": {"p": 1.0}}],
}

# Borders: every pad and every crop reaching past the image keeps its own rule and fill, around
# the image that op was given (torchvision pads what it is handed): after a crop the crop, after
# a resize the resized image, after a rotate the rotated one; F.crop's own border is zeros.
BORDER_CHAINS = {
    "center_crop->pad": [{"center_crop": {"size": [11, 9]}}, {"pad": {"padding": 2}}],
    "random_crop->pad_edge": [{"random_crop": {"size": [15, 11]}},
                              {"pad": {"padding": [2, 3, 4, 1], "padding_mode": "edge"}}],
    "center_crop->center_crop_larger": [{"center_crop": {"size": [11, 9]}},
                                        {"center_crop": {"size": [15, 13]}}],
    "rotate->pad": [{"rotate": {"degrees": [17, 17]}}, {"pad": {"padding": 3}}],
    "resize->pad_reflect": [{"resize": {"size": [11, 9]}},
                            {"pad": {"padding": [3, 5, 2, 1], "padding_mode": "reflect"}}],
    "resize->pad_symmetric->pad_fill": [
        {"resize": {"size": [13, 17], "interpolation": "bicubic"}},
        {"pad": {"padding": [4, 2], "padding_mode": "symmetric"}},
        {"pad": {"padding": [1, 2, 3, 0], "fill": [9, 99, 199]}}],
    # Edge pads copy edge pixels, and with them a rounding tie's 1: a larger output keeps the
    # share of differing pixels a share of ties.
    "rrc->flip->pad_edge": [{"random_resized_crop": {"size": [19, 24]}},
                            {"horizontal_flip": {"p": 1.0}},
                            {"pad": {"padding": [2, 1, 1, 1], "padding_mode": "edge"}}],
    "resize->pad_reflect->crop": [{"resize": {"size": [12, 10]}},
                                  {"pad": {"padding": 6, "padding_mode": "reflect"}},
                                  {"random_crop": {"size": [15, 17]}}],
    "pad_fill->rotate_fill": [{"pad": {"padding": 4, "fill": 50}},
                              {"rotate": {"degrees": 60, "fill": [200, 100, 0]}}],
    "pad_reflect->pad_constant": [{"pad": {"padding": 2, "padding_mode": "reflect"}},
                                  {"pad": {"padding": 1, "fill": 9}}],
    "pad_constant->pad_reflect->resize": [
        {"pad": {"padding": [3, 1], "fill": 240}},
        {"pad": {"padding": [2, 4, 6, 1], "padding_mode": "reflect"}},
        {"resize": {"size": [21, 30]}}],
    "pad_fill->center_crop_larger": [{"pad": {"padding": 2, "fill": 77}},
                                     {"center_crop": {"size": [33, 40]}}],
    "random_crop_padded->pad_fill": [
        {"random_crop": {"size": [20, 20], "padding": 3, "fill": [200, 0, 50]}},
        {"pad": {"padding": [2, 1], "fill": 30}}],
    "rotate_fill->pad_reflect": [{"rotate": {"degrees": [25, 25], "fill": 60}},
                                 {"pad": {"padding": [4, 2, 1, 3], "padding_mode": "reflect"}}],
    "rotate_fill->pad_fill->flip": [{"rotate": {"degrees": [-40, -40], "fill": [10, 20, 30],
                                                "interpolation": "bilinear"}},
                                    {"pad": {"padding": 3, "fill": 250}},
                                    {"horizontal_flip": {"p": 1.0}}],
}


@pytest.mark.parametrize("name,ops", [*CHAINS.items(), *BORDER_CHAINS.items()],
                         ids=[*CHAINS, *BORDER_CHAINS])
def test_chain_vs_torchvision_steps(run_gpuaug, tmp_path, name, ops):
    # Oracle: torchvision_chain: each op applied to the previous uint8 result in numpy (pads
    # and crops by numpy, resizes by oracles.resize_float + rounding, rotations by
    # oracles.rotate_reference + rounding) with the recorded parameters. Tolerance: within 1
    # everywhere and at most 1% of pixels differing (the one resampling's rounding or ties).
    img = mixed_image(31, 23, seed=110)
    res = augment(run_gpuaug, tmp_path, ops, {"a.png": img}, copies=3)
    for rec in res.records:
        out = res.array(rec)
        ref = torchvision_chain(img, ops, rec["ops"])
        assert out.shape == ref.shape
        d = np.abs(out.astype(int) - ref.astype(int)).max(axis=2)
        assert (d > 0).mean() <= 0.01, (name, d.max(), (d > 0).mean())
        if not any("rotate" in op and op["rotate"].get("interpolation", "nearest") == "nearest"
                   for op in ops):
            assert d.max() <= 1, (name, d.max())


# Chains whose borders one resampling cannot hold are refused before any image is read, naming
# the ops and their lines (tests/pipeline/test_chain.cpp checks every message).
UNFOLDABLE = {
    "resize->pad_reflect->rotate": (
        [{"resize": {"size": [11, 9]}}, {"pad": {"padding": 2, "padding_mode": "reflect"}},
         {"rotate": {"degrees": 30}}],
        "line 6: pad (line 5) mirrors between resize (line 4) and rotate (line 6)"),
    "rotate->pad->affine": (
        [{"rotate": {"degrees": 30}}, {"pad": {"padding": 2, "fill": 9}},
         {"random_affine": {"degrees": 5}}],
        "line 6: pad (line 5) pads between rotate (line 4) and random_affine (line 6)"),
}


@pytest.mark.parametrize("name", list(UNFOLDABLE))
def test_unfoldable_chains_are_spec_errors(run_gpuaug, tmp_path, name):
    # Oracle: the message text. Tolerance: exact substring; nothing is written.
    ops, message = UNFOLDABLE[name]
    spec = write_spec(tmp_path / "spec.yaml", ops)
    write_png(tmp_path / "in" / "a.png", mixed_image(31, 23, seed=110))
    proc = run_gpuaug("augment", "--spec", spec, "--input", tmp_path / "in", "--output",
                      tmp_path / "out", "--quiet", check=False)
    assert proc.returncode != 0
    assert "spec" in proc.stderr and message in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("out/**/*.npy"))
