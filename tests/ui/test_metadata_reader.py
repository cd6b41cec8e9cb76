"""Settings are read off the main thread; the answer arrives on it, in the order asked."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication, QLineEdit

from studio.core.generator import SeedParam
from studio.ui.metadata_reader import MetadataReader
from studio.ui.param_form import ParamForm
from tests.core.test_metadata_hostile import png_with_chunks, ztxt
from tests.core.test_samplers import png


def test_reading_happens_on_a_pool_thread_and_answers_on_the_main_thread(
    qtbot, monkeypatch, tmp_path
):
    import studio.core.metadata_read as metadata_read

    (tmp_path / "a.png").write_bytes(png(parameters="a\nSteps: 1, Sampler: Euler, Seed: 2"))
    release, threads, answered = threading.Event(), [], []
    real = metadata_read.read_metadata

    def slow_read(path):
        threads.append(threading.current_thread())
        assert release.wait(10)  # the window would freeze here if this ran on the main thread
        return real(path)

    monkeypatch.setattr(metadata_read, "read_metadata", slow_read)
    reader = MetadataReader()
    reader.metadata_read.connect(
        lambda path, meta: answered.append((path.name, meta.seed, QThread.currentThread()))
    )
    reader.read(tmp_path / "a.png")
    assert reader.pending == 1 and answered == []  # read() returned while the read waits
    qtbot.waitUntil(lambda: threads != [])
    assert threads[0] is not threading.main_thread()
    release.set()
    qtbot.waitUntil(lambda: answered != [])
    assert answered == [("a.png", 2, QApplication.instance().thread())]
    assert reader.pending == 0


def test_files_are_answered_in_the_order_they_were_dropped(qtbot, tmp_path):
    paths = []
    for seed in range(5):
        path = tmp_path / f"{seed}.png"
        path.write_bytes(png(parameters=f"a\nSteps: 1, Sampler: Euler, Seed: {seed}"))
        paths.append(path)
    seeds = []
    reader = MetadataReader()
    reader.metadata_read.connect(lambda _path, meta: seeds.append(meta.seed))
    for path in paths:
        reader.read(path)
    qtbot.waitUntil(lambda: len(seeds) == 5)
    assert seeds == [0, 1, 2, 3, 4]


def test_a_zip_bomb_and_a_missing_file_answer_with_their_reasons(qtbot, tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_with_chunks(ztxt("parameters", b"x" * 2**26)))
    reader = MetadataReader()
    read, failed = [], []
    reader.metadata_read.connect(lambda path, meta: read.append(meta.notes))
    reader.read_failed.connect(lambda path, text: failed.append(text))
    reader.read(tmp_path / "bomb.png")
    reader.read(tmp_path / "gone.png")
    qtbot.waitUntil(lambda: bool(read and failed), timeout=20_000)
    assert "over Studio's limit of 16 MB" in read[0][0]
    assert failed == ["'gone.png' was not found."]


def test_the_seed_field_takes_a_64_bit_seed(qtbot):
    form = ParamForm([SeedParam(name="seed")])
    qtbot.addWidget(form)
    edit = form.widgets["seed"].findChild(QLineEdit)
    qtbot.keyClicks(edit, "18446744073709551615")
    assert form.values()["seed"] == 2**64 - 1
    form.set_values({"seed": 6952411511246973023})
    assert edit.text() == "6952411511246973023"
