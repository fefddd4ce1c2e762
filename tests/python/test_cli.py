"""The gpuaug command: spec errors, bad input files, on-error skip, atomic outputs, subcommands."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import mixed_image, tree_hash, write_png, write_spec

ALL_OPS = ["center_crop", "color_jitter", "gaussian_blur", "gaussian_noise", "grayscale",
           "horizontal_flip", "local_crops", "normalize", "pad", "pca_lighting", "random_affine", "random_crop",
           "random_erasing", "random_resized_crop", "resize", "rotate", "to_dtype",
           "vertical_flip"]


@pytest.fixture
def good_input(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    write_png(folder / "a.png", mixed_image(23, 31, seed=90))
    return folder


def _spec_error(run_gpuaug, tmp_path, good_input, text: str):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    proc = run_gpuaug("augment", "--spec", spec, "--input", good_input, "--output",
                      tmp_path / "out", "--quiet", check=False)
    assert proc.returncode != 0
    assert str(spec) in proc.stderr
    assert "spec" in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.*"))
    return proc.stderr


SPEC_ERRORS = [
    # (spec text, the line the error must name, substrings the message must hold)
    ("seed: 0\nops:\n  - resize: {size: 8}\n  - horizontl_flip: {p: 0.5}\n", 4,
     ["unknown op", "horizontl_flip", *ALL_OPS]),
    ("seed: 0\nops:\n  - resize: {size: 8}\n  - horizontal_flip: {q: 0.5}\n", 4,
     ["unknown parameter", "'q'", "valid parameters: p"]),
    ("seed: 0\nops:\n  - rotate:\n      degrees: 10\n      interpolaton: bilinear\n", 5,
     ["unknown parameter", "interpolaton", "degrees", "interpolation", "expand", "center",
      "fill"]),
    ("seed: 0\nops:\n  - resize: {size: 8}\n  - horizontal_flip:\n      p: 1.5\n", 5,
     ["horizontal_flip.p", "1.5", "[0, 1]"]),
    ("seed: 0\nops:\n  - color_jitter: {hue: 0.7}\n", 3, ["color_jitter.hue", "0.5"]),
    ("seed: 0\nops:\n  - gaussian_blur: {kernel_size: 4}\n", 3, ["kernel_size", "odd"]),
    ("seed: 0\nops:\n  - resize: {size: abc}\n", 3, ["resize.size", "abc"]),
    ("seed: 0\nops:\n  - resize: {size: 8, interpolation: lanczos}\n", 3,
     ["interpolation", "lanczos", "nearest", "bilinear", "bicubic"]),
    ("seed: 0\nops:\n  - pad: {padding: 2, padding_mode: wrap}\n", 3,
     ["padding_mode", "wrap", "constant", "edge", "reflect", "symmetric"]),
    ("seed: 0\nops:\n  - gaussian_noise: {}\n  - resize: {size: 3}\n", 4,
     ["resize", "gaussian_noise", "before"]),
    ("seed: 0\nfoo: 1\nops: []\n", 2, ["unknown key", "foo", "seed", "decode", "ops", "output"]),
    # A key given twice: yaml-cpp keeps both and the first would win (JSON parsers keep the last).
    ("seed: 0\nops:\n  - resize: {size: 32, size: 64}\n", 3, ["size", "given twice"]),
    ("seed: 1\nseed: 2\nops: []\n", 2, ["seed", "given twice"]),
    ("seed: 0\nops:\n  - {op: resize, size: 8, op: center_crop}\n", 3, ["'op'", "given twice"]),
    ('{"seed": 0, "ops": [{"resize": {"size": 32, "size": 8}}]}\n', 1, ["size", "given twice"]),
    # Unbounded factors are still finite: inf drew inf, which a record cannot hold (1e400 reads as
    # inf; the word inf is no number).
    ("seed: 0\nops:\n  - color_jitter: {brightness: 1e400}\n", 3, ["color_jitter.brightness", "finite"]),
    ("seed: 0\nops:\n  - color_jitter: {contrast: [0, 1e400]}\n", 3, ["color_jitter.contrast", "finite"]),
    ("seed: 0\nops:\n  - color_jitter: {brightness: inf}\n", 3, ["color_jitter.brightness", "the text 'inf'"]),
    # Numbers are decimal (strtod also read hex and inf), seeds digits only, a quoted number is
    # text and said to be, a spec is one YAML document, and nesting has a bound.
    ("seed: 0\nops:\n  - resize: {size: 0x20}\n", 3, ["resize.size", "0x20"]),
    ('seed: "+5"\nops: []\n', 1, ["seed", "integer"]),
    ('seed: 0\nops:\n  - resize: {size: "32"}\n', 3, ["resize.size", "the text '32'"]),
    ("seed: 0\nops:\n" + "  - " + "[" * 600 + "]" * 600 + "\n", None, ["nested too deeply"]),
    ("seed: 0\nops:\n  - resize: {size: 3\n", None, []),  # YAML syntax error
]


@pytest.mark.parametrize("text,line,needles", SPEC_ERRORS,
                         ids=[f"case{i}" for i in range(len(SPEC_ERRORS))])
def test_spec_errors_name_file_line_and_choices(run_gpuaug, tmp_path, good_input, text, line,
                                                needles):
    # Oracle: the message contract of STYLE.md: exit != 0, stderr names the spec file, the
    # stage "spec", the line (counted from 1 in the file) and the valid names or the range.
    err = _spec_error(run_gpuaug, tmp_path, good_input, text)
    if line is not None:
        assert f"line {line}" in err, err
    else:
        assert re.search(r"line \d+", err), err
    for needle in needles:
        assert needle in err, (needle, err)


def _bad_files(folder: Path) -> dict[str, tuple[str, str]]:
    """Writes broken images beside good ones; returns name -> (stage, cause regex)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = mixed_image(40, 50, seed=91)
    Image.fromarray(good).save(folder / "good.jpg", quality=90)
    Image.fromarray(good).save(folder / "good2.png")
    jpeg = (folder / "good.jpg").read_bytes()
    png = (folder / "good2.png").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "noise.png").write_bytes(np.random.default_rng(92).bytes(300))
    (folder / "text.jpg").write_text("this is not an image\n")
    return {
        "truncated.jpg": ("decode", r"(?i)premature end|truncat|corrupt"),
        "truncated.png": ("decode", r"(?i)truncat"),
        "empty.jpg": ("read", r"(?i)empty"),
        "noise.png": ("header", r"(?i)not a JPEG or PNG"),
        "text.jpg": ("header", r"(?i)not a JPEG or PNG"),
    }


