"""The Generate panel's "Fast" preset on a text-to-image model, after one fast job (run under
Xvfb for the README): a tiny random model with an SD-scale VAE, an LCM LoRA for it and a
TAESD folder (random weights; no real ones ship), so the picture is noise but the form, the
note and the job row are what a user sees.

xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot_fast.py OUT.png
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.app import create_window
from studio.ui.theme import apply_dark


def models() -> Path:
    from tests.plugins.test_t2i_fast import pipeline_of_scale_8, save_taesd_folder
    from tests.plugins.test_text_to_image import write_lora

    folder = Path(tempfile.mkdtemp(prefix="studio-shot-"))
    model = pipeline_of_scale_8(folder / "tiny-random-sd")
    write_lora(model, folder / "lcm-lora-tiny.safetensors")
    tiny = save_taesd_folder(folder / "taesd")
    tiny.decoder.layers[-1].bias.data += 0.5  # random weights decode to black; grey is kinder
    tiny.save_pretrained(folder / "taesd")
    return folder


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "fast.png")
    app = QApplication(sys.argv[:1])
    apply_dark(app)
    from bench.common import isolate_studio_home

    isolate_studio_home()  # a fresh project, the installed models
    folder = models()
    os.environ["STUDIO_MODEL_PATHS"] = str(folder)  # its LoRA and TAESD are found there too
    window = create_window(open_project=True)
    window.resize(1560, 960)
    window.show()
    panel = window.prompt_panel
    panel.select("text_to_image")
    form = panel.form()

    def when_listed() -> None:
        if form.scanning:
            QTimer.singleShot(100, when_listed)
            return
        form.set_values({"model": str(folder / "tiny-random-sd"), "prompt": "a lighthouse",
                         "width": 128, "height": 128, "seed": 3})  # fmt: skip
        panel.presets.choose("Fast")
        panel.request_generate()

    def shoot(_job: object) -> None:
        window.canvas.fit_all()
        app.processEvents()
        if app.platformName() == "xcb":
            picture = app.primaryScreen().grabWindow(window.winId())
        else:
            picture = window.grab()
        picture.save(str(out))
        print(f"saved {out}")
        window.jobs.shutdown()
        window.close()
        app.quit()

    window.jobs.job_finished.connect(lambda job: QTimer.singleShot(500, lambda: shoot(job)))
    QTimer.singleShot(300, when_listed)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
