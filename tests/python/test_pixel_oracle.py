"""normalize, to_dtype, gaussian_noise, gaussian_blur and random_erasing vs numpy oracles."""
from __future__ import annotations

import math

import numpy as np
import pytest

from harness import augment, mixed_image, random_image, run_one
from oracles import (F32, bfloat16_bits, gaussian_blur_reference, rgb_to_grayscale_u8,
                     round_u8, to_float32)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@pytest.mark.parametrize("mean,std", [(None, None), ([0.5, 0.25, 0.0], [0.5, 2.0, 0.125])])
def test_normalize_vs_numpy(run_gpuaug, tmp_path, mean, std):
    # Oracle: torchvision normalize after to_dtype(float32, scale=True):
    # (x * f32(1/255) - f32(mean)) / f32(std) in float32, true division. gpuaug converts a
    # uint8 image first (torchvision would refuse it). Tolerance: 1e-6 absolute (float32 on
    # both sides; in practice exact).
    img = random_image(23, 31, seed=70)
    params = {} if mean is None else {"mean": mean, "std": std}
    m = np.array(mean or IMAGENET_MEAN, dtype=F32)
    s = np.array(std or IMAGENET_STD, dtype=F32)
    for ops, name in (([{"normalize": params}], "direct"),
                      ([{"to_dtype": {"dtype": "float32"}}, {"normalize": params}], "to_float")):
        out, _ = run_one(run_gpuaug, tmp_path, ops, img, name=name)
        assert out.dtype == np.float32 and out.shape == img.shape
        np.testing.assert_allclose(out, (to_float32(img) - m) / s, rtol=0, atol=1e-6)


def test_normalize_one_channel(run_gpuaug, tmp_path):
    # Oracle: grayscale(1) (uint8, truncated) then (x * f32(1/255) - 0.5) / 0.25 in float32.
    # Tolerance: 1e-6.
    img = random_image(17, 19, seed=71)
    out, _ = run_one(run_gpuaug, tmp_path, [{"grayscale": {}},
                                            {"normalize": {"mean": [0.5], "std": [0.25]}}], img)
    ref = (to_float32(rgb_to_grayscale_u8(img)) - F32(0.5)) / F32(0.25)
    assert out.shape == (17, 19, 1)
    np.testing.assert_allclose(out[..., 0], ref, rtol=0, atol=1e-6)


def test_to_dtype(run_gpuaug, tmp_path):
    # Oracles (each exact):
    #  float32: x * float32(1/255) (torchvision's mul_(1 / 255); differs from x / 255 in the
    #           last bit for some x, which this test also shows the engine avoids);
    #  float16: numpy's round-to-nearest-even float16 of that float32;
    #  bfloat16: round-to-nearest-even of the float32 bits (written as uint16 bit patterns,
    #           numpy having no bfloat16);
    #  uint8 after float32: trunc(x * 255.999) gives back the input.
    img = np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None].repeat(3, axis=2)
    img[..., 1] = img[..., 1][::-1]
    f32, _ = run_one(run_gpuaug, tmp_path, [{"to_dtype": {"dtype": "float32"}}], img, name="f32")
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32, to_float32(img))
    assert not np.array_equal(to_float32(img), img.astype(F32) / F32(255))  # trap 7 is real
    f16, _ = run_one(run_gpuaug, tmp_path, [{"to_dtype": {"dtype": "float16"}}], img, name="f16")
    assert f16.dtype == np.float16
    np.testing.assert_array_equal(f16, to_float32(img).astype(np.float16))
    bf, _ = run_one(run_gpuaug, tmp_path, [{"to_dtype": {"dtype": "bfloat16"}}], img, name="bf")
    assert bf.dtype == np.uint16 and bf.shape == img.shape
    np.testing.assert_array_equal(bf, bfloat16_bits(to_float32(img)))
    back, _ = run_one(run_gpuaug, tmp_path, [{"to_dtype": {"dtype": "float32"}},
                                             {"to_dtype": {"dtype": "uint8"}}], img, name="u8")
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, img)


def test_to_dtype_uint8_clamps_after_normalize(run_gpuaug, tmp_path):
    # Oracle: trunc(clamp(x, 0, 1) * f32(255.999)) (gpuaug clamps where torchvision wraps;
    # documented in to_dtype.h). Tolerance: exact.
    img = random_image(17, 19, seed=72)
    out, _ = run_one(run_gpuaug, tmp_path, [{"normalize": {"mean": [0.25] * 3, "std": [0.5] * 3}},
                                            {"to_dtype": {"dtype": "uint8"}}], img)
    x = (to_float32(img) - F32(0.25)) / F32(0.5)
    np.testing.assert_array_equal(out, (np.clip(x, 0, 1) * F32(255.999)).astype(np.uint8))


