"""Driving `gpuaug augment` from the oracle tests: spec files, test images, outputs and records;
and one check of gpuaug.functional on a GPU against the CPU."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

Op = Mapping[str, Mapping[str, object]]  # {"name": {params}}, one op as the spec lists it


def spec_text(ops: Sequence[Op], *, seed: int = 0, layout: str | None = "HWC",
              dct_scaling: bool = False) -> str:
    """A YAML spec, one op per line (`- name: {json params}`; JSON is YAML's flow subset)."""
    lines = [f"seed: {seed}", f"decode: {{dct_scaling: {'true' if dct_scaling else 'false'}}}"]
    if not ops:
        lines.append("ops: []")
    else:
        lines.append("ops:")
        for op in ops:
            ((name, params),) = op.items()
            lines.append(f"  - {name}: {json.dumps(dict(params))}")
    if layout:
        lines.append(f"output: {{layout: {layout}}}")
    return "\n".join(lines) + "\n"


def write_spec(path: Path, ops: Sequence[Op], **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec_text(ops, **kwargs))
    return path


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path)
    return path


def random_image(h: int, w: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    """Uniform random uint8 pixels: every pixel independent, the hardest case for resampling."""
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def smooth_image(h: int, w: int, seed: int = 0, lo: int = 40, hi: int = 215) -> np.ndarray:
    """Gradients and low-frequency waves in [lo, hi] plus +-3 noise: no filter overshoot clips."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y /= max(h - 1, 1)
    x /= max(w - 1, 1)
    phase = rng.uniform(0, 2 * np.pi, 3)
    chans = [
        0.5 + 0.5 * x,
        0.5 + 0.5 * np.sin(2 * np.pi * (0.8 * x + 0.6 * y) + phase[1]),
        0.5 + 0.25 * np.cos(2 * np.pi * 1.3 * y + phase[2]) + 0.25 * y,
    ]
    img = np.stack([c / max(c.max(), 1e-9) for c in chans], axis=-1)
    img = lo + (hi - lo - 6) * img + 3 + rng.uniform(-3, 3, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def mixed_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Left half random pixels, right half smooth: both kinds of content in one image."""
    img = smooth_image(h, w, seed, lo=0, hi=255)
    img[:, : w // 2] = random_image(h, w // 2, seed + 1)
    return img


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass
class AugmentResult:
    out_dir: Path
    records: list[dict]
    stderr: str
    copies: int = 1
    outputs: dict[str, Path] = field(default_factory=dict)  # relative stem -> file

    def name_of(self, record: Mapping[str, object]) -> str:
        """The output's relative stem for a record: <file without extension>[-<copy>][-c<crop>]."""
        stem = str(Path(str(record["file"])).with_suffix(""))
        if self.copies > 1:
            stem += f"-{record['copy']}"
        if "crop" in record:
            stem += f"-c{record['crop']}"
        return stem

    def array(self, record: Mapping[str, object]) -> np.ndarray:
        return np.load(self.outputs[self.name_of(record)])

    def only(self) -> tuple[np.ndarray, dict]:
        """The single output sample and its record."""
        assert len(self.records) == 1, self.records
        return self.array(self.records[0]), self.records[0]

    def op(self, record: Mapping[str, object], name: str) -> dict:
        """The recorded entry of op `name` (the first one) in a record."""
        for entry in record["ops"]:  # type: ignore[union-attr]
            if entry["op"] == name:
                return entry
        raise KeyError(f"{name} not in {record}")


def augment(
    run_gpuaug: Callable[..., object],
    work: Path,
    ops: Sequence[Op],
    inputs: Mapping[str, np.ndarray] | Path,
    *,
    seed: int = 0,
    layout: str | None = "HWC",
    fmt: str = "npy",
    copies: int = 1,
    epoch: int | None = None,
    threads: int = 2,
    extra: Sequence[object] = (),
    name: str = "run",
) -> AugmentResult:
    """Runs `gpuaug augment` on PNGs written from `inputs` (or on a folder or file) with the ops.

    Everything goes under work/<name>: spec.yaml, in/, out/, rec.jsonl.
    """
    base = work / name
    spec = write_spec(base / "spec.yaml", ops, seed=seed, layout=layout)
    if isinstance(inputs, Path):
        in_path = inputs
    else:
        in_path = base / "in"
        for rel, arr in inputs.items():
            write_png(in_path / rel, arr)
    out = base / "out"
    record = base / "rec.jsonl"
    args: list[object] = ["augment", "--spec", spec, "--input", in_path, "--output", out,
                          "--format", fmt, "--record", record, "--threads", threads, "--quiet"]
    if copies != 1:
        args += ["--copies", copies]
    if epoch is not None:
        args += ["--epoch", epoch]
    proc = run_gpuaug(*args, *extra)
    records = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    outputs = {str(p.relative_to(out).with_suffix("")): p for p in out.rglob(f"*.{fmt}")}
    result = AugmentResult(out, records, proc.stderr, copies, outputs)  # type: ignore[attr-defined]
    assert len(outputs) == len(records), (sorted(outputs), len(records))
    return result


def run_one(run_gpuaug: Callable[..., object], work: Path, ops: Sequence[Op], image: np.ndarray,
            **kwargs: object) -> tuple[np.ndarray, dict]:
    """One PNG image through the ops: (output array, its record)."""
    result = augment(run_gpuaug, work, ops, {"img.png": image}, **kwargs)  # type: ignore[arg-type]
    return result.only()


def check_cuda_equals_cpu(torch: object, host: np.ndarray, chain: Sequence[object], layout: str) -> None:
    """gpuaug.functional on a CUDA copy of a host batch gives the CPU run's bytes on its GPU: the
    whole batch, a strided view (every other row: converted on the GPU) and a list of images."""
    import gpuaug.functional as F

    cpu = F.augment(host, chain, seed=5, epoch=2, layout=layout)
    on_gpu = torch.from_numpy(host).cuda()
    gpu = F.augment(on_gpu, chain, seed=5, epoch=2, layout=layout)
    assert isinstance(gpu, torch.Tensor) and gpu.device == on_gpu.device
    np.testing.assert_array_equal(gpu.cpu().numpy(), cpu)
    view = on_gpu[:, :, ::2] if layout == "NCHW" else on_gpu[:, ::2]
    np.testing.assert_array_equal(F.augment(view, chain, seed=5, layout=layout).cpu().numpy(),
                                  F.augment(view.cpu().numpy(), chain, seed=5, layout=layout))
    listed = F.augment(list(on_gpu), chain, seed=5, epoch=2, layout=layout[1:])
    np.testing.assert_array_equal(listed.cpu().numpy(), cpu)
