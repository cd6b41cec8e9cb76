"""Drives the real window like a user and saves a screenshot (run under Xvfb for the README).

xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot.py OUT.png [SCENE]

SCENE: gan (default), train, gan-train [STEPS], directions, queue, vae, t2i, t2i-queue, style,
cluster, grid, upscale, tiles (tileable faces and Show tiled), t2i-extend (the Extend dialog).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget

from studio.app import create_window
from studio.ui.theme import apply_dark

SCENES = {
    "gan": (
        "gan_faces",
        [
            {"mode": "sample", "count": 16, "seed": 7, "truncation": 0.8, "size": 128},
            {"mode": "interpolate", "seed": 7, "end_seed": 12, "frames": 8, "size": 128},
        ],
    ),
    "train": ("vae_digits", [{"model": "z16", "mode": "sample", "count": 16, "seed": 8}]),
    "gan-train": ("gan_faces", [{"mode": "sample", "count": 16, "seed": 7, "size": 64}]),
    "directions": ("gan_faces", [{"mode": "sample", "count": 8, "seed": 12, "truncation": 0.8,
                                  "size": 128}]),
    "queue": ("gan_faces", [{"mode": "sample", "count": 16, "seed": 7, "size": 64}]),
    "vae": (
        "vae_digits",
        [
            {"model": "z16", "mode": "sample", "count": 25, "seed": 3, "size": 112},
            {"model": "z2", "mode": "interpolate", "seed": 1, "end_seed": 9, "frames": 10,
             "size": 112},
        ],
    ),
    "t2i": (
        "text_to_image",
        [
            {"prompt": "a lighthouse on a cliff at dawn", "steps": 8, "width": 128,
             "height": 128, "count": 2, "seed": 3},
        ],
    ),
    "t2i-queue": (
        "text_to_image",
        [{"prompt": "a lighthouse", "steps": 4, "width": 128, "height": 128, "seed": 3}],
    ),
    "cluster": ("style_transfer", []),
    "grid": ("gan_faces", []),
    "upscale": ("gan_faces", [{"mode": "sample", "count": 3, "seed": 7, "truncation": 0.8,
                               "size": 64}]),
    "tiles": ("gan_faces", [{"mode": "sample", "count": 4, "seed": 7, "size": 128,
                             "tileable": True}]),
    "t2i-extend": ("text_to_image", []),
    "style": (
        "style_transfer",
        [
            {"model": "arbitrary", "detail": "fine", "strength": 1.0},
            {"model": "builtin", "styles": "3:0.5,12:0.5", "strength": 0.9},
        ],
    ),
}  # fmt: skip


def prepare_style(window, form, then) -> None:  # noqa: ANN001
    """Put a photo on the canvas as the Photo, and a painting in the Painting field."""
    import tempfile

    from plugins.style_transfer import samples

    folder = Path(tempfile.mkdtemp(prefix="studio-shot-"))
    photo, painting = folder / "landscape.png", folder / "swirls.png"
    samples.photo(1200, 800).save(photo)
    samples.painting().save(painting)

    def loaded(_project, _ids, _at) -> None:  # noqa: ANN001
        item = window.canvas.image_items()[0]
        window.inputs.use(item, "style_transfer", "image")
        form.set_values({"style_image": str(painting)})
        then()

    window.files.images_in.connect(loaded)
    window.files.load([photo], None)


def prepare_t2i(window, then) -> None:  # noqa: ANN001
    """A tiny random model (no real one ships), and a photo on the canvas to inpaint."""
    import tempfile

    from plugins.style_transfer import samples
    from tests.t2i_tiny import build_pipeline

    folder = Path(tempfile.mkdtemp(prefix="studio-shot-"))
    window.add_models([build_pipeline(folder / "tiny-random-sd")])
    photo = samples.photo(384, 256)
    window.session.project.add_image(photo, "landscape.png")  # the canvas places it
    form = window.prompt_panel.form("text_to_image")

    def when_listed() -> None:  # models are listed from a background thread
        if form.scanning:
            QTimer.singleShot(100, when_listed)
        else:
            then()

    when_listed()


def start_cluster_batch(window, app, shoot) -> None:  # noqa: ANN001
    """A folder of photos restyled on a local Ray with two workers; shot mid-batch."""
    import tempfile

    from plugins.style_transfer import samples

    folder = Path(tempfile.mkdtemp(prefix="studio-shot-"))
    for n in range(40):
        samples.photo(640, 427, seed=n).save(folder / f"frame-{n:04d}.png")
    window.prompt_panel.form().set_values({"model": "builtin", "styles": "3:0.5,12:0.5"})
    dialog = window.batches.open([folder])
    dialog.move(window.x() + 520, window.y() + 150)
    dialog.on_cluster.setChecked(True)
    dialog.cluster_workers.setValue(2)
    dialog.start()

    def when_some_done() -> None:
        if dialog.succeeded < 12:
            QTimer.singleShot(200, when_some_done)
            return
        shoot(whole_screen=True)

    when_some_done()


def start_grid(window, shoot) -> None:  # noqa: ANN001
    """A seed × truncation comparison grid of faces from the Generate panel's button."""
    window.prompt_panel.form().set_values({"mode": "sample", "size": 64})
    window.prompt_panel.grid_button.click()
    dialog = window.grids.dialogs["gan_faces"]
    dialog.move(window.x() + 960, window.y() + 600)
    dialog.set_axis(0, "seed", "1-6")
    dialog.set_axis(1, "truncation", "0.4-1 [4]")
    dialog.start()

    def when_drawn() -> None:
        if dialog.item is None or window.canvas.item_for_key(dialog.item) is None:
            QTimer.singleShot(200, when_drawn)
            return
        QTimer.singleShot(500, lambda: shoot(whole_screen=True))

    when_drawn()


