"""The user's own PyTorch style checkpoints, written here in the real formats and loaded through
the plugin: fast-neural-style (.pth, .model) and AdaIN folders. Weights are random but of the
exact architectures; files that carry code are refused without running it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from plugins.style_transfer import generator as style_generator
from plugins.style_transfer import samples, torch_nets
from plugins.style_transfer.generator import StyleTransfer, user_models
from studio.core.devices import CPU
from studio.core.generator import Context, GeneratorError

SMALL_TILE, SMALL_OVERLAP = 64, 16  # the networks' working size, shrunk to keep tests fast


def _init(module: nn.Module, out_bias: float, out_std: float) -> None:
    """Variance-keeping random weights, and a last layer that paints mid-grey plus a little."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.zeros_(conv.bias)
    nn.init.normal_(convs[-1].weight, std=out_std)
    nn.init.constant_(convs[-1].bias, out_bias)


def fast_net(seed: int) -> torch_nets.TransformerNet:
    torch.manual_seed(seed)
    net = torch_nets.TransformerNet()
    _init(net, 127.5, 2.0)  # the network works in 0-255
    return net.eval()


def with_old_keys(state: dict) -> dict:
    """What checkpoints saved by PyTorch < 0.4 carry: instance norm running statistics."""
    old = dict(state)
    for prefix, channels in [("in1", 32), ("in2", 64), ("in5", 32), ("res1.in1", 128)]:
        old[f"{prefix}.running_mean"] = torch.zeros(channels)
        old[f"{prefix}.running_var"] = torch.ones(channels)
    old["res5.in2.running_mean"] = torch.zeros(128)
    return old


def adain_nets(seed: int) -> tuple[nn.Sequential, nn.Sequential]:
    torch.manual_seed(seed)
    vgg, decoder = torch_nets.vgg_normalised(), torch_nets.adain_decoder()
    _init(vgg, 0.0, 0.5)
    _init(decoder, 0.5, 0.02)  # the decoder works in 0-1
    return vgg.eval(), decoder.eval()


@pytest.fixture(scope="module")
def nets():
    return {"fast": fast_net(1), "other": fast_net(2), "adain": adain_nets(3)}


@pytest.fixture(scope="module")
def store(tmp_path_factory, nets):
    """models/style_transfer with every format, and a photo and a painting beside it."""
    root = tmp_path_factory.mktemp("models")
    folder = root / "style_transfer"
    folder.mkdir()
    old = with_old_keys(nets["fast"].state_dict())
    torch.save(old, folder / "candy.pth")
    torch.save(old, folder / "mosaic.model", _use_new_zipfile_serialization=False)
    torch.save({"state_dict": nets["other"].state_dict()}, folder / "other.pt")
    vgg, decoder = nets["adain"]
    adain = folder / "adain"
    adain.mkdir()
    torch.save(vgg.state_dict(), adain / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), adain / "decoder.pth")
    short = folder / "adain_short"  # an encoder saved only up to relu4_1
    short.mkdir()
    encoder = nn.Sequential(*list(vgg.children())[: torch_nets.ENCODER_DEPTH])
    torch.save(encoder.state_dict(), short / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), short / "decoder.pth")
    broken = folder / "adain_half"
    broken.mkdir()
    torch.save(encoder.state_dict(), broken / "vgg_normalised.pth")
    (folder / "readme.txt").write_text("not a model")
    samples.photo(61, 45).save(root / "photo.png")
    samples.photo(100, 75).save(root / "wide.png")
    samples.painting(48, seed=3).save(root / "painting.png")
    samples.painting(48, seed=9).quantize(3).convert("RGB").save(root / "painting2.png")
    return root


