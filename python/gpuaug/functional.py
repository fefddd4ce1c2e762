"""gpuaug.functional: the operators on images you already hold (numpy arrays, torch tensors on
the CPU or a GPU), one function per operator generated from the C++ descriptors as gpuaug.ops'
classes are, and augment() for a whole chain in one fused pass.

    import numpy as np
    import gpuaug.functional as F
    from gpuaug import ops
    batch = np.zeros((8, 3, 64, 64), np.uint8)                 # (N, C, H, W) or (N, H, W, C)
    crops = F.random_resized_crop(batch, size=32, seed=0)      # (8, 3, 32, 32): a crop per image
    x = F.augment(batch, [ops.RandomResizedCrop(size=32), ops.HorizontalFlip(),
                          ops.ToDtype(dtype="float32"), ops.Normalize()], seed=0, epoch=3)

Image i gets the parameters the Pipeline draws for dataset sample indices[i] (default i) from
(seed, epoch): the same pixels, seed, epoch and indices give the Pipeline's bytes.
"""
from __future__ import annotations

import contextlib
import inspect
import operator
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _gpuaug, ops
from ._gpuaug import Error

__all__ = ["augment", "set_threads", *(d["name"] for d in ops.DESCRIPTORS)]

# Keywords every generated function takes besides the op's parameters (see augment).
_OPTIONS = ("seed", "epoch", "indices", "generator", "layout")

_OPTIONS_DOC = """
Common arguments (as augment's):
    images: uint8 (N, C, H, W) or (N, H, W, C) batch, or a list of (C, H, W) / (H, W, C) images
        of any sizes; numpy, torch (CPU or CUDA) or any DLPack array. 1 channel: gray, 3: RGB.
        Also float images on the [0, 1] scale (float32, float16, bfloat16, float64), computed as
        torchvision computes float tensors; float16 and bfloat16 keep their dtype.
    seed, generator: the draws' seed (an int), or drawn once per call from a
        numpy.random.Generator / torch.Generator; neither: from torch's global generator when
        torch is imported, else numpy's, so torch.manual_seed / np.random.seed repeat a run.
    epoch: the epoch of the draws, as Pipeline.set_epoch.
    indices: image i is dataset sample indices[i] (default i), as in the Pipeline.
    layout: "NCHW" or "NHWC" (a list: "CHW" or "HWC"); None infers it from where the dimension
        of 1 or 3 channels is (gpuaug.Error when both ends could be).
Returns a new array of the same layout on the same device: a torch.Tensor for torch input, a
numpy array for numpy input (bfloat16: the DLPack array), else the DLPack array."""

_state: dict[str, Any] = {"threads": 0, "core": None}
_lock = threading.Lock()


def set_threads(threads: int) -> None:
    """CPU threads a call may use (0, the default: every CPU this process may run on). Set 1 in
    DataLoader workers, which already run one per core."""
    threads = operator.index(threads)
    if threads < 0:
        raise ValueError(f"threads={threads}: must be 0 (all) or more")
    with _lock:
        _state["threads"] = threads
        _state["core"] = None


def _core() -> Any:
    with _lock:
        if _state["core"] is None:
            _state["core"] = _gpuaug.ArrayAugmenter(_state["threads"])
        return _state["core"]


def _error(cause: str) -> Error:
    """gpuaug.Error as the core raises it: no file, stage "functional"."""
    error = Error(f"functional: {cause}")
    error.file, error.stage, error.cause = "", "functional", cause
    return error


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _export(x: Any, what: str) -> Any:
    """What the core reads `x` through. CUDA arrays come as a DLPack capsule asked for the
    legacy default stream (stream=1): the producer makes that stream wait for its writes, and
    the core waits for that stream before reading (plan::DeviceRgbSources). Float images of
    another precision (float16, bfloat16, float64) become float32 here (one copy, on their
    device)."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.dtype != np.float32:
        return x.astype(np.float32)
    if _is_torch(x):
        x = x.detach()  # an image that requires grad is still just pixels here
        if x.is_floating_point() and x.dtype != sys.modules["torch"].float32:
            x = x.float()
        if x.is_cuda:
            import torch
            with torch.cuda.device(x.device):
                return x.__dlpack__(stream=1)
        return x
    device = getattr(x, "__dlpack_device__", None)
    if device is not None and device()[0] == 2:  # kDLCUDA
        return x.__dlpack__(stream=1)
    if hasattr(x, "__dlpack__") or isinstance(x, (memoryview, bytes, bytearray)):
        return x
    raise _error(f"{what} is a {type(x).__name__}: pass a numpy array, a torch tensor or another DLPack "
                 "array of uint8 pixels")


def _float_precision(x: Any) -> str:
    """The precision a float image's result keeps unless to_dtype names another: float16 and
    bfloat16 as they are (as torchvision keeps them); float32 for float32 and float64 (the core
    has no float64 output); "" for anything else."""
    name = str(getattr(x, "dtype", "")).replace("torch.", "")
    return name if name in ("float16", "bfloat16") else ""


def _on_device_of(x: Any) -> Any:
    """For a torch CUDA tensor, torch's device guard: the core selects the tensor's GPU, and
    torch's current device is what it was once the call returns."""
    if _is_torch(x) and x.is_cuda:
        import torch
        return torch.cuda.device(x.device)
    return contextlib.nullcontext()


