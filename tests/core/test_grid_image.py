"""The grid picture: A1111's layout (draw_grid_annotations), empty cells, Z, size caps and
bounded memory for 5,000 cells."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core import grid_image
from studio.core.grid import GridError, parse_axis, plan_grid
from studio.core.grid_image import MAX_PIXELS, MAX_SIDE, GridImage, GridRun, check_shape
from tests.fakes import Prompted

RED, GREEN, BLUE = (200, 0, 0), (0, 200, 0), (0, 0, 200)


def ink_in(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels darker than white (drawn text) inside `box`."""
    grey = image.crop(box).convert("L")
    return sum(1 for v in grey.get_flattened_data() if v < 128)


def test_layout_follows_a1111_for_full_size_cells():
    # A1111: font (w + h) // 25, a left margin of 3/4 of a cell when rows are labelled,
    # the top margin the tallest label plus a font size; cells pasted edge to edge.
    grid = GridImage((2, 2, 1), ["Seed: 1", "Seed: 2"], ["CFG scale: 3", "CFG scale: 7"])
    for index, colour in enumerate([RED, GREEN, BLUE, RED]):
        grid.add(index, Image.new("RGB", (512, 512), colour))
    layout = grid._fit(512, 512)
    assert layout.font == (512 + 512) // 25 and layout.pad_left == 512 * 3 // 4
    picture = grid.render()
    left, top = layout.pad_left, layout.pad_top
    assert picture.size == (left + 2 * 512, top + 2 * 512)
    assert picture.getpixel((left + 10, top + 10)) == RED
    assert picture.getpixel((left + 512 + 10, top + 10)) == GREEN
    assert picture.getpixel((left + 10, top + 512 + 10)) == BLUE
    for column in range(2):  # a label over each column, one beside each row
        assert ink_in(picture, (left + column * 512, 0, left + (column + 1) * 512, top)) > 50
    for row in range(2):
        assert ink_in(picture, (0, top + row * 512, left, top + (row + 1) * 512)) > 50
    assert ink_in(picture, (0, 0, left, top)) == 0  # the corner stays blank


def test_without_labels_there_are_no_margins():
    grid = GridImage((3, 1, 1))
    for index in range(3):
        grid.add(index, Image.new("RGB", (20, 10), GREEN))
    assert grid.render().size == (60, 10)


def test_small_cells_get_a_readable_font_and_labels_stay_in_their_column():
    grid = GridImage((3, 1, 1), ["Truncation: 0.5", "Truncation: 0.8", "Truncation: 1.0"])
    for index in range(3):
        grid.add(index, Image.new("RGB", (64, 64), BLUE))
    layout = grid._fit(64, 64)
    assert layout.font == grid_image.MIN_FONT
    lines = grid._wrapped(0, 64, grid_image._font(layout.font))
    font = grid_image._font(layout.font)
    assert all(font.getlength(line) <= 64 for column in lines for line in column)
    assert lines[0] == ["Truncation:", "0.5"]


def test_a_failed_cell_is_an_empty_box_and_the_rest_are_kept():
    grid = GridImage((2, 1, 1), ["a", "b"])
    grid.add(0, Image.new("RGB", (40, 40), RED))
    grid.fail(1)
    picture = grid.render()
    top = picture.height - 40
    assert picture.getpixel((5, top + 5)) == RED
    assert picture.getpixel((40 + 5, top + 5)) == grid_image.EMPTY
    assert ink_in(picture.convert("RGB").point(lambda v: 255 - v), (40, top, 80, top + 40)) < 1600


def test_cells_of_other_sizes_are_fitted_and_centred():
    grid = GridImage((2, 1, 1))
    grid.add(0, Image.new("RGB", (40, 40), RED))
    grid.add(1, Image.new("RGB", (40, 20), GREEN))
    picture = grid.render()
    assert picture.size == (80, 40)
    assert picture.getpixel((60, 5)) == (255, 255, 255) and picture.getpixel((60, 20)) == GREEN