@pytest.fixture
def small_tiles(monkeypatch):
    """Small networks' working size, on one thread: these nets are tiny, and two OpenMP threads
    on a shared machine spend most of their time waiting for each other."""
    monkeypatch.setattr(style_generator, "TORCH_TILE", SMALL_TILE)
    monkeypatch.setattr(style_generator, "TORCH_OVERLAP", SMALL_OVERLAP)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(store, generator=None, **values):
    values.setdefault("image", str(store / "photo.png"))
    generator = generator or StyleTransfer()
    return generator.run(generator.make_request(values), Context(CPU, store))[0]


def pixels(result):
    return np.asarray(result.image, dtype=np.float64)


# ---------------------------------------------------------------- fast neural style


def test_load_fast_drops_the_old_keys_and_keeps_the_weights(store, nets, small_tiles):
    for name in ("candy.pth", "mosaic.model"):
        loaded = torch_nets.load_fast(store / "style_transfer" / name)
        x = torch.rand(1, 3, 40, 40) * 255
        with torch.inference_mode():
            torch.testing.assert_close(loaded(x), nets["fast"](x))


@pytest.mark.slow  # one pass at the real 512 px working size: about a second on two cores
def test_a_fast_checkpoint_runs_at_the_real_tile_size(store):
    result = run(store, model=str(store / "style_transfer" / "candy.pth"))
    assert result.image.size == (61, 45) and result.image.mode == "RGB"
    array = pixels(result)
    assert 30 < array.mean() < 225 and array.std() > 1
    assert result.model_name == "candy.pth" and "fast neural style candy.pth" in result.note


def test_pth_model_and_wrapped_files_load_through_the_plugin(store, small_tiles):
    folder = store / "style_transfer"
    generator = StyleTransfer()
    candy = pixels(run(store, generator, model=str(folder / "candy.pth")))
    mosaic = pixels(run(store, generator, model=str(folder / "mosaic.model")))
    other = pixels(run(store, generator, model=str(folder / "other.pt")))
    assert candy.shape == (45, 61, 3)
    np.testing.assert_array_equal(candy, mosaic)  # same weights, old and new file formats
    assert np.abs(candy - other).mean() > 20  # other weights, another picture
    photo = np.asarray(Image.open(store / "photo.png"), dtype=np.float64)
    assert np.abs(candy - photo).mean() > 10


def test_fast_strength_and_tiles(store, small_tiles):
    model = str(store / "style_transfer" / "candy.pth")
    photo = np.asarray(Image.open(store / "photo.png"), dtype=np.float64)
    none = pixels(run(store, model=model, strength=0.0))
    half = pixels(run(store, model=model, strength=0.5))
    full = pixels(run(store, model=model, strength=1.0))
    assert np.abs(none - photo).max() <= 1
    inside = (full > 0) & (full < 255)  # where the full style was not clipped
    np.testing.assert_allclose(half[inside], (photo[inside] + full[inside]) / 2, atol=1.01)
    assert inside.mean() > 0.5
    wide = run(store, model=model, image=str(store / "wide.png"))  # 100x75 over 64 px tiles
    assert wide.image.size == (100, 75) and wide.note.endswith("4 tiles of 64 px, 100×75")


def test_user_checkpoints_use_the_cpu_threads_setting(store, small_tiles, monkeypatch):
    """Context.threads (Preferences, `studio stylize --threads`) bounds the CPU threads of
    every network the plugin runs, the user's PyTorch checkpoints included."""
    seen = []
    real = torch_nets.fast_network

    def spy(net):
        tile = real(net)

        def run_tile(window):
            seen.append(torch.get_num_threads())
            return tile(window)

        return run_tile

    monkeypatch.setattr(torch_nets, "fast_network", spy)
    torch.set_num_threads(2)  # what torch picks by itself on a two-core machine
    generator = StyleTransfer()
    request = generator.make_request(
        {"image": str(store / "photo.png"), "model": str(store / "style_transfer" / "candy.pth")}
    )
    generator.run(request, Context(CPU, store, threads=1))
    assert seen and set(seen) == {1}


# ---------------------------------------------------------------- AdaIN


