"""The upscaler library: the three ESRGAN-family layouts from files saved the ways other
tools save them, tiles that add up to one pass, exact output sizes, progress and cancel,
weights only, and the ncnn weights read as the ncnn format stores them."""

from __future__ import annotations

import pickle
import re
import struct

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import studio.upscalers as upscalers
from studio.core.generator import Cancelled
from studio.upscalers import builtin, nets, tiles
from studio.upscalers.ncnn import FP16_TAG, NcnnError, read_weights


@pytest.fixture(autouse=True)
def _no_model_paths(monkeypatch):
    from studio.core import config

    monkeypatch.setattr(config, "model_paths", lambda: [])


def picture(width=40, height=28, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB").convert(mode)


def forward(net, image, scale):
    """The network on the picture mirrored by the overlap at its edges, that margin cut off."""
    pad = upscalers.OVERLAP
    pixels = np.pad(
        np.asarray(image, np.float32) / 255, ((pad, pad), (pad, pad), (0, 0)), "reflect"
    )
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    with torch.inference_mode():
        y = (
            net(x)[0]
            .permute(1, 2, 0)
            .numpy()[pad * scale : -pad * scale, pad * scale : -pad * scale]
        )
    return (np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)


def small_rrdb(seed=1, scale=4):
    torch.manual_seed(seed)
    return nets.RRDBNet(scale=scale, feat=8, blocks=2, grow=4).eval()


def old_layout(state):
    """BasicSR names back to the original ESRGAN repository's (as community .pth files)."""
    out = {}
    for key, value in state.items():
        if m := re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)", key):
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = value
            continue
        name, kind = key.rsplit(".", 1)
        index = {
            "conv_first": "model.0",
            "conv_body": "model.1.sub.2",
            "conv_up1": "model.3",
            "conv_up2": "model.6",
            "conv_hr": "model.8",
            "conv_last": "model.10",
        }[name]
        out[f"{index}.{kind}"] = value
    return out


def test_a_real_esrgan_pth_with_params_ema_runs_as_the_network_itself(tmp_path):
    net = small_rrdb()
    path = tmp_path / "upscalers" / "4x-mine.pth"
    path.parent.mkdir()
    torch.save({"params_ema": net.state_dict()}, path)
    image = picture()
    out = upscalers.upscale(image, "4x-mine", 4, models_dir=tmp_path, tile=0)
    assert out.size == (160, 112)
    assert np.array_equal(np.asarray(out), forward(net, image, 4))
    assert ("4x-mine", "4x-mine · your file") in upscalers.choices(tmp_path)


def test_an_original_esrgan_layout_file_loads_as_the_same_network(tmp_path):
    net = small_rrdb(seed=2)
    path = tmp_path / "old.pth"
    torch.save(old_layout(net.state_dict()), path)
    image = picture(24, 24)
    out = upscalers.upscale(image, str(path), 4, models_dir=tmp_path, tile=0)
    assert np.array_equal(np.asarray(out), forward(net, image, 4))


def test_a_2x_rrdbnet_takes_the_picture_pixel_unshuffled(tmp_path):
    net = small_rrdb(seed=3, scale=2)
    save_file(net.state_dict(), str(tmp_path / "x2.safetensors"))
    image = picture(20, 16)
    out = upscalers.upscale(image, str(tmp_path / "x2.safetensors"), 2, models_dir=None, tile=0)
    assert np.array_equal(np.asarray(out), forward(net, image, 2))


def test_a_compact_net_in_safetensors_and_tiles_that_add_up_to_one_pass(tmp_path):
    torch.manual_seed(4)
    net = nets.SRVGGNetCompact(scale=2, feat=8, convs=2).eval()  # sees 4 px around a pixel
    path = tmp_path / "compact.safetensors"
    save_file(net.state_dict(), str(path))
    image = picture(70, 45)
    seen = []
    out = upscalers.upscale(
        image, str(path), 2, models_dir=None, tile=32, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(k, 6) for k in range(1, 7)]  # 3 x 2 tiles
    assert np.array_equal(np.asarray(out), forward(net, image, 2))


def test_cancel_stops_between_tiles(tmp_path):
    torch.manual_seed(5)
    path = tmp_path / "c.safetensors"
    save_file(nets.SRVGGNetCompact(scale=2, feat=8, convs=1).state_dict(), str(path))
    seen = []
    with pytest.raises(Cancelled):
        upscalers.upscale(
            picture(64, 64),
            str(path),
            2,
            models_dir=None,
            tile=16,
            progress=lambda d, t: seen.append(d),
            cancelled=lambda: len(seen) >= 3,
        )
    assert seen == [1, 2, 3]


@pytest.mark.parametrize(("scale", "size"), [(2.5, (92, 58)), (8, (296, 184)), (1.5, (56, 34))])
def test_the_output_is_exactly_the_size_asked_for(tmp_path, scale, size):
    """round(w * scale), Python's round: halves go to the even side."""
    torch.manual_seed(6)
    path = tmp_path / "c.safetensors"
    save_file(nets.SRVGGNetCompact(scale=4, feat=4, convs=1).state_dict(), str(path))
    out = upscalers.upscale(picture(37, 23), str(path), scale, models_dir=None)
    assert out.size == size


def test_alpha_and_grey_come_back(tmp_path):
    torch.manual_seed(7)
    path = tmp_path / "c.safetensors"
    save_file(nets.SRVGGNetCompact(scale=2, feat=4, convs=1).state_dict(), str(path))
    rgba = picture(16, 16, "RGBA")
    rgba.putalpha(Image.new("L", (16, 16), 77))
    out = upscalers.upscale(rgba, str(path), 2, models_dir=None)
    assert out.mode == "RGBA" and out.getchannel("A").getextrema() == (77, 77)
    assert upscalers.upscale(picture(16, 16, "L"), str(path), 2, models_dir=None).mode == "L"