def _seed(seed: int | None, generator: Any) -> int:
    if seed is not None:
        if generator is not None:
            raise ValueError("seed= and generator= both given: pass one")
        seed = operator.index(seed)
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed={seed}: must be in [0, 2**64)")
        return seed
    torch = sys.modules.get("torch")
    if generator is None:
        if torch is not None:
            return int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64).item())
        return int(np.random.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(0, 2**64, dtype=np.uint64))
    if torch is not None and isinstance(generator, torch.Generator):
        return int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64, generator=generator,
                                 device=generator.device).item())
    raise TypeError(f"generator: expected a numpy.random.Generator or torch.Generator, got "
                    f"{type(generator).__name__}")


def _hand_back(out: Any, like: Any) -> Any:
    """The core's DLPack array as the kind of array the input was (no copy)."""
    if _is_torch(like):
        import torch
        return torch.from_dlpack(out)
    if isinstance(like, np.ndarray):
        try:
            return np.from_dlpack(out)
        except (BufferError, RuntimeError, TypeError):  # bfloat16, which numpy lacks (numpy 2.x: RuntimeError)
            return out
    return out


def augment(images: Any, spec: Any, *, seed: int | None = None, epoch: int = 0,
            indices: Sequence[int] | None = None, generator: Any = None,
            layout: str | None = None) -> Any:
    """Runs a chain over images you hold, in one fused pass, on their device.

    images: a uint8 batch (N, C, H, W) or (N, H, W, C), or a list of (C, H, W) / (H, W, C)
        images of different sizes (their outputs must share a shape: end the chain with a
        fixed-size crop or resize); numpy, torch CPU or CUDA tensors, or any DLPack array. 1
        channel is gray (ops act as torchvision's on 1-channel tensors: saturation and hue leave
        it, the output keeps 1 channel), 3 is RGB. uint8 images are 0..255, as decoded images
        are. Float images on the [0, 1] scale (float32, float16, bfloat16 or float64; CPU
        or CUDA) are computed in float32 as torchvision computes float tensors: resampled values
        are not rounded, colour steps clamp to [0, 1] without truncating, the chain starts in the
        float domain (to_dtype uint8 scales by 255), and fills, given 0..255 as for uint8, are
        scaled by 1/255. The result keeps a float16 or bfloat16 input's dtype (float64 comes back
        float32) unless to_dtype names another. Other dtypes raise gpuaug.Error.
    spec: a list of gpuaug.ops objects (or one), a dict shaped like the YAML, or a YAML/JSON
        path, as Pipeline takes. The spec's `seed` is not used: `seed=` is.
    seed: the seed of the draws (int); None draws one per call from `generator`, else from
        torch's global generator when torch is imported, else numpy's (np.random), so
        torch.manual_seed / np.random.seed make runs repeatable.
    epoch, indices: image i is drawn as dataset sample indices[i] (default i) of that epoch,
        exactly as Pipeline(spec, ..., seed=seed) draws it after set_epoch(epoch).
    generator: a numpy.random.Generator or torch.Generator to draw the seed from (one draw a
        call); not with seed=.
    layout: "NCHW" or "NHWC" (for a list also "CHW" or "HWC"); None infers it from where the
        dimension of 1 or 3 channels is, and raises gpuaug.Error when both ends could be.

    Returns a new array of N rows (n per image with local_crops) in the input's layout (the
    spec's output.layout where it names one), dtype from to_dtype/normalize, on the input's
    device: a torch.Tensor for torch input, a numpy array for numpy input (bfloat16: the
    DLPack array), else the DLPack array (xp.from_dlpack takes it without a copy). CPU input
    runs on the CPU threads (set_threads), CUDA input on its GPU, complete when returned.
    """
    from . import _spec_args  # the package's spec conversion (gpuaug/__init__.py imports this module)

    text, name = _spec_args([spec] if isinstance(spec, ops.Op) else spec)
    batched = not isinstance(images, (list, tuple))
    items = [images] if batched else list(images)
    arrays = [_export(x, "images" if batched else f"image {i}") for i, x in enumerate(items)]
    epoch = operator.index(epoch)
    if not 0 <= epoch < 1 << 64:
        raise ValueError(f"epoch={epoch}: must be in [0, 2**64)")
    index_list = [] if indices is None else [operator.index(i) for i in indices]
    for i in index_list:  # a negative one is the core's to name; a wider one nanobind cannot pass
        if i >= 1 << 63:
            raise _error(f"index {i} is past 2**63 - 1")
    if layout is not None and not isinstance(layout, str):
        raise TypeError(f"layout={layout!r}: expected 'NCHW', 'NHWC' (or 'CHW', 'HWC') or None")
    seed = _seed(seed, generator)
    core = _core()
    try:
        with _on_device_of(items[0] if items else None):
            out = core.run(text, name, seed, epoch, index_list, arrays, batched, layout or "",
                           _float_precision(items[0]) if items else "")
    except TypeError as e:  # an object nanobind cannot read as an array (numpy object arrays)
        raise _error(f"cannot read the images as arrays ({type(items[0]).__name__}): pass uint8 numpy "
                     f"arrays, torch tensors or other DLPack arrays ({e})") from None
    return _hand_back(out, items[0] if items else None)


