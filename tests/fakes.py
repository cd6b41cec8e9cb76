"""Small generators for tests: instant, slow (cancellable), failing. No torch, no weights."""

from __future__ import annotations

import threading
import time

from PIL import Image

from studio.core.generator import (
    ChoiceParam,
    Context,
    FloatParam,
    Generator,
    GeneratorError,
    ImageParam,
    IntParam,
    Kind,
    ModelParam,
    Plot,
    Request,
    Result,
    SeedParam,
    TextParam,
)


class SolidColour(Generator):
    """`count` solid images whose colour follows the seed."""

    id = "solid"
    title = "Solid colour"
    params = (
        IntParam(name="count", default=2, minimum=1, maximum=64),
        SeedParam(name="seed"),
        IntParam(name="size", default=16, minimum=1, maximum=512),
    )

    def __init__(self) -> None:
        self.loads = 0
        self.runs: list[Request] = []

    def load(self, ctx: Context) -> None:
        self.loads += 1

    def run(self, request: Request, ctx: Context) -> list[Result]:
        self.runs.append(request)
        out = []
        for i in range(request.params["count"]):
            seed = request.params["seed"] + i
            colour = (seed % 256, (seed * 7) % 256, (seed * 13) % 256)
            size = request.params["size"]
            out.append(self.result(request, Image.new("RGB", (size, size), colour), seed))
            ctx.progress(i + 1, request.params["count"])
        return out


class Slow(Generator):
    """Takes `steps` steps of `delay` seconds, checking for cancel between them."""

    id = "slow"
    title = "Slow"
    params = (
        IntParam(name="steps", default=200, minimum=1, maximum=10_000),
        SeedParam(name="seed"),
    )

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.started = threading.Event()
        self.steps_done = 0

    def run(self, request: Request, ctx: Context) -> list[Result]:
        self.started.set()
        total = request.params["steps"]
        for step in range(total):
            ctx.check_cancelled()
            time.sleep(self.delay)
            self.steps_done = step + 1
            shade = 255 * (step + 1) // total
            ctx.progress(step + 1, total, Image.new("RGB", (16, 16), (shade, shade, shade)))
        return [self.result(request, Image.new("RGB", (8, 8), "white"), request.seed)]


class Failing(Generator):
    """Raises in run: a plugin bug (RuntimeError) or a user-facing GeneratorError."""

    id = "failing"
    title = "Failing"
    params = (SeedParam(name="seed"),)

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or RuntimeError("the model exploded")

    def run(self, request: Request, ctx: Context) -> list[Result]:
        ctx.progress(1, 3)
        raise self.error


class Trainer(Generator):
    """Reports falling losses for `epochs` epochs, with a preview each epoch."""

    id = "fake_train"
    title = "Fake training"
    kind = Kind.TRAIN
    params = (IntParam(name="epochs", default=3, minimum=1, maximum=100), SeedParam(name="seed"))
    plots = (
        Plot("Reconstruction", "epoch", (("train_recon", "train"), ("heldout_recon", "held-out")),
             dashed=("heldout_recon",)),
        Plot("KL", "epoch", (("train_kl", "train"), ("heldout_kl", "held-out"))),
    )  # fmt: skip

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def run(self, request: Request, ctx: Context) -> list[Result]:
        epochs = request.params["epochs"]
        for epoch in range(1, epochs + 1):
            ctx.check_cancelled()
            time.sleep(self.delay)
            loss = 200.0 / epoch
            metrics = {
                "epoch": epoch,
                "train_recon": loss,
                "train_kl": 5.0 + epoch,
                "train_elbo_neg": loss + 5 + epoch,
                "heldout_recon": loss * 1.1,
                "heldout_kl": 5.0 + epoch,
                "heldout_elbo_neg": loss * 1.1 + 5 + epoch,
            }
            ctx.progress(epoch, epochs, Image.new("RGB", (28, 28), (epoch * 20, 0, 0)), metrics)
        grid = Image.new("RGB", (56, 56), "white")
        return [self.result(request, grid, request.seed, note="Saved model fake-1")]


