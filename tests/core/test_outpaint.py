"""Outpainting's pictures: margins, pre-fills, and the feathered mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.outpaint import (
    Margins,
    OutpaintError,
    extend,
    margins_for_ratio,
    parse_ratio,
    to_multiple,
)


def gradient(width, height):
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    rgb = np.concatenate([x + 0 * y, y + 0 * x, np.full((height, width, 1), 90.0)], axis=2)
    return Image.fromarray(rgb.astype(np.uint8))


def test_extending_right_keeps_the_picture_and_stretches_its_edge():
    source = gradient(100, 64)
    picture, mask = extend(source, Margins(right=50), "stretch", feather=10)
    assert picture.size == (152, 64)  # 150 grown to a multiple of 8, on the extended side
    a, m = np.asarray(picture), np.asarray(mask)
    assert np.array_equal(a[:, :100], np.asarray(source))  # the old picture, untouched
    assert np.array_equal(a[:, 100:], np.repeat(a[:, 99:100], 52, axis=1))  # its edge
    assert (m[:, 100:] == 255).all()  # the new area is repainted
    assert (m[:, :90] == 0).all()  # the old picture is kept beyond the seam, which is soft
    ramp = m[30, 89:100]  # from black to nearly white over the 10 px of the seam
    assert (np.diff(ramp.astype(int)) > 0).all() and ramp[0] == 0 < ramp[1] < ramp[-1] < 255


def test_sides_are_grown_to_multiples_of_eight_by_margins_only():
    picture, mask = extend(gradient(100, 60), Margins(right=50))
    assert picture.size == (152, 64) and (np.asarray(mask)[60:] == 255).all()


def test_a_blurred_fill_carries_the_colours_but_not_the_streaks():
    source = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8))
    stretched, _ = extend(source, Margins(left=64, top=64), "stretch")
    blurred, _ = extend(source, Margins(left=64, top=64), "blur")
    # the left margin beside the picture: stretched rows are streaks (each row one colour)
    new_s = np.asarray(stretched)[64:, :64].astype(float)
    new_b = np.asarray(blurred)[64:, :64].astype(float)
    assert np.asarray(blurred)[64:, 64:].tolist() == np.asarray(source).tolist()
    streaks = np.abs(np.diff(new_s, axis=0)).mean()
    assert np.abs(np.diff(new_b, axis=0)).mean() < streaks / 5  # smooth
    assert abs(new_b.mean() - np.asarray(source).mean()) < 25  # of the picture's colours


def test_aspect_ratios_grow_the_short_side_evenly():
    assert margins_for_ratio(512, 512, 16 / 9) == Margins(left=199, right=199)
    assert margins_for_ratio(768, 512, 1.0) == Margins(top=128, bottom=128)
    assert to_multiple(Margins(left=199, right=199), 512, 512) == Margins(199, 201, 0, 0)
    assert parse_ratio("16:9") == pytest.approx(16 / 9) and parse_ratio("1.5") == 1.5
    assert parse_ratio("2/3") == pytest.approx(2 / 3) and parse_ratio("4x3") == pytest.approx(4 / 3)


@pytest.mark.parametrize(
    ("margins", "fill", "message"),
    [
        (Margins(), "stretch", "at least one side"),
        (Margins(left=-8), "stretch", "negative"),
        (Margins(right=5000), "stretch", "too large"),
        (Margins(right=8), "mirror", "Unknown fill"),
    ],
)
def test_margins_that_make_no_picture_are_refused(margins, fill, message):
    with pytest.raises(OutpaintError, match=message):
        extend(gradient(64, 64), margins, fill)
    with pytest.raises(OutpaintError, match="not an aspect ratio"):
        parse_ratio("wide")