def test_z_puts_one_titled_grid_per_value_side_by_side():
    generator = Prompted()
    x = parse_axis(generator.params, "cfg", "3,7")
    z = parse_axis(generator.params, "steps", "10,20,30")
    run = GridRun(generator, plan_grid(generator, {"width": 32}, [x, None, z]))
    for request in run.plan.runs:
        run.finished(request, Image.new("RGB", (32, 32), RED))
    picture = run.image.render()
    layout = run.image._fit(32, 32)
    assert layout.pad_z > 0 and picture.size == (3 * 2 * 32, layout.pad_z + layout.pad_top + 32)
    for iz in range(3):  # each sub-grid has its title above it
        assert ink_in(picture, (iz * 64, 0, (iz + 1) * 64, layout.pad_z)) > 10


def test_the_output_is_capped_and_cells_shrink_to_fit():
    grid = GridImage((100, 2, 1), [f"Seed: {i}" for i in range(100)], ["a", "b"])
    for index in range(200):
        grid.add(index, Image.new("RGB", (256, 256), RED if index % 2 else GREEN))
    assert max(grid._cells[0].size) <= MAX_SIDE // 100
    picture = grid.render()
    assert picture.width <= MAX_SIDE and picture.width * picture.height <= MAX_PIXELS


@pytest.mark.slow
def test_a_5000_cell_grid_keeps_only_shrunk_cells():
    shape = (100, 50, 1)
    grid = GridImage(shape, [f"Seed: {i}" for i in range(100)], [f"Steps: {i}" for i in range(50)])
    native = 128 * 128
    for index in range(5000):
        grid.add(index, Image.new("RGB", (128, 128), (index % 256, index // 256, 0)))
    assert grid.kept_pixels <= MAX_PIXELS < 5000 * native  # never all cells at full size
    picture = grid.render()
    assert picture.width <= MAX_SIDE and picture.height <= MAX_SIDE
    assert picture.width * picture.height <= MAX_PIXELS
    assert len(grid) == 0  # pasted and let go
    layout = grid._fit(grid.bound, grid.bound)
    ix, iy = 37, 21
    x = layout.pad_left + ix * layout.w + layout.w // 2
    y = layout.pad_top + iy * layout.h + layout.h // 2
    index = ix + iy * 100
    assert picture.getpixel((x, y)) == (index % 256, index // 256, 0)


def test_grids_too_big_to_see_are_refused_before_they_run():
    check_shape((100, 50, 1))
    with pytest.raises(GridError, match="under 16 px per cell"):
        check_shape((10_000, 1, 1))
    with pytest.raises(GridError, match="no cell of the grid has a picture"):
        GridImage((1, 1, 1)).render()


def test_the_grid_result_carries_the_axes_and_the_first_cells_settings():
    generator = Prompted()
    x = parse_axis(generator.params, "cfg", "3,7")
    y = parse_axis(generator.params, "prompt_sr", "apple,pear")
    run = GridRun(generator, plan_grid(generator, {"seed": 5}, [x, y]))
    assert [e.batch_index for e in run.entries()] == [0, 1, 2, 3]
    assert {e.group for e in run.entries()} == {run.batch}
    assert run.entries()[3].title == "Grid · Prompted · CFG scale: 7.0, pear"
    for n, request in enumerate(run.plan.runs):
        run.finished(request, None if n == 3 else Image.new("RGB", (24, 16), RED), item=10 + n)
    result = run.result()
    assert result.params == dict(run.plan.cells[0].params) and result.seed == 5
    assert result.infotext == {"Script": "X/Y/Z plot", "X Type": "CFG scale", "X Values": "3,7",
                               "Y Type": "Prompt S/R", "Y Values": "apple,pear"}  # fmt: skip
    assert result.grid["cells"] == [10, 11, 12, 13] and result.grid["shape"] == [2, 2, 1]
    assert run.done == 3 and run.failed == 1
    assert result.note == "X/Y/Z plot: 2×2, CFG scale × Prompt S/R"