class Space:
    """A latent space whose decoded image encodes the point as colour (for map tests)."""

    def manifold(self, n: int) -> Image.Image:
        return Image.new("L", (n * 28, n * 28), 90)

    def grid_extent(self, n: int) -> tuple[float, float]:
        return (-2.0, 2.0)

    def decode(self, points):
        return [Image.new("L", (28, 28), int((x + 2) * 60)) for x, _y in points]

    def encode(self, image) -> tuple[float, float]:
        return (1.5, -0.5)

    def reconstruct(self, image) -> Image.Image:
        return image.copy()

    def heldout_points(self):
        return [(0.1 * i - 1, 0.5, i % 10) for i in range(20)]


class Mapped(SolidColour):
    """A generator with a 2-D latent space, so the window shows a latent map."""

    id = "mapped"
    title = "Mapped"
    params = (
        *SolidColour.params,
        ChoiceParam(name="mode", choices=("sample", "reconstruct")),
        ImageParam(name="image", optional=True),
    )

    offers_latent_space = True

    def latent_space(self, models_dir):
        return Space()


class Prompted(Generator):
    """Text-to-image-shaped settings (prompt, CFG, steps, sampler, model); each image's
    colour follows cfg, steps and seed, and its note says its prompt."""

    id = "prompted"
    title = "Prompted"
    params = (
        ModelParam(name="model", kind="prompted", default="base"),
        TextParam(name="prompt", default="a man holding an apple, 8k clean", multiline=True),
        TextParam(name="negative_prompt", label="Negative prompt", default="blurry"),
        ChoiceParam(name="sampler", choices=("euler", "ddim"), labels=("Euler", "DDIM")),
        IntParam(name="steps", default=20, minimum=1, maximum=150),
        FloatParam(name="cfg", label="CFG scale", default=7.0, minimum=0.0, maximum=30.0),
        IntParam(name="width", default=24, minimum=8, maximum=2048, multiple=8),
        IntParam(name="count", default=4, minimum=1, maximum=64),
        SeedParam(name="seed"),
    )

    def __init__(self) -> None:
        self.runs: list[Request] = []

    def run(self, request: Request, ctx: Context) -> list[Result]:
        self.runs.append(request)
        p = request.params
        out = []
        for i in range(p["count"]):
            seed = p["seed"] + i
            colour = (int(p["cfg"] * 8) % 256, p["steps"] % 256, seed % 256)
            image = Image.new("RGB", (p["width"], p["width"] * 2 // 3), colour)
            out.append(self.result(request, image, seed, note=p["prompt"]))
        return out


__all__ = [
    "CountsLoads",
    "Crashing",
    "Failing",
    "GeneratorError",
    "Mapped",
    "Prompted",
    "Slow",
    "SolidColour",
    "Space",
    "Trainer",
]


class Crashing(Generator):
    """Ends its whole process in the middle of a step (a plugin's native crash)."""

    id = "crashing"
    title = "Crashing"
    params = (SeedParam(name="seed"),)

    def run(self, request: Request, ctx: Context) -> list[Result]:
        import os

        ctx.progress(1, 2)
        os._exit(9)


def registry():
    """The fakes as a registry, for a worker process to build by name."""
    from studio.core.registry import Registry

    made = Registry()
    for generator in (SolidColour(), Slow(delay=0.01), Failing(), Crashing(), CountsLoads()):
        made.register(generator)
    return made


class CountsLoads(SolidColour):
    """Says in each result's note how often this instance was loaded, with how many threads,
    in which process."""

    id = "counts_loads"
    title = "Counts loads"

    def run(self, request: Request, ctx: Context) -> list[Result]:
        import os

        results = super().run(request, ctx)
        for result in results:
            result.note = f"loads={self.loads} threads={ctx.threads} pid={os.getpid()}"
        return results
