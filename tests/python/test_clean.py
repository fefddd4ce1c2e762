"""`gpuaug clean` on the planted dataset of tests/data/make_dirty_dataset.py: every planted problem
found with its reason and nothing else flagged; the JSON and CSV reports well formed and the same
whatever the thread count; quarantine moves exactly the flagged files and restore puts the tree
back byte for byte; a journal left by an interrupted run is refused without --resume and used
with it; bench/clean_baseline.py (Pillow + numpy) finds the same."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "tests" / "data" / "make_dirty_dataset.py"
BASELINE = REPO_ROOT / "bench" / "clean_baseline.py"
REASONS = ["zero_byte", "unreadable", "truncated", "extension_mismatch", "tiny", "extreme_aspect",
           "near_constant", "duplicate", "near_duplicate"]


def tree(root: Path) -> dict[str, str]:
    """sha256 of every file under root and a marker for every folder, by relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> Path:
    """ROOT with images/ and expected.json, made once; tests copy images/ before moving files."""
    root = tmp_path_factory.mktemp("dirty")
    subprocess.run([sys.executable, str(GENERATOR), str(root), "--seed", "7"], check=True, timeout=120)
    return root


@pytest.fixture(scope="module")
def expected(dirty: Path) -> dict:
    return json.loads((dirty / "expected.json").read_text())


@pytest.fixture
def images(dirty: Path, tmp_path: Path) -> Path:
    """A private copy of the dataset, for tests that move files."""
    copy = tmp_path / "images"
    shutil.copytree(dirty / "images", copy, symlinks=True)
    return copy


def clean(run_gpuaug, images: Path, report: Path, *args: object, check: bool = True):
    return run_gpuaug("clean", "--input", images, "--report", report, "--quiet", *args, check=check)