CHAIN = [{"random_resized_crop": {"size": 16}}, {"horizontal_flip": {}}]


@pytest.mark.parametrize("bad", ["truncated.jpg", "truncated.png", "empty.jpg", "noise.png",
                                 "text.jpg"])
def test_bad_file_raises_naming_file_stage_cause(run_gpuaug, tmp_path, bad):
    # Oracle: the error contract: exit != 0; stderr names the file, the stage (read, header,
    # decode) and the cause. No temporary file is left, the input folder is unchanged.
    folder = tmp_path / "in"
    expect = _bad_files(folder)
    for other in set(expect) - {bad}:
        (folder / other).unlink()
    before = tree_hash(folder)
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    out = tmp_path / "out"
    proc = run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", out,
                      "--threads", 2, "--quiet", check=False)
    assert proc.returncode != 0
    stage, cause = expect[bad]
    line = next((ln for ln in proc.stderr.splitlines() if bad in ln), "")
    assert str(folder / bad) in line, proc.stderr
    assert f"{stage}:" in line, proc.stderr
    assert re.search(cause, line), proc.stderr
    assert tree_hash(folder) == before
    assert not list(tmp_path.rglob("*gpuaug-tmp*"))


@pytest.mark.parametrize("threads", [1, 2])
def test_on_error_skip_writes_the_rest(run_gpuaug, tmp_path, threads):
    # --on-error skip: exit 0, every good file written whole (loads as an image of the right
    # size), each bad file named on stderr with its stage, the count in the summary; nothing
    # written for the bad ones; no temporary files; the input unchanged.
    folder = tmp_path / "in"
    expect = _bad_files(folder)
    before = tree_hash(folder)
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    out = tmp_path / "out"
    proc = run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", out,
                      "--format", "png", "--on-error", "skip", "--threads", threads)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "good.png", "good2.png"]
    for name in ("good.png", "good2.png"):
        with Image.open(out / name) as im:
            assert im.size == (16, 16) and im.mode == "RGB"
    for bad, (stage, _) in expect.items():
        assert re.search(rf"skipped: .*{re.escape(bad)}: {stage}:", proc.stderr), proc.stderr
    assert re.search(rf"\b{len(expect)} skipped", proc.stderr), proc.stderr
    assert tree_hash(folder) == before
    assert not list(tmp_path.rglob("*gpuaug-tmp*"))


