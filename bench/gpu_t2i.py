"""Text to image on a GPU: Studio's job path against a raw diffusers call, fp16, SD 1.5 sizes.

For a machine with an NVIDIA GPU (see the device entry of the tool library). A random pipeline
with Stable Diffusion 1.5's real architecture (UNet 860 M parameters, VAE, CLIP ViT-L text
encoder; nothing is downloaded) is built, saved in fp16 to a temporary folder and found there by
the plugin. At 512x512, 20 steps, Euler a, CFG 7.5: it/s through the app path (discovery,
Executor, plugin with previews) vs a raw `pipe(...)` on the same folder, alternating rounds;
then cancel latency in steps and seconds. Finishes in a few minutes on one GPU.

.venv/bin/python -m bench.gpu_t2i                  # on the GPU machine
.venv/bin/python -m bench.gpu_t2i --tiny --device cpu --size 64 --steps 4   # check the script
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import Row, isolate_studio_home, median, parser, report, spread
from bench.t2i import measure_cancel


def sd15_folder(folder: Path, dtype) -> Path:  # noqa: ANN001
    """A random pipeline of SD 1.5's architecture, saved with diffusers' layout."""
    import torch
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tests.t2i_tiny import write_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2,
        cross_attention_dim=768,
        attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    )
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            max_position_embeddings=77,
            vocab_size=49408,
            projection_dim=768,
        )
    )
    tok_dir = write_tokenizer(folder.parent / "tokenizer-src")
    tokenizer = CLIPTokenizer(
        vocab=str(tok_dir / "vocab.json"), merges=str(tok_dir / "merges.txt"), model_max_length=77
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(dtype=dtype)
    pipe.save_pretrained(folder)
    return folder


def main() -> None:
    options = parser(__doc__, runs=3)
    options.add_argument("--size", type=int, default=512)
    options.add_argument("--steps", type=int, default=20)
    options.add_argument("--device", default="cuda", choices=("cuda", "cpu", "mps"))
    options.add_argument("--tiny", action="store_true", help="tiny model (to check the script)")
    options.add_argument("--cancel-at", type=int, default=5)
    args = options.parse_args()
    isolate_studio_home()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from diffusers import AutoPipelineForText2Image, EulerAncestralDiscreteScheduler

    from plugins.text_to_image.generator import TextToImage
    from studio.core import devices
    from studio.core.jobs import Executor, Job, JobState
    from tests.t2i_tiny import build_pipeline

    device = devices.resolve(args.device)
    dtype = (
        torch.float32
        if device.kind == "cpu"
        else {"bfloat16": torch.bfloat16}.get(device.dtype, torch.float16)
    )
    root = Path(tempfile.mkdtemp(prefix="studio-bench-gpu-"))
    started = time.perf_counter()
    folder = build_pipeline(root / "tiny") if args.tiny else sd15_folder(root / "sd15", dtype)
    built = time.perf_counter() - started

    generator = TextToImage()
    executor = Executor(lambda _id: generator, lambda: device, None)
    values = {
        "model": str(folder),
        "prompt": "a lighthouse on a cliff at dawn, oil painting",
        "negative_prompt": "blurry",
        "steps": args.steps,
        "cfg": 7.5,
        "width": args.size,
        "height": args.size,
        "seed": 11,
        "scheduler": "euler_a",
    }
    request = generator.make_request(values)
    previews = []

    def app() -> float:
        job = Job(request)
        if device.kind == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        executor.execute(job, lambda j, preview, _m: preview is not None and previews.append(1))
        if device.kind == "cuda":
            torch.cuda.synchronize()
        assert job.state is JobState.DONE, job.error
        return time.perf_counter() - start

    raw_pipe = AutoPipelineForText2Image.from_pretrained(
        str(folder), local_files_only=True, dtype=dtype, safety_checker=None,
        requires_safety_checker=False,
    ).to(device.torch_device)  # fmt: skip
    raw_pipe.set_progress_bar_config(disable=True)
    raw_pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(raw_pipe.scheduler.config)

    def raw() -> float:
        if device.kind == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        raw_pipe(
            prompt=values["prompt"],
            negative_prompt=values["negative_prompt"],
            num_inference_steps=args.steps,
            guidance_scale=7.5,
            width=args.size,
            height=args.size,
            generator=torch.Generator("cpu").manual_seed(11),
        )
        if device.kind == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    app(), raw()  # warm-up (loading, kernels)
    app_times, raw_times, ratios = [], [], []
    for round_ in range(args.runs):
        order = (app, raw) if round_ % 2 == 0 else (raw, app)
        timed = {fn: fn() for fn in order}
        app_times.append(timed[app])
        raw_times.append(timed[raw])
        ratios.append(timed[raw] / timed[app])

    cancel_at = min(args.cancel_at, args.steps - 1)
    cancel_job, after, latency = measure_cancel(executor, request, cancel_at)
    app_its, raw_its = args.steps / median(app_times), args.steps / median(raw_times)
    ratio = median(ratios)
    name = torch.cuda.get_device_name(0) if device.kind == "cuda" else str(device)
    row = Row(
        benchmark="gpu_t2i" + ("(tiny)" if args.tiny else ""),
        result=f"app {app_its:.2f} it/s",
        baseline=f"raw diffusers {raw_its:.2f} it/s",
        ratio=ratio,
        target=">= 0.97x raw; cancel within 1 step",
        met=ratio >= 0.97 and cancel_job.state is JobState.CANCELLED and len(after) <= 1,
        notes=(
            f"{name}, {str(dtype).replace('torch.', '')}; "
            f"{'tiny random' if args.tiny else 'random SD 1.5 architecture'}, "
            f"{args.size}x{args.size}, {args.steps} steps, Euler a, CFG 7.5; {args.runs} rounds "
            f"alternating (ratios {spread(ratios)}); app {spread(app_times)} s, raw "
            f"{spread(raw_times)} s per image; {len(previews)} previews; built and saved in "
            f"{built:.0f} s; cancel at step {cancel_at}: {len(after)} step(s) after it, job "
            f"{cancel_job.state.value} {latency:.3f} s later"
        ),
    )
    report(row, args)


if __name__ == "__main__":
    main()
