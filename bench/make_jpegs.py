# Copied from the shared benchmark corpus maker so the project runs it alone; keep in step with it.
"""Makes the benchmark corpus: 8000 JPEGs 500x375 q90 (a third portrait) cut from
scikit-image's sample photos. Usage: make_jpegs.py OUT_DIR [COUNT]. Figures measured on
this corpus are comparable across runs, machines and systems."""
import os, sys
import numpy as np
from PIL import Image
import skimage.data as skd
D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(__import__("tempfile").gettempdir(), "jpegs"); os.makedirs(D, exist_ok=True)
rng = np.random.default_rng(0)
srcs = [np.ascontiguousarray(getattr(skd, n)()[..., :3]) for n in ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina", "cat"]]
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 8000):
    s = srcs[i % len(srcs)]; h, w = s.shape[:2]
    ch, cw = int(h * rng.uniform(0.6, 1)), int(w * rng.uniform(0.6, 1))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    Image.fromarray(s[y:y+ch, x:x+cw]).resize((500, 375) if i % 3 else (375, 500), Image.BILINEAR).save(f"{D}/{i:05d}.jpg", quality=90)
