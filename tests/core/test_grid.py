"""Comparison grid axes and plans, checked against AUTOMATIC1111's documented X/Y/Z plot.

The expected values are the examples of A1111's wiki page "Features" (X/Y/Z plot section,
in AUTOMATIC1111/stable-diffusion-webui's wiki: "Simple ranges", "Ranges with increment in
bracket", "Ranges with the count in square brackets", and Prompt S/R with its CSV rules), and
the behaviour of scripts/xyz_grid.py (`fix_axis_seeds`, `X Type`/`X Values` infotext,
one image per cell, costly axes outermost).
"""

from __future__ import annotations

import time

import pytest

from studio.core.grid import (
    SEARCH_REPLACE,
    GridError,
    axis_choices,
    expand_numbers,
    parse_axis,
    plan_grid,
    split_values,
)
from tests.fakes import Prompted, SolidColour


def ints(text: str) -> list[int]:
    """The values of a whole-number axis (SolidColour's size, 1..512) typed as `text`."""
    return list(parse_axis(SolidColour.params, "size", text).values)


def floats(text: str) -> list[float]:
    """The values of a real-number axis (Prompted's CFG scale, 0..30) typed as `text`."""
    return list(parse_axis(Prompted.params, "cfg", text).values)


# ---------------------------------------------------------------- A1111's documented syntax


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-5", [1, 2, 3, 4, 5]),  # "Simple ranges"
        ("1-5 (+2)", [1, 3, 5]),  # "Ranges with increment in bracket"
        ("10-5 (-3)", [10, 7]),
        ("1-10 [5]", [1, 3, 5, 7, 10]),  # "Ranges with the count in square brackets"
        ("1,2,3", [1, 2, 3]),
        ("1-3, 7, 10-12", [1, 2, 3, 7, 10, 11, 12]),
    ],
)
def test_whole_number_ranges_as_the_a1111_wiki_lists_them(text, expected):
    assert ints(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-3 (+0.5)", [1, 1.5, 2, 2.5, 3]),
        ("0.0-1.0 [6]", [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        ("0.5-1 [3]", [0.5, 0.75, 1.0]),
        ("0.5, 0.8, 1", [0.5, 0.8, 1.0]),
    ],
)
def test_real_number_ranges_as_the_a1111_wiki_lists_them(text, expected):
    assert floats(text) == expected


def test_csv_quoting_follows_the_wikis_right_and_wrong_examples():
    assert split_values("darkness, light, green, heat") == ["darkness", "light", "green", "heat"]
    # "WRONG - 4 items": a quote after a space is an ordinary character, as in A1111
    wrong = split_values('darkness, "light, green", heat')
    assert wrong == ["darkness", '"light', 'green"', "heat"]
    assert split_values('darkness,"light, green",heat') == ["darkness", "light, green", "heat"]


def test_prompt_search_and_replace_makes_the_wikis_three_prompts():
    generator = Prompted()
    axis = parse_axis(generator.params, "Prompt S/R", "an apple, a watermelon, a gun")
    plan = plan_grid(generator, {"prompt": "a man holding an apple, 8k clean"}, [axis])
    assert [c.params["prompt"] for c in plan.cells] == [
        "a man holding an apple, 8k clean",
        "a man holding a watermelon, 8k clean",
        "a man holding a gun, 8k clean",
    ]
    assert axis.labels == ("an apple", "a watermelon", "a gun")  # S/R labels are the values


def test_prompt_search_and_replace_also_changes_the_negative_prompt():
    generator = Prompted()
    axis = parse_axis(generator.params, SEARCH_REPLACE, "blurry,noisy")
    plan = plan_grid(generator, {"prompt": "a blurry cat", "negative_prompt": "blurry"}, [axis])
    assert [(c.params["prompt"], c.params["negative_prompt"]) for c in plan.cells] == [
        ("a blurry cat", "blurry"),
        ("a noisy cat", "noisy"),
    ]


def test_prompt_search_that_finds_nothing_is_refused_before_anything_runs():
    generator = Prompted()
    axis = parse_axis(generator.params, "prompt_sr", "a banana,a pear")
    with pytest.raises(GridError, match="did not find 'a banana' in the prompt or negative"):
        plan_grid(generator, {}, [axis])


def test_ranges_count_down_and_include_both_ends():
    # A1111's code stops one short counting down by ones (range(10, 6, -1)); its wiki's
    # "10-5 (-3) = 10, 7" is inclusive, which is what is kept here.
    assert ints("10-5 (-1)") == [10, 9, 8, 7, 6, 5]
    assert ints("5-1") == [5, 4, 3, 2, 1]
    assert expand_numbers(["-2-2"], int) == [-2, -1, 0, 1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1-5 (-1)", "never goes from 1 to 5"),
        ("1-5 (+0)", "never goes"),
        ("1-100000000", "more than 10000 values"),
        ("1-2 [99999999]", "more than 10000 values"),
        ("1-5 (+0.5)", "not a whole number"),
    ],
)
def test_bad_ranges_say_why(text, message):
    with pytest.raises(GridError, match=message):
        expand_numbers(split_values(text), int)