def test_finds_every_planted_problem_and_nothing_else(run_gpuaug, dirty, expected, tmp_path):
    report_path, csv_path = tmp_path / "report.json", tmp_path / "report.csv"
    clean(run_gpuaug, dirty / "images", report_path, "--csv", csv_path, "--threads", 2)
    report = json.loads(report_path.read_text())

    assert list(report) == ["input", "images", "options", "findings", "groups", "summary"]
    assert report["images"] == expected["images"]
    assert report["options"] == {"min_side": 32, "max_aspect": 10.0, "near_dup_distance": 6,
                                 "constant_std": 2.0, "quarantine": None}
    found = {f["file"]: f["reasons"] for f in report["findings"]}
    assert found == expected["planted"]
    files = [f["file"] for f in report["findings"]]
    assert files == sorted(files, key=str.encode)
    for f in report["findings"]:
        assert set(f) == {"file", "reasons", "detail", "group", "keeper"}
        assert f["detail"]
        assert f["reasons"] == sorted(f["reasons"], key=REASONS.index)
    by_file = {f["file"]: f for f in report["findings"]}
    assert "Premature end of JPEG file" in by_file["birds/cut_short.jpg"]["detail"]
    assert by_file["cats/really_a_png.jpg"]["detail"] == "PNG data named .jpg"

    # Groups: the planted ones, keeper first; flagged members name group and keeper.
    assert sorted((g["kind"], g["files"]) for g in report["groups"]) == \
        sorted((g["kind"], g["files"]) for g in expected["groups"])
    assert [g["id"] for g in report["groups"]] == list(range(1, len(report["groups"]) + 1))
    for g in report["groups"]:
        assert g["files"][0] not in found  # the keeper is not flagged
        for member in g["files"][1:]:
            assert by_file[member]["group"] == g["id"]
            assert by_file[member]["keeper"] == g["files"][0]
            assert by_file[member]["reasons"] == [g["kind"]]
    for f in report["findings"]:
        if not {"duplicate", "near_duplicate"} & set(f["reasons"]):
            assert f["group"] is None and f["keeper"] is None

    counts = dict.fromkeys(REASONS, 0)
    for reasons in expected["planted"].values():
        for r in reasons:
            counts[r] += 1
    assert report["summary"] == counts

    # CSV: RFC 4180, one row per (file, reason), the same facts as the JSON.
    text = csv_path.read_bytes().decode()
    assert text.startswith("file,reason,detail,group,keeper\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [(r["file"], r["reason"]) for r in rows] == \
        [(f["file"], reason) for f in report["findings"] for reason in f["reasons"]]
    for r in rows:
        f = by_file[r["file"]]
        assert r["detail"] in f["detail"]
        grouped = r["reason"] in ("duplicate", "near_duplicate")
        assert r["group"] == (str(f["group"]) if grouped else "")
        assert r["keeper"] == (f["keeper"] if grouped else "")


def test_same_reports_whatever_the_thread_count(run_gpuaug, dirty, tmp_path):
    outputs = []
    for threads in (1, 2, 5):
        report, csv_path = tmp_path / f"r{threads}.json", tmp_path / f"r{threads}.csv"
        clean(run_gpuaug, dirty / "images", report, "--csv", csv_path, "--threads", threads)
        outputs.append((report.read_bytes(), csv_path.read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]


def test_input_untouched_without_quarantine(run_gpuaug, images, tmp_path):
    before = tree(images)
    clean(run_gpuaug, images, tmp_path / "report.json")
    assert tree(images) == before
    assert not (tmp_path / "report.json.journal").exists()


def test_quarantine_moves_exactly_the_flagged_files_and_restore_puts_them_back(
        run_gpuaug, images, expected, tmp_path):
    before = tree(images)
    quarantine = tmp_path / "quarantine"
    proc = clean(run_gpuaug, images, tmp_path / "report.json", "--quarantine", quarantine)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["options"]["quarantine"] == str(quarantine)

    planted = expected["planted"]
    after = tree(images)
    assert after == {k: v for k, v in before.items() if k not in planted}  # folders stay
    moved = tree(quarantine)
    manifest = moved.pop("gpuaug-quarantine.jsonl")
    assert manifest
    assert {k: v for k, v in moved.items() if v != "<dir>"} == {k: before[k] for k in planted}
    lines = [json.loads(line) for line in (quarantine / "gpuaug-quarantine.jsonl").read_text().splitlines()]
    assert sorted(line["to"] for line in lines) == sorted(planted)
    for line in lines:
        assert Path(line["from"]).is_absolute()
        assert Path(line["from"]) == (images / line["to"]).absolute()
    assert proc.returncode == 0

    # A second quarantine run finds nothing more to move (the keepers stay).
    clean(run_gpuaug, images, tmp_path / "report2.json", "--quarantine", quarantine)
    report2 = json.loads((tmp_path / "report2.json").read_text())
    assert report2["findings"] == [] and report2["groups"] == []
    assert tree(images) == after

    proc = run_gpuaug("clean", "--restore", quarantine)
    assert f"restored {len(planted)} files" in proc.stderr
    assert tree(images) == before
    assert not (quarantine / "gpuaug-quarantine.jsonl").exists()
    assert not any(p.is_file() for p in quarantine.rglob("*"))

    proc = run_gpuaug("clean", "--restore", quarantine, check=False)
    assert proc.returncode != 0
    assert "no quarantine manifest" in proc.stderr


def test_quarantine_inside_the_input_is_refused(run_gpuaug, images, tmp_path):
    before = tree(images)
    proc = clean(run_gpuaug, images, tmp_path / "report.json", "--quarantine", images / "cats" / "bad",
                 check=False)
    assert proc.returncode != 0
    assert "quarantine: is inside the input tree" in proc.stderr, proc.stderr
    assert tree(images) == before


def test_quarantine_holding_the_input_is_refused(run_gpuaug, images, tmp_path):
    # A folder above the input: restore would take the input's folders for its own.
    before = tree(images)
    proc = clean(run_gpuaug, images, tmp_path / "report.json", "--quarantine", images.parent, check=False)
    assert proc.returncode != 0
    assert "quarantine: holds input files" in proc.stderr, proc.stderr
    assert tree(images) == before


def test_restore_removes_only_the_folders_it_emptied(run_gpuaug, images, expected, tmp_path):
    (images / "empty_class").mkdir()  # the user's, empty before: both stay
    quarantine = tmp_path / "q"
    (quarantine / "keep_me").mkdir(parents=True)
    before = tree(images)
    clean(run_gpuaug, images, tmp_path / "report.json", "--quarantine", quarantine)
    assert (images / "empty_class").is_dir()
    run_gpuaug("clean", "--restore", quarantine)
    assert tree(images) == before
    assert (quarantine / "keep_me").is_dir()
    assert sorted(p.name for p in quarantine.iterdir()) == ["keep_me"]


def test_quarantine_of_two_files_onto_one_name_moves_nothing(run_gpuaug, tmp_path):
    # A list's absolute "/T/x/a.jpg" and relative "T/x/a.jpg" (T = tmp_path without its root)
    # both land on Q/T/x/a.jpg: refused before the first move.
    lists = tmp_path / "lists"
    twin = lists / tmp_path.relative_to(tmp_path.anchor) / "x" / "a.jpg"
    twin.parent.mkdir(parents=True)
    twin.write_bytes(b"x")
    original = tmp_path / "x" / "a.jpg"
    original.parent.mkdir()
    original.write_bytes(b"y")
    listing = lists / "list.txt"
    listing.write_text(f"{original}\n{twin.relative_to(lists)}\n")
    proc = clean(run_gpuaug, listing, tmp_path / "report.json", "--quarantine", tmp_path / "q", check=False)
    assert proc.returncode != 0
    assert "nothing was moved" in proc.stderr, proc.stderr
    assert str(original) in proc.stderr and "a.jpg" in proc.stderr
    assert original.read_bytes() == b"y" and twin.read_bytes() == b"x"
    assert not (tmp_path / "q" / "gpuaug-quarantine.jsonl").exists()


def test_restore_refuses_to_overwrite_a_file_back_in_place(run_gpuaug, images, expected, tmp_path):
    before = tree(images)
    quarantine = tmp_path / "q"
    clean(run_gpuaug, images, tmp_path / "report.json", "--quarantine", quarantine)
    taken = next(iter(expected["planted"]))
    (images / taken).write_bytes(b"someone else's file")
    proc = run_gpuaug("clean", "--restore", quarantine, check=False)
    assert proc.returncode != 0
    assert "never overwrites" in proc.stderr, proc.stderr
    assert (images / taken).read_bytes() == b"someone else's file"
    (images / taken).unlink()
    run_gpuaug("clean", "--restore", quarantine)
    assert tree(images) == before


def bigger_copy(dirty: Path, tmp_path: Path, times: int, pattern: str) -> Path:
    """A copy of the dataset with more work: the clean pictures matching pattern `times` over,
    under other names (so that a run lasts long enough to be stopped)."""
    images = tmp_path / "images"
    shutil.copytree(dirty / "images", images)
    for k in range(times):
        for p in sorted((dirty / "images").rglob(pattern)):
            target = images / "more" / f"{k}_{p.parent.name}_{p.name}"
            target.parent.mkdir(exist_ok=True)
            shutil.copy(p, target)
    return images


def test_a_left_journal_needs_resume(run_gpuaug, gpuaug_bin, dirty, tmp_path):
    """Stops a run with SIGINT (a larger copy of the dataset, so that it is still running); when
    it finished first anyway, the journal an interrupted run starts with is written by hand."""
    images = bigger_copy(dirty, tmp_path, 6, "*_0[0-9][0-9].*")
    full = tmp_path / "full.json"
    start = time.perf_counter()
    clean(run_gpuaug, images, full, "--threads", 1)
    full_s = time.perf_counter() - start

    report = tmp_path / "report.json"
    journal = Path(str(report) + ".journal")
    proc = subprocess.Popen([str(gpuaug_bin), "clean", "--input", str(images), "--report", str(report),
                             "--threads", "1", "--quiet"], stderr=subprocess.PIPE, text=True)
    time.sleep(full_s * 0.4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 128 + signal.SIGINT, -signal.SIGINT), err
    if proc.returncode != 0:
        assert not report.exists()
    else:
        report.unlink()
    if not journal.exists():  # finished first, or stopped before the handlers were set
        journal.write_text(json.dumps({"job": "clean", "input": str(images.absolute()), "min_side": 32,
                                       "max_aspect": 10.0, "constant_std": 2.0}) + "\n")
    analysed = len(journal.read_text().splitlines()) - 1

    proc = clean(run_gpuaug, images, report, check=False)
    assert proc.returncode != 0
    assert "journal" in proc.stderr and "--resume" in proc.stderr, proc.stderr
    assert not report.exists()

    proc = clean(run_gpuaug, images, report, "--min-side", 10, "--resume", check=False)
    assert proc.returncode != 0
    assert "min_side" in proc.stderr, proc.stderr

    proc = run_gpuaug("clean", "--input", images, "--report", report, "--resume")
    if analysed > 0:
        assert f"resumed: {analysed} files from the journal" in proc.stderr, proc.stderr
    assert not journal.exists()
    assert json.loads(report.read_text()) == json.loads(full.read_text())


def test_python_baseline_finds_the_same(dirty, expected, tmp_path, run_gpuaug):
    pytest.importorskip("numpy", minversion="2.0")  # np.bitwise_count
    ours, theirs = tmp_path / "ours.json", tmp_path / "baseline.json"
    clean(run_gpuaug, dirty / "images", ours)
    subprocess.run([sys.executable, str(BASELINE), str(dirty / "images"), "--report", str(theirs),
                    "--workers", "2"], check=True, capture_output=True, timeout=300)
    a, b = json.loads(ours.read_text()), json.loads(theirs.read_text())

    def facts(r):
        return [(f["file"], f["reasons"], f["group"], f["keeper"]) for f in r["findings"]]

    assert facts(a) == facts(b)
    assert a["groups"] == b["groups"]
    assert a["summary"] == b["summary"]
    assert {f["file"]: f["reasons"] for f in b["findings"]} == expected["planted"]


# --- On the GPU: nvJPEG measures its share of the JPEGs (clean.h) ---

@pytest.fixture
def gpu(has_gpu):
    if not has_gpu:
        pytest.skip("no GPU: nvJPEG measures nothing here")


def facts(report: dict) -> list:
    """What a report finds, without the numbers in the details (a near duplicate's distance rests
    on whichever decoder measured it)."""
    return [(f["file"], f["reasons"], f["group"], f["keeper"]) for f in report["findings"]]


def test_cuda_finds_every_planted_problem_and_confirms_duplicates_on_the_cpu(gpu, run_gpuaug, dirty, expected,
                                                                             tmp_path):
    cpu, cuda = tmp_path / "cpu.json", tmp_path / "cuda.json"
    clean(run_gpuaug, dirty / "images", cpu)
    proc = run_gpuaug("clean", "--input", dirty / "images", "--report", cuda, "--device", "cuda",
                      "--gpu-share", 1)
    measured = re.search(r"nvJPEG measured (\d+) images; (\d+) of them", proc.stderr)
    assert measured, proc.stderr
    # Every baseline JPEG of the set: the planted exact duplicate's keeper among them, which the
    # CPU decoded again to find its PNG copy.
    jpegs = [p for p in (dirty / "images").rglob("*.jpg") if p.read_bytes()[-2:] == b"\xff\xd9"]
    assert int(measured[1]) >= len(jpegs) // 2 and int(measured[2]) >= 1, proc.stderr
    a, b = json.loads(cpu.read_text()), json.loads(cuda.read_text())
    assert {f["file"]: f["reasons"] for f in b["findings"]} == expected["planted"]
    assert facts(b) == facts(a)
    assert b["groups"] == a["groups"] and b["summary"] == a["summary"]


def test_cuda_reports_are_the_same_whatever_the_threads_and_workers(gpu, run_gpuaug, dirty, tmp_path):
    outputs = []
    for threads, device in ((1, "cuda"), (4, "cuda"), (2, "cuda:0,0")):
        report = tmp_path / f"r{threads}{device.replace(':', '_').replace(',', '_')}.json"
        clean(run_gpuaug, dirty / "images", report, "--threads", threads, "--device", device)
        outputs.append(report.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_cuda_resumes_to_the_same_report(gpu, run_gpuaug, gpuaug_bin, dirty, tmp_path):
    images = bigger_copy(dirty, tmp_path, 20, "*_0[0-9][0-9].jpg")
    full = tmp_path / "full.json"
    start = time.perf_counter()
    clean(run_gpuaug, images, full, "--threads", 1, "--device", "cuda")
    full_s = time.perf_counter() - start
    report = tmp_path / "report.json"
    proc = subprocess.Popen([str(gpuaug_bin), "clean", "--input", str(images), "--report", str(report),
                             "--threads", "1", "--device", "cuda", "--quiet"], stderr=subprocess.PIPE, text=True)
    time.sleep(full_s * 0.6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 128 + signal.SIGINT, -signal.SIGINT), err
    if proc.returncode == 0:
        report.unlink()
    clean(run_gpuaug, images, report, "--threads", 1, "--device", "cuda", "--resume")
    assert report.read_bytes() == full.read_bytes()


def test_a_quarantine_stopped_halfway_resumes_its_moves(run_gpuaug, tmp_path):
    # The moves are journaled before the first is made: a run stopped among them (here by a
    # destination it cannot create) resumes them instead of analysing the input again, where
    # the files already moved would be missing from the report.
    from harness import mixed_image, write_png

    images = tmp_path / "images"
    for folder in ("a", "b"):
        (images / folder).mkdir(parents=True)
        write_png(images / folder / "good.png", mixed_image(40, 40, seed=ord(folder)))
        (images / folder / "broken.jpg").write_bytes(b"x")
    before = tree(images)
    quarantine = tmp_path / "q"
    quarantine.mkdir()
    (quarantine / "b").write_text("in the way")  # b/broken.jpg cannot go to q/b/broken.jpg
    report = tmp_path / "report.json"
    proc = clean(run_gpuaug, images, report, "--quarantine", quarantine, check=False)
    assert proc.returncode != 0 and "quarantine" in proc.stderr, proc.stderr
    assert not (images / "a" / "broken.jpg").exists() and (images / "b" / "broken.jpg").exists()
    assert (tmp_path / "report.json.journal").exists()
    (quarantine / "b").unlink()
    clean(run_gpuaug, images, report, "--quarantine", quarantine, "--resume")
    assert not (images / "b" / "broken.jpg").exists() and not (tmp_path / "report.json.journal").exists()
    found = json.loads(report.read_text())
    assert found["images"] == 4 and sorted(f["file"] for f in found["findings"]) == ["a/broken.jpg", "b/broken.jpg"]
    run_gpuaug("clean", "--restore", quarantine)
    assert tree(images) == before