def test_on_error_replace_writes_the_replacement_in_place(run_gpuaug, tmp_path):
    # --on-error replace: every input gets its outputs; a bad one's come from the spec's
    # `replacement:` (a path relative to the spec file) with the bad file's draws; counted.
    folder = tmp_path / "in"
    expect = _bad_files(folder)
    spec_dir = tmp_path / "specs"
    write_png(spec_dir / "stand_in.png", mixed_image(20, 24, seed=9))
    spec = write_spec(spec_dir / "spec.yaml", CHAIN)
    spec.write_text(spec.read_text() + "replacement: stand_in.png\n")
    out = tmp_path / "out"
    proc = run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", out, "--format", "png",
                      "--on-error", "replace")
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert len(written) == 2 + len(expect)
    for name in written:
        with Image.open(out / name) as im:
            assert im.size == (16, 16)
    for bad in expect:
        assert re.search(rf"replaced: .*{re.escape(bad)}", proc.stderr), proc.stderr
    assert re.search(rf"\b{len(expect)} replaced", proc.stderr), proc.stderr
    # Without `replacement:` in the spec it says what is missing.
    plain = write_spec(tmp_path / "plain.yaml", CHAIN)
    proc = run_gpuaug("augment", "--spec", plain, "--input", folder, "--output", tmp_path / "o2",
                      "--on-error", "replace", check=False)
    assert proc.returncode == 1 and "replacement" in proc.stderr


def test_on_error_skip_npy_outputs(run_gpuaug, tmp_path):
    # Oracle: with skip, the good PNG and JPEG both come out as 16x16 RGB uint8 npy arrays and
    # the record holds exactly their two samples.
    folder = tmp_path / "in"
    _bad_files(folder)
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    out = tmp_path / "out"
    rec = tmp_path / "rec.jsonl"
    run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", out, "--format", "npy",
               "--on-error", "skip", "--record", rec, "--quiet")
    arrays = {p.name: np.load(p) for p in out.glob("*.npy")}
    assert sorted(arrays) == ["good.npy", "good2.npy"]
    assert all(a.shape == (16, 16, 3) and a.dtype == np.uint8 for a in arrays.values())
    assert sorted(json.loads(x)["file"] for x in rec.read_text().splitlines()) == [
        "good.jpg", "good2.png"]


def test_inputs_differing_only_in_extension_do_not_collide(run_gpuaug, tmp_path):
    # Contract: every recorded sample has its own output file, or the job refuses up front.
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(mixed_image(20, 30, seed=98)).save(folder / "x.jpg")
    write_png(folder / "x.png", mixed_image(30, 20, seed=99))
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    out = tmp_path / "out"
    rec = tmp_path / "rec.jsonl"
    proc = run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", out,
                      "--format", "npy", "--record", rec, "--quiet", check=False)
    if proc.returncode != 0:
        assert "x.jpg" in proc.stderr and "x.png" in proc.stderr
        return
    assert len(list(out.rglob("*.npy"))) == len(rec.read_text().splitlines()) == 2


