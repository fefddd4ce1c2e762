"""Many processes under mpirun (Open MPI, CPU): stats and augment give the same files as one
process, work goes to the ranks in chunks on demand (every rank takes some) or, without MPI, in
static shares without overlap, interrupted runs resume to the same files, and a failing rank ends
every rank."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import time
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import mixed_image, tree_hash, write_spec

RANKS = 4


@pytest.fixture(scope="module")
def mpirun(gpuaug_bin: Path) -> list[str]:
    if shutil.which("mpirun") is None:
        pytest.skip("no mpirun (Debian: apt-get install openmpi-bin)")
    info = subprocess.run([str(gpuaug_bin), "info"], capture_output=True, text=True, check=True).stdout
    if "MPI yes" not in info:
        pytest.skip("this gpuaug was built without MPI")
    # --oversubscribe: more ranks than CI's 2 cores; root allowed in CI containers.
    return ["mpirun", "-np", str(RANKS), "--oversubscribe"]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none", OMPI_MCA_rmaps_base_oversubscribe="1")
    for key in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "MASTER_ADDR", "MASTER_PORT", "GPUAUG_PORT"):
        env.pop(key, None)
    return env


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, env=_env(), **kw)


@pytest.fixture
def dataset(tmp_images, tmp_path) -> Path:
    tmp_images({f"c{i % 3}/img_{i:02d}.{'jpg' if i % 2 else 'png'}": mixed_image(40 + i, 56, seed=i)
                for i in range(21)}, quality=90)
    return tmp_path / "images"


def test_stats_equal_one_process(gpuaug_bin, mpirun, tmp_path, dataset):
    one, many = tmp_path / "one.json", tmp_path / "many.json"
    _run([gpuaug_bin, "stats", "--input", dataset, "--output", one, "--quiet"], check=True)
    proc = _run([*mpirun, gpuaug_bin, "stats", "--input", dataset, "--output", many, "--threads", 1, "--quiet"])
    assert proc.returncode == 0, proc.stderr
    assert many.read_bytes() == one.read_bytes()
    assert not list(tmp_path.glob("*.journal*"))


def test_stats_windows_go_to_every_rank(gpuaug_bin, mpirun, tmp_path, tmp_images):
    """Claims of windows (64 images each) are taken on demand by whichever rank asks next (how
    many each takes depends on timing); the file is byte-identical to one process whatever the
    split, and the shares add up to every image."""
    tmp_images({f"img_{i:03d}.png": mixed_image(8 + i % 5, 8, seed=i) for i in range(300)})
    one, many = tmp_path / "one.json", tmp_path / "many.json"
    _run([gpuaug_bin, "stats", "--input", tmp_path / "images", "--output", one, "--quiet"], check=True)
    proc = _run([*mpirun, gpuaug_bin, "stats", "--input", tmp_path / "images", "--output", many, "--threads", 1])
    assert proc.returncode == 0, proc.stderr
    assert many.read_bytes() == one.read_bytes()
    shares = re.findall(r"rank (\d+) cpu 1 threads (\d+) images \(", proc.stderr)
    assert sorted(int(r) for r, _ in shares) == list(range(RANKS)), proc.stderr
    assert sum(int(n) for _, n in shares) == 300


def test_augment_equal_one_process_and_split(gpuaug_bin, mpirun, tmp_path, dataset):
    spec = write_spec(tmp_path / "spec.yaml", [{"random_resized_crop": {"size": [24, 24]}},
                                              {"horizontal_flip": {}}], seed=3)
    args = ["augment", "--spec", spec, "--input", dataset, "--copies", 2, "--threads", 1, "--quiet"]
    _run([gpuaug_bin, *args, "--output", tmp_path / "one", "--record", tmp_path / "one.jsonl"], check=True)
    proc = _run([*mpirun, gpuaug_bin, *args, "--output", tmp_path / "many", "--record", tmp_path / "many.jsonl"])
    assert proc.returncode == 0, proc.stderr
    assert tree_hash(tmp_path / "many") == tree_hash(tmp_path / "one")
    assert (tmp_path / "many.jsonl").read_text() == (tmp_path / "one.jsonl").read_text()
    assert len(tree_hash(tmp_path / "many")) == 21 * 2
    # On demand: the summary lists every rank's share, and the shares add up to every item.
    proc = _run([*mpirun, gpuaug_bin, *[a for a in args if a != "--quiet"], "--output", tmp_path / "again"])
    assert proc.returncode == 0, proc.stderr
    shares = re.findall(r"rank (\d+) cpu 1 threads (\d+) \(", proc.stderr)
    assert sorted(int(r) for r, _ in shares) == list(range(RANKS)), proc.stderr
    assert sum(int(n) for _, n in shares) == 21 * 2
    assert tree_hash(tmp_path / "again") == tree_hash(tmp_path / "one")
    # Without MPI (torchrun's variables) rank r writes exactly the images with index % RANKS == r,
    # as in the whole run: one rank launched alone (no MPI needed without --record) makes its part.
    one = tree_hash(tmp_path / "one")
    images = sorted(str(p.relative_to(dataset)) for p in dataset.rglob("*") if p.is_file())
    for rank in range(RANKS):
        env = {**_env(), "RANK": str(rank), "WORLD_SIZE": str(RANKS)}
        subprocess.run([str(gpuaug_bin), *map(str, args), "--output", str(tmp_path / f"rank{rank}")],
                       capture_output=True, text=True, env=env, timeout=60, check=True)
        part = tree_hash(tmp_path / f"rank{rank}")
        mine = {Path(images[i]).with_suffix("").as_posix() for i in range(len(images)) if i % RANKS == rank}
        assert {name.rsplit("-", 1)[0] for name in part} == mine
        assert all(one[name] == digest for name, digest in part.items())
    # A record needs the ranks' lines gathered: without mpirun that is refused, clearly.
    proc = subprocess.run([str(gpuaug_bin), *map(str, args), "--output", str(tmp_path / "x"), "--record",
                           str(tmp_path / "x.jsonl")], capture_output=True, text=True,
                          env={**_env(), "RANK": "1", "WORLD_SIZE": str(RANKS)}, timeout=60)
    assert proc.returncode == 1 and "mpirun" in proc.stderr


@pytest.mark.parametrize("job", ["augment", "reduce-shards"])
def test_interrupted_under_mpirun_resumes_to_the_same_files(gpuaug_bin, mpirun, tmp_path, tmp_images, job):
    """SIGTERM to mpirun reaches every rank, which stops between items with whole outputs; a
    resumed run skips what any rank's journal holds and ends with the uninterrupted run's files."""
    side = 240 if job == "augment" else 480
    tmp_images({f"c{i % 3}/img_{i:03d}.{'jpg' if i % 2 else 'png'}": mixed_image(side + i, side * 4 // 3, seed=i)
                for i in range(40)}, quality=90)
    dataset = tmp_path / "images"
    if job == "augment":
        # Heavy enough per item (a 320x320 output, a 15-tap blur) that the signal lands mid-run.
        spec = write_spec(tmp_path / "spec.yaml", [{"random_resized_crop": {"size": [320, 320]}},
                                                  {"gaussian_blur": {"kernel_size": 15, "sigma": [2.0, 3.0]}}],
                          seed=7)
        args = ["augment", "--spec", spec, "--input", dataset, "--copies", 3]
        outputs = lambda out: ["--output", out, "--record", out / "params.jsonl"]
    else:
        args = ["reduce", "--input", dataset, "--scale", 0.9, "--format", "png", "--shards", 9]
        outputs = lambda out: ["--output", out]
    args += ["--threads", 1, "--quiet"]
    start = time.monotonic()
    _run([*mpirun, gpuaug_bin, *args, *outputs(tmp_path / "one")], check=True)
    full_s = time.monotonic() - start
    out, rng = tmp_path / "stopped", random.Random(5)
    resume: list[str] = []
    stopped = 0
    for _ in range(3):
        proc = subprocess.Popen([*mpirun, str(gpuaug_bin), *map(str, args), *map(str, outputs(out)), *resume],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        time.sleep(rng.uniform(0.3, 0.8) * full_s)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        if proc.returncode == 0:
            break
        stopped += 1
        resume = ["--resume"]
    assert stopped > 0, "every run finished before its signal: nothing was resumed"
    _run([*mpirun, gpuaug_bin, *args, *outputs(out), *resume], check=True)
    assert tree_hash(out) == tree_hash(tmp_path / "one")
    assert not [p for p in out.rglob("*") if ".gpuaug-tmp-" in p.name or ".journal" in p.name]


def test_failing_rank_ends_every_rank(gpuaug_bin, mpirun, tmp_path, dataset):
    victim = sorted(p for p in dataset.rglob("*.jpg"))[0]
    victim.write_bytes(victim.read_bytes()[:150])  # truncated: one rank raises
    spec = write_spec(tmp_path / "spec.yaml", [{"resize": {"size": 16}}])
    proc = _run([*mpirun, gpuaug_bin, "augment", "--spec", spec, "--input", dataset, "--output", tmp_path / "out",
                 "--threads", 1, "--quiet"])
    assert proc.returncode != 0
    assert victim.name in proc.stderr
    proc = _run([*mpirun, gpuaug_bin, "stats", "--input", dataset, "--output", tmp_path / "s.json",
                 "--on-error", "raise", "--threads", 1, "--quiet"])
    assert proc.returncode != 0 and victim.name in proc.stderr
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("layout", [[], ["--shards", 5]], ids=["tree", "shards"])
def test_reduce_equal_one_process(gpuaug_bin, mpirun, tmp_path, dataset, layout):
    """Windows (a mirror tree) or whole shards (--shards N) go to the ranks on demand; rank 0
    writes index.json from everybody's entries: the output folder equals one process's, byte
    for byte."""
    args = ["reduce", "--input", dataset, "--max-side", 20, "--format", "png", *layout, "--quiet"]
    _run([gpuaug_bin, *args, "--output", tmp_path / "one"], check=True)
    proc = _run([*mpirun, gpuaug_bin, *args, "--output", tmp_path / "many", "--threads", 1])
    assert proc.returncode == 0, proc.stderr
    assert tree_hash(tmp_path / "many") == tree_hash(tmp_path / "one")
    assert not list((tmp_path / "many").glob(".gpuaug-reduce.journal*"))
    # --shard-size cuts shards where sizes add up in input order: one process writes them.
    proc = _run([*mpirun, gpuaug_bin, "reduce", "--input", dataset, "--max-side", 20, "--shard-size", "10kB",
                 "--output", tmp_path / "sized", "--quiet"])
    assert proc.returncode != 0 and "use --shards N across processes" in proc.stderr
    assert not (tmp_path / "sized").exists()


def test_clean_equal_one_process(gpuaug_bin, mpirun, tmp_path, dataset, repo_root):
    """Files are analysed by whichever rank takes their chunk; rank 0 finds the groups, writes
    the report and quarantines: the same report and the same moves as one process."""
    subprocess.run([sys.executable, repo_root / "tests" / "data" / "make_dirty_dataset.py", tmp_path / "dirty"],
                   check=True, capture_output=True, timeout=120)
    images = tmp_path / "dirty" / "images"
    for name in ("one", "many"):
        shutil.copytree(images, tmp_path / f"images_{name}", symlinks=True)
    _run([gpuaug_bin, "clean", "--input", tmp_path / "images_one", "--report", tmp_path / "one.json",
          "--csv", tmp_path / "one.csv", "--quarantine", tmp_path / "q_one", "--quiet"], check=True)
    proc = _run([*mpirun, gpuaug_bin, "clean", "--input", tmp_path / "images_many", "--report", tmp_path / "many.json",
                 "--csv", tmp_path / "many.csv", "--quarantine", tmp_path / "q_many", "--threads", 1, "--quiet"])
    assert proc.returncode == 0, proc.stderr
    one, many = json.loads((tmp_path / "one.json").read_text()), json.loads((tmp_path / "many.json").read_text())
    for report in (one, many):
        report.pop("input"), report["options"].pop("quarantine")
    assert many == one and one["findings"]
    assert (tmp_path / "many.csv").read_text() == (tmp_path / "one.csv").read_text()
    assert tree_hash(tmp_path / "images_many") == tree_hash(tmp_path / "images_one")
    moved = lambda q: sorted(p.relative_to(q).as_posix() for p in q.rglob("*") if p.is_file() and
                             p.name != "gpuaug-quarantine.jsonl")
    assert moved(tmp_path / "q_many") == moved(tmp_path / "q_one") and moved(tmp_path / "q_one")
    assert not list(tmp_path.glob("*.journal*"))


def test_jobs_that_combine_refuse_several_processes_without_mpi(gpuaug_bin, tmp_path, dataset):
    """reduce, clean and stats need rank 0 to gather everybody's part: launched as several
    processes without MPI and without a rendezvous (RANK and WORLD_SIZE alone) they refuse,
    saying to use mpirun or set MASTER_ADDR and MASTER_PORT, and write nothing (with them:
    test_rendezvous.py)."""
    env = {**_env(), "RANK": "1", "WORLD_SIZE": "2"}
    for args in (["reduce", "--input", dataset, "--output", tmp_path / "r", "--max-side", 16],
                 ["clean", "--input", dataset, "--report", tmp_path / "c.json"],
                 ["stats", "--input", dataset, "--output", tmp_path / "s.json"]):
        proc = subprocess.run([str(gpuaug_bin), *map(str, args), "--quiet"], capture_output=True, text=True,
                              env=env, timeout=60)
        assert proc.returncode == 1 and "launch with mpirun" in proc.stderr, proc.stderr
        assert "MASTER_ADDR and MASTER_PORT" in proc.stderr, proc.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "c.json").exists() and not (tmp_path / "s.json").exists()


def test_bench_compare_adds_the_processes_row(gpuaug_bin, mpirun, tmp_path, dataset):
    spec = write_spec(tmp_path / "spec.yaml", [{"random_resized_crop": {"size": [24, 24]}}], seed=3)
    proc = _run([*mpirun, gpuaug_bin, "bench", "--compare", "--spec", spec, "--input", dataset, "--iters", 1,
                 "--warmup", 0, "--output", tmp_path / "cmp"])
    assert proc.returncode == 0, proc.stderr
    # Rank 0 alone prints the table: one processes row, the efficiency against one process of
    # the same threads, and the goal's ratio in the notes.
    assert proc.stdout.count("| run |") == 1, proc.stdout
    # Each process gets its share of the cores (1 on CI's 2 cores, 4 on 16).
    assert re.search(rf"^\| {RANKS} processes x \d+ threads \(mpirun\) \|", proc.stdout, re.M), proc.stdout
    assert f"{RANKS} processes = " in proc.stdout and "(goal: 0.9)" in proc.stdout
    rows = (tmp_path / "cmp" / "compare.csv").read_text().splitlines()
    processes = [r for r in rows if r.startswith(f'"{RANKS} processes') and ",cpu," in r]
    assert len(processes) == 1
    assert float(processes[0].split(",")[6]) > 0  # efficiency
    # Where rank 0 sees a GPU, every process also runs on one GPU (its local rank's), in a row of its own.
    on_gpus = [r for r in rows if r.startswith(f'"{RANKS} processes') and ",cuda," in r]
    assert len(on_gpus) == (1 if "cuda:0 end to end" in proc.stdout else 0), rows


@pytest.mark.parametrize("output", ["npy", "png"])
def test_tile_across_ranks_equals_one_process(gpuaug_bin, mpirun, tmp_path, tmp_images, output):
    """`tile` under mpirun: every rank takes tiles on demand, rank 0 stitches what all computed
    into the bytes one process writes; the summary lists every rank's share of the tiles."""
    (source,) = tmp_images({"big.jpg": mixed_image(203, 311, seed=5)}, quality=90)
    spec = write_spec(tmp_path / "tile.yaml", [{"rotate": {"degrees": 20, "interpolation": "bilinear"}},
                                               {"gaussian_blur": {"kernel_size": 5, "sigma": 1.2}},
                                               {"gaussian_noise": {"sigma": 0.05}}, {"normalize": {}}], seed=4)
    one, many = tmp_path / f"one.{output}", tmp_path / f"many.{output}"
    _run([gpuaug_bin, "tile", "--spec", spec, "--input", source, "--output", one, "--tile", 0, "--quiet"], check=True)
    proc = _run([*mpirun, gpuaug_bin, "tile", "--spec", spec, "--input", source, "--output", many, "--tile", 23,
                 "--threads", 1])
    assert proc.returncode == 0, proc.stderr
    assert many.read_bytes() == one.read_bytes()
    assert proc.stderr.count("output in 126 tiles") == 1, proc.stderr  # rank 0 alone prints
    shares = re.findall(r"rank (\d) cpu 1 threads (\d+)", proc.stderr)
    assert sorted(int(r) for r, _ in shares) == list(range(RANKS)), proc.stderr
    assert sum(int(n) for _, n in shares) == 126, proc.stderr
    assert not list(tmp_path.glob("*gpuaug-tmp*"))
