"""The Python Pipeline under DDP, one process per GPU (or per CPU share without GPUs): each rank
iterates its shard for some epochs, as a training loop would, and rank 0 writes what every rank
saw: per epoch and rank the dataset indices in order with a hash of each sample's bytes, the
batch count, and host and GPU memory after each epoch. tests/python/test_ddp.py launches it with
torchrun and checks the shards and samples against a one-process run.

    torchrun --nproc-per-node 4 examples/ddp_check.py --source DIR --out ddp.json --device cuda
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os

import torch
import torch.distributed as dist

import gpuaug
from gpuaug import ops


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    chain = [ops.RandomResizedCrop(size=args.size, scale=(0.3, 1.0)), ops.HorizontalFlip(),
             ops.ColorJitter(brightness=0.3, saturation=0.3), ops.ToDtype(dtype="float32"), ops.Normalize()]
    pipe = gpuaug.Pipeline(chain, args.source, batch_size=args.batch, device=args.device, seed=7,
                           threads=args.threads)  # rank and world size from torch.distributed
    mine = {"rank": pipe.rank, "world_size": pipe.world_size, "epochs": []}
    for epoch in range(args.epochs):
        pipe.set_epoch(epoch)
        seen, batches, total = [], 0, torch.zeros((), device=args.device if cuda else "cpu")
        for images, labels, indices in pipe:
            assert images.device.type == ("cuda" if cuda else "cpu"), images.device
            rows = images.cpu().numpy()
            seen += [[int(i), hashlib.sha256(rows[k].tobytes()).hexdigest()[:16]] for k, i in enumerate(indices)]
            total += images.float().mean()  # a stand-in for the step: the batch is used where it lies
            batches += 1
        if distributed:
            dist.all_reduce(total)  # every rank reaches the end of the epoch together, as DDP's
        entry = {"samples": seen, "batches": batches, "len": len(pipe), "rss": rss_bytes()}
        if cuda:
            free, whole = torch.cuda.mem_get_info()
            entry["gpu_used"] = whole - free
        mine["epochs"].append(entry)
    everybody = [None] * pipe.world_size
    if distributed:
        dist.all_gather_object(everybody, mine)
    else:
        everybody = [mine]
    if pipe.rank == 0:
        with open(args.out, "w") as f:
            json.dump({"device": args.device, "dataset": pipe.dataset_size(), "ranks": everybody}, f)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
