"""Several processes launched as torchrun launches them (RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) without MPI: they meet over TCP at rank 0
(dist/tcp_communicator.h), take work on demand and give the same files as one process; a rank
that dies ends every rank, with no hang, and --resume finishes the job; a missing rank or a bad
port is an error that names the address or the variable."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import mixed_image, tree_hash, write_spec

RANKS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single() -> dict[str, str]:
    """The environment of one process: no launcher's variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_", "SLURM_")) and
            k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                      "GPUAUG_PORT")}


def _env(rank: int, port: int, **extra: str) -> dict[str, str]:
    """torchrun's variables for `rank`; gpuaug listens on MASTER_PORT + 1, here `port`."""
    return {**_single(), "RANK": str(rank), "WORLD_SIZE": str(RANKS), "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(RANKS), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port - 1), **extra}


def _launch(gpuaug_bin: Path, args: list, ranks=range(RANKS), **extra: str) -> list[subprocess.Popen]:
    port = _free_port()
    return [subprocess.Popen([str(gpuaug_bin), *map(str, args)], env=_env(r, port, **extra), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in ranks]


def _finish(procs: list[subprocess.Popen], timeout: float = 120) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, stdout, stderr))
    return out


def _run_all(gpuaug_bin: Path, args: list) -> list[tuple[int, str, str]]:
    results = _finish(_launch(gpuaug_bin, args))
    for rank, (code, _, stderr) in enumerate(results):
        assert code == 0, f"rank {rank}: {stderr}"
    return results


@pytest.fixture
def dataset(tmp_images, tmp_path) -> Path:
    tmp_images({f"c{i % 3}/img_{i:02d}.{'jpg' if i % 2 else 'png'}": mixed_image(40 + i, 56, seed=i)
                for i in range(21)}, quality=90)
    return tmp_path / "images"


def test_stats_equal_one_process(gpuaug_bin, tmp_path, dataset):
    subprocess.run([str(gpuaug_bin), "stats", "--input", dataset, "--output", tmp_path / "one.json", "--quiet"],
                   check=True, env=_single())
    results = _run_all(gpuaug_bin, ["stats", "--input", dataset, "--output", tmp_path / "many.json",
                                    "--threads", 1])
    assert (tmp_path / "many.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    # Rank 0 alone prints the summary, naming every rank's share.
    assert [bool(stderr.strip()) for _, _, stderr in results] == [True, False, False]
    assert sorted(re.findall(r"rank (\d) cpu", results[0][2])) == ["0", "1", "2"], results[0][2]


def test_augment_with_record_equal_one_process(gpuaug_bin, tmp_path, dataset):
    spec = write_spec(tmp_path / "s.yaml", [{"random_resized_crop": {"size": [24, 24]}},
                                            {"horizontal_flip": {}}], seed=7)
    args = ["augment", "--spec", spec, "--input", dataset, "--copies", 3, "--threads", 1, "--quiet"]
    subprocess.run([str(gpuaug_bin), *map(str, args), "--output", tmp_path / "one", "--record",
                    tmp_path / "one.jsonl"], check=True, env=_single())
    _run_all(gpuaug_bin, [*args, "--output", tmp_path / "many", "--record", tmp_path / "many.jsonl"])
    assert tree_hash(tmp_path / "many") == tree_hash(tmp_path / "one")
    assert (tmp_path / "many.jsonl").read_text() == (tmp_path / "one.jsonl").read_text()


@pytest.mark.parametrize("layout", ["tree", "shards"])
def test_reduce_equal_one_process(gpuaug_bin, tmp_path, dataset, layout):
    args = ["reduce", "--input", dataset, "--max-side", 24, "--quiet",
            *(["--shards", 4] if layout == "shards" else [])]
    subprocess.run([str(gpuaug_bin), *map(str, args), "--output", tmp_path / "one"], check=True,
                   env=_single())
    _run_all(gpuaug_bin, [*args, "--output", tmp_path / "many", "--threads", 1])
    assert tree_hash(tmp_path / "many") == tree_hash(tmp_path / "one")


def test_clean_and_tile_equal_one_process(gpuaug_bin, tmp_path, dataset, tmp_images):
    shutil.copy(dataset / "c0" / "img_00.png", dataset / "c1" / "copy_of_00.png")  # an exact duplicate
    subprocess.run([str(gpuaug_bin), "clean", "--input", dataset, "--report", tmp_path / "one.json", "--quiet"],
                   check=True, env=_single())
    _run_all(gpuaug_bin, ["clean", "--input", dataset, "--report", tmp_path / "many.json", "--threads", 1,
                          "--quiet"])
    one, many = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "many"))
    assert many == one and any("duplicate" in json.dumps(f) for f in one["findings"])

    (source,) = tmp_images({"big.png": mixed_image(97, 131, seed=5)})
    spec = write_spec(tmp_path / "t.yaml", [{"rotate": {"degrees": 15, "interpolation": "bilinear"}},
                                            {"gaussian_blur": {"kernel_size": 5, "sigma": 1.0}}], seed=2)
    subprocess.run([str(gpuaug_bin), "tile", "--spec", spec, "--input", source, "--output", tmp_path / "one.png",
                    "--tile", "0", "--quiet"], check=True, env=_single())
    results = _run_all(gpuaug_bin, ["tile", "--spec", spec, "--input", source, "--output", tmp_path / "many.png",
                                    "--tile", 16, "--threads", 1])
    assert (tmp_path / "many.png").read_bytes() == (tmp_path / "one.png").read_bytes()
    assert sum(int(n) for n in re.findall(r"rank \d cpu 1 threads (\d+)", results[0][2])) == 63, results[0][2]