def test_inputs_sharing_an_output_name_are_refused_before_writing(run_gpuaug, tmp_path):
    # x.jpg and x.png keep their extensions (x_jpg, x_png), which x_jpg.png would share with
    # x.jpg: one output would replace the other, so the job names both and writes nothing.
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(mixed_image(20, 30, seed=98)).save(folder / "x.jpg")
    write_png(folder / "x.png", mixed_image(30, 20, seed=99))
    write_png(folder / "x_jpg.png", mixed_image(25, 25, seed=97))
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    out = tmp_path / "out"
    proc = run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", out, "--format", "npy",
                      "--quiet", check=False)
    assert proc.returncode != 0
    assert "x.jpg" in proc.stderr and "x_jpg.png" in proc.stderr and "replace" in proc.stderr, proc.stderr
    assert not list(out.rglob("*.npy"))


def test_max_pixels_refused_in_header(run_gpuaug, tmp_path):
    # decode.max_pixels refuses an image by its header size before decoding: the message names
    # the file, the stage "header" and both numbers.
    folder = tmp_path / "in"
    write_png(folder / "a.png", mixed_image(30, 40, seed=93))
    spec = tmp_path / "spec.yaml"
    spec.write_text("seed: 0\ndecode: {max_pixels: 100}\nops: []\n")
    proc = run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", tmp_path / "o",
                      "--quiet", check=False)
    assert proc.returncode != 0
    assert "a.png" in proc.stderr and "header" in proc.stderr
    assert "1200" in proc.stderr and "100" in proc.stderr


def test_missing_input_and_spec(run_gpuaug, tmp_path, good_input):
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    proc = run_gpuaug("augment", "--spec", spec, "--input", tmp_path / "nowhere", "--output",
                      tmp_path / "o", "--quiet", check=False)
    assert proc.returncode != 0 and "nowhere" in proc.stderr
    proc = run_gpuaug("augment", "--spec", tmp_path / "nope.yaml", "--input", good_input,
                      "--output", tmp_path / "o", "--quiet", check=False)
    assert proc.returncode != 0 and "nope.yaml" in proc.stderr and "spec" in proc.stderr


def test_outputs_mirror_tree_and_file_list(run_gpuaug, tmp_path):
    # Outputs mirror the input tree (OUT/<relative path without extension>[-<copy>].<fmt>);
    # a .txt file list is an input too. The input is never modified.
    root = tmp_path / "in"
    write_png(root / "cat" / "x.png", mixed_image(20, 30, seed=94))
    write_png(root / "dog" / "deep" / "y.png", mixed_image(30, 20, seed=95))
    before = tree_hash(root)
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    out = tmp_path / "out"
    run_gpuaug("augment", "--spec", spec, "--input", root, "--output", out, "--copies", 2,
               "--format", "png", "--quiet")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "cat/x-0.png", "cat/x-1.png", "dog/deep/y-0.png", "dog/deep/y-1.png"]
    assert tree_hash(root) == before
    for p in out.rglob("*.png"):
        assert Image.open(p).size == (16, 16)
    listing = root / "list.txt"  # paths relative to the list's folder, with labels
    listing.write_text("# a comment\ncat/x.png 0\n\ndog/deep/y.png\t1\n")
    out2 = tmp_path / "out2"
    run_gpuaug("augment", "--spec", spec, "--input", listing, "--output", out2, "--quiet")
    assert sorted(p.relative_to(out2).as_posix() for p in out2.rglob("*.png")) == [
        "cat/x.png", "dog/deep/y.png"]


@pytest.mark.parametrize("entry", [
    "absolute", "dotdot", "plain"])
