"""Tileable style transfer: which wrap margin leaves no seam.

A smooth random texture that tiles exactly (plugins/style_transfer/textures.py, 256 px) is
stylised by both ONNX networks without Tileable and with wrap margins of 16, 32 and 64 px
(the default is an eighth of the longer side, at least 32 px). The seam ratio is the mean
squared step across the wrap over the mean step between neighbours inside (about 1: no seam).

.venv/bin/python -m bench.style_seamless [--side 256]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import Row, isolate_studio_home, parser, report

MARGINS = (0, 16, 32, 64)


def main() -> None:
    options = parser(__doc__, runs=1)
    options.add_argument("--side", type=int, default=256)
    args = options.parse_args()
    load_before = os.getloadavg()
    isolate_studio_home()
    from plugins.style_transfer import samples, seamless, textures
    from plugins.style_transfer.generator import StyleTransfer
    from studio.core.devices import CPU
    from studio.core.generator import Context

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-seam-"))
    textures.texture(args.side, seed=1).save(folder / "texture.png")
    samples.painting(128, seed=3).save(folder / "painting.png")
    generator, found, took = StyleTransfer(), {}, {}
    default = seamless.margin_for((args.side, args.side))
    for model in ("builtin", "arbitrary"):
        for margin in MARGINS:
            seamless.margin_for = lambda _size, m=margin: m  # noqa: E731
            values = {"image": str(folder / "texture.png"), "model": model, "tileable": margin > 0}
            values["style_image"] = str(folder / "painting.png")
            start = time.perf_counter()
            (result,) = generator.run(generator.make_request(values), Context(CPU, None))
            took[(model, margin)] = time.perf_counter() - start
            found[(model, margin)] = textures.seam_ratio(result.image)
    worst = max(found[(m, default)] for m in ("builtin", "arbitrary"))
    plain = min(found[(m, 0)] for m in ("builtin", "arbitrary"))
    texts = [
        f"{model}: " + ", ".join(
            f"{'plain' if m == 0 else f'{m} px'} {found[(model, m)]:.2f} ({took[(model, m)]:.2f} s)"
            for m in MARGINS
        )
        for model in ("builtin", "arbitrary")
    ]  # fmt: skip
    row = Row(
        benchmark="style_seamless",
        result=f"Tileable ({default} px wrap margin): seam ratio {worst:.2f} at worst",
        baseline=f"without Tileable: {plain:.2f} at best",
        ratio=worst / plain,
        target="seam ratio <= 1.2 with Tileable (1 = like any step inside)",
        met=worst <= 1.2,
        notes=(
            f"texture {args.side} px that tiles (input ratio "
            f"{textures.seam_ratio(textures.texture(args.side, seed=1)):.2f}); "
            + "; ".join(texts)
            + f"; load average {'/'.join(f'{v:.2f}' for v in load_before)} before, "
            f"{'/'.join(f'{v:.2f}' for v in os.getloadavg())} after"
        ),
    )
    report(row, args)


if __name__ == "__main__":
    main()
