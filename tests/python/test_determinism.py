"""Determinism: the bytes depend on (seed, epoch, sample) only; --replay reproduces a record."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import augment, mixed_image, tree_hash, write_png, write_spec

# Every op, in an order the chain rule allows (geometry first; colour may stand anywhere).
EVERY_OP = [
    {"pad": {"padding": 2, "padding_mode": "reflect"}},
    {"random_crop": {"size": 40, "pad_if_needed": True}},
    {"center_crop": {"size": 38}},
    {"resize": {"size": 36}},
    {"random_resized_crop": {"size": 32}},
    {"local_crops": {"n": 2, "size": 24}},
    {"horizontal_flip": {}},
    {"vertical_flip": {}},
    {"rotate": {"degrees": 20, "interpolation": "bilinear"}},
    {"random_affine": {"degrees": 10, "translate": [0.1, 0.1], "scale": [0.9, 1.1], "shear": 5}},
    {"color_jitter": {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}},
    {"grayscale": {"p": 0.3}},
    {"gaussian_blur": {"kernel_size": 5}},
    {"random_erasing": {"p": 0.7, "value": "random"}},
    {"to_dtype": {"dtype": "float32"}},
    {"gaussian_noise": {"sigma": 0.05}},
    {"normalize": {}},
]
# The same chain without local_crops and with uint8 output, for png outputs.
UINT8_CHAIN = [op for op in EVERY_OP
               if next(iter(op)) not in ("local_crops", "to_dtype", "gaussian_noise", "normalize")]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A class-per-folder tree of PNGs and JPEGs of several sizes."""
    root = tmp_path / "data"
    for i, (h, w) in enumerate([(90, 120), (45, 60), (31, 23), (60, 80)]):
        write_png(root / f"c{i % 2}" / f"im{i}.png", mixed_image(h, w, seed=80 + i))
    Image.fromarray(mixed_image(70, 50, seed=85)).save(root / "c0" / "photo.jpg", quality=90)
    Image.fromarray(mixed_image(41, 67, seed=86)).save(root / "c1" / "prog.jpg", quality=85,
                                                       progressive=True)
    return root


def _run(run_gpuaug, tmp_path, ops, data, name, *, threads=2, fmt="npy", copies=3,
         extra=(), dct_scaling=True):
    spec = write_spec(tmp_path / name / "spec.yaml", ops, dct_scaling=dct_scaling)
    out = tmp_path / name / "out"
    rec = tmp_path / name / "rec.jsonl"
    run_gpuaug("augment", "--spec", spec, "--input", data, "--output", out, "--format", fmt,
               "--record", rec, "--threads", threads, "--copies", copies, "--quiet", *extra)
    return tree_hash(out), rec.read_text()


def test_threads_give_identical_bytes(run_gpuaug, tmp_path, dataset):
    # Oracle: the 1-thread run. 2 and 4 threads (and png outputs) give the same bytes and the
    # same record text (written in input order). Tolerance: byte-identical.
    for fmt, ops in (("npy", EVERY_OP), ("png", UINT8_CHAIN)):
        ref = _run(run_gpuaug, tmp_path, ops, dataset, f"{fmt}1", threads=1, fmt=fmt)
        assert len(ref[0]) > 0
        for threads in (2, 4):
            assert _run(run_gpuaug, tmp_path, ops, dataset, f"{fmt}{threads}",
                        threads=threads, fmt=fmt) == ref


def test_same_seed_same_bytes_other_seed_or_epoch_differs(run_gpuaug, tmp_path, dataset):
    # Oracle: a first run. Same seed again: identical. --seed 1 or --epoch 1: every output file
    # and the record differ. --seed 5 on the command line equals seed: 5 in the spec.
    a = _run(run_gpuaug, tmp_path, EVERY_OP, dataset, "a")
    assert _run(run_gpuaug, tmp_path, EVERY_OP, dataset, "b") == a
    for name, extra in (("seed", ["--seed", 1]), ("epoch", ["--epoch", 1])):
        hashes, record = _run(run_gpuaug, tmp_path, EVERY_OP, dataset, name, extra=extra)
        assert hashes.keys() == a[0].keys()
        assert all(hashes[k] != a[0][k] for k in hashes), name
        assert record != a[1]
    override = _run(run_gpuaug, tmp_path, EVERY_OP, dataset, "override", extra=["--seed", 5])
    spec = write_spec(tmp_path / "s5" / "spec.yaml", EVERY_OP, seed=5, dct_scaling=True)
    out = tmp_path / "s5" / "out"
    run_gpuaug("augment", "--spec", spec, "--input", dataset, "--output", out, "--format", "npy",
               "--threads", 2, "--copies", 3, "--quiet")
    assert tree_hash(out) == override[0]


