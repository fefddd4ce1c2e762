"""The gpuaug Python package: specs from dict/YAML/op objects, DLPack batches, epochs, resume,
shards and gpuaug.Error. Skipped where the package is not installed (pip install .)."""
from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gpuaug._gpuaug")
import gpuaug  # noqa: E402
from gpuaug import ops  # noqa: E402

CLASSES = ("cat", "dog", "fish", "owl")
PER_CLASS = 4  # 16 images: shards of world 4 need no padding
SEED = 3

SPEC_DICT = {
    "ops": [
        {"random_resized_crop": {"size": [24, 32], "scale": [0.3, 1.0]}},
        {"horizontal_flip": {"p": 0.5}},
        {"color_jitter": {"brightness": 0.3, "p": 0.8}},
    ],
}
SPEC_YAML = """\
ops:
  - random_resized_crop: {size: [24, 32], scale: [0.3, 1.0]}
  - horizontal_flip: {p: 0.5}
  - color_jitter: {brightness: 0.3, p: 0.8}
"""


def spec_ops() -> list[ops.Op]:
    return [ops.RandomResizedCrop(size=[24, 32], scale=(0.3, 1.0)), ops.HorizontalFlip(p=0.5),
            ops.ColorJitter(brightness=0.3, p=0.8)]


