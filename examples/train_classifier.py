"""Train a ResNet with gpuaug or torchvision feeding it: the seed's loop done right.

The data: patches cut from scikit-image's bundled photos, one class a photo (or a class-per-folder
tree given with --data). The same augmentations either way: RandomResizedCrop, horizontal flip,
colour jitter, float, normalize; the validation set resized and centre-cropped. One flag picks
the input pipeline:

    python3 examples/train_classifier.py --loader gpuaug        # gpuaug.Pipeline(device="cuda")
    python3 examples/train_classifier.py --loader torchvision   # DataLoader + transforms.v2
    python3 examples/train_classifier.py --loader both          # one after the other

Prints, for each: the input pipeline's images/s alone, the training loop's images/s, the share
of the loop spent waiting for data (`--model resnet50 --batch 256 --crop 224 --size 256` is the
ResNet-50 case) (1 - that is how busy the GPU was kept; torch.cuda.utilization
as well where pynvml is installed), and the validation accuracy. Needs torch and torchvision.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "horse",
          "camera", "moon", "coins")


def make_dataset(root: Path, per_class: int, size: int, seed: int) -> Path:
    """root/{train,val}/<photo>/<n>.jpg: random patches of each bundled photo (gray ones made RGB)."""
    import numpy as np
    import skimage.data
    from PIL import Image

    rng = np.random.default_rng(seed)
    made = 0
    for name in PHOTOS:
        try:
            photo = getattr(skimage.data, name)()
        except Exception:  # noqa: BLE001 - a photo that needs a download is left out
            continue
        if photo.ndim == 2:
            photo = np.stack([photo] * 3, axis=-1)
        photo = photo[..., :3].astype(np.uint8)
        h, w = photo.shape[:2]
        for split, count in (("train", per_class), ("val", max(per_class // 4, 8))):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                side = int(rng.integers(size, min(h, w) // 2))
                y, x = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
                Image.fromarray(photo[y:y + side, x:x + side]).resize((size, size)).save(folder / f"{i}.jpg", quality=90)
        made += 1
    if made < 2:
        sys.exit("fewer than two of scikit-image's photos are available: give --data DIR")
    return root


def gpuaug_loaders(data: Path, batch: int, crop: int, size: int):
    import gpuaug
    from gpuaug import ops

    train = gpuaug.Pipeline([ops.RandomResizedCrop(size=crop, scale=(0.35, 1.0)), ops.HorizontalFlip(),
                             ops.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
                             ops.ToDtype(dtype="float32"), ops.Normalize(mean=MEAN, std=STD)],
                            data / "train", batch_size=batch, device="cuda", seed=0, as_torch=True)
    val = gpuaug.Pipeline([ops.Resize(size=size), ops.CenterCrop(size=crop), ops.ToDtype(dtype="float32"),
                           ops.Normalize(mean=MEAN, std=STD)],
                          data / "val", batch_size=batch, device="cuda", shuffle=False, as_torch=True)

    def epoch(pipe, e):
        import torch
        pipe.set_epoch(e)
        for images, labels, _ in pipe:
            yield images, torch.from_numpy(labels).cuda(non_blocking=True)
    return (lambda e: epoch(train, e)), (lambda: epoch(val, 0)), len(train.classes)


def torchvision_loaders(data: Path, batch: int, crop: int, size: int, workers: int):
    import torch
    import torchvision
    from torchvision.transforms import v2

    train_t = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(crop, scale=(0.35, 1.0), antialias=True),
                          v2.RandomHorizontalFlip(), v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
                          v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])
    val_t = v2.Compose([v2.PILToTensor(), v2.Resize(size, antialias=True), v2.CenterCrop(crop),
                        v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])
    train_set = torchvision.datasets.ImageFolder(str(data / "train"), transform=train_t)
    val_set = torchvision.datasets.ImageFolder(str(data / "val"), transform=val_t)
    kw = dict(batch_size=batch, num_workers=workers, pin_memory=True, persistent_workers=workers > 0)
    train = torch.utils.data.DataLoader(train_set, shuffle=True, **kw)
    val = torch.utils.data.DataLoader(val_set, shuffle=False, **kw)

    def epoch(loader):
        for images, labels in loader:
            yield images.cuda(non_blocking=True), labels.cuda(non_blocking=True)
    return (lambda e: epoch(train)), (lambda: epoch(val)), len(train_set.classes)


def run(name: str, loaders, epochs: int, arch: str) -> dict:
    import torch
    import torchvision

    train_epoch, val_epoch, classes = loaders
    # The input pipeline alone, one epoch.
    start, seen = time.perf_counter(), 0
    for images, _ in train_epoch(0):
        seen += images.shape[0]
    torch.cuda.synchronize()
    input_rate = seen / (time.perf_counter() - start)

    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=classes).cuda().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    loss_fn = torch.nn.CrossEntropyLoss()
    waited = seen = 0.0
    util = []
    start = time.perf_counter()
    for e in range(epochs):
        model.train()
        batches = train_epoch(e + 1)
        while True:
            # Each step ends with the GPU done (synchronize below), so the time in next() is the
            # loop waiting for data alone: the loaders make batches ahead on their own threads.
            t = time.perf_counter()
            try:
                images, labels = next(batches)
            except StopIteration:
                break
            waited += time.perf_counter() - t
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = loss_fn(model(images.contiguous(memory_format=torch.channels_last)), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            torch.cuda.synchronize()
            seen += images.shape[0]
            try:
                util.append(torch.cuda.utilization())
            except Exception:  # noqa: BLE001 - pynvml not installed
                pass
        scheduler.step()
    torch.cuda.synchronize()
    loop = time.perf_counter() - start
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in val_epoch():
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.numel()
    return {"loader": name, "input images/s": input_rate, "training images/s": seen / loop,
            "waiting for data": waited / loop, "GPU utilization": sum(util) / len(util) if util else None,
            "accuracy": correct / max(total, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loader", choices=("gpuaug", "torchvision", "both"), default="both")
    ap.add_argument("--data", type=Path, help="a tree with train/<class>/ and val/<class>/ (default: made)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--per-class", type=int, default=400, help="training patches per photo when made")
    ap.add_argument("--size", type=int, default=72, help="side of the made patches and of the val resize")
    ap.add_argument("--crop", type=int, default=64)
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--model", default="resnet18", help="a torchvision.models ResNet: resnet18, resnet50, ...")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    with tempfile.TemporaryDirectory(prefix="gpuaug-example-") as tmp:
        data = args.data or make_dataset(Path(tmp), args.per_class, args.size, seed=0)
        results = []
        if args.loader in ("gpuaug", "both"):
            results.append(run("gpuaug", gpuaug_loaders(data, args.batch, args.crop, args.size), args.epochs,
                               args.model))
        if args.loader in ("torchvision", "both"):
            results.append(run(f"torchvision ({args.workers} workers)",
                               torchvision_loaders(data, args.batch, args.crop, args.size, args.workers), args.epochs,
                               args.model))
    print(f"\n{torch.cuda.get_device_name()} | {args.model} | {args.epochs} epochs | batch {args.batch} | "
          f"{args.crop}x{args.crop} crops\n")
    print("| loader | input images/s | training images/s | waiting for data | GPU utilization | accuracy |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        util = "—" if r["GPU utilization"] is None else f"{r['GPU utilization']:.0f}%"
        print(f"| {r['loader']} | {r['input images/s']:,.0f} | {r['training images/s']:,.0f} | "
              f"{100 * r['waiting for data']:.0f}% | {util} | {100 * r['accuracy']:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
