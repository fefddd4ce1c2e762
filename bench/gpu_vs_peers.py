"""GPU benchmark, all systems in one run on one machine: gpuaug vs torchvision.transforms.v2 on
CUDA (per-sample loop and one draw per batch), Kornia (when importable), torchvision's GPU
decode + v2, and a Pillow + v2 DataLoader; augment-only and end to end.

Usage: python3 bench/gpu_vs_peers.py [--images 8000] [--corpus DIR] [--gpuaug build/gpuaug]
       [--workers 16] [--skip-dataloader]
--images: the JPEGs gpuaug's runs and the end-to-end rows take (issue 4's corpus is 8000; with
2048, 8 batches a pass, gpuaug's augment-only pass is mostly its pipeline filling and draining:
748k against 1.04-1.08M, RESULTS run 24). The peers' augment-only rows time one batch of 256
decoded images (their per-sample loops 64), which the corpus size does not change.
Prints markdown tables; paste them into bench/RESULTS.md with the device, date and command.
DALI's row needs `pip install nvidia-dali-cuda130` (2.4.0: a 199 MB wheel, plus the
nvidia-nvimgcodec-cu13 and nvidia-libnvcomp-cu13 it requires). The GPU machine this project is
measured on reaches no registry and takes at most 64 MiB besides the tree, so that row has not
run there."""
import argparse, io, json, os, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def gpuaug(binary, spec, corpus, *extra):
    out = subprocess.run([binary, "bench", "--spec", str(HERE / spec), "--input", str(corpus), "--json", *extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed(fn, images, repeat=3):
    import torch
    fn()
    torch.cuda.synchronize()
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = max(best, images / (time.perf_counter() - start))
    return best


def dali_rate(paths, threads, device="mixed", batch=256, repeat=3):
    """DALI end to end, the chain of the other rows: JPEG bytes from memory (external_source),
    fn.decoders.image_random_crop (nvJPEG where device is "mixed"), resize 224, then
    crop_mirror_normalize with a coin-flip mirror to float16 NCHW. Best images/s of `repeat`
    passes after one warm-up pass. device="cpu" runs it without a GPU (to check the wiring)."""
    import numpy as np
    from nvidia.dali import fn, pipeline_def, types
    blobs = [np.frombuffer(p.read_bytes(), dtype=np.uint8) for p in paths]
    batches = [blobs[i:i + batch] for i in range(0, len(blobs), batch)]

    @pipeline_def(batch_size=batch, num_threads=threads, device_id=0 if device == "mixed" else None, seed=0)
    def chain():
        jpegs = fn.external_source(source=lambda info: batches[info.iteration % len(batches)], batch_info=True,
                                   dtype=types.UINT8)
        images = fn.decoders.image_random_crop(jpegs, device=device, output_type=types.RGB,
                                               random_area=[0.08, 1.0], random_aspect_ratio=[3 / 4, 4 / 3])
        images = fn.resize(images, resize_x=224, resize_y=224)
        return fn.crop_mirror_normalize(images, dtype=types.FLOAT16, output_layout="CHW",
                                        mean=[m * 255 for m in MEAN], std=[s * 255 for s in STD],
                                        mirror=fn.random.coin_flip())

    pipe = chain()
    pipe.build()

    def one_pass():
        for _ in batches:
            (out,) = pipe.run()
        # The last batch copied out: its work, hence every earlier batch's, is done.
        return out.as_cpu() if device == "mixed" else out

    one_pass()
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        out = one_pass()
        best = max(best, len(paths) / (time.perf_counter() - start))
    assert np.asarray(out.as_tensor()).shape[1:] == (3, 224, 224)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8000)
    ap.add_argument("--corpus", default="/tmp/gpuaug-bench-jpegs")
    ap.add_argument("--gpuaug", default=str(HERE.parent / "build" / "gpuaug"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 16)
    ap.add_argument("--skip-dataloader", action="store_true")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if len(list(corpus.glob("*.jpg"))) < args.images:
        subprocess.run([sys.executable, str(HERE / "make_jpegs.py"), str(corpus), str(args.images)], check=True)
    paths = sorted(corpus.glob("*.jpg"))[: args.images]

    import torch, torchvision
    from torchvision.io import decode_jpeg
    from torchvision.transforms import v2
    dev = torch.device("cuda")
    rows = []

    # --- augment-only: decoded uint8 already on the GPU -------------------------------------
    for spec, jitter in (("rrc_normalize_f16.yaml", False), ("rrc_jitter_noise.yaml", True)):
        g = gpuaug(args.gpuaug, spec, corpus, "--device", "cuda", "--augment-only", "--batch", "256",
                   "--iters", "5", "--limit", str(args.images))
        rows.append((f"augment-only{' +jitter+noise' if jitter else ''}", "gpuaug (planning + kernels)", g["images_per_s"]))
        rows.append((f"augment-only{' +jitter+noise' if jitter else ''}", "gpuaug kernels alone", g["kernel_images_per_s"]))
        if "kernel_gb_per_s" in g:
            rows.append((f"augment-only{' +jitter+noise' if jitter else ''}", "gpuaug kernel GB/s", g["kernel_gb_per_s"]))

    land = [p for p in paths if True][:512]
    decoded = [decode_jpeg(torchvision.io.read_file(str(p)), device="cuda") for p in land]
    landscape = torch.stack([t for t in decoded if t.shape[1:] == (375, 500)][:256])
    ops = [v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip(),
           v2.ToDtype(torch.float16, scale=True), v2.Normalize(MEAN, STD)]
    jitter_ops = ops[:2] + [v2.ColorJitter(0.4, 0.4, 0.4, 0.1), v2.ToDtype(torch.float16, scale=True),
                            v2.GaussianNoise(sigma=0.1), v2.Normalize(MEAN, STD)]
    for name, chain in (("augment-only", v2.Compose(ops)), ("augment-only +jitter+noise", v2.Compose(jitter_ops))):
        batch = landscape
        n = batch.shape[0]
        rows.append((name, "torchvision v2, one draw per batch", timed(lambda: chain(batch), n)))
        rows.append((name, "torchvision v2, per-sample loop", timed(lambda: torch.stack([chain(x) for x in batch[:64]]), 64, 1)))
    try:
        import kornia.augmentation as K
        import kornia
        kchain = K.AugmentationSequential(K.RandomResizedCrop((224, 224)), K.RandomHorizontalFlip(),
                                          K.Normalize(torch.tensor(MEAN, device=dev), torch.tensor(STD, device=dev))).to(dev)
        kjitter = K.AugmentationSequential(K.RandomResizedCrop((224, 224)), K.RandomHorizontalFlip(),
                                           K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0), K.RandomGaussianNoise(std=0.1, p=1.0),
                                           K.Normalize(torch.tensor(MEAN, device=dev), torch.tensor(STD, device=dev))).to(dev)
        fb = landscape.float() / 255
        rows.append(("augment-only", f"Kornia {kornia.__version__} AugmentationSequential (per-sample params)",
                     timed(lambda: kchain(fb).half(), fb.shape[0])))
        rows.append(("augment-only +jitter+noise", f"Kornia {kornia.__version__} AugmentationSequential",
                     timed(lambda: kjitter(fb).half(), fb.shape[0])))
    except Exception as e:  # not installed here
        rows.append(("augment-only", f"Kornia: not run ({type(e).__name__})", 0.0))

    # --- end to end: JPEG bytes in host memory -> normalized batch on the GPU ----------------
    g = gpuaug(args.gpuaug, "rrc_normalize_f16.yaml", corpus, "--device", "cuda", "--batch", "256",
               "--threads", str(args.workers), "--iters", "3", "--limit", str(args.images))
    rows.append(("end to end", f"gpuaug, default (its own exact GPU decoder, share "
                               f"{g.get('exact_decode_share', 0):.2f}; {args.workers} threads reading scans)",
                 g["images_per_s"]))
    g = gpuaug(args.gpuaug, "rrc_normalize_f16_nvjpeg.yaml", corpus, "--device", "cuda", "--batch", "256",
               "--threads", str(args.workers), "--iters", "3", "--limit", str(args.images))
    rows.append(("end to end", f"gpuaug, nvJPEG hardware + CPU ({g.get('decoder', 'CPU')}, {args.workers} threads, "
                               f"nvJPEG share {g.get('gpu_decode_share', 0):.2f})", g["images_per_s"]))
    g = gpuaug(args.gpuaug, "rrc_normalize_f16_cpu_decode.yaml", corpus, "--device", "cuda", "--batch", "256",
               "--threads", str(args.workers), "--iters", "3", "--limit", str(args.images))
    rows.append(("end to end", f"gpuaug (CPU decode only, {args.workers} threads)", g["images_per_s"]))
    data = [torchvision.io.read_file(str(p)) for p in paths]
    chain = v2.Compose(ops)

    def tv_gpu_decode():
        for i in range(0, len(data), 256):
            imgs = decode_jpeg(data[i:i + 256], device="cuda")
            torch.stack([chain(x) for x in imgs])
    rows.append(("end to end", "torchvision decode_jpeg(cuda) batched + v2 per sample", timed(tv_gpu_decode, len(data), 1)))

    def tv_decode_only():
        for i in range(0, len(data), 256):
            decode_jpeg(data[i:i + 256], device="cuda")
    rows.append(("end to end", "torchvision decode_jpeg(cuda) alone", timed(tv_decode_only, len(data), 1)))

    if not args.skip_dataloader:
        from PIL import Image

        class Files(torch.utils.data.Dataset):
            def __init__(self):
                self.blobs = [p.read_bytes() for p in paths]
                self.t = v2.Compose([v2.PILToTensor()] + ops[:2] + [v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])

            def __len__(self):
                return len(self.blobs)

            def __getitem__(self, i):
                return self.t(Image.open(io.BytesIO(self.blobs[i])).convert("RGB"))
        loader = torch.utils.data.DataLoader(Files(), batch_size=256, num_workers=args.workers, pin_memory=True,
                                             persistent_workers=True)

        def run_loader():
            for b in loader:
                b.to(dev, non_blocking=True).half()
        rows.append(("end to end", f"Pillow + v2 DataLoader, {args.workers} workers", timed(run_loader, len(paths), 1)))
    try:
        import nvidia.dali
        rows.append(("end to end", f"DALI {nvidia.dali.__version__}: image_random_crop (mixed) + resize + "
                     f"crop_mirror_normalize, {args.workers} threads", dali_rate(paths, args.workers)))
    except ImportError:
        rows.append(("end to end", "DALI: not installed", 0.0))
    except Exception as e:  # installed but failing: the other rows still print
        rows.append(("end to end", f"DALI: failed ({type(e).__name__}: {str(e)[:200]})", 0.0))

    print(f"\n{torch.cuda.get_device_name()} | torch {torch.__version__} | torchvision {torchvision.__version__} | "
          f"{len(paths)} JPEGs from make_jpegs.py | batch 256\n")
    print("| workload | system | images/s |\n|---|---|---|")
    for w, s, r in rows:
        print(f"| {w} | {s} | {r:,.0f} |")


if __name__ == "__main__":
    main()
