"""The Python Pipeline under DDP: torchrun starts one process per GPU (two CPU processes where
there are fewer than two GPUs, gloo instead of NCCL), each initialises torch.distributed and
iterates its shard for three epochs (examples/ddp_check.py). The shards are disjoint and
complete (padded to equal lengths as DistributedSampler pads), every rank has the same number of
batches, every sample's bytes equal those of a one-process run, and host (and GPU) memory stays
flat from epoch to epoch. Needs torch (the GPU machine; skipped in CI)."""
from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness import mixed_image, smooth_image

torch = pytest.importorskip("torch")

DATASET = 37  # not a multiple of the ranks: the shards are padded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                             "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}


def test_ddp_shards_are_disjoint_and_samples_equal_one_process(tmp_images, tmp_path, repo_root):
    gpus = torch.cuda.device_count()
    ranks, device = (gpus, "cuda") if gpus >= 2 else (2, "cpu")
    tmp_images({f"c{i % 3}/im{i:02d}.{'jpg' if i % 2 else 'png'}":
                (mixed_image if i % 3 else smooth_image)(48 + i % 5, 64 + i % 7, seed=i) for i in range(DATASET)},
               quality=90)
    script = repo_root / "examples" / "ddp_check.py"
    args = ["--source", tmp_path / "images", "--device", device, "--epochs", "3", "--batch", "4", "--size", "24"]
    one = tmp_path / "one.json"
    subprocess.run([sys.executable, script, *args, "--out", one], check=True, env=_env(), timeout=300)
    many = tmp_path / "many.json"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks),
                           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), script, *args,
                           "--out", many], env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single, report = json.loads(one.read_text()), json.loads(many.read_text())
    assert report["dataset"] == DATASET and len(report["ranks"]) == ranks
    assert [r["rank"] for r in report["ranks"]] == list(range(ranks))
    assert all(r["world_size"] == ranks for r in report["ranks"])
    per_rank = -(-DATASET // ranks)
    for epoch in range(3):
        reference = dict(single["ranks"][0]["epochs"][epoch]["samples"])
        assert sorted(reference) == list(range(DATASET))
        shards = [r["epochs"][epoch] for r in report["ranks"]]
        assert {len(s["samples"]) for s in shards} == {per_rank}, "shards of unequal length"
        assert len({s["batches"] for s in shards}) == 1 and shards[0]["batches"] == shards[0]["len"]
        seen = collections.Counter(i for s in shards for i, _ in s["samples"])
        assert set(seen) == set(range(DATASET)), "a sample no rank saw"
        assert sum(seen.values()) - DATASET == ranks * per_rank - DATASET, "overlap beyond the padding"
        for s in shards:
            for index, digest in s["samples"]:
                assert digest == reference[index], f"epoch {epoch}: sample {index} differs from one process's"
        # A new permutation each epoch.
        if epoch:
            assert [i for i, _ in report["ranks"][0]["epochs"][epoch]["samples"]] != \
                   [i for i, _ in report["ranks"][0]["epochs"][epoch - 1]["samples"]]
    for r in report["ranks"]:
        second, last = r["epochs"][1], r["epochs"][-1]
        assert last["rss"] <= second["rss"] * 1.02, f"rank {r['rank']}: host memory grew"
        if device == "cuda":
            assert last["gpu_used"] <= second["gpu_used"] * 1.02, f"rank {r['rank']}: GPU memory grew"
