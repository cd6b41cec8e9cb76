"""The parameter form built from specs."""

from __future__ import annotations

from studio.core.generator import ChoiceParam, IntParam, ModelParam
from studio.ui.param_form import ParamForm


def test_long_model_names_do_not_widen_the_form(qtbot):
    names = [("short", "short")]
    form = ParamForm(
        [ModelParam(name="model", kind="x"), IntParam(name="count")],
        choices=lambda _spec: names,
    )
    qtbot.addWidget(form)
    narrow = form.minimumSizeHint().width()
    names.append(("long", "a trained model with a very long name " * 5))
    form.refresh_choices()
    assert form.minimumSizeHint().width() <= narrow + 20
    form.set_values({"model": "long"})
    assert form.values()["model"] == "long"


def test_visibility_follows_several_modes(qtbot):
    form = ParamForm(
        [
            ChoiceParam(name="mode", choices=("a", "b", "c")),
            IntParam(name="n", visible_when=("mode", ("b", "c"))),
        ]
    )
    qtbot.addWidget(form)
    rows = {m: None for m in "abc"}
    for mode in rows:
        form.set_values({"mode": mode})
        rows[mode] = form._layout.isRowVisible(form.widgets["n"])
    assert rows == {"a": False, "b": True, "c": True}


def test_scanned_model_lists_fill_in_from_a_background_thread_and_keep_a_typed_value(qtbot):
    import threading

    release = threading.Event()
    threads = []

    def slow_choices(_spec):
        threads.append(threading.current_thread())
        release.wait(5)
        return [("/models/a", "a · SD 1.x"), ("/models/b", "b · SDXL")]

    form = ParamForm([ModelParam(name="model", kind="x", scan=True)], choices=slow_choices)
    qtbot.addWidget(form)
    assert form.scanning == 1  # the form is built and usable while the disk is read
    form.set_values({"model": "/models/b"})
    with qtbot.waitSignal(form.choices_ready, timeout=5000):
        release.set()
    assert threads and threads[0] is not threading.main_thread()
    combo = form.widgets["model"]
    assert [combo.itemText(i) for i in range(combo.count())] == ["a · SD 1.x", "b · SDXL"]
    assert form.values() == {"model": "/models/b"} and form.scanning == 0
