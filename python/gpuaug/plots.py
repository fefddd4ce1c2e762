"""PNG plots of a `gpuaug stats` file (the per-channel histograms and the image sizes) and of a
`gpuaug bench --compare` table.

Usage: python3 -m gpuaug.plots STATS_JSON OUT_DIR   (what `gpuaug stats --plots DIR` runs)
       python3 -m gpuaug.plots --compare COMPARE_CSV OUT_PNG   (`gpuaug bench --compare --output DIR`)

Writes OUT_DIR/histogram.png (fraction of pixels at each level, R, G and B, with the means) and
OUT_DIR/sizes.png (the most common resolutions, marker area by count, and the width, height and
aspect quantiles). Needs matplotlib.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def _save(fig, path: Path) -> None:
    """Whole files only: a temporary name beside the target, then a rename."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".gpuaug-tmp-", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a plot is not
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def plot_stats(stats: dict, out_dir: str | os.PathLike) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(8, 4.5))
    total = max(int(stats.get("pixels", 0)), 1)
    for channel, color, mean in zip("rgb", ("tab:red", "tab:green", "tab:blue"), stats.get("mean", [0, 0, 0])):
        counts = stats["histogram"][channel]
        ax.plot(range(256), [c / total for c in counts], color=color, label=f"{channel.upper()} (mean {mean:.3f})")
        ax.axvline(mean * 255, color=color, linestyle=":", linewidth=1)
    ax.set_xlim(0, 255)
    ax.set_xlabel("level")
    ax.set_ylabel("fraction of pixels")
    ax.set_title(f"{stats.get('measured', 0)} images, {total:,} pixels")
    ax.legend()
    fig.tight_layout()
    _save(fig, out / "histogram.png")
    plt.close(fig)
    written.append(out / "histogram.png")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    res = stats.get("resolutions", [])
    if res:
        biggest = max(r["count"] for r in res)
        left.scatter([r["width"] for r in res], [r["height"] for r in res],
                     s=[20 + 400 * r["count"] / biggest for r in res], alpha=0.6)
        for r in res[:5]:
            left.annotate(str(r["count"]), (r["width"], r["height"]), fontsize=8)
    left.set_xlabel("width")
    left.set_ylabel("height")
    left.set_title("most common resolutions (marker area: count)")
    names = [n for n in ("width", "height") if stats.get(n)]
    keys = ("min", "p5", "p50", "p95", "max")
    for offset, name in enumerate(names):
        q = stats[name]
        right.bar([k + 0.4 * offset for k in range(len(keys))], [q[k] for k in keys], width=0.4, label=name)
    right.set_xticks([k + 0.2 for k in range(len(keys))], keys)
    right.set_ylabel("pixels")
    if stats.get("aspect"):
        right.set_title("sizes; aspect p5/p50/p95 = {:.2f} / {:.2f} / {:.2f}".format(
            stats["aspect"]["p5"], stats["aspect"]["p50"], stats["aspect"]["p95"]))
    right.legend()
    fig.tight_layout()
    _save(fig, out / "sizes.png")
    plt.close(fig)
    written.append(out / "sizes.png")
    return written


def plot_compare(csv_path: str | os.PathLike, png_path: str | os.PathLike) -> Path:
    """Images/s of each run of a comparison as horizontal bars, labelled with the speed-up over
    one CPU thread; CPU thread counts, GPU and process rows in their own colours."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{csv_path}: no rows")
    names = [r["run"] for r in rows]
    rates = [float(r["images_per_s"]) for r in rows]
    colours = ["#4c72b0" if r["device"] == "cpu" and int(r["processes"]) == 1 else
               "#55a868" if int(r["processes"]) > 1 else "#c44e52" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, rates, color=colours)
    ax.set_yticks(y, names)
    ax.set_xscale("log")
    ax.set_xlabel("images/s (log scale)")
    for yi, rate, r in zip(y, rates, rows):
        ax.text(rate, yi, f"  {rate:,.0f}  ({float(r['speedup']):.1f}x)", va="center", fontsize=8)
    ax.set_xlim(min(rates) * 0.5, max(rates) * 8)
    ax.set_title("gpuaug bench --compare: the same work on\nCPU threads, GPUs and processes", fontsize=10)
    fig.tight_layout()
    path = Path(png_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, path)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "--compare":
        try:
            print(plot_compare(argv[2], argv[3]))
        except ImportError as e:
            print(f"gpuaug.plots: {e}: pip install matplotlib", file=sys.stderr)
            return 1
        except (OSError, ValueError, KeyError) as e:
            print(f"gpuaug.plots: {argv[2]}: {e}", file=sys.stderr)
            return 1
        return 0
    if len(argv) != 3:
        print("\n".join(__doc__.strip().splitlines()[3:5]), file=sys.stderr)
        return 2
    try:
        stats = json.loads(Path(argv[1]).read_text())
    except (OSError, ValueError) as e:
        print(f"gpuaug.plots: {argv[1]}: {e}", file=sys.stderr)
        return 1
    try:
        for path in plot_stats(stats, argv[2]):
            print(path)
    except ImportError as e:
        print(f"gpuaug.plots: {e}: pip install matplotlib", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