def test_a_rank_that_dies_ends_every_rank_and_resume_finishes(gpuaug_bin, tmp_path, dataset):
    """kill -9 of one rank mid-job: rank 0, which serves the work counter, sees its connection
    drop without a goodbye and ends; the others fail at their next message. Nobody hangs, and the
    same launch with --resume gives the files of an uninterrupted run."""
    spec = write_spec(tmp_path / "s.yaml", [{"random_resized_crop": {"size": [32, 32]}},
                                            {"gaussian_blur": {"kernel_size": 9, "sigma": 2.0}}], seed=1)
    args = ["augment", "--spec", spec, "--input", dataset, "--copies", 400, "--threads", 1, "--format", "npy",
            "--quiet"]
    subprocess.run([str(gpuaug_bin), *map(str, args), "--output", tmp_path / "one"], check=True,
                   env=_single())
    procs = _launch(gpuaug_bin, [*args, "--output", tmp_path / "many"])
    out = tmp_path / "many"
    deadline = time.monotonic() + 60
    while len(list(out.glob("**/*.npy"))) < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    procs[2].send_signal(signal.SIGKILL)
    results = _finish(procs, timeout=60)
    assert results[2][0] == -signal.SIGKILL
    assert results[0][0] == 1 and "rank 2 ended before the job did" in results[0][2], results[0][2]
    assert results[1][0] == 1 and "rank 0" in results[1][2], results[1][2]
    written = len(list(out.glob("**/*.npy")))
    assert 0 < written < 21 * 400, written
    _run_all(gpuaug_bin, [*args, "--output", out, "--resume"])
    assert tree_hash(out) == tree_hash(tmp_path / "one")


