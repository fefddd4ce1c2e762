"""Long jobs killed at random moments (kill -9) or stopped by SIGINT/SIGTERM, then resumed with
--resume: the final outputs equal an uninterrupted run's, and no temporary or half file remains."""
from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import mixed_image, tree_hash, write_spec

N_IMAGES = 48
KILLS = 4


@pytest.fixture
def dataset(tmp_images, tmp_path) -> Path:
    tmp_images({f"c{i % 3}/img_{i:03d}.{'jpg' if i % 2 else 'png'}": mixed_image(240 + i, 320, seed=i)
                for i in range(N_IMAGES)}, quality=90)
    return tmp_path / "images"


def _jobs(dataset: Path, out: Path) -> dict[str, list[str]]:
    spec = write_spec(out.parent / "spec.yaml", [{"random_resized_crop": {"size": [48, 48]}},
                                                 {"color_jitter": {"brightness": 0.3}}], seed=7)
    return {
        "augment": ["augment", "--spec", spec, "--input", dataset, "--output", out, "--copies", 3,
                    "--record", out / "params.jsonl"],
        "reduce-tree": ["reduce", "--input", dataset, "--output", out, "--max-side", 64, "--format", "png"],
        "reduce-shards": ["reduce", "--input", dataset, "--output", out, "--max-side", 48, "--shard-size", "30kB"],
        "stats": ["stats", "--input", dataset, "--output", out / "stats.json"],
    }


def _outputs(out: Path) -> dict[str, str]:
    return tree_hash(out) if out.exists() else {}


def _kill_and_resume(gpuaug_bin: Path, args: list, rng: random.Random, sig: int, full_s: float) -> list[int]:
    """Starts the job, kills it after a random delay, then resumes until it finishes; returns
    the exit codes of the interrupted runs."""
    codes = []
    resume: list[str] = []
    for _ in range(KILLS):
        proc = subprocess.Popen([str(gpuaug_bin), *map(str, args), "--threads", "1", "--quiet", *resume],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.05, 0.7) * full_s)  # mostly mid-run
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        codes.append(proc.returncode)
        if proc.returncode == 0:
            return codes  # finished before the signal
        # 128 + sig: stopped between items; -sig: the signal came before the handlers were set.
        assert proc.returncode in (128 + sig, -sig), err
        if proc.returncode == 128 + sig:
            assert "--resume" in err, err
        resume = ["--resume"]
    subprocess.run([str(gpuaug_bin), *map(str, args), "--threads", "1", "--quiet", *resume], check=True,
                   capture_output=True, timeout=120)
    return codes