def test_file_list_outputs_stay_under_out_and_input_unchanged(run_gpuaug, tmp_path, entry):
    # Contract (docs/design.md "Bad input"): offline jobs never modify their input and write
    # under OUT. A list naming an image by absolute path, by "../", or plainly: the one output
    # lands under OUT and the input tree's bytes are unchanged.
    root = tmp_path / "data"
    image = write_png(root / "imgs" / "x.png", mixed_image(20, 30, seed=97))
    lists = tmp_path / "lists"
    lists.mkdir()
    line = {"absolute": str(image), "dotdot": "../data/imgs/x.png", "plain": None}[entry]
    listing = lists / "list.txt" if line else root / "list.txt"
    listing.write_text((line or "imgs/x.png") + "\n")
    before = tree_hash(root)
    out = tmp_path / "out"
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    run_gpuaug("augment", "--spec", spec, "--input", listing, "--output", out, "--format", "png",
               "--quiet")
    assert tree_hash(root) == before
    written = [p for p in out.rglob("*.png")] if out.exists() else []
    assert len(written) == 1, written


# --- other subcommands ----------------------------------------------------------------------

@pytest.mark.parametrize("n,size,expect", [
    (2, 16, (2 * 2 * 68 + 4, 72)),      # cell 64 (the minimum): 4 cells + gaps in a row
    (5, 16, (8 * 68 + 4, 2 * 68 + 4)),  # 4 pairs a row, 2 rows
    (1, 100, (2 * 104 + 4, 108)),       # cell grows to the largest sample (100)
])
def test_preview_grid_size(run_gpuaug, tmp_path, n, size, expect):
    # Oracle: the grid geometry of jobs/preview.cpp: cell = clamp(max sample side, 64, 256),
    # 4-pixel gaps, originals beside samples, 4 pairs a row. A valid RGB PNG of that size.
    folder = tmp_path / "in"
    for i in range(max(n, 2)):
        write_png(folder / f"i{i}.png", mixed_image(40 + i, 50, seed=96 + i))
    spec = write_spec(tmp_path / "spec.yaml", [{"random_resized_crop": {"size": size}}])
    out = tmp_path / "preview.png"
    run_gpuaug("preview", "--spec", spec, "--input", folder, "--output", out, "--n", n)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert im.size == expect


def test_ops_lists_every_op_with_parameters(run_gpuaug):
    # Oracle: the 17 op names of the brief and pca_lighting (issue 6); each listed with its
    # parameters (a few spot checks against torchvision's names and defaults).
    out = run_gpuaug("ops").stdout
    listed = re.findall(r"^([a-z_]+)\s*$", out, flags=re.M)
    assert sorted(listed) == sorted(ALL_OPS)
    assert len(listed) == 18
    for needle in (r"scale\s+\[float, float\]\s+default \[0\.08, 1\]",
                   r"mean\s+\[float, float, float\]\s+default \[0\.485, 0\.456, 0\.406\]"):
        assert re.search(needle, out), needle
    assert re.search(r"horizontal_flip.*?\n(?:.*\n)*?\s+p\s+float\s+default 0.5", out)


def test_bench_json(run_gpuaug, tmp_path):
    # One JSON object on stdout with images_per_s > 0 and the image count.
    folder = tmp_path / "in"
    for i in range(3):
        write_png(folder / f"i{i}.png", mixed_image(40, 50, seed=100 + i))
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    proc = run_gpuaug("bench", "--spec", spec, "--input", folder, "--json", "--iters", 2,
                      "--threads", 2)
    result = json.loads(proc.stdout)
    assert isinstance(result, dict)
    assert result["images_per_s"] > 0
    assert result["images"] >= 3


def test_info_and_version(run_gpuaug):
    proc = run_gpuaug("info")
    assert "gpuaug" in proc.stdout and re.search(r"\d+\.\d+\.\d+", proc.stdout)
    assert "CPU threads" in proc.stdout
    assert re.search(r"\d+\.\d+\.\d+", run_gpuaug("--version").stdout)


def test_unknown_subcommand_and_bad_flag(run_gpuaug, tmp_path, good_input):
    assert run_gpuaug("frobnicate", check=False).returncode != 0
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    proc = run_gpuaug("augment", "--spec", spec, "--input", good_input, "--output",
                      tmp_path / "o", "--format", "tiff", check=False)
    assert proc.returncode != 0 and "tiff" in proc.stderr + proc.stdout