def write_image(path: Path, rng: np.random.Generator) -> None:
    h, w = int(rng.integers(30, 60)), int(rng.integers(30, 60))
    # A smooth gradient plus noise, so crops and flips change the bytes.
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], axis=-1)
    pixels = np.clip(base + rng.integers(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class-per-folder tree: 4 classes x 4 PNGs of different sizes."""
    root = tmp_path_factory.mktemp("tree")
    rng = np.random.default_rng(0)
    for name in CLASSES:
        (root / name).mkdir()
        for i in range(PER_CLASS):
            write_image(root / name / f"{i}.png", rng)
    return root


def pipeline(tree: Path, spec=None, **kwargs) -> gpuaug.Pipeline:
    kwargs.setdefault("batch_size", 3)
    kwargs.setdefault("seed", SEED)
    return gpuaug.Pipeline(SPEC_DICT if spec is None else spec, tree, **kwargs)


def collect(batches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images, labels, indices = [], [], []
    for im, lab, idx in batches:
        images.append(np.from_dlpack(im).copy())
        labels.append(lab)
        indices.append(idx)
    return np.concatenate(images), np.concatenate(labels), np.concatenate(indices)


def test_specs_from_dict_yaml_and_ops_agree(tree: Path, tmp_path: Path) -> None:
    yaml_path = tmp_path / "spec.yaml"
    yaml_path.write_text(SPEC_YAML)
    json_path = tmp_path / "spec.json"
    json_path.write_text(json.dumps(SPEC_DICT))
    runs = [collect(pipeline(tree, spec)) for spec in
            (SPEC_DICT, yaml_path, str(json_path), spec_ops(), {"ops": spec_ops()})]
    for images, labels, indices in runs[1:]:
        np.testing.assert_array_equal(images, runs[0][0])
        np.testing.assert_array_equal(labels, runs[0][1])
        np.testing.assert_array_equal(indices, runs[0][2])
    assert runs[0][0].shape == (len(CLASSES) * PER_CLASS, 3, 24, 32)
    # The seed comes from the spec when the Pipeline is given none.
    seeded = collect(gpuaug.Pipeline({**SPEC_DICT, "seed": SEED}, tree, batch_size=3))
    np.testing.assert_array_equal(seeded[0], runs[0][0])


def test_images_reach_numpy_without_a_copy(tree: Path) -> None:
    pipe = pipeline(tree, {**SPEC_DICT, "output": {"layout": "HWC"}}, as_torch=False)
    images, labels, indices = next(iter(pipe))
    a = np.from_dlpack(images)
    b = np.from_dlpack(images)
    assert a.shape == (3, 24, 32, 3) and a.dtype == np.uint8
    assert a.ctypes.data == b.ctypes.data == np.asarray(memoryview(images)).ctypes.data
    a[0, 0, 0, 0] = 7
    a[0, 0, 0, 1] = 9
    assert b[0, 0, 0, 0] == 7 and b[0, 0, 0, 1] == 9
    # The array owns its memory: it outlives the batch object and the pipeline.
    expected = a.copy()
    del images, b, pipe
    gc.collect()
    np.testing.assert_array_equal(a, expected)
    assert labels.dtype == np.int64 and indices.dtype == np.int64


def test_float_output_dtype(tree: Path) -> None:
    spec = {"ops": SPEC_DICT["ops"] + [{"normalize": {}}]}
    images, _, _ = next(iter(pipeline(tree, spec)))
    a = np.from_dlpack(images)
    assert a.dtype == np.float32 and a.shape == (3, 3, 24, 32)


def test_labels_and_indices(tree: Path) -> None:
    pipe = pipeline(tree, shuffle=False)
    assert pipe.classes == list(CLASSES)
    _, labels, indices = collect(pipe)
    np.testing.assert_array_equal(indices, np.arange(len(CLASSES) * PER_CLASS))
    paths = pipe._core.paths
    expected = [CLASSES.index(Path(paths[i]).parent.name) for i in indices]
    np.testing.assert_array_equal(labels, expected)


def test_list_source_with_labels(tree: Path) -> None:
    files = sorted(tree.glob("*/*.png"))[:5]
    pipe = gpuaug.Pipeline(SPEC_DICT, [(f, 10 + i) for i, f in enumerate(files)], batch_size=2,
                           shuffle=False)
    _, labels, indices = collect(pipe)
    np.testing.assert_array_equal(labels, 10 + np.arange(5))
    np.testing.assert_array_equal(indices, np.arange(5))
    _, labels, _ = collect(gpuaug.Pipeline(SPEC_DICT, files, batch_size=2))
    assert (labels == -1).all()


@pytest.mark.parametrize("drop_last, batches, last", [(False, 6, 1), (True, 5, 3)])
def test_len(tree: Path, drop_last: bool, batches: int, last: int) -> None:
    pipe = pipeline(tree, drop_last=drop_last)  # 16 samples, batches of 3
    assert pipe.dataset_size() == 16
    assert len(pipe) == batches
    sizes = [len(indices) for _, _, indices in pipe]
    assert len(sizes) == batches and sizes[-1] == last and set(sizes[:-1]) == {3}


def test_set_epoch_changes_the_order_and_is_repeatable(tree: Path) -> None:
    pipe = pipeline(tree)
    first = collect(pipe)
    again = collect(pipe)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[2], again[2])
    pipe.set_epoch(1)
    second = collect(pipe)
    assert sorted(first[2]) == sorted(second[2]) == list(range(16))
    assert list(first[2]) != list(second[2])
    assert not np.array_equal(first[0], second[0])


def test_state_dict_resume_equals_an_uninterrupted_run(tree: Path) -> None:
    whole = pipeline(tree)
    whole.set_epoch(2)
    expected = collect(whole)

    first = pipeline(tree)
    first.set_epoch(2)
    it = iter(first)
    head = [next(it), next(it)]
    state = json.loads(json.dumps(first.state_dict()))
    assert state["epoch"] == 2 and state["next_batch"] == 2

    resumed = pipeline(tree)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == len(resumed) - 2
    got = collect(head + rest)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    # A finished epoch starts over from its first batch.
    assert resumed.state_dict()["next_batch"] == 0


def test_load_state_dict_refuses_other_settings(tree: Path) -> None:
    state = pipeline(tree).state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        pipeline(tree, batch_size=4).load_state_dict(state)


def test_shards_of_world_4_are_disjoint_complete_and_equal(tree: Path) -> None:
    single = collect(pipeline(tree))
    by_index = {int(i): single[0][k] for k, i in enumerate(single[2])}
    shards = []
    for rank in range(4):
        pipe = pipeline(tree, rank=rank, world_size=4)
        images, _, indices = collect(pipe)
        shards.append(list(indices))
        # A sample's augmentation depends only on (seed, epoch, index), not on the shard.
        for k, i in enumerate(indices):
            np.testing.assert_array_equal(images[k], by_index[int(i)])
    assert all(len(s) == 4 for s in shards)
    flat = [i for s in shards for i in s]
    assert len(set(flat)) == len(flat) == 16
    # Rank r takes positions r, r + 4, ... of the one permutation of the epoch.
    order = pipeline(tree).indices()
    for rank, s in enumerate(shards):
        assert s == order[rank::4]


@pytest.mark.parametrize("drop_last, per_rank", [(False, 4), (True, 3)])
def test_shards_pad_or_cut_like_distributed_sampler(tree: Path, drop_last: bool,
                                                     per_rank: int) -> None:
    files = sorted(tree.glob("*/*.png"))[:15]
    shards = [gpuaug.Pipeline(SPEC_DICT, files, batch_size=2, rank=r, world_size=4,
                              drop_last=drop_last).indices() for r in range(4)]
    assert all(len(s) == per_rank for s in shards)
    flat = [i for s in shards for i in s]
    if drop_last:
        assert len(set(flat)) == 12
    else:
        assert set(flat) == set(range(15))  # one index repeats, as padding


@pytest.mark.parametrize("env", [
    {"RANK": "2", "WORLD_SIZE": "4"},
    {"SLURM_PROCID": "2", "SLURM_STEP_NUM_TASKS": "4", "SLURM_NTASKS": "4"},
    {"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4"},
    # mpirun inside an sbatch allocation: Open MPI's rank, not the step's SLURM_PROCID.
    {"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4", "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"},
])
def test_rank_and_world_size_from_the_environment(tree: Path, monkeypatch, env) -> None:
    for key in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS",
                "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pipe = pipeline(tree)
    assert (pipe.rank, pipe.world_size) == (2, 4)
    assert pipe.indices() == pipeline(tree, rank=2, world_size=4).indices()
    assert (pipeline(tree, rank=0, world_size=1).rank) == 0


def test_an_sbatch_script_is_one_process(tree: Path, monkeypatch) -> None:
    # sbatch --ntasks=4 runs its script once, with SLURM_PROCID 0 and SLURM_NTASKS 4 but no
    # step: taken for rank 0 of 4, the script would load a quarter of the data.
    for key in ("RANK", "WORLD_SIZE", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    assert gpuaug.distributed_env() == (0, 1)
    pipe = pipeline(tree)
    assert (pipe.rank, pipe.world_size) == (0, 1)
    assert len(pipe.indices()) == pipe.dataset_size()


@pytest.fixture()
def tree_with_corrupt(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    (tmp_path / "a").mkdir()
    for i in range(3):
        write_image(tmp_path / "a" / f"{i}.png", rng)
    bad = tmp_path / "a" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    return tmp_path, bad


def test_corrupt_image_raises_gpuaug_error(tree_with_corrupt) -> None:
    root, bad = tree_with_corrupt
    pipe = gpuaug.Pipeline(SPEC_DICT, root, batch_size=4, shuffle=False)
    with pytest.raises(gpuaug.Error) as info:
        list(pipe)
    error = info.value
    assert isinstance(error, Exception)
    assert error.file == str(bad)
    assert error.stage and error.cause
    assert str(bad) in str(error) and error.stage in str(error) and error.cause in str(error)


def test_corrupt_image_skipped_with_on_error_skip(tree_with_corrupt) -> None:
    root, bad = tree_with_corrupt
    pipe = gpuaug.Pipeline(SPEC_DICT, root, batch_size=4, shuffle=False, on_error="skip")
    images, labels, indices = collect(pipe)
    assert len(indices) == 3 and images.shape[0] == 3 and pipe.skipped == 1
    assert pipe._core.paths.index(str(bad)) not in indices


@pytest.mark.parametrize("lanes", [1, 3])
def test_skip_refills_batches_from_the_order_and_logs_once(tmp_path: Path, caplog, lanes: int) -> None:
    """on_error="skip": the next sample of the order takes the failed one's place, so batches
    stay full; each bad file is logged once on the "gpuaug" logger and counted in stats(). With
    three lanes, batches made ahead of one that skipped are made again from where it ended: the
    same batches and counts (a thrown-away batch's failures are not counted)."""
    rng = np.random.default_rng(2)
    (tmp_path / "a").mkdir()
    for i in range(7):
        write_image(tmp_path / "a" / f"{i}.png", rng)
    for name in ("1b.jpg", "4b.jpg"):
        (tmp_path / "a" / name).write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    pipe = gpuaug.Pipeline(SPEC_DICT, tmp_path, batch_size=3, shuffle=False, on_error="skip", lanes=lanes)
    assert len(pipe) == 3  # 9 samples: an upper bound once some fail
    with caplog.at_level("WARNING", logger="gpuaug"):
        batches = [np.from_dlpack(idx).tolist() if hasattr(idx, "__dlpack__") else list(idx)
                   for _, _, idx in pipe]
        second = [list(idx) for _, _, idx in pipe]  # another epoch: logged already
    bad = {pipe._core.paths.index(str(tmp_path / "a" / n)) for n in ("1b.jpg", "4b.jpg")}
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = [i for b in batches for i in b]
    assert sorted(flat) == sorted(set(range(9)) - bad)
    assert second == batches
    assert pipe.stats() == {"skipped": 4, "replaced": 0}
    logged = [r.getMessage() for r in caplog.records if r.name == "gpuaug"]
    assert len(logged) == 2 and all("skipped" in m for m in logged)


def test_replace_puts_the_spec_replacement_in_place(tmp_path_factory, tree_with_corrupt) -> None:
    root, bad = tree_with_corrupt
    rng = np.random.default_rng(3)
    stand_in = tmp_path_factory.mktemp("replacement") / "stand_in.png"  # outside the source
    write_image(stand_in, rng)
    spec = dict(SPEC_DICT, replacement=str(stand_in))
    pipe = gpuaug.Pipeline(spec, root, batch_size=4, shuffle=False, on_error="replace")
    images, labels, indices = collect(pipe)
    assert images.shape[0] == 4 and pipe.stats() == {"skipped": 0, "replaced": 1}
    k = list(indices).index(pipe._core.paths.index(str(bad)))
    # The stand-in went through the same chain, with the failed sample's index and draws.
    direct = gpuaug.Pipeline(SPEC_DICT, [str(stand_in)], batch_size=1, shuffle=False)
    np.testing.assert_array_equal(images[k].shape, collect(direct)[0][0].shape)
    with pytest.raises(gpuaug.Error, match="replacement"):
        gpuaug.Pipeline(SPEC_DICT, root, batch_size=2, on_error="replace")
    with pytest.raises(gpuaug.Error, match="raise, skip or replace"):
        gpuaug.Pipeline(SPEC_DICT, root, batch_size=2, on_error="ignore")


def test_samples_of_different_shapes_name_both(tree: Path) -> None:
    pipe = pipeline(tree, {"ops": [{"horizontal_flip": {}}]}, shuffle=False)
    with pytest.raises(gpuaug.Error, match="differ") as info:
        next(iter(pipe))
    assert info.value.stage == "batch"
    assert info.value.cause.count(" gives ") == 2


def test_spec_errors_are_gpuaug_errors(tree: Path) -> None:
    with pytest.raises(gpuaug.Error) as info:
        pipeline(tree, {"ops": [{"no_such_op": {}}]})
    assert "no_such_op" in info.value.cause
    with pytest.raises(gpuaug.Error) as info:
        pipeline(tree, str(tree / "missing.yaml"))
    assert info.value.file.endswith("missing.yaml")
    with pytest.raises(gpuaug.Error) as info:
        gpuaug.Pipeline(SPEC_DICT, tree / "nowhere", batch_size=2)
    assert info.value.stage == "source"


def test_op_classes_follow_the_descriptors() -> None:
    assert {d["name"] for d in ops.DESCRIPTORS} == set(ops.BY_NAME)
    for d in ops.DESCRIPTORS:
        cls = ops.BY_NAME[d["name"]]
        assert d["summary"] in cls.__doc__ and d["reference"] in cls.__doc__
        for p in d["params"]:
            assert p["name"] in cls.__doc__
    crop = ops.RandomResizedCrop(size=224, scale=(0.35, 1.0))
    assert crop.to_spec() == {"random_resized_crop": {"size": 224, "scale": [0.35, 1.0]}}
    assert ops.HorizontalFlip().to_spec() == {"horizontal_flip": {}}
    with pytest.raises(TypeError, match="sise"):
        ops.RandomResizedCrop(sise=224)
    import inspect
    params = inspect.signature(ops.Normalize).parameters
    assert params["mean"].default == [0.485, 0.456, 0.406]


def test_device_is_checked(tree: Path, has_gpu) -> None:
    with pytest.raises(ValueError, match="cpu"):
        pipeline(tree, device="tpu")
    if not has_gpu:
        # No GPU (or no CUDA in the build): the core says so, as a gpuaug.Error of stage "device".
        with pytest.raises(gpuaug.Error) as info:
            pipeline(tree, device="cuda")
        assert info.value.stage == "device"


def test_device_lists_and_the_local_rank(tree: Path, has_gpu, monkeypatch) -> None:
    """Lists and cuda:all as the command takes them; "cuda" under a launcher is the local rank's
    GPU (torch's current device instead when torch has set one up, checked on the GPU machine)."""
    import subprocess

    assert gpuaug._devices("cpu") == ["cpu"]
    assert gpuaug._devices("cuda:0,2") == ["cuda:0", "cuda:2"]
    for bad in ("tpu", "cuda:", "cuda:0,", "cuda:x", "cuda:0;1", 3):
        with pytest.raises(ValueError, match="cuda:all"):
            gpuaug._devices(bad)
    visible = 0
    if has_gpu:
        visible = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.count("GPU ")
    for key, value in {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "3", "LOCAL_WORLD_SIZE": "4"}.items():
        monkeypatch.setenv(key, value)
    if "torch" not in sys.modules:
        assert gpuaug._devices("cuda") == [f"cuda:{3 % visible if visible else 0}"]
    if not has_gpu:
        with pytest.raises(gpuaug.Error) as info:
            pipeline(tree, device="cuda:all")
        assert info.value.stage == "device"


def test_as_torch(tree: Path) -> None:
    import importlib.util
    import sys

    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ImportError, match="torch"):
            next(iter(pipeline(tree, as_torch=True)))
        # Without torch imported, the default hands over the DLPack array.
        assert "torch" not in sys.modules
        images, _, _ = next(iter(pipeline(tree)))
        assert not type(images).__module__.startswith("torch")
        return
    import torch

    images, labels, _ = next(iter(pipeline(tree)))  # torch imported: tensors by default
    assert isinstance(images, torch.Tensor) and images.dtype == torch.uint8
    assert isinstance(labels, np.ndarray) and labels.dtype == np.int64
    images, _, _ = next(iter(pipeline(tree, as_torch=False)))
    assert not isinstance(images, torch.Tensor)


def test_prefetch_gives_the_same_batches_and_resumes(tree: Path) -> None:
    import threading

    before = threading.active_count()
    ahead = collect(pipeline(tree, prefetch=3))
    inline = collect(pipeline(tree, prefetch=0))
    for a, b in zip(ahead, inline):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(collect(pipeline(tree, prefetch=1, lanes=2)), inline):  # two batches at once
        np.testing.assert_array_equal(a, b)
    # Breaking out after two batches: state_dict counts what was handed out, not made ahead.
    pipe = pipeline(tree, prefetch=3)
    taken = []
    for batch in pipe:
        taken.append(np.from_dlpack(batch[0]).copy())
        if len(taken) == 2:
            break
    state = pipe.state_dict()
    assert state["next_batch"] == 2
    rest = pipeline(tree, prefetch=2)
    rest.load_state_dict(state)
    resumed = np.concatenate(taken + [np.from_dlpack(b[0]).copy() for b in rest])
    np.testing.assert_array_equal(resumed, inline[0])
    for _ in range(50):  # the prefetch threads end once their loops do
        if threading.active_count() <= before:
            break
        import time
        time.sleep(0.02)
    assert threading.active_count() <= before


JITTER = {"ops": [{"center_crop": {"size": [20, 20]}}, {"color_jitter": {"brightness": [1.0, 1.0]}},
                  {"gaussian_noise": {"sigma": 0.0}}]}


def test_set_changes_the_next_batches_and_is_checked(tree: Path) -> None:
    plain = collect(pipeline(tree, JITTER, prefetch=0))[0]
    pipe = pipeline(tree, JITTER, prefetch=0)
    assert pipe.get("color_jitter.brightness") == [1, 1]
    pipe.set("color_jitter.brightness", [1.6, 1.6])
    assert pipe.get("color_jitter.brightness") == [1.6, 1.6]
    brighter = collect(pipe)[0]
    assert brighter.astype(int).sum() > plain.astype(int).sum()
    pipe.set("1.brightness", [1.0, 1.0])  # by position
    np.testing.assert_array_equal(collect(pipe)[0], plain)
    with pytest.raises(gpuaug.Error, match="brightness"):
        pipe.set("color_jitter.brightness", "bright")
    with pytest.raises(gpuaug.Error, match="no op 'blur'"):
        pipe.set("blur.sigma", 1.0)
    with pytest.raises(ValueError, match="op.param"):
        pipe.set("brightness", 1.0)
    np.testing.assert_array_equal(collect(pipe)[0], plain)  # a refused value changes nothing


def test_schedule_is_evaluated_per_batch_and_resumes(tree: Path) -> None:
    def sigma(epoch: int, step: int) -> float:
        return 0.0 if step < 2 else 0.2

    plain = collect(pipeline(tree, JITTER, prefetch=0))[0]
    scheduled = collect(pipeline(tree, JITTER, prefetch=0, schedule={"gaussian_noise.sigma": sigma}))[0]
    ahead = collect(pipeline(tree, JITTER, prefetch=3, schedule={"gaussian_noise.sigma": sigma}))[0]
    np.testing.assert_array_equal(ahead, scheduled)  # made ahead, the same values per step
    # Three batches in the making at once: each takes the spec of its step when it starts.
    lanes = collect(pipeline(tree, JITTER, prefetch=2, lanes=3, schedule={"gaussian_noise.sigma": sigma}))[0]
    np.testing.assert_array_equal(lanes, scheduled)
    first_two = 2 * 3  # batches 0 and 1 of 3 images: no noise yet
    np.testing.assert_array_equal(scheduled[:first_two], plain[:first_two])
    assert not np.array_equal(scheduled[first_two:], plain[first_two:])
    # Resumed after two batches, the schedule gives the steps' values again.
    pipe = pipeline(tree, JITTER, prefetch=0, schedule={"gaussian_noise.sigma": sigma})
    taken = []
    for images, _, _ in pipe:
        taken.append(np.from_dlpack(images).copy())
        if len(taken) == 3:
            break
    rest = pipeline(tree, JITTER, prefetch=2, schedule={"gaussian_noise.sigma": sigma})
    rest.load_state_dict(pipe.state_dict())
    resumed = np.concatenate(taken + [np.from_dlpack(b[0]).copy() for b in rest])
    np.testing.assert_array_equal(resumed, scheduled)
    with pytest.raises(ValueError):
        pipeline(tree, JITTER, schedule={"sigma": sigma})


def test_records_show_the_values_used(tree: Path, run_gpuaug, tmp_path: Path) -> None:
    """record=True: each batch's drawn parameters, one dict a row, as `augment --record` writes
    them (the same lines for the same samples), with the value a schedule gave that batch."""
    spec = {"seed": SEED, "ops": [{"random_resized_crop": {"size": [16, 16]}},
                                  {"color_jitter": {"brightness": 0.5}}, {"gaussian_noise": {"sigma": 0.0}}]}
    pipe = pipeline(tree, spec, prefetch=2, shuffle=False, record=True, seed=None,
                    schedule={"gaussian_noise.sigma": lambda epoch, step: 0.01 * step})
    rows = []
    for step, (images, _, indices) in enumerate(pipe):
        assert [r["index"] for r in pipe.records] == indices.tolist()
        noise = [op for r in pipe.records for op in r["ops"] if op["op"] == "gaussian_noise"]
        assert noise and all(op["sigma"] == pytest.approx(0.01 * step) for op in noise), noise
        rows += pipe.records
    assert len(rows) == len(CLASSES) * PER_CLASS
    # The CLI's record of the same samples, seed and epoch (no schedule: noise sigma 0 there).
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    run_gpuaug("augment", "--spec", spec_path, "--input", tree, "--output", tmp_path / "out", "--record",
               tmp_path / "r.jsonl", "--quiet")
    cli = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    strip = lambda r: {**r, "ops": [op for op in r["ops"] if op["op"] != "gaussian_noise"]}
    assert [strip(r) for r in rows] == [strip(r) for r in cli]


def test_rank_from_an_initialised_torch_distributed(tree: Path, monkeypatch) -> None:
    # A stand-in for torch with an initialised process group: it wins over the environment.
    import sys
    import types

    dist = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True,
                                 get_rank=lambda: 2, get_world_size=lambda: 4)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(distributed=dist))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    pipe = pipeline(tree, as_torch=False)
    assert (pipe.rank, pipe.world_size) == (2, 4)
    dist.is_initialized = lambda: False  # not initialised: the environment's
    pipe = pipeline(tree, as_torch=False)
    assert (pipe.rank, pipe.world_size) == (0, 2)


