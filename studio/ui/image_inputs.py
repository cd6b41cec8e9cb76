"""Canvas items as generator inputs: "Use as Photo/Painting/…", Alt+drag one item onto another
to restyle it, and results placed next to the item they were made from."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from studio.core.export import sanitise
from studio.core.generator import Generator, ImageParam, ParamError
from studio.core.models import data_dir

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu

    from studio.ui.canvas import ImageItem
    from studio.ui.job_controller import JobController
    from studio.ui.project_session import ProjectSession
    from studio.ui.prompt_panel import PromptPanel

STYLE = "style_transfer"


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

    def fill_menu(self, item: ImageItem, menu: QMenu, delete: Any) -> None:
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
        if "text_to_image" in panel.generators and "text_to_image" not in panel.unavailable:
            menu.addSeparator()
            paint = menu.addAction("Paint a mask for inpainting…")
            paint.triggered.connect(lambda _=False: self.mask_requested.emit(item))
        if menu.actions():
            menu.addSeparator()
        menu.addAction(delete)

    def use(self, item: ImageItem, generator_id: str, name: str) -> None:
        path = self.file_for(item)
        self.panel.set_values(generator_id, {name: str(path)})
        title = self.panel.generators[generator_id].param(name).title
        label = item.label or "the image"
        self.status.emit(f"{label} is the {title.lower()} now")

    def use_mask(self, item: ImageItem, mask: Any) -> None:
        """A painted mask: the item becomes the init image, the mask the inpainting mask."""
        init = self.file_for(item)
        path = init.with_name(f"{init.stem}-mask-{_digest(mask)}.png")
        if not path.exists():
            mask.save(path)
        self.panel.set_values("text_to_image", {"init_image": str(init), "mask": str(path)})
        self.status.emit("Mask ready: write a prompt for the masked area and press Ctrl+Enter")

    # -- Alt+drag

    def restyle(self, source: ImageItem, target: ImageItem) -> None:
        """Alt+drag of `source` onto `target`: `target` in the style of `source`."""
        panel = self.panel
        generator = panel.generators.get(STYLE)
        if generator is None or STYLE in panel.unavailable:
            reason = panel.unavailable.get(STYLE, "it is not installed")
            self.message.emit(f"Style transfer is unavailable: {reason}", "error")
            return
        form = panel.form(STYLE)
        values = dict(form.values()) if form is not None else {}
        model = str(values.get("model") or "arbitrary")
        if not (model == "arbitrary" or Path(model).is_dir() or model.endswith("decoder.pth")):
            values["model"] = "arbitrary"  # these take no painting: use the one that does
        values.update(image=str(self.file_for(target)), style_image=str(self.file_for(source)))
        try:
            request = generator.make_request(values)
        except ParamError as exc:
            self.message.emit(str(exc), "error")
            return
        panel.set_values(STYLE, values)
        self.jobs.submit(request, generator.summary(request), parent=target.key)
