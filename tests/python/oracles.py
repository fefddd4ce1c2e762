"""Independent numpy re-implementations of the torchvision.transforms.v2 numerics gpuaug matches.

Written from torchvision's Python sources and torch's kernels as /work/shared/notes/
torchvision-numerics.md describes them, never from gpuaug's code. Geometry is float64 (the
exact value; the tests allow the engine's float32 rounding); colour steps are float32 op for op
as torch evaluates them on a uint8 tensor, with its fused multiply-adds emulated in float64.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

F32 = np.float32


def round_u8(x: np.ndarray) -> np.ndarray:
    """float -> uint8 as torch's round_().to(uint8) after a clamp: half to even."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# --- resize ---------------------------------------------------------------------------------

def _keys_cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    return np.where(
        x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
        np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))


def resize_weights(in_size: int, out_size: int, interp: str, antialias: bool = True) -> np.ndarray:
    """(out_size, in_size) float64 matrix of torchvision's resize along one axis.

    antialias=True: aten's _compute_indices_weights_aa (the same as Pillow's precompute_coeffs):
    support widens with the shrink, taps outside the input dropped and the rest renormalized;
    bicubic a = -0.5. antialias=False: upsample_{bilinear,bicubic}2d with align_corners=False
    (bilinear: source clamped at 0, right tap clamped; bicubic: a = -0.75, indices clamped).
    nearest: Pillow's NEAREST / torch 'nearest-exact', floor(scale * (i + 0.5)).
    """
    s = in_size / out_size
    m = np.zeros((out_size, in_size))
    if interp == "nearest":
        idx = np.minimum(np.floor(s * (np.arange(out_size) + 0.5)).astype(int), in_size - 1)
        m[np.arange(out_size), idx] = 1.0
        return m
    if antialias:
        half = 1.0 if interp == "bilinear" else 2.0
        support = half * s if s >= 1.0 else half
        invscale = 1.0 / s if s >= 1.0 else 1.0
        for i in range(out_size):
            centre = s * (i + 0.5)
            xmin = max(int(centre - support + 0.5), 0)
            xmax = min(int(centre + support + 0.5), in_size)
            taps = np.arange(xmin, xmax)
            arg = (taps - centre + 0.5) * invscale
            if interp == "bilinear":
                w = np.maximum(0.0, 1.0 - np.abs(arg))
            else:
                w = _keys_cubic(arg, -0.5)
            m[i, taps] = w / w.sum()
        return m
    for i in range(out_size):
        src = s * (i + 0.5) - 0.5
        if interp == "bilinear":
            src = max(src, 0.0)
            x0 = int(src)
            x1 = x0 + 1 if x0 < in_size - 1 else x0
            lam = src - x0
            m[i, x0] += 1.0 - lam
            m[i, x1] += lam
        else:
            x0 = math.floor(src)
            t = src - x0
            for k in range(-1, 3):
                m[i, min(max(x0 + k, 0), in_size - 1)] += float(_keys_cubic(np.array(k - t), -0.75))
    return m


def resize_float(img: np.ndarray, out_h: int, out_w: int, interp: str, antialias: bool = True
                 ) -> np.ndarray:
    """HxWxC image resized in float64 (no intermediate rounding or clamping)."""
    wy = resize_weights(img.shape[0], out_h, interp, antialias)
    wx = resize_weights(img.shape[1], out_w, interp, antialias)
    return np.einsum("yi,ijc,xj->yxc", wy, img.astype(np.float64), wx)


def short_side_size(h: int, w: int, size: int) -> tuple[int, int]:
    """torchvision _compute_resized_output_size for one number: short side = size, long side
    truncated."""
    if h <= w:
        return size, int(size * w / h)
    return int(size * h / w), size


# --- rotate / affine ------------------------------------------------------------------------