def test_lanczos_needs_no_network_and_matches_pillow():
    image = picture(30, 20)
    out = upscalers.upscale(image, upscalers.LANCZOS, 3, models_dir=None)
    expected = image.resize((90, 60), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(out), np.asarray(expected))


class _Boom:
    def __reduce__(self):
        return (open, ("/tmp/studio-upscaler-pwned", "w"))


def test_a_pth_that_would_run_code_is_refused_and_runs_none(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv_first.weight": _Boom()}, f, protocol=2)
    with pytest.raises(upscalers.UpscalerError, match="never runs code"):
        upscalers.upscale(picture(), str(path), 4, models_dir=None)
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(upscalers.UpscalerError, match="not a PyTorch weights file"):
        upscalers.upscale(picture(), str(tmp_path / "text.pth"), 4, models_dir=None)
    assert not __import__("os").path.exists("/tmp/studio-upscaler-pwned")


def test_a_file_of_another_kind_says_what_it_saw(tmp_path):
    path = tmp_path / "unet.safetensors"
    save_file({"down.0.weight": torch.zeros(3)}, str(path))
    with pytest.raises(upscalers.UpscalerError, match="down.0.weight"):
        upscalers.upscale(picture(), str(path), 4, models_dir=None)
    with pytest.raises(upscalers.UpscalerError, match="no upscaler called 'nope'"):
        upscalers.upscale(picture(), "nope", 4, models_dir=tmp_path)


def test_an_uninstalled_builtin_says_how_to_install_it(tmp_path):
    assert [v for v, _ in upscalers.choices(tmp_path)] == [upscalers.LANCZOS, upscalers.NEAREST]
    with pytest.raises(upscalers.UpscalerError, match="install-defaults"):
        upscalers.upscale(picture(), "R-ESRGAN 4x+", 4, models_dir=tmp_path)


def test_tiles_cover_the_picture_once():
    for width, height, tile in [(70, 45, 32), (256, 256, 256), (1000, 3, 128)]:
        covered = np.zeros((height, width), int)
        for x0, y0, x1, y1 in tiles.boxes(width, height, tile):
            covered[y0:y1, x0:x1] += 1
            assert x1 - x0 <= tile and y1 - y0 <= tile
        assert (covered == 1).all()


# ---------------------------------------------------------------- ncnn weights


def ncnn_model(net):
    """The .param text and .bin blob ncnn's converter writes for a compact net: each
    convolution's weights behind the float16 tag, its bias and PReLU slopes as raw float32."""
    lines, blob = [], bytearray()
    convs = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    for layer in net.body:
        if isinstance(layer, torch.nn.Conv2d):
            w = layer.weight.detach().numpy()
            lines.append(
                f"Convolution conv{len(lines)} 1 1 a b 0={w.shape[0]} 1=3 4=1 5=1 6={w.size}"
            )
            half = w.astype("<f2").tobytes()
            blob += struct.pack("<I", FP16_TAG) + half + b"\0" * (-len(half) % 4)
            blob += layer.bias.detach().numpy().astype("<f4").tobytes()
        else:
            slopes = layer.weight.detach().numpy()
            lines.append(f"PReLU prelu{len(lines)} 1 1 b c 0={slopes.size}")
            blob += slopes.astype("<f4").tobytes()
    lines += ["PixelShuffle ps 1 1 c d 0=2", "Interp up 1 1 a e 0=1", "BinaryOp add 2 1 d e f"]
    assert len(convs) == 3
    text = f"7767517\n{len(lines) + 1} {len(lines) + 1}\nInput data 0 1 a\n" + "\n".join(lines)
    return text, bytes(blob)


def test_ncnn_weights_become_our_networks_state_in_order():
    torch.manual_seed(8)
    net = nets.SRVGGNetCompact(scale=2, feat=8, convs=1).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.half().float())  # what float16 storage keeps
    text, blob = ncnn_model(net)
    small = builtin.Builtin("t", "t", "t", "Compact", 2, (("feat", 8), ("convs", 1)), "")
    state = builtin.state_from_ncnn(small, text, blob)
    for key, value in net.state_dict().items():
        assert torch.equal(state[key], value), key
    with pytest.raises(NcnnError, match="bytes more"):
        read_weights(text, blob + b"\0\0\0\0")
    with pytest.raises(NcnnError, match="ends early"):
        read_weights(text, blob[:-8])


def test_an_original_esrgan_x8_file_has_three_upsampling_steps(tmp_path):
    torch.manual_seed(9)
    net = nets.RRDBNet(scale=8, feat=8, blocks=1, grow=4).eval()
    names = {"conv_first": "model.0", "conv_body": "model.1.sub.1", "conv_up1": "model.3",
             "conv_up2": "model.6", "conv_up3": "model.9", "conv_hr": "model.11",
             "conv_last": "model.13"}  # fmt: skip
    state = {}
    for key, value in net.state_dict().items():
        if m := re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)", key):
            state[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = value
        else:
            name, kind = key.rsplit(".", 1)
            state[f"{names[name]}.{kind}"] = value
    torch.save(state, tmp_path / "8x.pth")
    image = picture(20, 16)
    out = upscalers.upscale(image, str(tmp_path / "8x.pth"), 8, models_dir=None, tile=0)
    assert out.size == (160, 128)
    assert np.array_equal(np.asarray(out), forward(net, image, 8))
