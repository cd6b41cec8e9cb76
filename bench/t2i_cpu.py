"""Text to image on a laptop-class CPU: where the seconds go at 512 px, how far each figure is
from what this machine could do at best, and which levers pay.

The model is the SD 1.5 single file of the real architecture the tests build (random fp16
weights, 2.1 GB, kept in the system temp folder; speed does not depend on the values), loaded
through Studio's own path to float32 on the CPU. Measured, each as the median of --runs:

- the figures: text encode (prompt and negative, the app's A1111-syntax conditioner), one UNet
  pass at batch 1 (a step without CFG) and batch 2 (a step with CFG), VAE decode of a 512 px
  latent, and the tiny autoencoder's (TAESD, diffusers' AutoencoderTiny, random weights) decode;
- the limit: FLOPs of each pass (counted with torch's FlopCounterMode on the meta device, no
  compute) over the machine's measured float32 matmul rate (a 1024^3 product, same threads);
- the levers, each against the plain path in the same run, alternating, one pass each:
  channels-last memory, SDPA's math kernel instead of the default (flash) one, bfloat16
  autocast, VAE decode in 256 px tiles, and (with --compile) torch.compile. A lever measured
  faster is also checked for pixels: the 512 px picture decoded from the same latents
  (VAE levers) or from the x0 predicted at t=500 (UNet levers) against the plain one, mean
  absolute difference in 0..255 levels (tolerance TOLERANCE).

Whole-image times are extrapolated from the per-pass figures (steps x pass + text + decode;
the scheduler's own arithmetic is below a millisecond per step), so a run stays a few minutes;
the notes say so. The load average is recorded before and after each figure.

With --app it measures instead one whole "Fast" job through the generator (the file named
as an LCM model, LCM 4 steps, CFG 1, a random TAESD in the model folder for the decode and
the previews) against the sum of its parts timed in the same run, just before and after it:
text encode + 4 UNet passes + TAESD decode.

.venv/bin/python -m bench.t2i_cpu [--runs 1] [--size 512] [--compile] [--app]
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.common import Row, median, parser, report, spread

TOLERANCE = 1.0  # mean |pixel difference| in 0..255 levels a lever may cost
PROMPT = "a (red:1.2) barn in long grass, evening light, detailed"
NEGATIVE = "blurry, low quality"


def load_text() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


class Figures:
    """Medians of timed calls, with the load average around each."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.loads: dict[str, list[str]] = {}

    def time(self, name: str, fn: Callable[[], Any]) -> Any:
        before = load_text()
        start = time.perf_counter()
        out = fn()
        took = time.perf_counter() - start
        self.times.setdefault(name, []).append(took)
        self.loads.setdefault(name, []).append(f"{before}->{load_text()}")
        print(f"  {name}: {took:.2f} s (load {self.loads[name][-1]})", flush=True)
        return out

    def med(self, name: str) -> float:
        return median(self.times[name])

    def text(self, name: str) -> str:
        return f"{self.med(name):.2f} s ({spread(self.times[name])})"


# ---------------------------------------------------------------- the limit