@pytest.mark.parametrize("name", ["adain", "adain_short"])
def test_an_adain_folder_runs_and_strength_matters(store, small_tiles, name):
    model = str(store / "style_transfer" / name)
    generator = StyleTransfer()
    base = dict(model=model, style_image=str(store / "painting.png"))
    full = run(store, generator, **base, strength=1.0)
    assert full.image.size == (61, 45) and full.image.mode == "RGB"
    assert full.model_name == name and f"AdaIN {name}, alpha 1" in full.note
    array = pixels(full)
    assert 20 < array.mean() < 235 and array.std() > 10
    content = pixels(run(store, generator, **base, strength=0.0))
    assert np.abs(content - array).mean() > 5
    # at strength 0 the decoder gets the photo's own features: the painting plays no part
    alone = run(store, generator, **base, strength=0.0, style_image_2=str(store / "painting2.png"))
    np.testing.assert_allclose(pixels(alone), content, atol=1)
    other = pixels(
        run(store, generator, model=model, style_image=str(store / "painting2.png"), strength=1.0)
    )
    assert np.abs(other - array).mean() > 5  # the painting matters


def test_the_two_adain_encoder_files_agree(store, small_tiles):
    base = dict(style_image=str(store / "painting.png"), strength=0.7)
    long = pixels(run(store, model=str(store / "style_transfer" / "adain"), **base))
    short = pixels(run(store, model=str(store / "style_transfer" / "adain_short"), **base))
    np.testing.assert_array_equal(long, short)


def test_adain_needs_a_painting(store, small_tiles):
    with pytest.raises(GeneratorError, match="[Pp]ainting"):
        run(store, model=str(store / "style_transfer" / "adain"))


def test_an_adain_folder_without_its_decoder_says_so(store):
    with pytest.raises(GeneratorError, match="decoder.pth"):
        run(
            store,
            model=str(store / "style_transfer" / "adain_half"),
            style_image=str(store / "painting.png"),
        )


# ---------------------------------------------------------------- refused files


class Payload:
    """Unpickling runs `self.action`: what a malicious checkpoint would do."""

    def __init__(self, action):
        self.action = action

    def __reduce__(self):
        return self.action


@pytest.mark.parametrize("kind", ["print", "mkdir"])
def test_a_checkpoint_that_carries_code_is_refused_unrun(store, tmp_path, capfd, kind):
    marker = tmp_path / "pwned"
    action = (print, ("pwned",)) if kind == "print" else (os.mkdir, (str(marker),))
    path = tmp_path / "evil.pth"
    state = fast_net(1).state_dict()
    state["conv1.conv2d.bias"] = Payload(action)
    torch.save(state, path)
    with pytest.raises(GeneratorError, match="evil.pth") as raised:
        run(store, model=str(path))
    assert "weights only" in str(raised.value)
    assert "pwned" not in capfd.readouterr().out and not marker.exists()
    # control: an ordinary unpickler does run it
    torch.load(path, weights_only=False)
    assert "pwned" in capfd.readouterr().out if kind == "print" else marker.is_dir()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickled_object_is_refused(store, tmp_path):
    path = tmp_path / "object.pth"
    torch.save({"conv1.conv2d.weight": Path("/etc")}, path)  # a class instance, not a tensor
    with pytest.raises(GeneratorError, match="object.pth") as raised:
        run(store, model=str(path))
    assert "weights only" in str(raised.value)
    with open(path, "wb") as handle:  # a bare pickle, not even PyTorch's container
        pickle.dump({"conv1.conv2d.weight": Path("/etc")}, handle)
    with pytest.raises(GeneratorError, match="object.pth"):
        run(store, model=str(path))


