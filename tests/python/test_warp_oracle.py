"""Rotate and random_affine vs a float64 numpy torchvision affine grid + grid_sample."""
from __future__ import annotations

import math

import numpy as np
import pytest

from harness import augment, mixed_image, run_one
from oracles import (affine_output_size, affine_reference, inverse_affine_matrix,
                     rotate_reference, round_u8)

# Nearest: the oracle rounds the source coordinate half to even in float64 (grid_sample's
# nearbyint); gpuaug takes floor(x + 0.5) in double and torch builds its grid in float32, so a
# pixel whose coordinate lies within float error of a .5 tie may pick the other neighbour.
# At random angles such pixels are rare: at most 1% of pixels may differ (by any amount).
NEAREST_TIE_FRACTION = 0.01
# Bilinear: within 1 (float32 weights and sums vs float64), at most 1% of values off by 1.
BILINEAR_TOL, BILINEAR_FRACTION = 1, 0.01


def _check(out: np.ndarray, ref: np.ndarray, interp: str) -> None:
    ref = round_u8(ref)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    d = np.abs(out.astype(int) - ref)
    if interp == "nearest":
        assert (d.max(axis=2) > 0).mean() <= NEAREST_TIE_FRACTION, d.max()
    else:
        assert d.max() <= BILINEAR_TOL
        assert (d > 0).mean() <= BILINEAR_FRACTION


FILLS = [0, [255, 10, 128]]


@pytest.mark.parametrize("fill", FILLS, ids=["fill0", "fillrgb"])
@pytest.mark.parametrize("expand", [False, True], ids=["same", "expand"])
@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
@pytest.mark.parametrize("hw", [(23, 31), (31, 23), (17, 19), (24, 31)])
def test_rotate_vs_grid_sample(run_gpuaug, tmp_path, hw, interp, expand, fill):
    # Oracle: oracles.rotate_reference: torchvision's inverse matrix with -angle (rotate is
    # counter-clockwise), _compute_affine_output_size for expand (float32, 1e-4 truncation),
    # affine grid at pixel centres, grid_sample (align_corners=False, zeros) with the mask of
    # ones (nearest: fill where mask < 0.5; bilinear: mask * (sum - fill) + fill), float64,
    # then round half to even. Angles from the record (degrees 180: the whole circle).
    # Tolerances: module constants above. Output shape: exact.
    img = mixed_image(*hw, seed=50)
    res = augment(run_gpuaug, tmp_path, [{"rotate": {
        "degrees": 180, "interpolation": interp, "expand": expand, "fill": fill}}],
        {"a.png": img}, copies=4)
    fill3 = fill if isinstance(fill, list) else [fill] * 3
    for rec in res.records:
        angle = rec["ops"][0]["angle"]
        assert -180 <= angle <= 180
        _check(res.array(rec), rotate_reference(img, angle, interp, expand, fill3), interp)