def test_huge_or_hostile_values_are_refused_quickly():
    start = time.perf_counter()
    with pytest.raises(GridError, match="characters long"):
        split_values("1-" * 5_000_000)
    assert ints("1" + " " * 5000 + "-" + " " * 5000 + "2") == [1, 2]
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- axes over a generator's params


def test_every_value_is_validated_by_its_spec_with_the_axis_named():
    params = Prompted.params
    with pytest.raises(GridError, match=r"CFG scale \(cfg\): 31 is out of range 0..30"):
        parse_axis(params, "cfg", "7, 31")
    with pytest.raises(GridError, match="not a multiple of 8"):
        parse_axis(params, "width", "16-20")
    with pytest.raises(GridError, match="'heun' is not one of"):
        parse_axis(params, "sampler", "euler, heun")
    with pytest.raises(GridError, match="there is no parameter 'truncation'; choose one of"):
        parse_axis(params, "truncation", "1")
    with pytest.raises(GridError, match="has no values"):
        parse_axis(params, "steps", " , ")


def test_axes_are_found_by_name_or_title_and_labelled_as_a1111_labels_them():
    params = Prompted.params
    cfg = parse_axis(params, "CFG scale", "3-7 (+2)")
    assert cfg.name == "cfg" and cfg.values == (3.0, 5.0, 7.0)
    assert cfg.labels == ("CFG scale: 3.0", "CFG scale: 5.0", "CFG scale: 7.0")
    sampler = parse_axis(params, "sampler", "DDIM, euler")  # a choice by label or value
    assert sampler.values == ("ddim", "euler")
    assert sampler.labels == ("Sampler: DDIM", "Sampler: Euler")
    model = parse_axis(params, "model", "/models/a/one.safetensors, two")
    assert model.labels == ("Model: one.safetensors", "Model: two")
    from tests.fakes import Mapped

    optional = parse_axis(Mapped.params, "image", "None, a/b/photo.png")
    assert optional.values == (None, "a/b/photo.png")
    assert optional.labels == ("Image: none", "Image: photo.png")
    assert ("prompt_sr", "Prompt S/R") in axis_choices(params)
    assert ("prompt_sr", "Prompt S/R") not in axis_choices(SolidColour.params)


def test_a_seed_of_minus_one_is_drawn_once_and_written_as_fixed_values():
    # A1111's fix_axis_seeds: -1 becomes a random seed before the grid runs, and the grid's
    # infotext carries "Fixed X Values".
    generator = SolidColour()
    axis = parse_axis(generator.params, "seed", "-1, 5")
    assert axis.values[1] == 5 and 0 <= axis.values[0] < 2**32 and axis.fixed_seeds
    plan = plan_grid(generator, {}, [axis])
    info = plan.infotext()
    assert info["X Type"] == "Seed" and info["X Values"] == "-1, 5"
    assert info["Fixed X Values"] == f"{axis.values[0]}, 5"
    assert [c.seed for c in plan.cells] == list(axis.values)


# ---------------------------------------------------------------- plans


