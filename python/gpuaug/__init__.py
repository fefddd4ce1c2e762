"""gpuaug: decoded, augmented image batches from a spec (YAML, JSON, dict or gpuaug.ops objects).

    import numpy as np, gpuaug
    from gpuaug import ops
    pipe = gpuaug.Pipeline([ops.RandomResizedCrop(size=224), ops.HorizontalFlip()],
                           "data/train", batch_size=64)
    for epoch in range(10):
        pipe.set_epoch(epoch)
        for images, labels, indices in pipe:
            x = np.from_dlpack(images)      # or torch.from_dlpack(images): no copy
"""
from __future__ import annotations

import atexit
import collections
import concurrent.futures
import importlib
import json
import logging
import operator
import os
import queue
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np

from . import _gpuaug, ops
from ._gpuaug import Error

_log = logging.getLogger("gpuaug")

__all__ = ["Error", "Pipeline", "ops", "functional", "distributed_env", "__version__"]
__version__ = _gpuaug.__version__

SpecLike = Union[str, os.PathLike, Mapping[str, Any], Sequence["ops.Op"]]
SourceLike = Union[str, os.PathLike, Sequence[Union[str, os.PathLike, tuple]]]

# (rank, world size) variables, in the order they are looked for: torchrun, Open MPI, Slurm's
# srun (Open MPI first: under mpirun inside an sbatch allocation every process sees SLURM_PROCID 0;
# the step's task count, since an sbatch script itself has SLURM_PROCID 0 and SLURM_NTASKS N).
# src/dist/world.cpp reads the same, in the same order.
_ENV_PAIRS = (
    ("RANK", "WORLD_SIZE"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS"),
)


def _torch_distributed() -> tuple[int, int] | None:
    """(rank, world size) of an initialised torch.distributed process group, when torch is
    imported; None otherwise (torch is never imported here)."""
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None) if torch is not None else None
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank()), int(dist.get_world_size())
    except (AttributeError, RuntimeError):
        return None
    return None


def _env_int(environ: Mapping[str, str], key: str) -> int:
    """A launcher's variable as src/dist/world.cpp reads it: digits only (no sign, space or _)."""
    text = environ[key]
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{key}={text!r} is not a non-negative integer")
    return int(text)


def distributed_env(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(rank, world_size) from torchrun, Open MPI or Slurm variables; (0, 1) when none is set.
    An empty variable counts as unset; a malformed one is a ValueError naming it."""
    environ = os.environ if environ is None else environ
    for rank_key, size_key in _ENV_PAIRS:
        if environ.get(rank_key) and environ.get(size_key):
            return _env_int(environ, rank_key), _env_int(environ, size_key)
    return 0, 1


def _whole(name: str, value: Any, least: int) -> int:
    """An int argument (not a float, which int() would cut, nor a string), at least `least`."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}={value!r}: expected an integer") from None
    if number < least:
        raise ValueError(f"{name}={number}: must be {least} or more")
    return number


_DEVICE = re.compile(r"cpu|cuda|cuda:all|cuda:\d{1,3}(,\d{1,3})*")