def test_file_names_that_are_not_utf8(run_gpuaug, tmp_path):
    # Linux file names are bytes: JSON (records, reports, index, journals) holds them with U+FFFD
    # for the bad bytes instead of stopping the job with a message naming no file, and the
    # quarantine manifest keeps their bytes so that restore puts them back exactly.
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    good = folder / os.fsdecode(b"caf\xe9.png")
    write_png(good, mixed_image(30, 40, seed=3))
    write_png(folder / "ok.png", mixed_image(40, 30, seed=4))
    broken = folder / os.fsdecode(b"bad\xff.png")
    broken.write_bytes(b"not a png")
    spec = write_spec(tmp_path / "spec.yaml", [{"resize": {"size": [16, 16]}}])
    proc = run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", tmp_path / "aug",
                      "--record", tmp_path / "rec.jsonl", "--on-error", "skip", "--quiet", check=False, errors="replace")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "rec.jsonl").read_text().splitlines()]
    assert sorted(line["file"] for line in lines) == ["caf\ufffd.png", "ok.png"]
    assert (tmp_path / "aug" / os.fsdecode(b"caf\xe9.png")).is_file()
    run_gpuaug("reduce", "--input", folder, "--output", tmp_path / "red", "--max-side", 16, "--on-error", "skip",
               "--quiet", errors="replace")
    assert len(json.loads((tmp_path / "red" / "index.json").read_text())["samples"]) == 2
    run_gpuaug("stats", "--input", folder, "--output", tmp_path / "stats.json", "--quiet", errors="replace")
    assert json.loads((tmp_path / "stats.json").read_text())["errors"]
    quarantine = tmp_path / "q"
    run_gpuaug("clean", "--input", folder, "--report", tmp_path / "report.json", "--quarantine", quarantine,
               "--quiet", errors="replace")
    assert not broken.exists() and (quarantine / os.fsdecode(b"bad\xff.png")).is_file()
    run_gpuaug("clean", "--restore", quarantine, errors="replace")
    assert broken.read_bytes() == b"not a png" and good.is_file()


def test_long_file_names_get_short_temporaries(run_gpuaug, tmp_path):
    # A 244-byte output name is legal, but "<name>.gpuaug-tmp-<pid>-<n>" passed NAME_MAX (255):
    # "cannot name the finished file: File name too long", and reduce wrote nothing.
    folder = tmp_path / "in"
    folder.mkdir()
    long_name = "n" * 240 + ".png"
    write_png(folder / long_name, mixed_image(30, 40, seed=5))
    spec = write_spec(tmp_path / "spec.yaml", [{"resize": {"size": [16, 16]}}])
    run_gpuaug("augment", "--spec", spec, "--input", folder, "--output", tmp_path / "aug", "--quiet")
    assert [p.name for p in (tmp_path / "aug").iterdir() if not p.name.startswith(".")] == [long_name]
    run_gpuaug("reduce", "--input", folder, "--output", tmp_path / "red", "--max-side", 16, "--format", "png",
               "--quiet")
    assert (tmp_path / "red" / long_name).is_file()
    assert not list(tmp_path.rglob("*gpuaug-tmp*"))


@pytest.mark.parametrize("flag,value", [("--seed", "-5"), ("--seed", "18446744073709551616"), ("--epoch", "-1"),
                                        ("--seed", "0x10")])