@pytest.mark.parametrize("job", ["augment", "reduce-tree", "reduce-shards", "stats"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["kill9", "int", "term"])
def test_interrupted_then_resumed_equals_uninterrupted(gpuaug_bin, tmp_path, dataset, job, sig):
    reference = tmp_path / "reference"
    args = _jobs(dataset, reference)[job]
    start = time.monotonic()
    subprocess.run([str(gpuaug_bin), *map(str, args), "--threads", "1", "--quiet"], check=True,
                   capture_output=True, timeout=120)
    full_s = time.monotonic() - start
    expected = _outputs(reference)
    assert expected

    rng = random.Random(f"{job}-{sig}")
    before = tree_hash(dataset)
    out = tmp_path / "interrupted"
    codes = _kill_and_resume(gpuaug_bin, _jobs(dataset, out)[job], rng, sig, full_s)
    got = _outputs(out)
    if job == "stats":  # the file names the input as given: the same; nothing else may differ
        assert json.loads((out / "stats.json").read_text()) == json.loads((reference / "stats.json").read_text())
        got.pop("stats.json"), expected.pop("stats.json")
    assert got == expected, f"exit codes of the interrupted runs: {codes}"
    assert not [p for p in out.rglob("*") if ".gpuaug-tmp-" in p.name or p.name.endswith(".journal")]
    assert tree_hash(dataset) == before


def test_resume_of_a_finished_job_redoes_nothing_wrong(run_gpuaug, tmp_path, dataset):
    out = tmp_path / "out"
    run_gpuaug("reduce", "--input", dataset, "--output", out, "--max-side", 32, "--quiet")
    first = tree_hash(out)
    run_gpuaug("reduce", "--input", dataset, "--output", out, "--max-side", 32, "--resume", "--quiet")
    assert tree_hash(out) == first


def test_python_iterator_stops_on_sigint_within_a_second(tmp_path, tmp_images):
    """Ctrl-C in a training loop: the batch being made finishes (the GIL is released while
    C++ works) and KeyboardInterrupt is raised at once, not after the epoch."""
    pytest.importorskip("gpuaug")
    tmp_images({f"img_{i:03d}.png": mixed_image(64, 64, seed=i) for i in range(64)})
    script = (
        "import sys, gpuaug\n"
        f"pipe = gpuaug.Pipeline({{'seed': 0, 'ops': [{{'resize': {{'size': [32, 32]}}}}]}}, "
        f"{str(tmp_path / 'images')!r}, batch_size=8, threads=1)\n"
        "epoch = 0\n"
        "while True:\n"
        "    pipe.set_epoch(epoch)\n"
        "    for batch in pipe:\n"
        "        if epoch == 0: print('ready', flush=True); epoch = -1\n"
        "    epoch = max(epoch, 0) + 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"


@pytest.mark.parametrize("size", [(), ("--size", "16")], ids=["sums", "resize"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill9", "int"])
def test_stats_on_gpu_interrupted_then_resumed_equals_the_cpu_run(gpuaug_bin, tmp_path, dataset, sig, size, has_gpu,
                                                                 monkeypatch):
    """stats --device cuda with the GPU summing what the CPU decodes (GPUAUG_STATS_AWAIT_GPU, so
    that it surely does, even on 48 images), or with --size resizing it too: stopped at random
    moments, often while the GPU's thread is inside a batch, then resumed, the file equals the
    CPU run's and nothing is left."""
    if not has_gpu:
        pytest.skip("no GPU")
    monkeypatch.setenv("GPUAUG_STATS_AWAIT_GPU", "1")
    reference = tmp_path / "reference"
    reference.mkdir()
    subprocess.run([str(gpuaug_bin), *map(str, _jobs(dataset, reference)["stats"]), *size, "--quiet"], check=True,
                   capture_output=True, timeout=120)
    timed = tmp_path / "timed"
    timed.mkdir()
    start = time.monotonic()
    subprocess.run([str(gpuaug_bin), *map(str, _jobs(dataset, timed)["stats"]), *size, "--device", "cuda",
                    "--threads", "1", "--quiet"], check=True, capture_output=True, timeout=120)
    full_s = time.monotonic() - start
    assert (timed / "stats.json").read_text() == (reference / "stats.json").read_text()
    out = tmp_path / "interrupted"
    out.mkdir()
    codes = _kill_and_resume(gpuaug_bin, [*_jobs(dataset, out)["stats"], *size, "--device", "cuda"],
                             random.Random(f"gpu-{sig}-{len(size)}"), sig, full_s)
    assert json.loads((out / "stats.json").read_text()) == json.loads((reference / "stats.json").read_text()), codes
    assert not [p for p in out.rglob("*") if ".gpuaug-tmp-" in p.name or p.name.endswith(".journal")]


@pytest.mark.parametrize("size", [(), ("--size", "16")], ids=["sums", "resize"])
def test_stats_on_gpu_stopped_keeps_the_windows_it_finished(gpuaug_bin, tmp_path, tmp_images, size, has_gpu,
                                                            monkeypatch):
    """A GPU run journals each window of 64 as it completes (with --size the GPU's thread does it:
    the claim loops have no part of their own): stopped by SIGINT once the journal holds an entry,
    it leaves those entries, --resume measures only the rest, and the file equals the CPU run's.
    20 windows, so that the stop comes mid-run."""
    if not has_gpu:
        pytest.skip("no GPU")
    monkeypatch.setenv("GPUAUG_STATS_AWAIT_GPU", "1")
    tmp_images({f"img_{i:04d}.jpg": mixed_image(240, 320, seed=i) for i in range(1280)}, quality=90)
    dataset = tmp_path / "images"
    reference = tmp_path / "reference.json"
    subprocess.run([str(gpuaug_bin), "stats", "--input", str(dataset), "--output", str(reference), *size, "--quiet"],
                   check=True, capture_output=True, timeout=120)
    out = tmp_path / "out" / "stats.json"
    journal = Path(f"{out}.journal")
    args = [str(gpuaug_bin), "stats", "--input", str(dataset), "--output", str(out), *size, "--device", "cuda",
            "--threads", "1"]
    proc = subprocess.Popen([*args, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:  # the header and an entry
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err  # stopped mid-run, not finished
    entries = [json.loads(line) for line in journal.read_text().splitlines()[1:] if line.strip()]
    done = sum(1 for e in entries for _ in e["images"])
    assert 0 < done < 1280, done
    resumed = subprocess.run([*args, "--resume"], check=True, capture_output=True, text=True, timeout=120)
    assert re.search(rf"resumed: {done} done before", resumed.stderr), resumed.stderr
    assert json.loads(out.read_text()) == json.loads(reference.read_text())
    assert not journal.exists()


@pytest.mark.parametrize("size", [(), ("--size", "16")], ids=["sums", "resize"])
def test_stats_on_gpu_stopped_before_cuda_is_up_exits(gpuaug_bin, tmp_path, tmp_images, size, has_gpu, monkeypatch):
    """SIGINT right after the start, while CUDA comes up: a GPU worker then is ready only for a
    moment, and claim loops waiting for it (GPUAUG_STATS_AWAIT_GPU) must not miss that and wait
    forever (a hang device call 23 found). The run stops, with the usual exit code."""
    if not has_gpu:
        pytest.skip("no GPU")
    monkeypatch.setenv("GPUAUG_STATS_AWAIT_GPU", "1")
    tmp_images({f"img_{i:03d}.jpg": mixed_image(120, 160, seed=i) for i in range(200)}, quality=90)
    for delay in (0.0, 0.05, 0.15, 0.3):
        out = tmp_path / f"out{delay}" / "stats.json"
        proc = subprocess.Popen([str(gpuaug_bin), "stats", "--input", str(tmp_path / "images"), "--output", str(out),
                                 *size, "--device", "cuda", "--threads", "2", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # a hang fails here
        assert proc.returncode in (0, 128 + signal.SIGINT, -signal.SIGINT), (delay, err)


def test_augment_resume_refuses_another_file_list_or_a_record_asked_late(run_gpuaug, tmp_path, dataset):
    # A run that stops at a broken file leaves its journal. Its entries are matched by sample
    # index: with a file added before the resume they would name other files (two outputs were
    # never written), and a --record asked for only now would lack their lines.
    (dataset / "c2" / "zz_broken.png").write_bytes(b"not a png")
    spec = write_spec(tmp_path / "spec.yaml", [{"resize": {"size": [24, 24]}}], seed=3)
    out = tmp_path / "out"
    args = ["augment", "--spec", spec, "--input", dataset, "--output", out, "--threads", 1, "--quiet"]
    assert run_gpuaug(*args, check=False).returncode != 0
    assert (out / ".gpuaug-augment.journal").is_file()
    late_record = run_gpuaug(*args, "--resume", "--record", tmp_path / "r.jsonl", check=False)
    assert late_record.returncode != 0 and "'record' differs" in late_record.stderr, late_record.stderr
    (dataset / "c0" / "aa_new.png").write_bytes((dataset / "c0" / "img_000.png").read_bytes())
    more_files = run_gpuaug(*args, "--resume", check=False)
    assert more_files.returncode != 0 and "'input_files' differs" in more_files.stderr, more_files.stderr
