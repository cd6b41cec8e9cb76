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
