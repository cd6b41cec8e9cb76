"""Canvas items as generator inputs: "Use as Photo/Painting/…", right-drag one item onto another
to restyle it, and results placed next to the item they were made from."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from studio.core.export import sanitise
from studio.core.generator import Generator, ImageParam, ParamError
from studio.core.paths import data_dir

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu

    from studio.ui.canvas import ImageItem
    from studio.ui.job_controller import JobController
    from studio.ui.project_session import ProjectSession
    from studio.ui.prompt_panel import PromptPanel


def _digest(image: Any) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()[:10]


def inputs_dir() -> Path:
    """Where canvas items are written when a generator reads them (named by content hash)."""
    return data_dir() / "inputs"


class ImageInputs(QObject):
    """Turns canvas items into the image inputs of the panel's generators."""

    message = Signal(str, str)  # text, level: for the banner
    status = Signal(str)
    mask_requested = Signal(object)  # ImageItem to paint an inpainting mask on

    def __init__(
        self, session: ProjectSession, panel: PromptPanel, jobs: JobController, parent: Any = None
    ) -> None:
        super().__init__(parent)
        self.session, self.panel, self.jobs = session, panel, jobs
        self._sources: dict[str, Any] = {}  # input file -> canvas key it came from
        self._mask_for: str | None = None  # the generator a mask is being painted for

    # -- files

    def file_for(self, item: ImageItem) -> Path:
        """A file with the item's pixels, for a request (same pixels, same file)."""
        project = self.session.project
        if isinstance(item.key, int) and project is not None:
            data = project.png(item.key)
        else:
            buffer = io.BytesIO()
            item.picture.load().save(buffer, "PNG")
            data = buffer.getvalue()
        # inputs/<content hash>/<label>.png: same pixels, same file; the name stays readable
        folder = inputs_dir() / hashlib.sha256(data).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        name = (item.label or "image").splitlines()[0]
        stem = sanitise(Path(name).stem)[:60] or "image"
        path = folder / f"{stem}.png"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        self._sources[str(path)] = item.key
        return path

    def source_key(self, generator: Generator, params: Any) -> Any:
        """The canvas item a request's content image came from, if any."""
        for spec in generator.params:
            if isinstance(spec, ImageParam) and spec.role == "content":
                key = self._sources.get(str(params.get(spec.name) or ""))
                if key is not None:
                    return key
        return None

    # -- the item menu

    def fill_menu(self, item: ImageItem, menu: QMenu, delete: Any, more: Any = None) -> None:
        """The item's menu: its uses as inputs, mask painting, then `more(item, menu)`'s
        entries (outpainting, the tiled preview), then Delete."""
        panel = self.panel
        current = panel.current_id
        ordered = sorted(panel.generators.values(), key=lambda g: g.id != current)
        for generator in ordered:
            if generator.id in panel.unavailable:
                continue
            for spec in generator.params:
                if isinstance(spec, ImageParam):
                    text = f"Use as {spec.title} ({generator.title})"
                    action = menu.addAction(text)
                    action.triggered.connect(
                        lambda _=False, g=generator.id, n=spec.name: self.use(item, g, n)
                    )
        upscalers = [g for g in ordered if g.id not in panel.unavailable and _upscales(g)]
        if upscalers:
            menu.addSeparator()
        for generator in upscalers:
            text = "Upscale…" if len(upscalers) == 1 else f"Upscale with {generator.title}…"
            action = menu.addAction(text)
            action.setObjectName("upscale_item")
            action.triggered.connect(lambda _=False, g=generator.id: self.upscale(item, g))
        painters = [g for g in ordered if g.id not in panel.unavailable and _paints_masks(g)]
        if painters:
            menu.addSeparator()
        for generator in painters:
            paint = menu.addAction(f"Paint a mask for inpainting ({generator.title})…")
            paint.triggered.connect(lambda _=False, g=generator.id: self._paint_mask(item, g))
        if more is not None:
            more(item, menu)
        if menu.actions():
            menu.addSeparator()
        menu.addAction(delete)

    def use(self, item: ImageItem, generator_id: str, name: str) -> None:
        path = self.file_for(item)
        self.panel.set_values(generator_id, {name: str(path)})
        title = self.panel.generators[generator_id].param(name).title
        label = item.label or "the image"
        self.status.emit(f"{label} is the {title.lower()} now")

    def upscale(self, item: ImageItem, generator_id: str, ask: Any = None) -> bool:
        """Ask how (UpscaleDialog; `ask(dialog) -> bool` stands in for exec in tests), then
        queue the upscaling job with the item as its picture; its result is the item's child."""
        from studio.ui.upscale_dialog import UpscaleDialog

        generator = self.panel.generators[generator_id]
        form = self.panel.form(generator_id)
        values = dict(form.values()) if form is not None else {}
        models_dir = self.panel.models_dir
        dialog = UpscaleDialog(
            generator,
            (item.label or "the image").splitlines()[0],
            values,
            lambda spec: generator.choices_for(spec, models_dir),
            self.panel.window(),
        )
        accepted = ask(dialog) if ask is not None else dialog.exec() == dialog.DialogCode.Accepted
        if not accepted:
            return False
        chosen = dialog.values()
        values.update(chosen)
        values[generator.image_param("content").name] = str(self.file_for(item))
        try:
            request = generator.make_request(values)
        except ParamError as exc:
            self.message.emit(str(exc), "error")
            return False
        self.panel.set_values(generator_id, chosen)  # the next one starts from these
        parent = item.key if isinstance(item.key, int) else None
        self.jobs.submit(request, generator.summary(request), parent=parent)
        return True

    def _paint_mask(self, item: ImageItem, generator_id: str) -> None:
        self._mask_for = generator_id
        self.mask_requested.emit(item)

    def use_mask(self, item: ImageItem, mask: Any) -> None:
        """A painted mask: the item becomes the generator's init image, the mask its mask."""
        generator = self.panel.generators.get(self._mask_for or "")
        if generator is None:  # a mask painted without the menu: the first that inpaints
            current = self.panel.current_id
            painters = [g for g in self.panel.generators.values() if _paints_masks(g)]
            generator = min(painters, key=lambda g: g.id != current, default=None)
        if generator is None or not _paints_masks(generator):
            return
        init = self.file_for(item)
        path = init.with_name(f"{init.stem}-mask-{_digest(mask)}.png")
        if not path.exists():
            mask.save(path)
        names = generator.image_param("init").name, generator.image_param("mask").name
        self.panel.set_values(generator.id, {names[0]: str(init), names[1]: str(path)})
        self.status.emit("Mask ready: write a prompt for the masked area and press Ctrl+Enter")

    # -- right-drag (or Alt+drag)

    def restyle(self, source: ImageItem, target: ImageItem) -> None:
        """`source` dragged onto `target`: `target` in the style of `source`, by the first
        generator that takes a content and a style image (the one on screen if it does)."""
        panel = self.panel
        current = panel.current_id
        takers = sorted(
            (g for g in panel.generators.values() if _restyles(g)), key=lambda g: g.id != current
        )
        ready = [g for g in takers if g.id not in panel.unavailable]
        if not ready:
            reasons = "; ".join(f"{g.title}: {panel.unavailable[g.id]}" for g in takers)
            self.message.emit(
                "No generator here restyles one picture with another"
                + (f" ({reasons})" if reasons else ""),
                "error",
            )
            return
        generator = ready[0]
        form = panel.form(generator.id)
        values = dict(form.values()) if form is not None else {}
        values[generator.image_param("content").name] = str(self.file_for(target))
        values[generator.image_param("style").name] = str(self.file_for(source))
        values = generator.complete(values)
        try:
            request = generator.make_request(values)
        except ParamError as exc:
            self.message.emit(str(exc), "error")
            return
        panel.set_values(generator.id, values)
        parent = target.key if isinstance(target.key, int) else None
        self.jobs.submit(request, generator.summary(request), parent=parent)


def _paints_masks(generator: Generator) -> bool:
    """It inpaints: it takes an init image and a mask."""
    return generator.image_param("init") is not None and generator.image_param("mask") is not None


def _upscales(generator: Generator) -> bool:
    """It enlarges one picture (the content): the item menu's "Upscale…" runs it."""
    return generator.offers_upscale and generator.image_param("content") is not None


def _restyles(generator: Generator) -> bool:
    """It restyles one picture (the content) with another (the style)."""
    return (
        generator.image_param("content") is not None and generator.image_param("style") is not None
    )