# --- gaussian_noise -------------------------------------------------------------------------

@pytest.mark.parametrize("mean,sigma", [(0.0, 0.1), (0.05, 0.02)])
def test_gaussian_noise_statistics(run_gpuaug, tmp_path, mean, sigma):
    # Oracle: the normal distribution N(mean, sigma) per element (gpuaug draws from Philox, so
    # parity with torch.randn is in distribution only). Flat mid-gray 64x64x3 (12288 values,
    # input 128 * f32(1/255)), far from the clip bounds. Tolerances: |mean - m| < 5 standard
    # errors (5 sigma / sqrt(n)); |std - sigma| < 5 sigma / sqrt(2n); fraction within one
    # sigma 0.6827 +- 0.02 (4.7 standard errors); channel correlations |r| < 0.05 (5.5 s.e.).
    img = np.full((64, 64, 3), 128, np.uint8)
    out, rec = run_one(run_gpuaug, tmp_path, [{"gaussian_noise": {"mean": mean, "sigma": sigma}}],
                       img)
    e = rec["ops"][0]
    assert (e["mean"], e["sigma"], e["clip"]) == (pytest.approx(mean), pytest.approx(sigma), True)
    assert out.dtype == np.float32
    noise = out.astype(np.float64) - float(to_float32(np.uint8(128)))
    n = noise.size
    assert abs(noise.mean() - mean) < 5 * sigma / math.sqrt(n)
    assert abs(noise.std() - sigma) < 5 * sigma / math.sqrt(2 * n)
    assert abs((np.abs(noise - mean) < sigma).mean() - 0.6827) < 0.02
    corr = np.corrcoef(noise.reshape(-1, 3).T)
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.05


def test_gaussian_noise_clip(run_gpuaug, tmp_path):
    # Oracle: clip=True keeps [0, 1] (torch.clamp) and, with sigma 1, many values sit exactly
    # on 0 and 1; clip=False leaves values outside. Copies differ (fresh noise per sample).
    img = np.full((32, 32, 3), 128, np.uint8)
    res = augment(run_gpuaug, tmp_path, [{"gaussian_noise": {"sigma": 1.0}}], {"a.png": img},
                  copies=2, name="clip")
    outs = [res.array(r) for r in res.records]
    for out in outs:
        assert out.min() == 0.0 and out.max() == 1.0
        assert (out == 0).mean() > 0.2 and (out == 1).mean() > 0.2
    assert not np.array_equal(outs[0], outs[1])
    out, _ = run_one(run_gpuaug, tmp_path, [{"gaussian_noise": {"sigma": 1.0, "clip": False}}],
                     img, name="noclip")
    assert out.min() < -0.5 and out.max() > 1.5


# --- gaussian_blur --------------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    dict(kernel_size=3), dict(kernel_size=5), dict(kernel_size=9, sigma=[0.1, 3.0]),
    dict(kernel_size=[3, 7], sigma=[0.5, 3.0]), dict(kernel_size=[7, 1], sigma=1.5),
    dict(kernel_size=1),
], ids=lambda p: str(p["kernel_size"]) + "-" + str(p.get("sigma", "default")))
@pytest.mark.parametrize("hw", [(23, 31), (17, 19)])
def test_gaussian_blur_vs_float64(run_gpuaug, tmp_path, params, hw):
    # Oracle: oracles.gaussian_blur_reference: torchvision's _get_gaussian_kernel1d (softmax of
    # -(x / sigma)^2 on linspace(+-(k-1)/(2 sqrt 2))), kernel_size [kx, ky] with kx along the
    # width, reflect padding (edge not repeated), float64, round half to even. Recorded sigma
    # within the range. Tolerance: within 1, at most 0.5% of values off by 1 (gpuaug: two
    # float32 passes; torchvision: one 2-D float32 conv; both within float error of float64).
    img = mixed_image(*hw, seed=73)
    res = augment(run_gpuaug, tmp_path, [{"gaussian_blur": params}], {"a.png": img}, copies=3)
    sig = params.get("sigma", [0.1, 2.0])
    lo, hi = (sig, sig) if np.isscalar(sig) else sig
    ks = params["kernel_size"]
    for rec in res.records:
        e = rec["ops"][0]
        assert e["kernel_size"] == ([ks, ks] if np.isscalar(ks) else ks)
        assert e["sigma"][0] == e["sigma"][1] and lo <= e["sigma"][0] <= hi
        d = np.abs(res.array(rec).astype(int)
                   - round_u8(gaussian_blur_reference(img, e["kernel_size"], e["sigma"])))
        assert d.max() <= 1 and (d > 0).mean() <= 0.005