def test_ops_stubs_are_current_and_installed(repo_root: Path) -> None:
    # The committed stubs are what the descriptors render (rerun `python3 -m gpuaug.stubs
    # python/gpuaug/ops.pyi` after changing an op), and the installed package carries them.
    from gpuaug import stubs

    assert stubs.render() == (repo_root / "python" / "gpuaug" / "ops.pyi").read_text()
    installed = Path(gpuaug.__file__).parent
    assert (installed / "ops.pyi").is_file() and (installed / "py.typed").is_file()
    assert stubs.annotation("int | [int, int] | null") == "int | Sequence[int] | None"
    assert stubs.annotation("float | [float, float, float] | random") == 'float | Sequence[float] | Literal["random"]'


@pytest.mark.parametrize("lanes", [1, 3])
def test_breaking_out_and_exiting_at_once_is_clean(tree: Path, lanes: int) -> None:
    # A script that leaves its loop after one batch and ends: the prefetch thread and the lanes'
    # threads, busy with the next batches, are waited for, so the interpreter's exit finds no
    # thread inside the core.
    import subprocess
    import sys

    script = ("import gpuaug\n"
              f"pipe = gpuaug.Pipeline({{'ops': [{{'resize': {{'size': [64, 64]}}}}]}}, {str(tree)!r}, "
              f"batch_size=2, threads=1, prefetch=4, lanes={lanes}, as_torch=False)\n"
              "for batch in pipe:\n"
              "    break\n"
              "print('done')\n")
    for _ in range(5):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr


