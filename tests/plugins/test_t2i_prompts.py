"""Prompts as A1111 users write them: the attention grammar against A1111's own documented
examples, extra-network tags, the CLIP tokenizer built from open_clip's BPE file against
published token ids, and compel embeddings with A1111's chunking (BREAK, > 75 tokens)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from plugins.text_to_image import tokenizer as clip
from plugins.text_to_image.prompts import (
    extract_networks,
    parse_attention,
    segments,
    used_embeddings,
)

# AUTOMATIC1111/stable-diffusion-webui, modules/prompt_parser.py, the docstring of
# parse_prompt_attention: input -> output pairs, as published there.
A1111_EXAMPLES = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [
            ("a ", 1.0),
            ("house", 1.5730000000000004),
            (" ", 1.1),
            ("on", 1.0),
            (" a ", 1.1),
            ("hill", 0.55),
            (", sun, ", 1.1),
            ("sky", 1.4641000000000006),
            (".", 1.1),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), A1111_EXAMPLES)
def test_attention_parses_as_a1111_documents(text, expected):
    got = parse_attention(text)
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert [w for _, w in got] == pytest.approx([w for _, w in expected], rel=1e-12)


def test_square_brackets_escapes_and_break():
    assert parse_attention("[word]") == [("word", pytest.approx(1 / 1.1))]
    assert parse_attention("((word))") == [("word", pytest.approx(1.21))]
    assert parse_attention("a \\(b\\) \\\\ c") == [("a (b) \\ c", 1.0)]
    runs = parse_attention("a cat BREAK (a dog:1.2)")
    assert segments(runs) == [[("a cat", 1.0)], [("a dog", 1.2)]]
    assert segments(parse_attention("BREAKFAST club")) == [[("BREAKFAST club", 1.0)]]


def test_parsing_is_linear_on_long_hostile_text():
    import time

    text = "((((" * 50_000 + "a:" * 50_000  # 300 KB of brackets and colons
    start = time.perf_counter()
    runs = parse_attention(text)
    assert time.perf_counter() - start < 5
    assert "".join(t for t, _ in runs).startswith("a:")


def test_lora_tags_leave_the_prompt_and_keep_their_weights():
    text, tags = extract_networks(
        "a castle <lora:ink:0.6>, night <lora:Detail Tweaker> <hypernet:x:1>"
    )
    assert text == "a castle , night  "
    assert [(t.kind, t.name, t.weight) for t in tags] == [
        ("lora", "ink", 0.6),
        ("lora", "Detail Tweaker", 1.0),
        ("hypernet", "x", 1.0),
    ]
    kept, none = extract_networks("a <lora:ink:lots> cat")
    assert kept == "a <lora:ink:lots> cat" and none == []


def test_embeddings_are_found_by_file_name_as_whole_words():
    names = ["EasyNegative", "bad-hands-5", "style"]
    found = used_embeddings(["easynegative, (bad-hands-5:1.2), stylish"], names)
    assert found == ["EasyNegative", "bad-hands-5"]


# ---------------------------------------------------------------- the tokenizer

# transformers, tests/models/clip/test_tokenization_clip.py (v5): `integration_expected_token_ids`
# for the shared input string of tests/test_tokenization_common.py, produced there by
# openai/clip-vit-base-patch32's published vocab.json and merges.txt.
TRANSFORMERS_INPUT = (
    "This is a test 😊\nI was born in 92000, and this is falsé.\n生活的真谛是\nHi  Hello\n"
    "Hi   Hello\n\n \n  \n Hello\n<s>\nhi<s>there\nThe following string should be properly "
    "encoded: Hello.\nBut ird and ปี   ird   ด\nHey how are you doing"
)
TRANSFORMERS_IDS = [
    589, 533, 320, 1628, 3020, 328, 739, 2683, 530, 280, 273, 271, 271, 271, 267, 537, 589,
    533, 2778, 82, 4166, 269, 33375, 162, 112, 119, 163, 248, 226, 41570, 164, 108, 249,
    42891, 363, 1883, 3306, 1883, 3306, 3306, 283, 338, 285, 1883, 283, 338, 285, 997, 518,
    3473, 9696, 1535, 655, 12560, 524, 33703, 281, 3306, 269, 767, 2770, 537, 1777, 505,
    20278, 2770, 38825, 2189, 829, 631, 592, 1960,
]  # fmt: skip
# Hugging Face's CLIP documentation (and elixir-nx/bumblebee's clip_tokenizer_test.exs, run
# against openai/clip-vit-base-patch32): "a photo of a cat" with its start and end markers.
CAT_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]


@pytest.fixture(scope="module")
def words(models_dir):
    where = clip.find(models_dir)
    if where is None:
        pytest.fail("Studio's CLIP tokenizer is not installed: run scripts/setup.sh")
    return where


def test_the_built_tokenizer_gives_the_published_ids(words):
    tok = clip.clip_tokenizer(words)
    assert len(tok) == 49408
    assert tok.encode(TRANSFORMERS_INPUT, add_special_tokens=False) == TRANSFORMERS_IDS
    assert tok("a photo of a cat").input_ids == CAT_IDS
    assert clip.clip_tokenizer(words, "!").pad_token_id == 0  # SD 2.x and SDXL's second


def test_the_vocabulary_is_built_as_clip_builds_it(words):
    import json

    vocab = json.loads((words / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407
    assert vocab["!"] == 0 and vocab["!</w>"] == 256 and len(vocab) == 49408
    merges = (words / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert merges[0] == "#version: 0.2" and len(merges) == 1 + 48894


# ---------------------------------------------------------------- embeddings with compel


def tiny_encoders(words, xl: bool = False):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    def config(width):
        return CLIPTextConfig(
            vocab_size=49408, hidden_size=width, intermediate_size=2 * width,
            num_hidden_layers=2, num_attention_heads=2, projection_dim=width,
            bos_token_id=49406, eos_token_id=49407,
        )  # fmt: skip

    torch.manual_seed(0)
    pipe = SimpleNamespace(
        tokenizer=clip.clip_tokenizer(words), text_encoder=CLIPTextModel(config(16))
    )
    if xl:
        pipe.tokenizer_2 = clip.clip_tokenizer(words, "!")
        pipe.text_encoder_2 = CLIPTextModelWithProjection(config(24))
    return pipe


def test_long_prompts_are_chunked_and_break_starts_a_chunk(words):
    import torch

    from plugins.text_to_image.conditioning import Conditioner

    cond = Conditioner(tiny_encoders(words))
    short, _ = cond.embed("a cat")
    assert short.shape == (1, 77, 16)
    long_prompt = ", ".join(["a very detailed painting of a castle on a hill"] * 12)  # ~120 tokens
    long, _ = cond.embed(long_prompt)
    assert long.shape == (1, 154, 16)  # two chunks, nothing cut
    broken, _ = cond.embed("a cat BREAK a dog")
    assert broken.shape == (1, 154, 16)
    alone, _ = cond.embed("a dog")
    assert torch.allclose(broken[:, 77:], alone, atol=1e-6)  # the second chunk is "a dog" alone
    out = cond("a cat", long_prompt)
    assert out["prompt_embeds"].shape == out["negative_prompt_embeds"].shape == (1, 154, 16)
    empty, _ = cond.embed("")
    assert torch.allclose(out["prompt_embeds"][:, 77:], empty, atol=1e-6)  # padded as A1111


def test_weights_change_only_the_weighted_words(words):
    import torch

    from plugins.text_to_image.conditioning import Conditioner

    cond = Conditioner(tiny_encoders(words))
    plain, _ = cond.embed("a red cat")
    same, _ = cond.embed("a (red:1.0) cat")
    strong, _ = cond.embed("a (red:1.5) cat")
    assert torch.allclose(plain, same, atol=1e-6)
    assert not torch.allclose(plain, strong, atol=1e-3)
    assert torch.allclose(plain[:, :2], strong[:, :2], atol=1e-6)  # start marker and "a"


def test_a_long_prompt_splits_after_a_comma_near_the_end_as_a1111(words):
    from plugins.text_to_image.conditioning import Conditioner

    provider = Conditioner(tiny_encoders(words)).providers[0]
    comma = provider.tokenizer.convert_tokens_to_ids(",</w>")
    ids = [320] * 60 + [comma] + [320] * 30  # a comma at 60: within 20 of the 75 limit
    assert provider._find_next_best_split_point(ids, 75) == 61
    far = [320] * 40 + [comma] + [320] * 50  # at 40: too far back, split at 75
    assert provider._find_next_best_split_point(far, 75) == 75


def test_sdxl_uses_both_encoders_side_by_side_and_the_second_ones_pooled(words):
    from plugins.text_to_image.conditioning import Conditioner

    cond = Conditioner(tiny_encoders(words, xl=True))
    out = cond("a (cat:1.2) BREAK on a mat", "blurry")
    assert out["prompt_embeds"].shape == (1, 154, 16 + 24)
    assert out["negative_prompt_embeds"].shape == (1, 154, 16 + 24)
    assert (
        out["pooled_prompt_embeds"].shape == out["negative_pooled_prompt_embeds"].shape == (1, 24)
    )
