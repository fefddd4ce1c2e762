"""Type stubs of gpuaug.functional, written beside ops.pyi by `python3 -m gpuaug.stubs
python/gpuaug/ops.pyi` from the C++ operator descriptors. Do not edit: rerun that command after
changing an operator."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from .ops import Op

_Layout = Literal["NCHW", "NHWC", "CHW", "HWC"]

FUNCTIONS: dict[str, Callable[..., Any]]

def set_threads(threads: int) -> None: ...
def augment(images: Any, spec: Op | Sequence[Op] | Mapping[str, Any] | str | os.PathLike[str], *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any: ...

def center_crop(images: Any, /, size: int | Sequence[int] = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Crop the centre of the image to `size` (padding with 0 where the image is smaller)."""

def color_jitter(images: Any, /, brightness: float | Sequence[float] = ..., contrast: float | Sequence[float] = ..., saturation: float | Sequence[float] = ..., hue: float | Sequence[float] = ..., p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Randomly change brightness, contrast, saturation and hue, in a random order."""

def gaussian_blur(images: Any, /, kernel_size: int | Sequence[int] = ..., sigma: float | Sequence[float] = ..., p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Blur with a Gaussian kernel of random sigma."""

def gaussian_noise(images: Any, /, mean: float = ..., sigma: float = ..., clip: bool = ..., p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Add Gaussian noise (float images in [0, 1]; uint8 images are converted first)."""

def grayscale(images: Any, /, num_output_channels: int = ..., p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Convert to grayscale (0.2989 R + 0.587 G + 0.114 B); with p < 1, RandomGrayscale."""

def horizontal_flip(images: Any, /, p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Mirror the image left-right with probability p."""

def local_crops(images: Any, /, n: int = ..., size: int | Sequence[int] = ..., scale: Sequence[float] = ..., ratio: Sequence[float] = ..., interpolation: Literal["nearest", "bilinear", "bicubic"] = ..., antialias: bool = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """n random resized crops of one image, each its own output sample."""

def normalize(images: Any, /, mean: Sequence[float] = ..., std: Sequence[float] = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Subtract a per-channel mean and divide by a per-channel std (float images in [0, 1])."""

def pad(images: Any, /, padding: int | Sequence[int] = ..., fill: float | Sequence[float] = ..., padding_mode: Literal["constant", "edge", "reflect", "symmetric"] = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Add borders around the image."""

def pca_lighting(images: Any, /, alphastd: float = ..., eigval: Sequence[float] = ..., eigvec: Sequence[float] = ..., stats: str | None = ..., p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """AlexNet's PCA lighting noise: every pixel shifted by eigvec @ (alpha * eigval), alpha ~ N(0, alphastd)."""

def random_affine(images: Any, /, degrees: float | Sequence[float] = ..., translate: Sequence[float] | None = ..., scale: Sequence[float] | None = ..., shear: float | Sequence[float] | None = ..., interpolation: Literal["nearest", "bilinear", "bicubic"] = ..., fill: float | Sequence[float] = ..., center: Sequence[float] | None = ..., p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Random rotation, translation, scale and shear about the centre."""

def random_crop(images: Any, /, size: int | Sequence[int] = ..., padding: int | Sequence[int] | None = ..., pad_if_needed: bool = ..., fill: float | Sequence[float] = ..., padding_mode: Literal["constant", "edge", "reflect", "symmetric"] = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Crop `size` at a random position, after optional padding."""

def random_erasing(images: Any, /, p: float = ..., scale: Sequence[float] = ..., ratio: Sequence[float] = ..., value: float | Sequence[float] | Literal["random"] = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Erase a random rectangle with a value or with Gaussian noise."""

def random_resized_crop(images: Any, /, size: int | Sequence[int] = ..., scale: Sequence[float] = ..., ratio: Sequence[float] = ..., interpolation: Literal["nearest", "bilinear", "bicubic"] = ..., antialias: bool = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Crop a random area and aspect ratio of the image and resize it to `size`."""

def resize(images: Any, /, size: int | Sequence[int] = ..., interpolation: Literal["nearest", "bilinear", "bicubic"] = ..., max_size: int | None = ..., antialias: bool = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Resize to [height, width], or the shorter side to `size` keeping the aspect ratio."""

def rotate(images: Any, /, degrees: float | Sequence[float] = ..., interpolation: Literal["nearest", "bilinear", "bicubic"] = ..., expand: bool = ..., center: Sequence[float] | None = ..., fill: float | Sequence[float] = ..., p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Rotate by a random angle in `degrees`, counter-clockwise."""

def to_dtype(images: Any, /, dtype: Literal["uint8", "float32", "float16", "bfloat16"] = ..., scale: bool = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Convert to uint8, float32, float16 or bfloat16, scaling 0..255 <-> [0, 1]."""

def vertical_flip(images: Any, /, p: float = ..., *, seed: int | None = ..., epoch: int = ..., indices: Sequence[int] | None = ..., generator: Any = ..., layout: _Layout | None = ...) -> Any:
    """Mirror the image top-bottom with probability p."""