def test_seeds_and_epochs_outside_64_bits_are_refused(run_gpuaug, tmp_path, good_input, flag, value):
    # CLI11 read -5 as 2^64 - 5 and saturated past 2^64 - 1, where the spec's seed: refuses both.
    spec = write_spec(tmp_path / "spec.yaml", CHAIN)
    proc = run_gpuaug("augment", "--spec", spec, "--input", good_input, "--output", tmp_path / "out", flag, value,
                      check=False)
    assert proc.returncode != 0 and flag in proc.stderr and value in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_outputs_above_max_pixels_are_refused_and_running_out_of_memory_is_skipped(run_gpuaug, tmp_path,
                                                                                   good_input):
    # center_crop 30000 passed validation and allocated 2.7 GB a sample (or ended in a bare
    # "std::bad_alloc"): outputs are bounded by decode.max_pixels, naming the file and "plan".
    spec = write_spec(tmp_path / "crop.yaml", [{"center_crop": {"size": 30000}}])
    proc = run_gpuaug("augment", "--spec", spec, "--input", good_input, "--output", tmp_path / "o1", check=False)
    assert proc.returncode != 0 and "plan: the output would be 30000x30000" in proc.stderr, proc.stderr
    # A thin image resized by its short side: the long side passed an int.
    thin = tmp_path / "thin"
    thin.mkdir()
    write_png(thin / "thin.png", mixed_image(1, 3000, seed=1))
    spec = write_spec(tmp_path / "resize.yaml", [{"resize": {"size": 65536}}])
    proc = run_gpuaug("augment", "--spec", spec, "--input", thin, "--output", tmp_path / "o2", check=False)
    assert proc.returncode != 0 and "thin.png: plan: line" in proc.stderr and "makes the long side" in proc.stderr, proc.stderr
    # Under the bound but beyond the memory there is: that sample fails (--on-error skip counts
    # it), naming the file and "memory", not the whole job with a bare bad_alloc.
    import resource

    spec = write_spec(tmp_path / "big.yaml", [{"resize": {"size": [10000, 10000]}}, {"to_dtype": {"dtype": "float32"}}])

    def limit() -> None:  # 1.5 GiB of address space: less than a 1.2 GB float32 sample and its work
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    proc = run_gpuaug("augment", "--spec", spec, "--input", good_input, "--output", tmp_path / "o3", "--threads", 1,
                      "--format", "npy", "--on-error", "skip", preexec_fn=limit, check=False)
    assert proc.returncode == 0 and ": memory: out of memory" in proc.stderr and "0 samples written" in proc.stderr, \
        proc.stderr


def test_an_error_of_a_draw_names_the_op_and_its_line(run_gpuaug, tmp_path, good_input):
    # A crop larger than the image fails while drawing its place, before any fold.
    spec = tmp_path / "crop.yaml"
    spec.write_text("seed: 0\nops:\n  - resize: {size: 8}\n  - random_crop: {size: 500}\n")
    proc = run_gpuaug("augment", "--spec", spec, "--input", good_input, "--output", tmp_path / "o", check=False)
    assert proc.returncode != 0 and "a.png: plan: line 4: random_crop: crop 500x500" in proc.stderr, proc.stderr


def test_a_spec_of_two_documents_or_a_folder_is_refused(run_gpuaug, tmp_path, good_input):
    (tmp_path / "two.yaml").write_text("ops: []\n---\nops:\n  - resize: {size: 8}\n")
    (tmp_path / "folder.yaml").mkdir()
    for spec, needle in [("two.yaml", "holds more than one YAML document"), ("folder.yaml", "is a folder")]:
        proc = run_gpuaug("augment", "--spec", tmp_path / spec, "--input", good_input, "--output", tmp_path / "o",
                          check=False)
        assert proc.returncode != 0 and needle in proc.stderr, proc.stderr


def test_normalize_with_three_values_on_one_channel_is_refused(run_gpuaug, tmp_path, good_input):
    # torchvision fails there; the first mean and std alone were used, silently.
    spec = write_spec(tmp_path / "s.yaml", [{"grayscale": {"num_output_channels": 1}}, {"to_dtype": {"dtype": "float32"}},
                                            {"normalize": {"mean": [0.4, 0.5, 0.6], "std": [0.2, 0.2, 0.2]}}])
    proc = run_gpuaug("augment", "--spec", spec, "--input", good_input, "--output", tmp_path / "o", check=False)
    assert proc.returncode != 0 and "normalize: 3 means or stds given for a 1-channel image" in proc.stderr, \
        proc.stderr