def test_gaussian_blur_float_domain(run_gpuaug, tmp_path):
    # Oracle: the float64 reference on x * f32(1/255) (after to_dtype float32): no rounding.
    # Tolerance: 1e-5 absolute (float32 sums of <= 9 taps).
    img = mixed_image(23, 31, seed=74)
    out, rec = run_one(run_gpuaug, tmp_path, [{"to_dtype": {"dtype": "float32"}},
                                              {"gaussian_blur": {"kernel_size": 5}}], img)
    e = rec["ops"][1]
    ref = gaussian_blur_reference(to_float32(img), e["kernel_size"], e["sigma"])
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


# --- random_erasing -------------------------------------------------------------------------

def _erased_reference(img: np.ndarray, e: dict, value) -> np.ndarray:
    ref = img.copy()
    ref[e["i"]:e["i"] + e["h"], e["j"]:e["j"] + e["w"]] = value
    return ref


@pytest.mark.parametrize("value,stored", [
    (0, [0, 0, 0]),
    ([10, 20, 30.7], [10, 20, 30]),   # uint8 assignment truncates
    (300, [255, 255, 255]),           # and gpuaug clamps (documented)
])
def test_random_erasing_uint8(run_gpuaug, tmp_path, value, stored):
    # Oracle: numpy: the recorded rectangle [i:i+h, j:j+w] set to the value (truncated to
    # uint8), everything else the input. Rectangles: h < H, w < W, area within scale and
    # h / w within ratio up to the rounding of h and w (torchvision's make_params).
    # Tolerance: exact.
    H, W = 45, 60
    img = mixed_image(H, W, seed=75)
    res = augment(run_gpuaug, tmp_path, [{"random_erasing": {"p": 1.0, "value": value}}],
                  {"a.png": img}, copies=6)
    for rec in res.records:
        e = rec["ops"][0]
        h, w = e["h"], e["w"]
        assert 0 < h < H and 0 < w < W and 0 <= e["i"] <= H - h and 0 <= e["j"] <= W - w
        assert (h - 0.5) * (w - 0.5) / (H * W) <= 0.33 and (h + 0.5) * (w + 0.5) / (H * W) >= 0.02
        assert (h - 0.5) / (w + 0.5) <= 3.3 and (h + 0.5) / (w - 0.5) >= 0.3
        np.testing.assert_array_equal(res.array(rec), _erased_reference(img, e, stored))


def test_random_erasing_float_p_and_fail(run_gpuaug, tmp_path):
    # Oracle: (1) after to_dtype(float32) the rectangle holds the float value 0.25 exactly and
    # the rest x * f32(1/255); (2) p=0: applied false and nothing changes; (3) ratio 3..3.3 at
    # scale 0.9..1 cannot fit a 40x40 image in 10 tries: nothing erased, h = w = 0 recorded.
    # Tolerance: exact.
    img = mixed_image(40, 40, seed=76)
    res = augment(run_gpuaug, tmp_path, [{"to_dtype": {"dtype": "float32"}},
                                         {"random_erasing": {"p": 1.0, "value": 0.25}}],
                  {"a.png": img}, copies=3, name="float")
    for rec in res.records:
        e = rec["ops"][1]
        np.testing.assert_array_equal(res.array(rec),
                                      _erased_reference(to_float32(img), e, F32(0.25)))
    out, rec = run_one(run_gpuaug, tmp_path, [{"random_erasing": {"p": 0.0}}], img, name="p0")
    assert rec["ops"][0]["applied"] is False
    np.testing.assert_array_equal(out, img)
    out, rec = run_one(run_gpuaug, tmp_path, [{"random_erasing": {
        "p": 1.0, "scale": [0.9, 1.0], "ratio": [3.0, 3.3]}}], img, name="nofit")
    assert rec["ops"][0]["h"] == 0 and rec["ops"][0]["w"] == 0
    np.testing.assert_array_equal(out, img)