def paint_mask(window) -> None:  # noqa: ANN001
    """Paint a stroke over the house of the photo, as a user would before inpainting."""
    item = next(i for i in window.canvas.image_items() if i.label == "landscape.png")
    window.canvas.fit_rect(item.sceneBoundingRect())
    window.mask_tool.start(item)
    for x in range(80, 170, 6):
        window.mask_tool.press(item.mapToScene(x, 150))
        window.mask_tool.drag(item.mapToScene(x + 6, 175))
        window.mask_tool.release()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshot.png")
    scene = sys.argv[2] if len(sys.argv) > 2 else "gan"
    app = QApplication(sys.argv[:1])
    apply_dark(app)
    window = create_window(open_project=True)
    window.resize(1560, 960)
    window.show()
    generator, pending = SCENES[scene]
    panel = window.prompt_panel
    panel.select(generator)
    form = panel.form()

    def next_job() -> None:
        if pending:
            form.set_values(pending.pop(0))
            panel.request_generate()
        elif scene == "vae":
            show_map()
        elif scene == "train":
            train()
        elif scene == "gan-train":
            train_gan()
        elif scene == "directions":
            walk()
        elif scene == "t2i":
            paint_mask(window)
            QTimer.singleShot(500, shoot)
        elif scene == "tiles":
            show_tiled()
        elif scene == "t2i-extend":
            show_extend()
        elif scene == "t2i-queue":
            if not window.jobs.waiting_ids() and window.runner.running is None:
                for seed in (11, 12, 13):
                    form.set_values({"seed": seed, "steps": 30 + seed})
                    panel.request_generate()
                QTimer.singleShot(4000, shoot)
        elif scene == "queue":
            fill_queue()
        elif scene == "upscale":
            upscale()
        else:
            QTimer.singleShot(1500 if scene == "style" else 300, shoot)

    def fill_queue() -> None:
        if window.jobs.paused:
            return
        window.jobs.pause()  # waiting rows, in the order they will run
        waiting = [
            {"count": 4, "seed": 21},
            {"count": 8, "seed": 3, "truncation": 0.6},
            {"mode": "interpolate", "seed": 4, "end_seed": 9, "frames": 12},
        ]
        for values in waiting:
            form.set_values(values)
            panel.request_generate()
        QTimer.singleShot(500, shoot)

    def train() -> None:
        if window.train_panel.job is not None:
            return  # the training job's own end also calls next_job
        window.findChild(QDockWidget, "dock_train").raise_()
        panel = window.train_panel
        panel.picker.setCurrentIndex(panel.picker.findData("vae_digits_train"))
        panel.forms["vae_digits_train"].set_values({"latent": 2, "epochs": 4, "seed": 5})
        panel.trained.connect(lambda _job: QTimer.singleShot(1000, shoot))
        panel.train_button.click()

    def train_gan() -> None:
        """A GAN training on drawn discs, shot mid-run once the sample grid has changed."""
        import tempfile

        from plugins.gan_faces.samples import disc_folder

        if window.train_panel.job is not None:
            return
        folder = disc_folder(Path(tempfile.mkdtemp(prefix="studio-shot-")) / "discs", 200)
        window.findChild(QDockWidget, "dock_train").raise_()
        panel = window.train_panel
        panel.picker.setCurrentIndex(panel.picker.findData("gan_faces_train"))
        panel.forms["gan_faces_train"].set_values(
            {"folder": str(folder), "name": "discs", "steps": 2000, "preview_every": 10,
             "seed": 1}
        )  # fmt: skip
        panel.train_button.click()

        def when_trained_a_while() -> None:
            if panel.job is None or panel.job.step < int(sys.argv[3] if len(sys.argv) > 3 else 60):
                QTimer.singleShot(1000, when_trained_a_while)
                return
            shoot()

        when_trained_a_while()

    def upscale() -> None:
        """The first face upscaled from its menu; then the dialog open on the second."""
        from studio.ui.upscale_dialog import UpscaleDialog

        faces = sorted(window.canvas.image_items(), key=lambda i: i.pos().x())
        if len(faces) == 3:
            ask = lambda d: d.form.set_values({"upscaler": "R-ESRGAN 4x+", "scale": 4.0}) or True  # noqa: E731
            window.inputs.upscale(faces[0], "upscale", ask=ask)
            return
        generator = panel.generators["upscale"]
        choices = lambda spec: generator.choices_for(spec, window.models_dir)  # noqa: E731
        values = panel.form("upscale").values()
        dialog = UpscaleDialog(generator, "face 2", values, choices, window)
        dialog.show()
        dialog.move(window.geometry().center() - dialog.rect().center())
        QTimer.singleShot(800, lambda: shoot(whole_screen=True))

    def walk() -> None:
        window.findChild(QDockWidget, "dock_directions").raise_()
        panel = window.directions

        def move() -> None:
            if not panel.ready:
                QTimer.singleShot(200, move)
                return
            for i, value in enumerate((60, -40, 0, 30)):
                panel.sliders[i].setValue(value)
            panel.names[0].setText("head turn")
            panel.names[0].editingFinished.emit()
            QTimer.singleShot(1500, shoot)

        move()

    def show_tiled() -> None:
        window.canvas.fit_all()
        item = window.canvas.item_for_key(max(r.id for r in window.session.project.items()))
        window.outpainting.show_tiled(item)
        preview = window.outpainting.windows[-1]
        preview.move(window.x() + 560, window.y() + 80)
        QTimer.singleShot(800, lambda: shoot(whole_screen=True))

    def show_extend() -> None:
        from studio.ui.outpaint_dialog import ExtendDialog

        window.canvas.fit_all()
        values = form.values()
        generator = panel.generators["text_to_image"]
        _values, remark = generator.outpaint_values(values, "", "", (384, 256), None)
        dialog = ExtendDialog(window, (384, 256), remark)
        dialog.sides["left"].setValue(128)
        dialog.show()
        dialog.move(window.x() + 620, window.y() + 220)
        QTimer.singleShot(800, lambda: shoot(whole_screen=True))

    def show_map() -> None:
        window.findChild(QDockWidget, "dock_latent map").raise_()
        latent = window.latent_map

        def probe() -> None:
            if not latent.ready:
                QTimer.singleShot(200, probe)
                return
            square = latent.map.square()
            point = square.center() + (square.topRight() - square.center()) * 0.45
            QTest.mouseClick(latent.map, Qt.MouseButton.LeftButton, pos=point.toPoint())
            pad = latent.pad
            for a, b in ((QPoint(70, 20), QPoint(70, 120)), (QPoint(50, 40), QPoint(70, 20))):
                QTest.mousePress(pad, Qt.MouseButton.LeftButton, pos=a)
                QTest.mouseMove(pad, b)
                QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=b)
            QTimer.singleShot(800, shoot)

        probe()

    def shoot(whole_screen: bool = False) -> None:
        if not window.mask_tool.active:
            window.canvas.fit_all()
        app.processEvents()
        if app.platformName() == "xcb":  # the real pixels on screen, menus and all
            picture = app.primaryScreen().grabWindow(0 if whole_screen else window.winId())
        else:
            picture = window.grab()
        picture.save(str(out))
        print(f"saved {out}")
        window.jobs.shutdown()  # a batch still on the cluster stays queued in the project
        window.close()
        app.quit()

    if scene not in ("cluster", "grid"):
        window.jobs.job_finished.connect(lambda _job: QTimer.singleShot(100, next_job))
    if scene == "grid":
        QTimer.singleShot(500, lambda: start_grid(window, shoot))
    elif scene == "cluster":
        QTimer.singleShot(500, lambda: start_cluster_batch(window, app, shoot))
    elif scene == "style":
        QTimer.singleShot(300, lambda: prepare_style(window, form, next_job))
    elif scene.startswith("t2i"):
        QTimer.singleShot(300, lambda: prepare_t2i(window, next_job))
    else:
        QTimer.singleShot(500, next_job)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