def test_a_loop_left_in_a_global_at_exit_is_clean(tmp_path: Path) -> None:
    # it = iter(pipe); next(it) at module level: the generator is only closed while the
    # interpreter tears modules down, after daemon threads are stopped; its prefetch thread,
    # still inside the core then, used to abort the process (SIGABRT, "terminate called").
    # Images big enough that the thread is decoding when the script ends.
    import subprocess
    import sys

    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:600, 0:800]
    for i in range(24):
        base = np.stack([x * 255 // 800, y * 255 // 600, (x + y + i * 40) % 256], axis=-1)
        Image.fromarray(np.clip(base + rng.integers(0, 60, (600, 800, 3)), 0, 255).astype(np.uint8)).save(
            tmp_path / f"{i}.jpg", quality=95)
    script = ("import gpuaug\n"
              f"pipe = gpuaug.Pipeline({{'ops': [{{'random_resized_crop': {{'size': 24}}}}]}}, {str(tmp_path)!r}, "
              "batch_size=4, threads=1, prefetch=2, as_torch=False)\n"
              "it = iter(pipe)\n"
              "next(it)\n"
              "print('done')\n")
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stdout.strip() == "done", (proc.returncode, proc.stderr)


def test_ctrl_c_stops_the_loop_and_leaves_no_thread(tree: Path) -> None:
    """SIGINT while the loop runs (prefetch and three lanes busy): KeyboardInterrupt reaches the
    loop at once, and once it is out every thread of the loader has ended (no hang, none left)."""
    import signal
    import subprocess
    import sys

    script = ("import threading, time, gpuaug\n"
              f"pipe = gpuaug.Pipeline({{'ops': [{{'resize': {{'size': [64, 64]}}}}]}}, {str(tree)!r}, "
              "batch_size=2, threads=1, prefetch=2, lanes=3, as_torch=False)\n"
              "try:\n"
              "    while True:\n"
              "        for batch in pipe:\n"
              "            print('batch', flush=True)\n"
              "except KeyboardInterrupt:\n"
              "    pass\n"
              "for _ in range(250):\n"
              "    if threading.active_count() == 1:\n"
              "        break\n"
              "    time.sleep(0.02)\n"
              "print('threads', threading.active_count(), flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "batch"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    # The interrupt may land between "batch" and its newline: the count ends the output.
    assert out.rstrip().endswith("threads 1"), (out, err)


def test_launcher_variables_are_read_as_the_command_reads_them(tree: Path, monkeypatch) -> None:
    # Digits only, empty means unset, a bad value names its variable; given rank and world_size
    # the environment is not read at all.
    for key in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_RANK",
                "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert gpuaug.distributed_env({"RANK": "", "WORLD_SIZE": ""}) == (0, 1)
    for bad in ("abc", "1_0", " 1", "-1"):
        with pytest.raises(ValueError, match="RANK="):
            gpuaug.distributed_env({"RANK": bad, "WORLD_SIZE": "2"})
    monkeypatch.setenv("RANK", "abc")
    monkeypatch.setenv("WORLD_SIZE", "2")
    pipe = pipeline(tree, rank=0, world_size=1)
    assert (pipe.rank, pipe.world_size) == (0, 1)
    with pytest.raises(ValueError, match="RANK='abc'"):
        pipeline(tree)


def test_arguments_are_whole_numbers_in_range(tree: Path) -> None:
    # seed=-1 and 2**64 gave nanobind's "incompatible function arguments", set_epoch(-1) failed
    # only at the loop, and batch_size=2.5 was cut to 2.
    for kwargs, error, text in [({"seed": -1}, ValueError, "seed=-1"), ({"seed": 2**64}, ValueError, "2\\*\\*64"),
                                ({"batch_size": 2.5}, TypeError, "batch_size=2.5"),
                                ({"batch_size": "4"}, TypeError, "batch_size='4'"),
                                ({"prefetch": 1.5}, TypeError, "prefetch=1.5"),
                                ({"batch_size": 0}, ValueError, "batch_size=0")]:
        with pytest.raises(error, match=text):
            pipeline(tree, **kwargs)
    pipe = pipeline(tree, seed=2**64 - 1)
    with pytest.raises(ValueError, match="epoch=-1"):
        pipe.set_epoch(-1)


def test_set_takes_numpy_scalars(tree: Path) -> None:
    # A schedule computed with numpy hands over np.float32 / np.int64: "not JSON serializable".
    pipe = pipeline(tree, prefetch=0)
    pipe.set("random_resized_crop.size", np.array([np.int64(20), np.int64(16)]))
    pipe.set("color_jitter.brightness", np.float32(0.5))
    images, _, _ = next(iter(pipe))
    assert np.from_dlpack(images).shape[-2:] == (20, 16)
    # A schedule that returns numpy values, an array among them.
    pipe = pipeline(tree, prefetch=2, schedule={"random_resized_crop.size": lambda epoch, step: np.array([18, 14]),
                                                "color_jitter.brightness": lambda epoch, step: np.float32(0.1 * step)})
    assert all(np.from_dlpack(images).shape[-2:] == (18, 14) for images, _, _ in pipe)
