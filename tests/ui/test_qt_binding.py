"""Guards against a Qt binding that corrupts reference counts (PySide6 6.12.0 on Python 3.11
dropped a reference to True on every Signal.emit, and a long session then aborted)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    plain = Signal()
    value = Signal(object)


def test_emitting_signals_keeps_reference_counts(qtbot):
    emitter = Emitter()
    emitter.value.connect(lambda _v: None)
    before = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    for _ in range(500):
        emitter.plain.emit()
        emitter.value.emit(1.5)
    after = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
    assert all(abs(a - b) < 50 for a, b in zip(after, before, strict=True)), (before, after)