def test_a_refused_checkpoint_says_why_in_plain_text(store, tmp_path):
    """The message is shown in the window and the terminal as it is: no terminal escape codes,
    no advice cut off mid-sentence, and the reason (what the file holds besides tensors)."""
    path = tmp_path / "object.pth"
    torch.save({"conv1.conv2d.weight": Path("/etc")}, path)
    with pytest.raises(GeneratorError) as raised:
        run(store, model=str(path))
    message = str(raised.value)
    assert "\x1b" not in message, message
    assert "PosixPath" in message, message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (nn.Sequential(nn.Conv2d(3, 3, 1)).state_dict(), "not a fast-neural-style"),
        ("swap", "size mismatch"),
        (torch.zeros(3), "no state dict"),
        ({"conv1.conv2d.weight": [1, 2, 3]}, "no state dict"),
        (b"text", "not a PyTorch checkpoint"),
    ],
)
def test_wrong_files_give_a_clear_error(store, tmp_path, content, message):
    path = tmp_path / "wrong.pth"
    if isinstance(content, str):
        content = fast_net(1).state_dict()
        content["conv1.conv2d.weight"] = torch.zeros(16, 3, 9, 9)
    if isinstance(content, bytes):
        path.write_bytes(b"just some text, no checkpoint\n")
    else:
        torch.save(content, path)
    with pytest.raises(GeneratorError, match=message) as raised:
        run(store, model=str(path))
    assert "wrong.pth" in str(raised.value) and "Traceback" not in str(raised.value)


def test_adain_files_of_the_wrong_network_are_named(store, tmp_path, nets):
    folder = tmp_path / "swapped"
    folder.mkdir()
    vgg, decoder = nets["adain"]
    torch.save(decoder.state_dict(), folder / "vgg_normalised.pth")
    torch.save(vgg.state_dict(), folder / "decoder.pth")
    with pytest.raises(GeneratorError, match="vgg_normalised.pth"):
        run(store, model=str(folder), style_image=str(store / "painting.png"))


def test_a_missing_model_is_named(store, tmp_path):
    with pytest.raises(GeneratorError, match="gone.pth"):
        run(store, model=str(tmp_path / "gone.pth"))


# ---------------------------------------------------------------- discovery


def test_user_models_are_listed(store, tmp_path):
    folder = store / "style_transfer"
    found = dict(user_models(store))
    assert found == {
        folder / "adain": "adain (AdaIN)",
        folder / "adain_short": "adain_short (AdaIN)",
        folder / "candy.pth": "candy (fast neural style)",
        folder / "mosaic.model": "mosaic (fast neural style)",
        folder / "other.pt": "other (fast neural style)",
    }  # not adain_half (no decoder.pth), not readme.txt
    choices = StyleTransfer().model_choices(store)
    values = [value for value, _ in choices]
    assert values[:2] == ["arbitrary", "builtin"]
    assert str(folder / "candy.pth") in values and str(folder / "adain") in values
    assert len(values) == 7
    assert user_models(None) == [] and user_models(tmp_path) == []
    assert [v for v, _ in StyleTransfer().model_choices(tmp_path)] == ["arbitrary", "builtin"]


def test_a_checkpoint_replaced_on_disk_is_read_again(tmp_path, monkeypatch):
    import time

    from plugins.style_transfer import torch_nets

    monkeypatch.setattr(style_generator, "TORCH_TILE", 64)
    monkeypatch.setattr(style_generator, "TORCH_OVERLAP", 16)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (48, 40), (120, 90, 60)).save(photo)
    path = tmp_path / "fast.pth"
    gen = style_generator.StyleTransfer()

    def run_with_seed(seed):
        torch.manual_seed(seed)
        state = torch_nets.TransformerNet().state_dict()
        torch.save(state, path)
        request = gen.make_request({"image": str(photo), "model": str(path)})
        gen.run(request, Context(CPU, tmp_path, threads=1))
        (net,) = gen._torch.values()  # one user model in memory at a time
        return state, net

    run_with_seed(1)
    time.sleep(0.01)  # a new modification time
    state, net = run_with_seed(2)
    assert torch.equal(net.state_dict()["conv1.conv2d.weight"], state["conv1.conv2d.weight"])