def test_random_erasing_random_value(run_gpuaug, tmp_path):
    # Oracle: value "random" changes only the recorded rectangle (numpy mask); inside, values
    # vary (noise, not a constant) and about half are 0 (clamp(trunc(n * 255)) of a standard
    # normal n: P(n < 1/255) ~ 0.5; tolerance 0.5 +- 0.15 over >= 200 values).
    img = np.full((40, 50, 3), 100, np.uint8)
    res = augment(run_gpuaug, tmp_path, [{"random_erasing": {
        "p": 1.0, "value": "random", "scale": [0.2, 0.3]}}], {"a.png": img}, copies=3)
    for rec in res.records:
        e = rec["ops"][0]
        out = res.array(rec)
        mask = np.zeros(img.shape[:2], bool)
        mask[e["i"]:e["i"] + e["h"], e["j"]:e["j"] + e["w"]] = True
        np.testing.assert_array_equal(out[~mask], img[~mask])
        inside = out[mask]
        assert inside.size >= 200 and len(np.unique(inside)) > 20
        assert abs((inside == 0).mean() - 0.5) < 0.15


# --- pca_lighting ---------------------------------------------------------------------------

IMAGENET_EIGVAL = np.array([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])


def test_pca_lighting_vs_numpy(run_gpuaug, tmp_path):
    # Oracle: fb.resnet.torch's Lighting in numpy: offset = eigvec @ (alpha * eigval) (float64),
    # out = x * f32(1/255) + f32(offset) in float32, with the recorded alpha. Tolerance: offsets
    # 1e-12, pixels 1e-6 (float32 on both sides). alpha ~ N(0, alphastd): over 64 draws the
    # sample std lies within 30% of alphastd and the mean within 4 standard errors of 0.
    img = random_image(21, 17, seed=90)
    res = augment(run_gpuaug, tmp_path, [{"pca_lighting": {"alphastd": 0.4}}], {"a.png": img}, copies=64)
    alphas = []
    for rec in res.records:
        e = rec["ops"][0]
        alpha = np.array(e["alpha"])
        offset = IMAGENET_EIGVEC @ (alpha * IMAGENET_EIGVAL)
        np.testing.assert_allclose(e["offset"], offset, rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.array(rec), to_float32(img) + offset.astype(F32), rtol=0, atol=1e-6)
        alphas.append(alpha)
    alphas = np.array(alphas)
    assert abs(alphas.std() / 0.4 - 1) < 0.3
    assert abs(alphas.mean()) < 4 * 0.4 / math.sqrt(alphas.size)


def test_pca_lighting_from_a_stats_file(run_gpuaug, tmp_path, tmp_images):
    # Oracle: the stats file's PCA: scale sqrt(eigenvalue k), component k = eigenvectors row k;
    # offset = sum_k row_k * alpha_k * sqrt(lambda_k). Tolerance 1e-12. A missing file names it.
    tmp_images({"x.png": mixed_image(40, 50, seed=91), "y.png": random_image(30, 30, seed=92)}, subdir="stats_in")
    stats = tmp_path / "stats.json"
    run_gpuaug("stats", "--input", tmp_path / "stats_in", "--output", stats, "--quiet")
    pca = __import__("json").loads(stats.read_text())["pca"]
    vectors, values = np.array(pca["eigenvectors"]), np.sqrt(np.maximum(pca["eigenvalues"], 0))
    res = augment(run_gpuaug, tmp_path, [{"pca_lighting": {"alphastd": 0.3, "stats": str(stats)}}],
                  {"a.png": random_image(9, 9, seed=93)}, copies=3)
    for rec in res.records:
        e = rec["ops"][0]
        np.testing.assert_allclose(e["offset"], vectors.T @ (np.array(e["alpha"]) * values), rtol=0, atol=1e-12)
    proc = run_gpuaug("augment", "--spec", _spec_file(tmp_path, "missing.json"), "--input", tmp_path / "stats_in",
                      "--output", tmp_path / "o2", check=False)
    assert proc.returncode == 1 and "missing.json" in proc.stderr and "stats" in proc.stderr, proc.stderr


def _spec_file(tmp_path, stats_name):
    path = tmp_path / "bad_stats.yaml"
    path.write_text(f"ops:\n  - pca_lighting: {{stats: {tmp_path / stats_name}}}\n")
    return path
