"""The CLIP tokenizer of every Stable Diffusion text encoder, built offline from the CLIP BPE
merges that the `open_clip_torch` wheel ships (MIT).

Set-up fetches the wheel with `pip download --no-deps` (installing it would pull torchvision),
checks it against its published SHA-256, and writes `vocab.json` and `merges.txt` the way
CLIP's own tokenizer builds its vocabulary: the 256 byte symbols, the same with `</w>`, one
token per merge, then `<|startoftext|>` and `<|endoftext|>` (49,408 in all). The wheel's text
model configurations are kept beside them as a reference. No torch here.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.generator import GeneratorError
from studio.core.models import ModelCard, PublishedWheel, sha256_of

PACKAGE = "open_clip_torch"
VERSION = "3.3.0"
WHEEL_NAME = "open_clip_torch-3.3.0-py3-none-any.whl"
WHEEL_SHA256 = "c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce"
WHEEL_ENV = "STUDIO_OPEN_CLIP_WHEEL"
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
LICENSE_MEMBER = "open_clip_torch-3.3.0.dist-info/licenses/LICENSE"
TEXT_CONFIGS = ("ViT-L-14", "ViT-H-14", "ViT-bigG-14")  # SD 1.x, SD 2.x, SDXL's second
NAME = "CLIP tokenizer (from open_clip_torch)"
MERGES = 49152 - 256 - 2  # CLIP's vocabulary size less the byte symbols and two specials
VOCAB_SIZE = 49408
WHEEL = PublishedWheel(PACKAGE, VERSION, WHEEL_NAME, WHEEL_SHA256, WHEEL_ENV)


def folder(models_dir: Path) -> Path:
    return Path(models_dir) / "text_to_image" / "clip-tokenizer"


def installed(models_dir: Path) -> bool:
    where = folder(models_dir)
    return all((where / name).is_file() for name in ("vocab.json", "merges.txt", "model.json"))


def install(models_dir: Path, report: Callable[[str], None] = print) -> Path:
    """Install the tokenizer files; a wheel path in STUDIO_OPEN_CLIP_WHEEL skips pip."""
    return _write(WHEEL.read(_members(), report), models_dir, report)


def install_from_wheel(
    wheel: Path, models_dir: Path, report: Callable[[str], None] = print
) -> Path:
    """The same from a local copy of the wheel (checked against the published hash first)."""
    return _write(WHEEL.members(wheel, _members()), models_dir, report)


def _members() -> list[str]:
    configs = [f"open_clip/model_configs/{name}.json" for name in TEXT_CONFIGS]
    return [BPE_MEMBER, LICENSE_MEMBER, *configs]


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible table from bytes to printable characters (as in GPT-2)."""
    first = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    first += list(range(ord("®"), ord("ÿ") + 1))
    chars = first[:]
    extra = 0
    for byte in range(256):
        if byte not in first:
            first.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(first, [chr(c) for c in chars], strict=True))


def vocab_and_merges(bpe_gz: bytes) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary and merge list from the gzipped BPE file, as CLIP builds them."""
    lines = gzip.decompress(bpe_gz).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : MERGES + 1]]
    if len(merges) != MERGES or any(len(m) != 2 for m in merges):
        raise GeneratorError(f"{BPE_MEMBER} does not hold {MERGES} merges")
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise GeneratorError(f"the CLIP vocabulary came out with {len(vocab)} entries")
    return vocab, merges  # type: ignore[return-value]


def _write(files: dict, models_dir: Path, report: Callable[[str], None]) -> Path:
    bpe = files[BPE_MEMBER]
    if hashlib.sha256(bpe).hexdigest() != BPE_SHA256:
        raise GeneratorError(f"{WHEEL_NAME}: {BPE_MEMBER} is not the file this version ships")
    vocab, merges = vocab_and_merges(bpe)
    where = folder(models_dir)
    where.mkdir(parents=True, exist_ok=True)
    _atomic(where / "vocab.json", json.dumps(vocab, ensure_ascii=False))
    _atomic(where / "merges.txt", "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    for name in TEXT_CONFIGS:
        _atomic(where / f"{name}.json", files[f"open_clip/model_configs/{name}.json"].decode())
    (where / "LICENSE").write_text(files[LICENSE_MEMBER].decode("utf-8"), encoding="utf-8")
    ModelCard(
        name=NAME,
        generator="text_to_image",
        files={n: sha256_of(where / n) for n in ("vocab.json", "merges.txt")},
        source=f"PyPI {PACKAGE} {VERSION} ({BPE_MEMBER}, wheel SHA-256 {WHEEL_SHA256}); "
        "vocab.json and merges.txt built from it as CLIP's tokenizer builds its vocabulary",
        license="MIT, Copyright (c) 2012-2021 Gabriel Ilharco, Mitchell Wortsman, et al. "
        "(open_clip; see LICENSE)",
        description="The CLIP BPE tokenizer (49,408 tokens) of the SD 1.x, 2.x and SDXL text "
        "encoders; lets a single checkpoint file load with nothing else.",
    ).save(where)
    report(f"Installed {NAME} in {where}")
    return where


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def find(models_dir: Any) -> Path | None:
    """The installed tokenizer folder: in `models_dir`, else in the default model folder."""
    from studio.core.models import models_dir as default_models_dir

    for root in (models_dir, default_models_dir()):
        if root is not None and installed(Path(root)):
            return folder(Path(root))
    return None


_read: dict[tuple, tuple[dict, list]] = {}


def clip_tokenizer(where: Path, pad_token: str = "<|endoftext|>") -> Any:
    """A new transformers CLIPTokenizer from the installed files (read once per process; a new
    object each call, since textual inversions add tokens to the one a pipeline holds).
    SD 1.x and SDXL's first encoder pad with <|endoftext|>; SD 2.x and SDXL's second with "!"."""
    from transformers import CLIPTokenizer

    key = (str(where), (where / "vocab.json").stat().st_mtime_ns)
    if key not in _read:
        vocab = json.loads((where / "vocab.json").read_text(encoding="utf-8"))
        lines = (where / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
        _read[key] = (vocab, [tuple(line.split()) for line in lines if line])
    vocab, merges = _read[key]
    return CLIPTokenizer(
        vocab=dict(vocab), merges=list(merges), model_max_length=77, pad_token=pad_token
    )