@pytest.mark.parametrize("angle", [90, -90, 45, 30, 180, 0.5])
@pytest.mark.parametrize("hw", [(23, 31), (24, 31), (1, 1), (17, 19)])
def test_rotate_expand_size_fixed_angles(run_gpuaug, tmp_path, hw, angle):
    # Oracle: torchvision's _compute_affine_output_size (oracles.affine_output_size, float32
    # corner transform, trunc to 1e-4 before ceil/floor, so 90 degrees gives exactly (H, W)).
    # Bilinear pixels: as test_rotate_vs_grid_sample. Tolerance: exact shape.
    img = mixed_image(*hw, seed=51)
    out, rec = run_one(run_gpuaug, tmp_path, [{"rotate": {
        "degrees": [angle, angle], "expand": True, "interpolation": "bilinear"}}], img)
    assert rec["ops"][0]["angle"] == pytest.approx(angle, abs=1e-12)
    m = inverse_affine_matrix([0.0, 0.0], -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = affine_output_size(m, hw[1], hw[0])
    assert out.shape == (oh, ow, 3)
    if abs(angle) == 90:
        # Same parity of H and W: the transpose of the size. Different parity (24x31): the
        # corners land on half pixels and torchvision's formula grows each side by one.
        odd = (hw[0] - hw[1]) % 2
        assert (oh, ow) == (hw[1] + odd, hw[0] + odd)
    _check(out, rotate_reference(img, angle, "bilinear", True, [0, 0, 0]), "bilinear")


@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_rotate_about_center(run_gpuaug, tmp_path, interp):
    # Oracle: rotate_reference with center (pixel coordinates, torchvision's center - size/2).
    # Tolerances: module constants.
    img = mixed_image(31, 23, seed=52)
    center = [3.0, 25.5]
    res = augment(run_gpuaug, tmp_path, [{"rotate": {
        "degrees": 60, "interpolation": interp, "center": center, "fill": [1, 2, 3]}}],
        {"a.png": img}, copies=4)
    for rec in res.records:
        ref = rotate_reference(img, rec["ops"][0]["angle"], interp, False, [1, 2, 3], center)
        _check(res.array(rec), ref, interp)


def test_rotate_p0_is_identity_and_90_is_exact(run_gpuaug, tmp_path):
    # Oracle: numpy identity (p=0: applied false) and numpy.rot90 (90 degrees counter-clockwise
    # with expand on a 23x31 image: every source coordinate is an integer, no tie). Exact.
    img = mixed_image(23, 31, seed=53)
    out, rec = run_one(run_gpuaug, tmp_path, [{"rotate": {"degrees": 30, "p": 0.0}}], img,
                       name="p0")
    assert rec["ops"][0]["applied"] is False
    np.testing.assert_array_equal(out, img)
    for interp in ("nearest", "bilinear"):
        out, _ = run_one(run_gpuaug, tmp_path, [{"rotate": {
            "degrees": [90, 90], "expand": True, "interpolation": interp}}], img, name=interp)
        np.testing.assert_array_equal(out, np.rot90(img))


# --- random_affine --------------------------------------------------------------------------

AFFINE_CASES = [
    pytest.param(dict(degrees=40), id="degrees"),
    pytest.param(dict(degrees=[-170, 170], translate=[0.3, 0.2]), id="degrees+translate"),
    pytest.param(dict(scale=[1.0, 1.6], degrees=20), id="scale_up"),
    pytest.param(dict(degrees=30, center=[3, 5], translate=[0.1, 0.1]), id="center"),
    pytest.param(dict(scale=[0.5, 0.9]), id="scale_down"),
    pytest.param(dict(shear=20), id="shear_x"),
    pytest.param(dict(shear=[-10, 10, -15, 15], degrees=10), id="shear_xy"),
]


@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
@pytest.mark.parametrize("params", AFFINE_CASES)
def test_random_affine_vs_grid_sample(run_gpuaug, tmp_path, params, interp):
    # Oracle: oracles.affine_reference: torchvision's _get_inverse_affine_matrix(center, +angle,
    # translate, scale, shear) from the recorded parameters, affine grid + grid_sample with the
    # mask-of-ones fill, float64. Tolerances: module constants.
    img = mixed_image(31, 23, seed=54)
    fill = [9, 99, 199]
    res = augment(run_gpuaug, tmp_path, [{"random_affine": dict(
        params, interpolation=interp, fill=fill)}], {"a.png": img}, copies=4)
    for rec in res.records:
        e = rec["ops"][0]
        ref = affine_reference(img, e["angle"], e["translate"], e["scale"], e["shear"], interp,
                               fill, params.get("center"))
        _check(res.array(rec), ref, interp)


def test_random_affine_draws_within_ranges(run_gpuaug, tmp_path):
    # Oracle: torchvision RandomAffine.make_params ranges: angle in degrees, translate
    # tx = round(U(-t0 W, t0 W)) (an integer, |tx| <= round(t0 W)), scale in range, shear_x in
    # [-s, s], shear_y in its own range. 24 draws cover both signs. Exact bounds.
    h, w = 31, 23
    img = mixed_image(h, w, seed=55)
    params = dict(degrees=[-25, 10], translate=[0.2, 0.4], scale=[1.0, 1.3],
                  shear=[-4, 6, -2, 3])
    res = augment(run_gpuaug, tmp_path, [{"random_affine": params}], {"a.png": img}, copies=24)
    txs, tys = [], []
    for rec in res.records:
        e = rec["ops"][0]
        assert -25 <= e["angle"] <= 10
        tx, ty = e["translate"]
        assert tx == int(tx) and ty == int(ty)
        assert abs(tx) <= round(0.2 * w) and abs(ty) <= round(0.4 * h)
        txs.append(tx)
        tys.append(ty)
        assert 1.0 <= e["scale"] <= 1.3
        assert -4 <= e["shear"][0] <= 6 and -2 <= e["shear"][1] <= 3
    assert min(txs) < 0 < max(txs) and min(tys) < 0 < max(tys)


def test_affine_matrix_oracle_self_check():
    # The oracle's inverse matrix inverts the forward RSS map: M^-1 applied to the forward image
    # of a point returns the point (no gpuaug involved; guards the oracle itself).
    angle, (tx, ty), scale, (sx, sy) = 23.0, (3.0, -2.0), 1.3, (7.0, -4.0)
    m = inverse_affine_matrix([1.5, -2.0], angle, [tx, ty], scale, [sx, sy])
    inv = np.array([m[:3], m[3:], [0, 0, 1]])
    fwd = np.linalg.inv(inv)
    p = np.array([4.0, -7.0, 1.0])
    np.testing.assert_allclose(inv @ (fwd @ p), p, atol=1e-12)
    assert math.isclose(np.linalg.det(inv[:2, :2]), 1 / scale**2, rel_tol=1e-12)
