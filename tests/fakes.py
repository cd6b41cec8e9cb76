"""Small generators for tests: instant, slow (cancellable), failing. No torch, no weights."""

from __future__ import annotations

import threading
import time

from PIL import Image

from studio.core.generator import (
    Context,
    Generator,
    GeneratorError,
    IntParam,
    Request,
    Result,
    SeedParam,
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


__all__ = ["Failing", "GeneratorError", "Slow", "SolidColour"]
