"""The training loop's input pipeline alone, from Python, all systems in one run on one
machine: gpuaug.Pipeline on the CPU and on the GPU (batches left in GPU memory, handed to torch
without a copy; one batch at a time, and two at once, the default lanes=2) against torch's DataLoader with N workers of Pillow + torchvision.transforms.v2
(pinned, then copied to the GPU). The RN50 training chain: RandomResizedCrop 224, horizontal
flip, float, normalize; the batch ends on the GPU as float16 (N, 3, 224, 224) in every system.

Usage: python3 bench/python_loader.py [--images 8192] [--corpus DIR] [--workers 16] [--epochs 2]
[--lanes 1,2]. Prints a markdown table (issue 5's goal: gpuaug on the GPU >= 20x the DataLoader).
The DataLoader hands each worker whole batches: give at least 2 x workers x batch images (8192
for 16 workers of 256), or some workers idle every epoch and its rate reads low."""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SPEC = {"seed": 0, "ops": [{"random_resized_crop": {"size": 224}}, {"horizontal_flip": {}},
                           {"to_dtype": {"dtype": "float16"}}, {"normalize": {"mean": MEAN, "std": STD}}]}


def rate(run_epoch, images: int, epochs: int) -> float:
    import torch
    run_epoch(0)  # warm-up: threads, workers, GPU decoders, allocations
    torch.cuda.synchronize()
    start = time.perf_counter()
    for e in range(1, epochs + 1):
        run_epoch(e)
    torch.cuda.synchronize()
    return images * epochs / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8192)
    ap.add_argument("--corpus", default="/tmp/gpuaug-loader-jpegs")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 16)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lanes", default="1,2", help="lanes of the cuda rows, comma-separated")
    args = ap.parse_args()
    import torch
    import torchvision
    from torchvision.transforms import v2
    from PIL import Image

    import gpuaug

    corpus = Path(args.corpus)
    if not corpus.is_dir() or len(list(corpus.glob("*.jpg"))) < args.images:
        subprocess.run([sys.executable, HERE / "make_jpegs.py", corpus, str(args.images)], check=True)
    paths = sorted(corpus.glob("*.jpg"))[: args.images]
    dev = torch.device("cuda")
    rows = []

    for device, lanes in [("cpu", 1)] + [("cuda", int(n)) for n in args.lanes.split(",")]:
        pipe = gpuaug.Pipeline(SPEC, [str(p) for p in paths], batch_size=args.batch, device=device, lanes=lanes)

        def run_gpuaug(epoch, pipe=pipe, device=device):
            pipe.set_epoch(epoch)
            for images, labels, _ in pipe:
                x = torch.from_dlpack(images)
                if device == "cpu":
                    x = x.pin_memory().to(dev, non_blocking=True)
                assert x.is_cuda and x.dtype == torch.float16
        name = (f"gpuaug.Pipeline(device='cuda', lanes={lanes}): GPU decode + CPU threads, GPU chain, no copy"
                if device == "cuda" else f"gpuaug.Pipeline(device='cpu'), {os.cpu_count()} threads, then copied to the GPU")
        rows.append((name, rate(run_gpuaug, len(paths), args.epochs)))

    class Files(torch.utils.data.Dataset):
        def __init__(self):
            self.paths = paths
            self.t = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip(),
                                 v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])

        def __len__(self):
            return len(self.paths)

        def __getitem__(self, i):
            with open(self.paths[i], "rb") as f:
                return self.t(Image.open(io.BytesIO(f.read())).convert("RGB"))
    loader = torch.utils.data.DataLoader(Files(), batch_size=args.batch, num_workers=args.workers, pin_memory=True,
                                         persistent_workers=True, shuffle=True)

    def run_loader(epoch):
        for b in loader:
            b.to(dev, non_blocking=True).half()
    rows.append((f"DataLoader, {args.workers} workers: Pillow + torchvision v2, pinned, copied", rate(run_loader, len(paths),
                                                                                                     args.epochs)))
    base = rows[-1][1]
    print(f"\n{torch.cuda.get_device_name()} | torch {torch.__version__} | torchvision {torchvision.__version__} | "
          f"gpuaug {gpuaug.__version__} | {len(paths)} JPEGs from make_jpegs.py | batch {args.batch} | "
          f"{args.epochs} timed epochs after one warm-up\n")
    print("| input pipeline | images/s | vs DataLoader |\n|---|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r:,.0f} | {r / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