def inverse_affine_matrix(center: Sequence[float], angle: float, translate: Sequence[float],
                          scale: float, shear: Sequence[float]) -> list[float]:
    """torchvision.transforms.v2.functional._geometry._get_inverse_affine_matrix (inverted)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
    m[2] += cx
    m[5] += cy
    return m


def affine_output_size(matrix: Sequence[float], w: int, h: int) -> tuple[int, int]:
    """torchvision _compute_affine_output_size (expand=True), in float32 as torch: (w, h)."""
    hw, hh = 0.5 * w, 0.5 * h
    pts = np.array([[-hw, -hh, 1.0], [-hw, hh, 1.0], [hw, hh, 1.0], [hw, -hh, 1.0]], dtype=F32)
    theta = np.array(matrix, dtype=F32).reshape(2, 3)
    new = pts @ theta.T
    halfs = np.array([hw, hh], dtype=F32)
    mins, maxs = new.min(axis=0) + halfs, new.max(axis=0) + halfs
    tol = F32(1e-4)
    inv_tol = F32(1.0 / 1e-4)
    cmax = np.ceil(np.trunc(maxs * inv_tol) * tol)
    cmin = np.floor(np.trunc(mins * inv_tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def grid_sample_affine(img: np.ndarray, matrix: Sequence[float], out_w: int, out_h: int,
                       interp: str, fill: Sequence[float]) -> np.ndarray:
    """torchvision _apply_grid_transform(_affine_grid(...)) in float64, before rounding.

    Output pixel (x, y) samples input index coordinates M (x - (ow-1)/2, y - (oh-1)/2, 1) +
    ((W-1)/2, (H-1)/2) (grid_sample, align_corners=False, zero padding). A channel of ones
    sampled alike is the mask: nearest puts `fill` where it is < 0.5, bilinear returns
    mask * (sum - fill) + fill. Nearest rounds the coordinate half to even (nearbyint).
    """
    H, W, C = img.shape
    m = matrix
    y, x = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    xb, yb = x - (out_w - 1) / 2, y - (out_h - 1) / 2
    ix = m[0] * xb + m[1] * yb + m[2] + (W - 1) / 2
    iy = m[3] * xb + m[4] * yb + m[5] + (H - 1) / 2
    src = img.astype(np.float64)
    fill_v = np.asarray(fill, dtype=np.float64).reshape(1, 1, -1) * np.ones((1, 1, C))

    def taps(xi: np.ndarray, yi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
        vals = src[np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)] * inside[..., None]
        return vals, inside.astype(np.float64)

    if interp == "nearest":
        vals, inside = taps(np.rint(ix).astype(int), np.rint(iy).astype(int))
        return np.where(inside[..., None] < 0.5, fill_v, vals)
    x0, y0 = np.floor(ix).astype(int), np.floor(iy).astype(int)
    ax, ay = ix - x0, iy - y0
    total = np.zeros((out_h, out_w, C))
    mask = np.zeros((out_h, out_w))
    for dy, wy in ((0, 1 - ay), (1, ay)):
        for dx, wx in ((0, 1 - ax), (1, ax)):
            vals, inside = taps(x0 + dx, y0 + dy)
            total += (wx * wy)[..., None] * vals
            mask += wx * wy * inside
    return mask[..., None] * (total - fill_v) + fill_v


def rotate_reference(img: np.ndarray, angle: float, interp: str, expand: bool,
                     fill: Sequence[float], center: Sequence[float] | None = None
                     ) -> np.ndarray:
    """torchvision.transforms.v2.functional.rotate (counter-clockwise: the matrix uses -angle)."""
    H, W = img.shape[:2]
    center_f = [0.0, 0.0] if center is None else [center[0] - W * 0.5, center[1] - H * 0.5]
    m = inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = affine_output_size(m, W, H) if expand else (W, H)
    return grid_sample_affine(img, m, ow, oh, interp, fill)


def affine_reference(img: np.ndarray, angle: float, translate: Sequence[float], scale: float,
                     shear: Sequence[float], interp: str, fill: Sequence[float],
                     center: Sequence[float] | None = None) -> np.ndarray:
    """torchvision.transforms.v2.functional.affine (+angle)."""
    H, W = img.shape[:2]
    center_f = [0.0, 0.0] if center is None else [center[0] - W * 0.5, center[1] - H * 0.5]
    m = inverse_affine_matrix(center_f, angle, [float(t) for t in translate], scale, shear)
    return grid_sample_affine(img, m, W, H, interp, fill)


# --- blur -----------------------------------------------------------------------------------

def gaussian_kernel1d(kernel_size: int, sigma: float) -> np.ndarray:
    """torchvision _get_gaussian_kernel1d: softmax(-(x / sigma)^2) over
    x = linspace(-(k-1)/(2 sqrt 2), (k-1)/(2 sqrt 2), k)."""
    lim = (kernel_size - 1) / (2.0 * math.sqrt(2.0))
    x = np.linspace(-lim, lim, kernel_size)
    k = np.exp(-((x / sigma) ** 2))
    return k / k.sum()


def gaussian_blur_reference(img: np.ndarray, kernel_size: Sequence[int], sigma: Sequence[float]
                            ) -> np.ndarray:
    """functional.gaussian_blur in float64: reflect padding (edge not repeated), kx along width."""
    kx, ky = kernel_size
    wx, wy = gaussian_kernel1d(kx, sigma[0]), gaussian_kernel1d(ky, sigma[1])
    px, py = kx // 2, ky // 2
    src = np.pad(img.astype(np.float64), ((py, py), (px, px), (0, 0)), mode="reflect")
    H, W = img.shape[:2]
    rows = sum(wx[j] * src[:, j:j + W] for j in range(kx))
    return sum(wy[i] * rows[i:i + H] for i in range(ky))


# --- colour (float32, as torch on uint8 tensors) --------------------------------------------

def fma32(a: np.ndarray, b: np.ndarray | float, c: np.ndarray) -> np.ndarray:
    """float32 fused multiply-add (torch's Vectorized fmadd behind add_(x, alpha=...)).

    a * b is exact in float64 for float32 a, b; the sum rounds once more to float32 (a double
    rounding that can differ from a true fma only in rare exact-midpoint cases).
    """
    return (np.asarray(a, F32).astype(np.float64) * np.float64(F32(b))
            + np.asarray(c, F32).astype(np.float64)).astype(F32)


def gray32(img: np.ndarray) -> np.ndarray:
    """_rgb_to_grayscale_image: r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114), float32."""
    x = img.astype(F32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    return fma32(b, 0.114, fma32(g, 0.587, r * F32(0.2989)))


def blend_u8(img: np.ndarray, other: np.ndarray | np.float32, ratio: float) -> np.ndarray:
    """_blend on uint8: img.mul(ratio).add_(other, alpha=1 - ratio).clamp_(0, 255), truncated."""
    x = img.astype(F32) * F32(ratio)
    out = fma32(np.broadcast_to(np.asarray(other, F32), x.shape), F32(1.0 - ratio), x)
    return np.clip(out, 0, 255).astype(np.uint8)


def adjust_brightness_u8(img: np.ndarray, f: float) -> np.ndarray:
    return np.clip(img.astype(F32) * F32(f), 0, 255).astype(np.uint8)


def adjust_saturation_u8(img: np.ndarray, f: float) -> np.ndarray:
    return blend_u8(img, np.floor(gray32(img))[..., None], f)


def adjust_contrast_u8(img: np.ndarray, f: float) -> np.ndarray:
    mean = F32(np.floor(gray32(img)).astype(np.float64).mean())
    return blend_u8(img, mean, f)


def rgb_to_grayscale_u8(img: np.ndarray) -> np.ndarray:
    return gray32(img).astype(np.uint8)  # .to(uint8) truncates: white -> 254


def _rgb_to_hsv(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    maxc, minc = img.max(axis=-1), img.min(axis=-1)
    eqc = maxc == minc
    crange = maxc - minc
    ones = np.ones_like(maxc)
    s = crange / np.where(eqc, ones, maxc)
    div = np.where(eqc, ones, crange)
    rc, gc, bc = ((maxc - r) / div), ((maxc - g) / div), ((maxc - b) / div)
    neq_r = maxc != r
    eq_g = maxc == g
    hg = ((rc + F32(2.0)) - bc) * (eq_g & neq_r)
    hr = (bc - gc) * (~neq_r)
    hb = ((gc + F32(4.0)) - rc) * (neq_r & ~eq_g)
    h = (hr + hg) + hb
    h = np.fmod(h * F32(1.0 / 6.0) + F32(1.0), F32(1.0))
    return h.astype(F32), s.astype(F32), maxc


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    h6 = h * F32(6)
    i = np.floor(h6)
    f = h6 - i
    i = i.astype(np.int32) % 6
    sxf = s * f
    one_minus_s = F32(1.0) - s
    q = np.clip((F32(1.0) - sxf) * v, 0, 1)
    t = np.clip((sxf + one_minus_s) * v, 0, 1)
    p = np.clip(one_minus_s * v, 0, 1)
    vpqt = np.stack([v, p, q, t], axis=-1)
    select = np.array([[0, 2, 1, 1, 3, 0], [3, 0, 0, 2, 1, 1], [1, 1, 3, 0, 0, 2]])
    idx = select[:, i]  # (3, ...)
    return np.stack([np.take_along_axis(vpqt, idx[c][..., None], -1)[..., 0] for c in range(3)],
                    axis=-1).astype(F32)


def adjust_hue_u8(img: np.ndarray, f: float) -> np.ndarray:
    """adjust_hue on uint8: to float (x * f32(1/255)), HSV, (h + f) remainder 1, RGB,
    back to uint8 by trunc(x * 255.999)."""
    x = img.astype(F32) * F32(1.0 / 255.0)
    h, s, v = _rgb_to_hsv(x)
    h = (h + F32(f)).astype(F32)
    h = np.mod(h, F32(1.0)).astype(F32)  # torch.remainder: the sign of the divisor
    out = _hsv_to_rgb(h, s, v)
    return (out * F32(255.999)).astype(np.uint8)


def to_float32(img: np.ndarray) -> np.ndarray:
    """to_dtype(float32, scale=True) from uint8: x * float32(1/255) (not x / 255)."""
    return img.astype(F32) * F32(1.0 / 255.0)


def bfloat16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest even (finite inputs)."""
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