@pytest.mark.parametrize("fmt,ops,copies", [
    ("npy", EVERY_OP, 3),
    ("png", UINT8_CHAIN, 3),
    ("npy", [{"local_crops": {"n": 3, "size": 16}}, {"horizontal_flip": {}},
             {"color_jitter": {"hue": 0.2}}], 1),
    ("jpg", UINT8_CHAIN, 2),
])
def test_replay_reproduces_bytes(run_gpuaug, tmp_path, dataset, fmt, ops, copies):
    # Oracle: the recording run, made with --seed 5. `--replay rec.jsonl` (no --copies or
    # --seed given, other --threads) writes byte-identical files, and a record of the replay
    # equals the original record: noise and random erasing values, keyed by (seed, epoch,
    # sample), come from the recorded seed. A --seed other than the recorded one is refused.
    # Tolerance: byte-identical.
    spec = write_spec(tmp_path / "spec.yaml", ops, dct_scaling=True)
    first, rec = tmp_path / "first", tmp_path / "rec.jsonl"
    run_gpuaug("augment", "--spec", spec, "--input", dataset, "--output", first, "--seed", 5,
               "--format", fmt, "--record", rec, "--copies", copies, "--threads", 2, "--quiet")
    again, rec2 = tmp_path / "again", tmp_path / "rec2.jsonl"
    run_gpuaug("augment", "--spec", spec, "--input", dataset, "--output", again,
               "--format", fmt, "--replay", rec, "--record", rec2, "--threads", 1, "--quiet")
    assert tree_hash(again) == tree_hash(first)
    assert [json.loads(x) for x in rec2.read_text().splitlines()] == \
        [json.loads(x) for x in rec.read_text().splitlines()]
    other = run_gpuaug("augment", "--spec", spec, "--input", dataset, "--output", tmp_path / "other",
                       "--format", fmt, "--replay", rec, "--seed", 99, "--quiet", check=False)
    assert other.returncode != 0 and "recorded with seed 5" in other.stderr, other.stderr


def test_replay_follows_an_edited_record(run_gpuaug, tmp_path):
    # Oracle: the recorded outputs, mirrored with numpy. Toggling horizontal_flip's `applied`
    # in the record makes the replay the left-right mirror of the original output (the crop is
    # replayed from the record, the flip mirrors exactly). Tolerance: exact.
    img = mixed_image(45, 60, seed=87)
    ops = [{"random_resized_crop": {"size": [15, 17]}}, {"horizontal_flip": {"p": 0.5}}]
    first = augment(run_gpuaug, tmp_path, ops, {"a.png": img}, copies=4, name="first")
    edited = tmp_path / "edited.jsonl"
    lines = []
    for rec in first.records:
        rec = json.loads(json.dumps(rec))
        rec["ops"][1]["applied"] = not rec["ops"][1]["applied"]
        lines.append(json.dumps(rec))
    edited.write_text("\n".join(lines) + "\n")
    second = augment(run_gpuaug, tmp_path, ops, first.out_dir.parent / "in", copies=4,
                     name="second", extra=["--replay", edited])
    for rec in first.records:
        np.testing.assert_array_equal(np.fliplr(first.array(rec)),
                                      np.load(second.outputs[first.name_of(rec)]))


def test_replay_rejects_a_record_of_another_chain(run_gpuaug, tmp_path):
    # A record whose op list does not match the spec is refused: exit != 0, stderr names the
    # record file, the stage "replay" and the line.
    img = mixed_image(23, 31, seed=88)
    first = augment(run_gpuaug, tmp_path, [{"horizontal_flip": {}}], {"a.png": img})
    spec = write_spec(tmp_path / "other.yaml", [{"vertical_flip": {}}, {"grayscale": {}}])
    rec = first.out_dir.parent / "rec.jsonl"
    proc = run_gpuaug("augment", "--spec", spec, "--input", first.out_dir.parent / "in",
                      "--output", tmp_path / "o", "--replay", rec, "--quiet", check=False)
    assert proc.returncode != 0
    assert str(rec) in proc.stderr or rec.name in proc.stderr
    assert "replay" in proc.stderr and "line 1" in proc.stderr


@pytest.mark.parametrize("edit", [{"sigma": [0, 0]}, {"kernel_size": [4, 4]}, {"sigma": None}])
def test_replay_refuses_blur_values_torchvision_refuses(run_gpuaug, tmp_path, edit):
    # An edited record's sigma 0 (or an even kernel) gave a black image, and a missing key no blur
    # at all, exit 0 both; torchvision's gaussian_blur refuses such values, and so does the plan.
    img = mixed_image(23, 31, seed=89)
    ops = [{"gaussian_blur": {"kernel_size": 5, "sigma": [0.5, 1.5]}}]
    first = augment(run_gpuaug, tmp_path, ops, {"a.png": img})
    lines = []
    for rec in first.records:
        for key, value in edit.items():
            if value is None:
                del rec["ops"][0][key]
            else:
                rec["ops"][0][key] = value
        lines.append(json.dumps(rec))
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines) + "\n")
    spec = write_spec(tmp_path / "s.yaml", ops)
    proc = run_gpuaug("augment", "--spec", spec, "--input", first.out_dir.parent / "in", "--output", tmp_path / "o",
                      "--replay", edited, "--quiet", check=False)
    assert proc.returncode != 0 and "plan" in proc.stderr and "gaussian_blur" in proc.stderr, proc.stderr