def test_cells_run_in_a1111_order_one_image_each_sharing_one_random_seed():
    generator = Prompted()
    x = parse_axis(generator.params, "cfg", "3,7")
    y = parse_axis(generator.params, "steps", "10,20,30")
    plan = plan_grid(generator, {"count": 4}, [x, y])
    assert plan.shape == (2, 3, 1)
    assert [(c.params["cfg"], c.params["steps"]) for c in plan.cells] == [
        (3.0, 10), (7.0, 10), (3.0, 20), (7.0, 20), (3.0, 30), (7.0, 30),
    ]  # fmt: skip
    assert {c.params["count"] for c in plan.cells} == {1}
    assert len({c.seed for c in plan.cells}) == 1  # drawn once for the whole grid
    assert plan.describe() == "6 image(s) on 1 2×3 grid"


def test_a_count_axis_is_kept_and_a_model_axis_changes_least_often():
    generator = Prompted()
    x = parse_axis(generator.params, "steps", "1,2")
    z = parse_axis(generator.params, "model", "a,b")
    plan = plan_grid(generator, {}, [x, None, z])
    assert [r.params["model"] for r in plan.runs] == ["a", "a", "b", "b"]
    y = parse_axis(generator.params, "model", "a,b")
    plan = plan_grid(generator, {}, [x, y])  # model on Y: still outermost
    assert [(r.params["model"], r.params["steps"]) for r in plan.runs] == [
        ("a", 1), ("a", 2), ("b", 1), ("b", 2),
    ]  # fmt: skip
    count = parse_axis(generator.params, "count", "1,3")
    assert [c.params["count"] for c in plan_grid(generator, {}, [count]).cells] == [1, 3]


def test_repeated_cells_run_once():
    generator = SolidColour()
    x = parse_axis(generator.params, "seed", "1,2,1")
    y = parse_axis(generator.params, "size", "8,8")
    plan = plan_grid(generator, {}, [x, y])
    assert len(plan.cells) == 6 and len(plan.runs) == 2
    assert plan.cells_of[plan.runs[0].to_json()] == (0, 2, 3, 5)
    assert "(4 repeat an earlier cell)" in plan.describe()


def test_bad_plans_are_refused_with_reasons():
    generator = Prompted()
    steps = parse_axis(generator.params, "steps", "1,2")
    with pytest.raises(GridError, match="at least one axis"):
        plan_grid(generator, {}, [None, None])
    with pytest.raises(GridError, match="'Steps' is on two axes"):
        plan_grid(generator, {}, [steps, steps])
    big = parse_axis(generator.params, "seed", "1-101")
    with pytest.raises(GridError, match="101×101×1 = 10201 cells; a grid holds at most 10000"):
        plan_grid(generator, {}, [big, big.__class__(**{**big.__dict__, "name": "cfg"})])
    with pytest.raises(GridError, match="has no parameter"):
        plan_grid(generator, {"nonsense": 1}, [steps])


def test_an_axis_that_does_not_apply_is_refused():
    from tests.fakes import Mapped

    class Modes(Mapped):
        params = tuple(
            p.__class__(**{**p.__dict__, "visible_when": ("mode", "reconstruct")})
            if p.name == "size"
            else p
            for p in Mapped.params
        )

    generator = Modes()
    size = parse_axis(generator.params, "size", "8,16")
    with pytest.raises(GridError, match="X axis: Size does not apply with these settings"):
        plan_grid(generator, {"mode": "sample"}, [size])
    assert len(plan_grid(generator, {"mode": "reconstruct"}, [size]).cells) == 2


def test_the_plan_record_names_every_axis():
    generator = Prompted()
    x = parse_axis(generator.params, "cfg", "3,7")
    z = parse_axis(generator.params, "prompt_sr", "apple,pear")
    record = plan_grid(generator, {}, [x, None, z]).record()
    assert record["shape"] == [2, 1, 2] and record["script"] == "X/Y/Z plot"
    assert record["axes"]["X"]["param"] == "cfg" and record["axes"]["X"]["values"] == [3.0, 7.0]
    assert record["axes"]["Z"]["text"] == "apple,pear" and "Y" not in record["axes"]
