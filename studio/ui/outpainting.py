"""Outpainting from the canvas: "Extend…" on an item asks how far, writes the extended,
pre-filled picture and its mask as input files, and runs the generator at once; the result
lands beside the item. Also "Show tiled (3 × 3)". The picture code (numpy) is imported on
first use: the window starts without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog

from studio.core.generator import Generator, ParamError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu

    from studio.ui.canvas import ImageItem
    from studio.ui.image_inputs import ImageInputs


class Outpainting(QObject):
    """The canvas menu's "Extend…" and "Show tiled" entries, on top of the image inputs."""

    message = Signal(str, str)  # text, level
    status = Signal(str)

    def __init__(self, inputs: ImageInputs, parent: Any = None) -> None:
        super().__init__(parent)
        self.inputs = inputs
        self.windows: list[Any] = []  # open tiled previews
        self.dialog: Any = None  # the open Extend dialog (tests answer it)

    def fill_menu(self, item: ImageItem, menu: QMenu) -> None:
        panel = self.inputs.panel
        current = panel.current_id
        extenders = sorted(
            (g for g in panel.generators.values() if g.offers_outpaint),
            key=lambda g: g.id != current,
        )
        for generator in extenders:
            if generator.id in panel.unavailable:
                continue
            action = menu.addAction(f"Extend… ({generator.title})")
            action.triggered.connect(lambda _=False, g=generator.id: self.extend(item, g))
        tiled = menu.addAction("Show tiled (3 × 3)")
        tiled.triggered.connect(lambda _=False: self.show_tiled(item))

    def show_tiled(self, item: ImageItem) -> None:
        from studio.ui.tiled_preview import TiledPreview

        window = TiledPreview(self.parent(), item.picture.load(), (item.label or "").split("\n")[0])
        window.destroyed.connect(lambda *_: self.windows.remove(window))
        self.windows.append(window)
        window.show()

    def extend(self, item: ImageItem, generator_id: str, *, ask: bool = True) -> Any:
        """Ask how far (unless `ask` is False: the dialog's defaults), then run; the job's
        status, or None when nothing ran."""
        from studio.core.outpaint import OutpaintError, extend
        from studio.ui.outpaint_dialog import ExtendDialog

        panel = self.inputs.panel
        generator = panel.generators[generator_id]
        form = panel.form(generator_id)
        values = dict(form.values()) if form is not None else {}
        image = item.picture.load()
        _, remark = generator.outpaint_values(values, "", "", image.size, panel.models_dir)
        self.dialog = ExtendDialog(self.parent(), image.size, remark)
        if ask and self.dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        try:
            margins = self.dialog.margins()
            picture, mask = extend(
                image, margins, self.dialog.fill_mode, self.dialog.feather.value()
            )
        except OutpaintError as exc:
            self.message.emit(str(exc), "error")
            return None
        return self._run(item, generator, values, picture, mask, remark)

    def _run(
        self, item: ImageItem, generator: Generator, values: dict, picture: Any, mask: Any,
        remark: str,
    ) -> Any:  # fmt: skip
        source = self.inputs.file_for(item)
        key = f"{source.stem}-extended-{picture.width}x{picture.height}"
        init = source.with_name(f"{key}-{_digest(picture)}.png")
        mask_path = source.with_name(f"{key}-mask-{_digest(mask)}.png")
        for path, image in ((init, picture), (mask_path, mask)):
            if not path.exists():
                image.save(path)
        panel = self.inputs.panel
        made, _ = generator.outpaint_values(
            values, str(init), str(mask_path), picture.size, panel.models_dir
        )
        try:
            request = generator.make_request(made)
        except ParamError as exc:
            self.message.emit(f"Cannot extend to {picture.width}×{picture.height}: {exc}", "error")
            return None
        panel.set_values(generator.id, made)
        parent = item.key if isinstance(item.key, int) else None
        status = self.inputs.jobs.submit(request, generator.summary(request), parent=parent)
        text = f"Extending to {picture.width}×{picture.height}"
        self.status.emit(text + (f". {remark}" if remark else ""))
        if remark:
            self.message.emit(remark, "warning")
        return status


def _digest(image: Any) -> str:
    import hashlib

    return hashlib.sha256(image.tobytes()).hexdigest()[:10]