def matmul_rate(dtype: Any, n: int = 1024, repeats: int = 12) -> float:
    """FLOP/s of an n^3 matrix product on the current threads (best of `repeats`)."""
    import torch

    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def counted_flops(size: int) -> dict[str, float]:
    """FLOPs of one UNet pass (batch 1 and 2), the VAE decode and the text encoder at `size`,
    on meta-device models of Studio's SD 1.5 configuration (nothing is computed)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tests.t2i_real import meta_models

    parts = meta_models("sd1")
    side = size // 8
    out: dict[str, float] = {}
    with torch.no_grad():
        for batch in (1, 2):
            x = torch.empty(batch, 4, side, side, device="meta")
            cond = torch.empty(batch, 77, 768, device="meta")
            t = torch.tensor([500] * batch, device="meta")
            with FlopCounterMode(display=False) as counter:
                parts["unet"](x, t, encoder_hidden_states=cond)
            out[f"unet{batch}"] = counter.get_total_flops()
        with FlopCounterMode(display=False) as counter:
            parts["vae"].decode(torch.empty(1, 4, side, side, device="meta"))
        out["vae"] = counter.get_total_flops()
        ids = torch.zeros(2, 77, dtype=torch.long, device="meta")
        with FlopCounterMode(display=False) as counter:
            parts["text_encoder"](ids)
        out["text"] = counter.get_total_flops()
    return out


# ---------------------------------------------------------------- levers


@contextlib.contextmanager
def channels_last(module: Any) -> Iterator[None]:
    import torch

    module.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        module.to(memory_format=torch.contiguous_format)


@contextlib.contextmanager
def sdpa_math() -> Iterator[None]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.MATH]):
        yield


@contextlib.contextmanager
def bf16() -> Iterator[None]:
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield


@contextlib.contextmanager
def vae_tiles(vae: Any, tile: int = 256) -> Iterator[None]:
    saved = vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size
    vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size = True, tile, tile // 8
    try:
        yield
    finally:
        vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size = saved


def compare(
    figures: Figures, name: str, plain: Callable[[], Any], lever: Callable[[], Any], runs: int
) -> tuple[float, Any, Any]:
    """Alternate plain and lever `runs` times each; (median plain/lever ratio, outputs)."""
    ratios, outs = [], {}
    for round_ in range(runs):
        order = [("plain " + name, plain), (name, lever)]
        if round_ % 2:
            order.reverse()
        got = {}
        for label, fn in order:
            outs[label] = figures.time(label, fn)
            got[label] = figures.times[label][-1]
        ratios.append(got["plain " + name] / got[name])
    return median(ratios), outs["plain " + name], outs[name]


def pixels(image: Any) -> Any:
    import numpy as np
    import torch

    arr = ((image.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return np.asarray(arr[0].permute(1, 2, 0).numpy(), dtype=np.int16)


def mean_diff(a: Any, b: Any) -> float:
    import numpy as np

    return float(np.abs(pixels(a) - pixels(b)).mean())


# ---------------------------------------------------------------- the run


def main() -> None:
    args = parser(__doc__, runs=1)
    args.add_argument("--size", type=int, default=512)
    args.add_argument("--compile", action="store_true", help="also measure torch.compile")
    args.add_argument("--app", action="store_true", help="one Fast job through the app")
    args = args.parse_args()
    if args.app:
        return app_job(args)
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    from plugins.text_to_image import conditioning, discovery, pipelines
    from studio.core.devices import CPU
    from studio.core.models import models_dir
    from tests.t2i_real import sd15_checkpoint

    load_start = load_text()
    wall = time.perf_counter()
    threads = torch.get_num_threads()
    rate32 = matmul_rate(torch.float32)
    rate16 = matmul_rate(torch.bfloat16, n=512, repeats=4)
    flops = counted_flops(args.size)
    path = sd15_checkpoint()
    entry = discovery.pair_config(discovery.entry_for(path), [])
    pipe, _entry, _variant = pipelines.load(entry, CPU, models_dir=models_dir())
    unet, vae = pipe.unet, pipe.vae
    side = args.size // 8
    g = torch.Generator().manual_seed(1)
    latents = torch.randn(1, 4, side, side, generator=g)
    figures = Figures()
    conditioner = conditioning.Conditioner(pipe)
    conditioner(PROMPT, NEGATIVE)  # warm-up: tokenizer, first call
    embeds = [figures.time("text", lambda: conditioner(PROMPT, NEGATIVE)) for _ in range(3)][0]
    cond = embeds["prompt_embeds"]
    both = torch.cat([embeds["negative_prompt_embeds"], cond])
    t = torch.tensor([500])

    small = latents[:, :, :16, :16].contiguous()  # 128 px, for a lever too slow at 512

    @torch.no_grad()
    def unet_pass(batch: int = 1, x: Any = None) -> Any:
        x = (latents if x is None else x).repeat(batch, 1, 1, 1)
        return unet(x, t.repeat(batch), encoder_hidden_states=cond if batch == 1 else both).sample

    @torch.no_grad()
    def decode(z: Any = None) -> Any:
        z = latents if z is None else z
        return vae.decode(z / vae.config.scaling_factor).sample

    def under(ctx: Callable[[], Any], fn: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with ctx():
                return fn()

        return call

    alpha = pipe.scheduler.alphas_cumprod[500]

    def x0(eps: Any) -> Any:
        return (latents - (1 - alpha).sqrt() * eps.float()) / alpha.sqrt()

    levers: list[dict[str, Any]] = []

    def unet_lever(name: str, ctx: Callable[[], Any], at_128: bool = False) -> None:
        def plain_fn() -> Any:
            return unet_pass(1, small if at_128 else None)

        ratio, plain, made = compare(figures, name, plain_fn, under(ctx, plain_fn), args.runs)
        lever = {"name": name + (" (at 128 px)" if at_128 else ""), "part": "unet"}
        lever.update(ratio=ratio, diff=None)
        if ratio > 1.02 and not at_128:  # pixels of a 256 px crop: a quarter of the decode
            crop = (slice(None), slice(None), slice(side // 4, 3 * side // 4))
            crop = (*crop, crop[2])
            lever["diff"] = mean_diff(decode(x0(plain)[crop]), decode(x0(made)[crop]))
        levers.append(lever)
        gc.collect()

    def vae_lever(name: str, ctx: Callable[[], Any]) -> None:
        ratio, plain, made = compare(figures, name, decode, under(ctx, decode), args.runs)
        lever = {"name": name, "part": "vae", "ratio": ratio, "diff": mean_diff(plain, made)}
        levers.append(lever)
        gc.collect()

    for _ in range(args.runs):
        figures.time("unet b2 (CFG)", lambda: unet_pass(2))
    unet_lever("channels-last", lambda: channels_last(unet))
    unet_lever("SDPA math kernel", sdpa_math)
    # Without native bfloat16 (AVX512-BF16/AMX) a 512 px pass would take many minutes:
    # measured at 128 px then, the matmul rates above say why
    unet_lever("bfloat16 autocast", bf16, at_128=rate16 < rate32 / 2)
    vae_lever("VAE in 256 px tiles", lambda: vae_tiles(vae))
    vae_lever("VAE channels-last", lambda: channels_last(vae))
    compile_note = "torch.compile not measured (--compile)"
    if args.compile:
        start = time.perf_counter()
        compiled = torch.compile(unet)
        with torch.no_grad():
            compiled(latents, t, encoder_hidden_states=cond)
        took = time.perf_counter() - start
        ratio, _plain, _made = compare(
            figures,
            "torch.compile",
            unet_pass,
            torch.no_grad()(lambda: compiled(latents, t, encoder_hidden_states=cond).sample),
            args.runs,
        )
        levers.append({"name": "torch.compile", "part": "unet", "ratio": ratio, "diff": None})
        compile_note = f"torch.compile first call {took:.0f} s"
    taesd = tiny_decoder()
    with torch.no_grad():
        taesd.decode(latents)
        for _ in range(args.runs + 1):
            figures.time("TAESD decode", lambda: taesd.decode(latents).sample)
    rate32 = max(rate32, matmul_rate(torch.float32))  # the best the shared machine gave
    _rows(args, figures, levers, flops, rate32, rate16, threads, load_start, compile_note, wall)


def app_job(args: Any) -> None:
    """A whole Fast job through TextToImage.run at --size against its parts, same run."""
    import tempfile
    from pathlib import Path

    import torch

    from plugins.text_to_image import conditioning, pipelines, taesd
    from plugins.text_to_image.generator import TextToImage
    from studio.core.devices import CPU
    from studio.core.generator import Context
    from studio.core.models import models_dir
    from tests.t2i_real import sd15_checkpoint

    load_start, wall = load_text(), time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-fast-"))
    model = folder / "dream-lcm-random.safetensors"
    model.symlink_to(sd15_checkpoint())
    tiny_decoder().save_pretrained(folder / "taesd")
    os.environ["STUDIO_MODEL_PATHS"] = str(folder)
    generator = TextToImage()
    (preset, _standard) = generator.presets({"model": str(model)}, models_dir())
    values = {"model": str(model), "prompt": PROMPT, "negative_prompt": NEGATIVE, "seed": 1,
              "width": args.size, "height": args.size, **preset.values}  # fmt: skip
    request = generator.make_request(values)
    steps = []
    ctx = Context(CPU, models_dir(), lambda step, *_: steps.append(step))
    figures = Figures()
    generator.run(generator.make_request({**values, "steps": 1}), ctx)  # load, warm
    loaded = pipelines.shared.current
    pipe = loaded.text2img
    side = args.size // 8
    latents = torch.randn(1, 4, side, side, generator=torch.Generator().manual_seed(1))
    decoder = taesd.load(folder / "taesd", "cpu", torch.float32)

    def parts() -> None:
        embeds = figures.time("text", lambda: conditioning.Conditioner(pipe)(PROMPT, NEGATIVE))
        with torch.no_grad():
            figures.time(
                "unet",
                lambda: pipe.unet(latents, torch.tensor([500]),
                                  encoder_hidden_states=embeds["prompt_embeds"]),
            )  # fmt: skip
        figures.time("taesd", lambda: taesd.decode(decoder, latents))

    parts()
    steps.clear()
    (result,) = figures.time("app", lambda: generator.run(request, ctx))
    parts()
    pipelines.shared.unload()
    summed = figures.med("text") + 4 * figures.med("unet") + figures.med("taesd")
    took = figures.med("app")
    row = Row(
        benchmark=f"t2i_cpu (Fast job, {args.size} px, through the app)",
        result=f"{took:.0f} s",
        baseline=f"its parts, same run: text + 4 x UNet pass + TAESD {summed:.0f} s",
        ratio=took / summed,
        target="<= 1.1x its parts (no hidden cost)",
        met=took / summed <= 1.1,
        notes=(
            f"preset {preset.values} ({preset.note}); SD 1.5 single file of the real "
            f"architecture, random weights, named as an LCM model; float32 CPU "
            f"({torch.get_num_threads()} threads, {_cpu()}); {len(steps)} progress reports, "
            f"previews by TAESD (random weights); parts before/after: text "
            f"{figures.text('text')}, UNet pass {figures.text('unet')}, TAESD "
            f"{figures.text('taesd')}; result {result.size[0]}x{result.size[1]}, device "
            f"'{result.device}', note '{result.note}'; load average {load_start} at the start, "
            f"{load_text()} at the end; app job load {figures.loads['app'][0]}; whole run "
            f"{time.perf_counter() - wall:.0f} s"
        ),
    )
    report(row, args)


def tiny_decoder() -> Any:
    """TAESD's architecture (diffusers' AutoencoderTiny defaults), random weights."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    return AutoencoderTiny().eval()


