from __future__ import annotations

import pytest

from studio.core.generator import (
    SEED_MAX,
    BoolParam,
    ChoiceParam,
    FloatParam,
    IntParam,
    ParamError,
    Request,
    SeedParam,
    TextParam,
)
from tests.fakes import SolidColour


def test_int_param_validates_range_and_type():
    spec = IntParam(name="count", minimum=1, maximum=10)
    assert spec.validate(3) == 3
    assert spec.parse("7") == 7
    assert spec.validate(4.0) == 4
    for bad in (0, 11, "x", 2.5, True, None):
        with pytest.raises(ParamError, match="count"):
            spec.validate(bad)


def test_out_of_range_message_names_the_range():
    with pytest.raises(ParamError, match=r"12 is out of range 1\.\.10"):
        IntParam(name="count", minimum=1, maximum=10).parse("12")


def test_float_param_rejects_nan_and_range():
    spec = FloatParam(name="truncation", minimum=0.05, maximum=1.0)
    assert spec.parse("0.5") == 0.5
    for bad in ("nan", "2", "abc", True):
        with pytest.raises(ParamError):
            spec.parse(bad)


def test_choice_param_maps_command_line_text_to_the_typed_choice():
    spec = ChoiceParam(name="size", choices=(64, 128, 256))
    assert spec.default == 64
    assert spec.parse("128") == 128 and isinstance(spec.parse("128"), int)
    with pytest.raises(ParamError, match="one of: 64, 128, 256"):
        spec.parse("100")


def test_choice_labels_must_match_choices():
    with pytest.raises(ValueError):
        ChoiceParam(name="x", choices=(1, 2), labels=("one",))


def test_bool_and_text_params():
    spec = BoolParam(name="flag")
    assert spec.parse("yes") is True and spec.parse("off") is False
    with pytest.raises(ParamError):
        spec.parse("maybe")
    text = TextParam(name="prompt", max_length=5)
    assert text.validate("abc") == "abc"
    with pytest.raises(ParamError, match="limit is 5"):
        text.validate("abcdef")


def test_seed_param_accepts_random_and_bounds():
    spec = SeedParam(name="seed")
    assert spec.parse("random") is None and spec.parse("") is None
    assert spec.parse(str(SEED_MAX)) == SEED_MAX
    with pytest.raises(ParamError):
        spec.parse(str(SEED_MAX + 1))
    with pytest.raises(ParamError):
        spec.parse("-1")


def test_make_request_fills_defaults_and_fixes_a_random_seed():
    generator = SolidColour()
    first = generator.make_request({})
    second = generator.make_request({})
    assert first.params["count"] == 2
    assert isinstance(first.params["seed"], int) and first.seed == first.params["seed"]
    assert first.seed != second.seed  # random each time, but stored in the request
    fixed = generator.make_request({"seed": 5, "count": 3})
    assert fixed.seed == 5 and fixed.params["count"] == 3


def test_make_request_rejects_unknown_keys():
    with pytest.raises(ParamError, match="no parameter 'colour'"):
        SolidColour().make_request({"colour": "red"})


def test_request_is_frozen_and_round_trips_through_json():
    request = SolidColour().make_request({"seed": 9})
    with pytest.raises(TypeError):
        request.params["seed"] = 1  # type: ignore[index]
    again = Request.from_json(request.to_json())
    assert again == request and hash(again) == hash(request)


def test_visible_when():
    spec = IntParam(name="frames", visible_when=("mode", "interpolate"))
    assert spec.applies({"mode": "interpolate"})
    assert not spec.applies({"mode": "sample"})


def test_hidden_when_is_the_opposite_and_combines_with_visible_when():
    spec = IntParam(name="detail", hidden_when=("model", ("builtin", "other")))
    assert spec.applies({"model": "arbitrary"})
    assert not spec.applies({"model": "builtin"}) and not spec.applies({"model": "other"})
    both = IntParam(name="x", visible_when=("mode", "a"), hidden_when=("model", "builtin"))
    assert both.applies({"mode": "a", "model": "arbitrary"})
    assert not both.applies({"mode": "a", "model": "builtin"})
    assert not both.applies({"mode": "b", "model": "arbitrary"})


def test_a_choice_is_also_accepted_by_its_label_in_any_case():
    spec = ChoiceParam(name="scheduler", choices=("euler_a", "dpm"), labels=("Euler a", "DPM++"))
    assert spec.validate("euler a") == "euler_a" and spec.validate("DPM++") == "dpm"
    with pytest.raises(ParamError, match="not one of"):
        spec.validate("Heun")