def _make_function(d: dict[str, Any]) -> Callable[..., Any]:
    name = d["name"]
    cls = ops.BY_NAME[name]
    known = [p["name"] for p in d["params"]]
    clash = set(known) & set(_OPTIONS)
    if clash:
        raise RuntimeError(f"op {name}: parameter {', '.join(sorted(clash))} collides with gpuaug.functional's "
                           "own keywords; rename it in the descriptor")

    # The op's parameters may also come by position, in the descriptor's order, which is
    # torchvision's (F.resize(img, size), RandomResizedCrop(size, scale, ratio)).
    def function(images: Any, /, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(known):
            raise TypeError(f"{name}() takes {len(known)} parameters after the images ({', '.join(known)}), "
                            f"{len(args)} given")
        for key, value in zip(known, args):
            if key in kwargs:
                raise TypeError(f"{name}(): {key} given by position and by name")
            kwargs[key] = value
        options = {k: kwargs.pop(k) for k in _OPTIONS if k in kwargs}
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            raise TypeError(f"{name}(): unknown parameter {', '.join(unknown)} (parameters: "
                            f"{', '.join(known + list(_OPTIONS))})")
        return augment(images, [cls(**kwargs)], **options)

    parameters = [inspect.Parameter("images", inspect.Parameter.POSITIONAL_ONLY, annotation="Any")]
    parameters += [inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default,
                                     annotation=p.annotation)
                   for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    parameters += [p for p in inspect.signature(augment).parameters.values() if p.name in _OPTIONS]
    function.__signature__ = inspect.Signature(parameters, return_annotation="Any")  # type: ignore[attr-defined]
    function.__name__ = function.__qualname__ = name
    function.__module__ = __name__
    function.__doc__ = (f"{cls.__doc__}\n\nApplied per image as augment(images, [ops.{cls.__name__}(...)]) "
                        "applies it; the parameters by name, or by position in the order above.\n"
                        f"{_OPTIONS_DOC}")
    return function


for _d in ops.DESCRIPTORS:
    globals()[_d["name"]] = _make_function(_d)
del _d

# Seen by the stubs (gpuaug/stubs.py) and the tests: the generated functions by op name.
FUNCTIONS: dict[str, Callable[..., Any]] = {d["name"]: globals()[d["name"]] for d in ops.DESCRIPTORS}