def _rows(
    args: Any,
    figures: Figures,
    levers: list[dict],
    flops: dict,
    rate32: float,
    rate16: float,
    threads: int,
    load_start: str,
    compile_note: str,
    wall: float,
) -> None:
    b2 = figures.med("unet b2 (CFG)")
    b1 = median(figures.times["plain channels-last"] + figures.times["plain SDPA math kernel"])
    text, vae = (
        figures.med("text"),
        median(
            figures.times["plain VAE in 256 px tiles"] + figures.times["plain VAE channels-last"]
        ),
    )
    taesd = figures.med("TAESD decode")

    def limit(name: str, took: float) -> str:
        best = flops[name] / rate32
        return f"{flops[name] / 1e12:.2f} TFLOP, limit {best:.2f} s, measured {took / best:.1f}x it"

    kept = [lv for lv in levers if lv["ratio"] > 1.02 and (lv["diff"] or 0) <= TOLERANCE]
    kept = [lv for lv in kept if lv["diff"] is not None]
    lever_text = "; ".join(
        f"{lv['name']} {lv['ratio']:.2f}x"
        + (f" (pixels {lv['diff']:.2f} levels)" if lv["diff"] is not None else "")
        + (" KEPT" if lv in kept else "")
        for lv in levers
    )
    speed_unet = 1.0
    for lv in kept:
        if lv["part"] == "unet":
            speed_unet *= lv["ratio"]
    before = text + 20 * b2 + vae
    fast_lcm = text + 4 * b1 / speed_unet + taesd
    fast_lcm_vae = text + 4 * b1 / speed_unet + vae
    turbo = text + 1 * b1 / speed_unet + vae
    common = (
        f"SD 1.5 single file, real architecture, random weights, float32 on CPU ({threads} "
        f"threads, {os.cpu_count()} cores, {_cpu()}), {args.size} px, {args.runs} run(s) per "
        f"figure, lever and plain alternating; matmul rate float32 {rate32 / 1e9:.0f} GFLOP/s, "
        f"bfloat16 {rate16 / 1e9:.0f} GFLOP/s; load average {load_start} at the start"
    )
    figures_row = Row(
        benchmark="t2i_cpu (figures, 512 px)",
        result=(
            f"UNet step without CFG {b1:.1f} s, with CFG {b2:.1f} s; text encode {text:.2f} s; "
            f"VAE decode {vae:.1f} s; TAESD decode {taesd:.2f} s"
        ),
        baseline=f"the machine's limit: UNet pass {flops['unet1'] / rate32:.1f} s at "
        f"{rate32 / 1e9:.0f} GFLOP/s",
        ratio=b1 / (flops["unet1"] / rate32),
        target="record (where the time goes)",
        met=True,
        notes=(
            f"{common}; UNet batch 1: {limit('unet1', b1)}; batch 2: {limit('unet2', b2)}; VAE "
            f"decode: {limit('vae', vae)}; text encoder (2 prompts): {limit('text', text)}; "
            f"load before->after each figure: UNet b2 {', '.join(figures.loads['unet b2 (CFG)'])}"
            f"; VAE {', '.join(figures.loads['plain VAE channels-last'])}; UNet levers' pixels "
            "checked on the central 256 px of the picture decoded from x0 at t=500"
        ),
    )
    report(figures_row, args)
    levers_row = Row(
        benchmark="t2i_cpu (levers)",
        result=", ".join(lv["name"] for lv in kept) or "none kept",
        baseline="the plain path, same run, alternating",
        ratio=speed_unet,
        target=f"faster and pixels within {TOLERANCE:g} level (mean, 0..255) of plain",
        met=True,
        notes=f"{common}; ratio = plain time / lever time, median of pairs: {lever_text}; "
        f"{compile_note}",
    )
    report(levers_row, args)
    after_row = Row(
        benchmark="t2i_cpu (before/after, 512 px image)",
        result=(
            f"LCM 4 steps CFG 1 + TAESD {fast_lcm:.0f} s; + full VAE {fast_lcm_vae:.0f} s; "
            f"Turbo-style 1 step {turbo:.0f} s"
        ),
        baseline=f"plain 20 steps Euler a, CFG 7, full VAE {before:.0f} s",
        ratio=before / fast_lcm,
        target="a 512 px SD 1.5 image in < 60 s",
        met=fast_lcm < 60,
        notes=(
            f"extrapolated from the per-pass figures above (steps x UNet pass + text encode + "
            f"decode), kept levers applied to the few-step paths: UNet pass {b1:.1f} s plain, "
            f"{b1 / speed_unet:.1f} s with them; {common}; whole run "
            f"{time.perf_counter() - wall:.0f} s, load average {load_text()} at the end"
        ),
    )
    report(after_row, args)


def _cpu() -> str:
    import torch

    return f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"


if __name__ == "__main__":
    main()
