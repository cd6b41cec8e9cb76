"""Loading a single SD 1.5 checkpoint (2.1 GB, the real architecture, random fp16 weights):
Studio's path against `from_single_file` called directly, from a warm disk.

The file is the one the tests build (tests/t2i_real.py, kept in the system temp folder).
Each round loads it once through Studio (discovery's header read, the variant, the bundled
configuration and the tokenizer built from the installed open_clip files, `pipelines.load`)
and once as `StableDiffusionPipeline.from_single_file(file, config=<the same configuration
folder>, tokenizer=<the same tokenizer>)`: the least a direct offline call needs. The order
alternates, after one warm-up load each; the ratio is the median of direct time / app time
(target >= 0.95x).

.venv/bin/python -m bench.t2i_load [--runs 3]
"""

from __future__ import annotations

import gc
import os
import time

from bench.common import Row, median, parser, report, spread  # noqa: E402


def main() -> None:
    args = parser(__doc__, runs=3).parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from diffusers import StableDiffusionPipeline

    from plugins.text_to_image import components, discovery, pipelines, tokenizer
    from studio.core.devices import CPU
    from studio.core.models import models_dir
    from tests.t2i_real import sd15_checkpoint

    built = time.perf_counter()
    path = sd15_checkpoint()
    built = time.perf_counter() - built
    words = tokenizer.find(models_dir())
    if words is None:
        raise SystemExit("install the tokenizer first: studio models install-defaults")
    config = components.config_folder("sd1")

    def app() -> float:
        start = time.perf_counter()
        entry = discovery.pair_config(discovery.entry_for(path), [])
        pipe, _entry, _variant = pipelines.load(entry, CPU, models_dir=models_dir())
        took = time.perf_counter() - start
        del pipe
        gc.collect()
        return took

    def direct() -> float:
        start = time.perf_counter()
        pipe = StableDiffusionPipeline.from_single_file(
            str(path),
            config=str(config),
            tokenizer=tokenizer.clip_tokenizer(words),
            local_files_only=True,
            dtype=torch.float32,
            safety_checker=None,
            requires_safety_checker=False,
        )
        took = time.perf_counter() - start
        del pipe
        gc.collect()
        return took

    app(), direct()  # warm-up: the page cache, imports, the tokenizer files read once
    app_times, direct_times, ratios = [], [], []
    for round_ in range(args.runs):
        order = (app, direct) if round_ % 2 == 0 else (direct, app)
        got = {fn: fn() for fn in order}
        app_times.append(got[app])
        direct_times.append(got[direct])
        ratios.append(got[direct] / got[app])
    ratio = median(ratios)
    row = Row(
        benchmark="t2i_load",
        result=f"app {median(app_times):.2f} s",
        baseline=f"from_single_file direct {median(direct_times):.2f} s",
        ratio=ratio,
        target=">= 0.95x direct",
        met=ratio >= 0.95,
        notes=(
            f"SD 1.5 single file, real architecture, random fp16 weights, "
            f"{path.stat().st_size / 1e9:.2f} GB, loaded to float32 on CPU "
            f"({torch.get_num_threads()} threads), warm page cache; {args.runs} rounds "
            f"alternating; ratios {spread(ratios)}; app {spread(app_times)} s, direct "
            f"{spread(direct_times)} s; file built in {built:.0f} s (0 when cached)"
        ),
    )
    report(row, args)


if __name__ == "__main__":
    main()
