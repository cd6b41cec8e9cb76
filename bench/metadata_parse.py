"""A1111 `parameters` parse time against text length, 1 KB ... 50 MB: it must stay linear.

Measured: `split_a1111` (Studio's reader of A1111's text) on texts of 1 KB, 10 KB, 100 KB,
1 MB, 10 MB and 50 MB of three kinds:
  prompt  - a real-looking text: prompt (weights, commas), negative prompt, one pairs line;
            the prompt grows to reach the size;
  hostile - letters and spaces only, no comma or colon: the text that made A1111's own pair
            pattern (and Studio before) quadratic;
  pairs   - `Key N: value N, ` repeated: a pairs line with as many pairs as fit.
Each size is timed `--runs` times (fewer above 1 MB) after one untimed run, each sample
making enough calls to parse about 1 MB; the median time per MB is reported for every size,
and the ratio of the per-MB time at the largest size (50 MB) to that at the smallest (1 KB),
for the kind where it is highest: linear parsing keeps it at 1 or below (a call's fixed cost
weighs most at 1 KB); quadratic parsing multiplies it by 50,000 over this range.

Baseline, in the same run: `re.findall` with A1111's own pattern (`re_param_code`) on the
hostile text at 1 KB, 4 KB and 16 KB (larger sizes take minutes); its per-MB time grows with
the size. Also timed once: `read_metadata` of a 51 KB PNG whose zTXt inflates to 50 MB (the
text is skipped as over the limit), and of a PNG with a 15 MB parameters text (under it).

Target: per-MB time at 50 MB <= 2x that at 1 KB, for every kind.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable

from bench.common import Row, median, parser, report  # noqa: E402

KB, MB = 1024, 1024 * 1024
SIZES = (KB, 10 * KB, 100 * KB, MB, 10 * MB, 50 * MB)
BASELINE_SIZES = (KB, 4 * KB, 16 * KB)
TARGET = 2.0
# AUTOMATIC1111's pattern for one pair (modules/infotext_utils.py, re_param_code).
A1111_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
PAIRS_LINE = (
    "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, "
    'Size: 832x1216, Model hash: 6ce0161689, Model: sdxl_base, Lora hashes: "detail: 0a1b2c", '
    "Version: v1.10.1"
)


def text_of(kind: str, size: int) -> str:
    if kind == "prompt":
        unit = "masterpiece, (a red fox:1.2) in the snow, [detailed fur], "
        head = (unit * (size // len(unit) + 1))[: max(0, size - len(PAIRS_LINE) - 40)]
        return f"{head}\nNegative prompt: blurry, lowres\n{PAIRS_LINE}"
    if kind == "hostile":
        return ("abcdefghij klmnopqrst " * (size // 22 + 1))[:size]
    line = "".join(f"Key {i}: value {i}, " for i in range(size // 16 + 1))
    return f"a prompt\n{line[:size]}"


def timed(call: Callable[[], object], runs: int, repeat: int = 1) -> float:
    """Median seconds per call; each sample makes `repeat` calls (small texts: a sample of
    one call would measure the timer and the cache, not the parse)."""
    call()  # untimed: caches, first allocation of a large list
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        for _ in range(repeat):
            call()
        times.append((time.perf_counter() - start) / repeat)
    return median(times)


def main() -> None:
    args = parser(__doc__, runs=5).parse_args()
    from studio.core.metadata_a1111 import split_a1111

    per_mb: dict[str, dict[int, float]] = {}
    for kind in ("prompt", "hostile", "pairs"):
        per_mb[kind] = {}
        for size in SIZES:
            text = text_of(kind, size)
            runs = args.runs if size <= MB else max(1, args.runs // 2)
            repeat = max(1, MB // size)  # about 1 MB of text per sample at least
            seconds = timed(lambda text=text: split_a1111(text), runs, repeat)
            per_mb[kind][size] = seconds / (size / MB)
    base = {}
    for size in BASELINE_SIZES:
        line = text_of("hostile", size)
        base[size] = timed(lambda line=line: A1111_PAIR.findall(line), 1) / (size / MB)
    # per-MB time at the largest size over that at the smallest: <= 1 for linear parsing (a
    # call's fixed cost weighs most at 1 KB), 50,000 for quadratic; and the spread of all sizes
    ratios = {kind: f[SIZES[-1]] / f[SIZES[0]] for kind, f in per_mb.items()}
    spread = {kind: max(f.values()) / min(f.values()) for kind, f in per_mb.items()}
    worst = max(ratios, key=ratios.get)
    bomb, large = _read_times()
    notes = "; ".join(
        f"{kind}: "
        + ", ".join(f"{_size(s)} {per_mb[kind][s] * 1e3:.3g}" for s in SIZES)
        + f" ms/MB (50 MB/1 KB {ratios[kind]:.2f}x; slowest/fastest size {spread[kind]:.2f}x)"
        for kind in per_mb
    )
    notes += (
        "; A1111's pattern on hostile text: "
        + ", ".join(f"{_size(s)} {base[s]:.3g} s/MB" for s in BASELINE_SIZES)
        + f" ({base[BASELINE_SIZES[-1]] / base[BASELINE_SIZES[0]]:.0f}x per MB from "
        f"{_size(BASELINE_SIZES[0])} to {_size(BASELINE_SIZES[-1])}); read_metadata: 51 KB PNG "
        f"whose zTXt inflates to 50 MB {bomb * 1e3:.0f} ms (skipped, over the limit), PNG "
        f"with a 15 MB parameters text {large:.2f} s; {args.runs} runs per size up to 1 MB, "
        f"{max(1, args.runs // 2)} above, median"
    )
    row = Row(
        benchmark="metadata_parse",
        result=f"split_a1111, worst kind ({worst}): {per_mb[worst][SIZES[0]] * 1e3:.3g} ms/MB "
        f"at 1 KB, {per_mb[worst][SIZES[-1]] * 1e3:.3g} ms/MB at 50 MB",
        baseline=f"A1111's pattern, hostile text: {base[BASELINE_SIZES[0]]:.3g} s/MB at 1 KB, "
        f"{base[BASELINE_SIZES[-1]]:.3g} s/MB at 16 KB",
        ratio=ratios[worst],
        target=f"per-MB time at 50 MB <= {TARGET:g}x that at 1 KB (linear)",
        met=ratios[worst] <= TARGET,
        notes=notes,
    )
    report(row, args)


def _read_times() -> tuple[float, float]:
    import io
    import zlib

    from PIL import Image

    from studio.core.metadata_read import read_metadata
    from tests.odd_images import png_chunk

    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    png = out.getvalue()
    bomb = png_chunk(b"zTXt", b"parameters\0\0" + zlib.compress(b"x" * 50 * MB, 9))
    large = png_chunk(b"tEXt", b"parameters\0" + text_of("prompt", 15 * MB).encode())
    times = []
    for chunk in (bomb, large):
        data = png[:-12] + chunk + png[-12:]
        times.append(timed(lambda data=data: read_metadata(data), 1))
    return times[0], times[1]


def _size(size: int) -> str:
    return f"{size // MB} MB" if size >= MB else f"{size // KB} KB"


if __name__ == "__main__":
    main()