def test_missing_rank_and_bad_port_are_errors(gpuaug_bin, tmp_path, dataset):
    args = ["stats", "--input", dataset, "--output", tmp_path / "s.json", "--quiet"]
    results = _finish(_launch(gpuaug_bin, args, ranks=[0, 1], GPUAUG_CONNECT_TIMEOUT="1"), timeout=60)
    assert results[0][0] == 1 and "127.0.0.1:" in results[0][2] and "2 of 4 connections" in results[0][2], \
        results[0][2]
    assert results[1][0] == 1, results[1][2]
    assert not (tmp_path / "s.json").exists()
    env = {**_env(1, 1), "MASTER_PORT": "http"}
    proc = subprocess.run([str(gpuaug_bin), *map(str, args)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "MASTER_PORT='http'" in proc.stderr, proc.stderr
    env = {**_env(1, 1), "GPUAUG_PORT": "70000"}
    proc = subprocess.run([str(gpuaug_bin), *map(str, args)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "GPUAUG_PORT='70000'" in proc.stderr and "1..65535" in proc.stderr, proc.stderr


@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("command", ["stats", "augment", "tile"])
def test_one_ctrl_c_ends_the_wait_for_the_other_ranks(gpuaug_bin, tmp_path, dataset, command, rank):
    """A rank waiting for the others (rank 0 listening, another rank connecting) ends at the first
    SIGINT, as a job does: exit 130 and the stop's message, not after GPUAUG_CONNECT_TIMEOUT."""
    image = sorted(dataset.rglob("*.png"))[0]
    spec = write_spec(tmp_path / "s.yaml", [{"resize": {"size": [16, 16]}}])
    args = {"stats": ["stats", "--input", dataset, "--output", tmp_path / "s.json"],
            "augment": ["augment", "--spec", spec, "--input", dataset, "--output", tmp_path / "out"],
            "tile": ["tile", "--spec", spec, "--input", image, "--output", tmp_path / "t.png"]}[command]
    (proc,) = _launch(gpuaug_bin, [*args, "--quiet"], ranks=[rank], GPUAUG_CONNECT_TIMEOUT="120")
    time.sleep(1.0)
    assert proc.poll() is None, proc.communicate()
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - start < 5, stderr
    assert proc.returncode == 130 and "stopped by SIGINT" in stderr, (proc.returncode, stderr)
    assert not list(tmp_path.rglob("*gpuaug-tmp*"))


def test_a_listener_that_is_not_rank_0_is_refused_within_the_timeout(gpuaug_bin, tmp_path, dataset):
    # Another program holds the port and accepts: rank 1 used to take it for rank 0 and wait in
    # recv for as long as it held the connection, whatever GPUAUG_CONNECT_TIMEOUT said.
    port = _free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        args = ["stats", "--input", dataset, "--output", tmp_path / "s.json", "--quiet"]
        env = _env(1, port, GPUAUG_CONNECT_TIMEOUT="2")
        start = time.monotonic()
        proc = subprocess.run([str(gpuaug_bin), *map(str, args)], env=env, capture_output=True, text=True,
                              timeout=60)
    assert time.monotonic() - start < 15
    assert proc.returncode == 1 and "did not answer as gpuaug's rank 0" in proc.stderr, proc.stderr


def test_sigterm_ends_a_rank_waiting_on_a_stuck_rank_0(gpuaug_bin, tmp_path, dataset):
    # Rank 0 stopped (SIGSTOP) mid-job: the other ranks wait in recv; the first SIGTERM ends them
    # (exit 143, the stop's message) instead of being ignored until a second one kills them.
    args = ["stats", "--input", dataset, "--output", tmp_path / "s.json", "--quiet"]
    procs = _launch(gpuaug_bin, args, ranks=[0, 1])
    try:
        time.sleep(1.0)
        os.kill(procs[0].pid, signal.SIGSTOP)
        time.sleep(0.5)
        if procs[1].poll() is not None:
            pytest.skip("the job ended before rank 0 was stopped")
        start = time.monotonic()
        procs[1].send_signal(signal.SIGTERM)
        _, stderr = procs[1].communicate(timeout=30)
        assert time.monotonic() - start < 5, stderr
        assert procs[1].returncode == 143 and "stopped by SIGTERM" in stderr, (procs[1].returncode, stderr)
    finally:
        os.kill(procs[0].pid, signal.SIGCONT)
        procs[0].kill()
        procs[0].communicate()