def _devices(device: str) -> list[str]:
    """The devices of `device`, one loader each: "cuda" is torch's current device when torch has
    set one up (torch.cuda.set_device(local_rank), as DDP scripts do), else the launcher's local
    rank's GPU (LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID, modulo the GPUs); lists
    and "cuda:all" as the command takes them (src/core/device.h)."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ValueError(f"device={device!r}: expected 'cpu', 'cuda', 'cuda:N', 'cuda:N,M,...' or 'cuda:all'")
    if device == "cpu":
        return ["cpu"]
    torch = sys.modules.get("torch")
    if device == "cuda" and torch is not None:
        try:
            if torch.cuda.is_initialized():
                return [f"cuda:{torch.cuda.current_device()}"]
        except (AttributeError, RuntimeError):
            pass
    return list(_gpuaug.process_devices(device))


def _spec_args(spec: SpecLike) -> tuple[str | None, str]:
    """(text, name) for the core: text None means `name` is a file for it to read."""
    if isinstance(spec, (str, os.PathLike)):
        return None, os.fspath(spec)
    if isinstance(spec, Mapping):
        return json.dumps(_plain(spec)), "<dict>"
    if isinstance(spec, Sequence) and all(isinstance(op, ops.Op) for op in spec):
        return json.dumps({"ops": [op.to_spec() for op in spec]}), "<ops>"
    raise TypeError(
        "spec: expected a YAML/JSON path, a dict shaped like the YAML, or a list of gpuaug.ops "
        f"objects, got {type(spec).__name__}")


def _plain(value: Any) -> Any:
    """A dict spec with gpuaug.ops objects and tuples turned into JSON-ready values."""
    if isinstance(value, ops.Op):
        return value.to_spec()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return ops._plain(value)  # numpy scalars and arrays (a schedule's or set()'s) as plain values


class Pipeline:
    """Batches of (images, labels, indices) from a spec and a source, on the CPU or a GPU.

    spec: a YAML/JSON path, a dict of the same shape as the YAML, or a list of gpuaug.ops
        objects. source: a folder (class-per-folder tree: folder names are the labels), a list
        file (`path [label]` a line), one image, or a Python list of paths or (path, label).
    seed: drives the epoch shuffle and every random draw; None keeps the spec's `seed`.
    drop_last: drop the last incomplete batch, and cut (not pad) the shards to equal length,
        as torch's DataLoader and DistributedSampler do with drop_last=True.
    on_error: "raise" (gpuaug.Error naming file, stage and cause), "skip" (count it, log it
        once on the "gpuaug" logger, and take the next sample of the order instead so the batch
        stays full; an epoch may then end a batch early, `len` being an upper bound) or
        "replace" (the spec's `replacement:` image stands in, with the failed sample's label
        and draws). Counts in `stats()`.
    device: "cpu", or "cuda" / "cuda:N": JPEGs decoded on the GPU by gpuaug's exact decoder (or
        nvJPEG, where the spec's decode.gpu_share asks; what they do not take, by the CPU
        threads), the chain run by the GPU, and the batch left in GPU memory — a block that
        goes back to the loader when the last tensor viewing it is dropped, so GPU memory stays
        flat. gpuaug.Error (stage "device") where there is no GPU or the build has no CUDA.
        "cuda" under DDP is this rank's GPU: torch's current device once torch has set one up,
        else the launcher's local rank (LOCAL_RANK, ...) modulo the GPUs. "cuda:all" or a list
        ("cuda:0,1") yields per-device batches: batch k of an epoch is made on, and lies on,
        device k % len(devices) (one loader a device, the CPU threads shared out among them);
        `devices` lists them.
    schedule: {"op.param": fn(epoch, step) -> value}, evaluated for every batch before it is made
        (step = epoch * len(self) + the batch's position in the epoch, so a resumed run draws the
        same values); the value goes through set(). E.g. {"gaussian_noise.sigma": lambda e, s:
        min(0.1, s / 1000)}.
    prefetch: batches made ahead on a background thread while the loop uses the current one
        (0: made when asked for, one at a time). Same batches either way; state_dict counts what
        was handed out.
    lanes: batches made at once on each GPU (with prefetch > 0), each lane with its own
        executor and GPU decoders, all sharing the CPU threads: one batch's decoding overlaps
        another's kernels, as `gpuaug bench` runs two workers a GPU. Default 2 on a GPU, 1 on
        the CPU (where a batch already takes every thread). A batch made ahead starts where the one
        before it ends when no sample is skipped; where one is (on_error="skip"), the batches
        made ahead of it are made again from where it really ended, so the batches are the same
        for any lanes and prefetch.
    record: keep each batch's drawn parameters: after a batch is handed out, `records` holds one
        dict a row, as `gpuaug augment --record` writes them (file, index, epoch, copy, ops with
        the values used, those a schedule or set() gave included).
    as_torch: images as torch tensors (torch.from_dlpack: no copy, same memory). None (the
        default): when torch is already imported, so a training script gets tensors and a numpy
        user the DLPack array; True imports torch; False never converts.
    rank, world_size: this process' shard; by default from torch.distributed when its process
        group is initialised, else from RANK/WORLD_SIZE,
        OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE or SLURM_PROCID/SLURM_STEP_NUM_TASKS, else (0, 1). Every rank
        takes a disjoint part of the same permutation (data::epoch_order + data::shard).

    Iterating yields (images, labels, indices): images a DLPack-capable array (N, C, H, W) or
    (N, H, W, C) that owns its memory, so np.from_dlpack / torch.from_dlpack take it without a
    copy (on cuda: torch.from_dlpack, or any CUDA array library; the batch is complete when
    handed over, on any stream); labels and indices int64 numpy arrays (label -1 when the source has none). Every
    sample of a batch must have the same shape and dtype (end the spec with a fixed-size crop
    or resize), else gpuaug.Error names the two shapes.
    """

    def __init__(self, spec: SpecLike, source: SourceLike, batch_size: int, device: str = "cpu",
                 seed: int | None = None, shuffle: bool = True, drop_last: bool = False,
                 on_error: str = "raise", rank: int | None = None,
                 world_size: int | None = None, threads: int = 0, as_torch: bool | None = None,
                 prefetch: int = 2,
                 schedule: Mapping[str, Callable[[int, int], Any]] | None = None,
                 record: bool = False, lanes: int | None = None) -> None:
        devices = _devices(device)
        batch_size = _whole("batch_size", batch_size, 1)
        prefetch = _whole("prefetch", prefetch, 0)
        if rank is None or world_size is None:  # given both, the environment is not read
            env_rank, env_world = _torch_distributed() or distributed_env()
        self.rank = env_rank if rank is None else _whole("rank", rank, 0)
        self.world_size = env_world if world_size is None else _whole("world_size", world_size, 1)
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} of world_size {self.world_size}: need 0 <= rank < "
                             "world_size")
        self.batch_size = int(batch_size)
        self.device = device
        self.as_torch = as_torch
        self.prefetch = prefetch
        lanes = (1 if devices == ["cpu"] else 2) if lanes is None else _whole("lanes", lanes, 1)
        self.record = bool(record)
        self.records: list[dict[str, Any]] = []
        self.schedule = dict(schedule or {})
        for name in self.schedule:
            _split_param(name)  # "op.param" names, checked here
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        text, name = _spec_args(spec)
        if seed is not None:
            seed = _whole("seed", seed, 0)
            if seed >= 1 << 64:
                raise ValueError(f"seed={seed}: must be below 2**64")
        # One core a device: batch k of an epoch is made by core k % len(devices), on its device.
        if len(devices) > 1 and threads == 0:
            # The CPUs this process may use (a launcher's binding), as the C++ side counts them.
            usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
            threads = max(1, (usable or 1) // len(devices))
        self._cores = []
        for d in devices:
            if isinstance(source, (str, os.PathLike)):
                self._cores.append(_gpuaug.BatchLoader(text, name, seed, os.fspath(source), threads, on_error, d,
                                                       lanes))
            else:
                paths, labels = _list_source(source)
                self._cores.append(_gpuaug.BatchLoader(text, name, seed, paths, labels, threads, on_error, d,
                                                       lanes))
        self._core = self._cores[0]
        # Where batch k is made: lane k % len, ordered so that batch k lies on device k % len(devices).
        self._lanes = [(core, lane) for lane in range(self._core.lanes) for core in self._cores]
        self._failures = {"skipped": 0, "replaced": 0}
        self._reported: set[str] = set()  # files already logged
        self.devices = devices
        self.seed = self._core.seed
        self.epoch = 0
        self._scheduled: dict[str, Any] = {}  # the value each schedule last set
        self._next_batch = 0  # batches of this epoch already handed out
        self._cursor = 0  # how far along this epoch's order those batches reached

    @property
    def classes(self) -> list[str]:
        """Class names of a folder source (label = position); empty for lists."""
        return self._core.classes

    @property
    def skipped(self) -> int:
        """Samples left out so far because they could not be read (on_error="skip")."""
        return self._failures["skipped"]

    def stats(self) -> dict[str, int]:
        """Samples skipped and replaced so far (on_error "skip" / "replace")."""
        return dict(self._failures)

    def _count_failures(self, failures: Sequence[tuple[str, bool, str]]) -> None:
        """Counts the failed samples of a batch handed out, and logs each file once."""
        for path, replaced, message in failures:
            self._failures["replaced" if replaced else "skipped"] += 1
            if path not in self._reported:
                self._reported.add(path)
                _log.warning("gpuaug: %s", message)

    def dataset_size(self) -> int:
        """Samples in the source, all ranks together."""
        return len(self._core)

    def indices(self, epoch: int | None = None) -> list[int]:
        """This rank's dataset indices for an epoch (default: the current one), in order."""
        return self._core.indices(self.epoch if epoch is None else epoch, self.shuffle, self.rank,
                                  self.world_size, self.drop_last)

    def __len__(self) -> int:
        """Batches per epoch for this rank."""
        n = len(self.indices())
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch's order and random draws, and starts it from its first batch."""
        self.epoch = _whole("epoch", epoch, 0)
        self._next_batch = 0
        self._cursor = 0

    def _torch(self) -> Any:
        """The torch module to hand images over with, or None."""
        if self.as_torch is None:
            return sys.modules.get("torch")
        if not self.as_torch:
            return None
        try:
            return importlib.import_module("torch")
        except ImportError as e:
            raise ImportError("Pipeline(as_torch=True) needs torch (pip install torch)") from e

    def set(self, name: str, value: Any) -> None:
        """Sets an op's parameter from the next batch made on: "op.param" names the first op of
        that name ("2.param": the op at position 2), e.g. pipe.set("color_jitter.brightness", 0.2).
        Checked as the spec is (gpuaug.Error naming the op and key). Batches already made ahead
        (prefetch) keep the old value: prefetch=0, or a schedule, makes the change exact."""
        op, param = _split_param(name)
        for core in self._cores:
            core.set(op, param, json.dumps(_plain(value)))

    def get(self, name: str) -> Any:
        """An op's parameter as the spec now has it ("op.param"); None where the default applies."""
        return self._core.get(*_split_param(name))

    def _apply_schedule(self, step: int) -> None:
        for name, fn in self.schedule.items():
            value = _plain(fn(self.epoch, step))  # numpy arrays compare as plain lists
            if self._scheduled.get(name, _UNSET) != value:
                self.set(name, value)
                self._scheduled[name] = value

    def _batches(self, order: np.ndarray, next_batch: int, cursor: int, ahead: int) -> Iterator[tuple[Any, ...]]:
        """(images, labels, indices, records, failures, next_batch, cursor) from a position of the
        epoch to its end; next_batch and cursor are where the epoch stands once this batch is
        handed out. Up to `ahead` batches are in the making at once, each on its lane's thread,
        batch k + 1 started where batch k ends if it skips nothing; a batch that started
        elsewhere (batch k skipped samples and reached further) is thrown away and made again."""
        batches = len(self)
        # A thread a lane at most: the batches in the making are consecutive, so on different lanes.
        workers = concurrent.futures.ThreadPoolExecutor(ahead, thread_name_prefix="gpuaug-lane") if ahead > 1 else None
        started: collections.deque[tuple[int, Any]] = collections.deque()  # (start, future)
        k_next, at_next = next_batch, cursor  # the next batch to start, and where

        def start(k: int, at: int) -> Any:
            self._apply_schedule(self.epoch * batches + k)  # before its snapshot: exact
            core, lane = self._lanes[k % len(self._lanes)]
            args = (order, at, self.batch_size, self.epoch, self.record, lane, core.snapshot())
            return workers.submit(core.load_from, *args) if workers else _Ready(core.load_from, args)

        try:
            while True:
                while len(started) < ahead and k_next < batches and at_next < len(order):
                    started.append((at_next, start(k_next, at_next)))
                    k_next, at_next = k_next + 1, at_next + self.batch_size
                if not started:
                    return
                at, future = started.popleft()
                if at != cursor:  # made ahead from where the batch before would have ended
                    _drop([future, *(f for _, f in started)])
                    started.clear()
                    k_next, at_next = next_batch, cursor
                    continue
                images, labels, indices, consumed, records, failures = future.result()
                cursor += consumed
                next_batch += 1
                if len(labels) == 0 or (self.drop_last and len(set(indices.tolist())) < self.batch_size):
                    self._count_failures(failures)
                    return  # every remaining sample failed, or a short last batch that drop_last drops
                yield images, labels, indices, records, failures, next_batch, cursor
        finally:
            _drop(f for _, f in started)
            if workers is not None:
                workers.shutdown(wait=True)

    def __iter__(self) -> Iterator[tuple[Any, Any, Any]]:
        torch = self._torch()
        ahead = len(self._lanes) if self.prefetch > 0 else 1
        order = np.asarray(self.indices(), dtype=np.uint64)  # read in place by every batch
        source: Any = self._batches(order, self._next_batch, self._cursor, ahead)
        if self.prefetch > 0:
            source = _Prefetcher(source, self.prefetch)
        try:
            for images, labels, indices, records, failures, next_batch, cursor in source:
                self._next_batch, self._cursor = next_batch, cursor
                self.records = [json.loads(line) for line in records] if self.record else []
                self._count_failures(failures)
                yield (torch.from_dlpack(images) if torch is not None else images), labels, indices
        finally:
            if isinstance(source, _Prefetcher):
                source.close()
        # The epoch ran to its end (a loop that breaks out keeps its place for state_dict).
        self._next_batch = 0
        self._cursor = 0

    def state_dict(self) -> dict[str, Any]:
        """Where this rank stands: load it into a Pipeline made alike to get the batches that
        would have come next."""
        return {"epoch": self.epoch, "next_batch": self._next_batch, "cursor": self._cursor, "seed": self.seed,
                "shuffle": self.shuffle, "batch_size": self.batch_size, "rank": self.rank,
                "world_size": self.world_size, "dataset_size": self.dataset_size()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for key in ("seed", "shuffle", "batch_size", "world_size", "dataset_size"):
            mine = self.state_dict()[key]
            if key in state and state[key] != mine:
                raise ValueError(f"state_dict: {key} is {state[key]!r} there, {mine!r} here; "
                                 "resume with the same pipeline settings")
        self.epoch = int(state["epoch"])
        self._next_batch = int(state["next_batch"])
        self._cursor = int(state.get("cursor", self._next_batch * self.batch_size))


_UNSET = object()


def _split_param(name: str) -> tuple[str, str]:
    """"color_jitter.brightness" -> ("color_jitter", "brightness")."""
    op, _, param = name.rpartition(".")
    if not op or not param:
        raise ValueError(f"{name!r}: expected 'op.param', e.g. 'color_jitter.brightness'")
    return op, param


class _Ready:
    """A batch made at once, on the calling thread, with a future's result()."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._value = fn(*args)

    def result(self) -> Any:
        return self._value


def _drop(futures: Iterable[Any]) -> None:
    """Throws batches made ahead away: waits for them (their lanes are busy until then) and
    ignores their results and errors, which belong to batches that will be made again or never
    handed out."""
    for future in futures:
        try:
            future.result()
        except BaseException:  # noqa: BLE001 - a discarded batch's error is not the loop's
            pass


# Prefetchers whose thread may still run. A loop left suspended in a global (it = iter(pipe);
# next(it), or a for loop broken out of at module level) is only closed while the interpreter
# tears modules down, after daemon threads are stopped mid-call: the thread inside the core then
# unwinds through C++ frames and the process aborts (SIGABRT). atexit runs before that.
_live_prefetchers: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_live_prefetchers() -> None:
    for prefetcher in list(_live_prefetchers):
        prefetcher.close()


class _Prefetcher:
    """Runs a batch generator on a daemon thread, up to `depth` batches ahead. An error comes
    out where its batch would have; close() stops it after the batch in the making (the core
    releases the GIL while it works, so Ctrl-C reaches the loop's thread at once)."""

    def __init__(self, batches: Iterator[Any], depth: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(batches,), name="gpuaug-prefetch", daemon=True)
        _live_prefetchers.add(self)
        self._thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, batches: Iterator[Any]) -> None:
        try:
            for batch in batches:
                if not self._put(("batch", batch)):
                    return
            self._put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the loop's thread
            self._put(("error", e))

    def __iter__(self) -> Iterator[Any]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        """Stops the thread and waits for it: a batch in the making finishes first. Not
        waiting would leave the thread inside the core when a script ends right after its
        loop, where the interpreter's exit tears daemon threads down mid-call."""
        self._stop.set()
        while True:  # let a blocked put see the stop at once
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=120)
        _live_prefetchers.discard(self)


def _list_source(items: Sequence[Any]) -> tuple[list[str], list[int]]:
    paths: list[str] = []
    labels: list[int] = []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            paths.append(os.fspath(item))
        else:
            path, label = item
            paths.append(os.fspath(path))
            labels.append(int(label))
    if labels and len(labels) != len(paths):
        raise ValueError("source: give every item a label, or none")
    return paths, labels


# Last: gpuaug.functional reads this module's spec conversion (_spec_args).
from . import functional  # noqa: E402
