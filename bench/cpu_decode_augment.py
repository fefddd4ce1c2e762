"""CPU benchmark: decode + random_resized_crop 224 + flip + normalize to float32 CHW, per core,
gpuaug vs OpenCV vs Pillow (+ torchvision v2 where installed), in one run on one machine.

Usage: python3 bench/cpu_decode_augment.py [--images 1000] [--corpus DIR] [--gpuaug build/gpuaug]
Prints a markdown table of images/s and ratios; paste it into bench/RESULTS.md with the device,
the date and this command."""
import argparse, json, math, os, random, subprocess, sys, time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def rrc_box(rng, w, h, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    area = w * h
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_r))
        cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, h - ch), rng.randint(0, w - cw), ch, cw
    return 0, 0, h, w


def bench_opencv(files):
    import cv2
    cv2.setNumThreads(1)
    rng = random.Random(0)
    start = time.perf_counter()
    for data in files:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        top, left, ch, cw = rrc_box(rng, img.shape[1], img.shape[0])
        out = cv2.resize(img[top:top + ch, left:left + cw], (224, 224), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        out = ((out.astype(np.float32) * (1 / 255) - MEAN) / STD).transpose(2, 0, 1).copy()
    return len(files) / (time.perf_counter() - start)


def bench_pillow(files):
    import io
    from PIL import Image
    try:
        import torch
        torch.set_num_threads(1)
        from torchvision.transforms import v2
        chain = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(224, antialias=True),
                            v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize(MEAN.tolist(), STD.tolist())])
        name = "Pillow + torchvision v2"
        start = time.perf_counter()
        for data in files:
            chain(Image.open(io.BytesIO(data)).convert("RGB"))
    except ImportError:
        name = "Pillow + numpy"
        rng = random.Random(0)
        start = time.perf_counter()
        for data in files:
            img = Image.open(io.BytesIO(data)).convert("RGB")
            top, left, ch, cw = rrc_box(rng, img.width, img.height)
            img = img.resize((224, 224), Image.BILINEAR, box=(left, top, left + cw, top + ch))
            if rng.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
            ((np.asarray(img, np.float32) * (1 / 255) - MEAN) / STD).transpose(2, 0, 1).copy()
    return name, len(files) / (time.perf_counter() - start)


def bench_gpuaug(binary, corpus, threads, count, iters=3):
    out = subprocess.run([binary, "bench", "--spec", str(HERE / "rrc_normalize.yaml"), "--input", str(corpus),
                          "--threads", str(threads), "--limit", str(count), "--iters", str(iters), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["images_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--corpus", default="/tmp/gpuaug-bench-jpegs")
    ap.add_argument("--gpuaug", default=str(HERE.parent / "build" / "gpuaug"))
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if len(list(corpus.glob("*.jpg"))) < args.images:
        subprocess.run([sys.executable, str(HERE / "make_jpegs.py"), str(corpus), str(args.images)], check=True)
    paths = sorted(corpus.glob("*.jpg"))[: args.images]
    files = [p.read_bytes() for p in paths]
    if len(paths) < len(list(corpus.glob("*.jpg"))):  # gpuaug reads a list of exactly these files
        listing = corpus / f"first-{args.images}.txt"
        listing.write_text("".join(p.name + "\n" for p in paths))
        corpus = listing

    one = bench_gpuaug(args.gpuaug, corpus, 1, args.images)
    cv = bench_opencv(files)
    pil_name, pil = bench_pillow(files)
    cores = os.cpu_count() or 1
    rows = [("gpuaug, 1 thread", one), ("OpenCV (cv2), 1 thread", cv), (f"{pil_name}, 1 thread", pil)]
    print(f"| system | images/s | gpuaug ÷ it |\n|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {one / rate:.2f}× |")
    print(f"\n| gpuaug threads | images/s | speed-up | efficiency |\n|---|---|---|---|")
    threads = sorted({1, 2, 4, 8, 16, cores} & set(range(1, cores + 1)))
    for t in threads:
        rate = one if t == 1 else bench_gpuaug(args.gpuaug, corpus, t, args.images)
        print(f"| {t} | {rate:,.0f} | {rate / one:.2f}× | {rate / one / t:.0%} |")


if __name__ == "__main__":
    main()
