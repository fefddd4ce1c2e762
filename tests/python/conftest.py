"""Fixtures shared by the Python oracle tests: the gpuaug binary, a runner, image files."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 600


class GpuaugFailed(subprocess.CalledProcessError):
    """A gpuaug run that exited non-zero; its message carries the command's output."""

    def __str__(self) -> str:
        return (
            f"{subprocess.list2cmdline(self.cmd)} exited with {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The committed sample photos, class-per-folder (data/samples/README.md)."""
    return REPO_ROOT / "data" / "samples"


@pytest.fixture(scope="session")
def demo_spec() -> Path:
    return REPO_ROOT / "data" / "demo.yaml"


@pytest.fixture(scope="session")
def gpuaug_bin() -> Path:
    """The gpuaug binary: $GPUAUG_BIN, else build/gpuaug, else `gpuaug` on PATH."""
    env = os.environ.get("GPUAUG_BIN")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"GPUAUG_BIN={env} is not an executable file")
        return path.absolute()
    built = REPO_ROOT / "build" / "gpuaug"
    if built.is_file() and os.access(built, os.X_OK):
        return built
    on_path = shutil.which("gpuaug")
    if on_path:
        return Path(on_path)
    pytest.skip("no gpuaug binary: set GPUAUG_BIN, or run bash scripts/setup.sh")


@pytest.fixture(scope="session")
def run_gpuaug(gpuaug_bin: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """run_gpuaug("augment", "--spec", spec, ..., check=True) -> CompletedProcess (text).

    Arguments are turned into strings; keyword arguments go to subprocess.run (cwd, env,
    input, timeout). With check=True a non-zero exit raises GpuaugFailed, whose message
    holds stdout and stderr.
    """

    def run(*args: object, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess:
        cmd = [str(gpuaug_bin), *(str(a) for a in args)]
        kwargs.setdefault("timeout", RUN_TIMEOUT_S)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
        if check and proc.returncode != 0:
            raise GpuaugFailed(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    return run


def _to_pil(array: np.ndarray) -> Image.Image:
    """uint8 HxW, HxWx1, HxWx3 or HxWx4, or uint16 HxW (16-bit grayscale PNG)."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == np.uint16 and array.ndim == 2:
        return Image.fromarray(array)  # mode I;16
    if array.dtype != np.uint8:
        raise TypeError(f"tmp_images: want uint8 (or uint16 HxW), got {array.dtype}")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        return Image.fromarray(array)  # mode L, RGB or RGBA
    raise ValueError(f"tmp_images: unsupported shape {array.shape}")


@pytest.fixture
def tmp_images(tmp_path: Path) -> Callable[..., list[Path]]:
    """Writes numpy arrays as image files with Pillow and returns their paths.

        tmp_images({"cat/a.jpg": rgb, "dog/b.png": gray})   # names pick folder and format
        tmp_images([img0, img1], ext="jpg", quality=90)     # img_000.jpg, img_001.jpg
        tmp_images({"x.jpg": rgb}, exif=exif_bytes, subsampling=0)

    Files go under tmp_path/<subdir> (default "images"); names may hold sub-folders
    (class-per-folder trees). JPEG quality defaults to 95; other keywords go to
    PIL.Image.save.
    """

    def make(
        images: Mapping[str, np.ndarray] | Sequence[np.ndarray],
        *,
        ext: str = "png",
        subdir: str = "images",
        quality: int = 95,
        **save_kwargs: object,
    ) -> list[Path]:
        if not isinstance(images, Mapping):
            images = {f"img_{i:03d}.{ext.lstrip('.')}": a for i, a in enumerate(images)}
        root = tmp_path / subdir
        paths = []
        for name, array in images.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            image = _to_pil(array)
            kwargs = dict(save_kwargs)
            if path.suffix.lower() in (".jpg", ".jpeg"):
                kwargs.setdefault("quality", quality)
            image.save(path, **kwargs)
            paths.append(path)
        return paths

    return make


@pytest.fixture(scope="session")
def has_gpu() -> bool:
    """True when `nvidia-smi -L` runs and lists a GPU."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        proc = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "GPU" in proc.stdout
