"""Prompt embeddings as AUTOMATIC1111 makes them, computed with compel (worker thread only).

Each BREAK segment is encoded on its own 77-token chunks (75 tokens between the start and
end markers); a longer segment is split where A1111 splits it: at 75 tokens, or just after
the last comma if that comes within the last 20 tokens. Chunks are concatenated; the prompt
and the negative prompt are padded to the same length with chunks of the empty prompt, as
A1111 pads them. Weights are compel's (emphasis above 1 scales a token's embedding away from
the empty prompt's; below 1 blends toward the prompt without it). SDXL: both encoders'
penultimate hidden states side by side, and the second encoder's pooled embedding of the
first chunk.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from compel.embeddings_provider import (
    EmbeddingsProvider,
    ReturnedEmbeddingsType,
    SplitLongTextMode,
)

from .prompts import parse_attention, segments

COMMA_BACKTRACK = 20  # A1111's comma_padding_backtrack default


class A1111Chunks(EmbeddingsProvider):
    """compel's embeddings provider, with A1111's rule for where a long prompt is split."""

    def _find_next_best_split_point(self, token_ids: list[int], max_length: int, *_: Any) -> int:
        if self.truncate_to_model_max_length or len(token_ids) <= max_length:
            return max_length
        comma = self.tokenizer.convert_tokens_to_ids(",</w>")
        if token_ids[max_length] == comma:
            return max_length
        window = token_ids[:max_length]
        last = max((i for i, t in enumerate(window) if t == comma), default=-1)
        if last >= 0 and max_length - last <= COMMA_BACKTRACK:
            return last + 1
        return max_length


def _provider(tokenizer: Any, encoder: Any, kind: ReturnedEmbeddingsType) -> A1111Chunks:
    return A1111Chunks(
        tokenizer=tokenizer,
        text_encoder=encoder,
        truncate=False,
        returned_embeddings_type=kind,
        split_long_text_mode=SplitLongTextMode.BRUTAL,  # the split point is ours (above)
        dtype_for_device_getter=lambda _device: encoder.dtype,
    )


class Conditioner:
    """Embeddings for one pipeline's text encoders (one provider each)."""

    def __init__(self, pipe: Any) -> None:
        self.xl = getattr(pipe, "text_encoder_2", None) is not None
        if self.xl:
            kind = ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED
            self.providers = [
                _provider(pipe.tokenizer, pipe.text_encoder, kind),
                _provider(pipe.tokenizer_2, pipe.text_encoder_2, kind),
            ]
        else:
            kind = ReturnedEmbeddingsType.LAST_HIDDEN_STATES_NORMALIZED
            self.providers = [_provider(pipe.tokenizer, pipe.text_encoder, kind)]
        self.device = pipe.text_encoder.device

    @torch.no_grad()
    def embed(self, text: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(embeddings [1, 77·chunks, dim], pooled [1, dim] or None) of one prompt."""
        parts = segments(parse_attention(text)) or [[]]
        pieces = []
        for part in parts:
            fragments = [t for t, _ in part] or [""]
            weights = [w for _, w in part] or [1.0]
            encoded = [
                p.get_embeddings_for_weighted_prompt_fragments(
                    [fragments], [weights], device=self.device
                )
                for p in self.providers
            ]
            pieces.append(torch.cat(encoded, dim=-1))
        pooled = None
        if self.xl:
            first = "".join(t for t, _ in parts[0])
            pooled = self.providers[1].get_pooled_embeddings([_clean(first)], device=self.device)
        return torch.cat(pieces, dim=1), pooled

    def __call__(self, prompt: str, negative: str) -> dict[str, Any]:
        """The pipeline's `prompt_embeds` (and negative, and SDXL's pooled) keywords."""
        cond, pooled = self.embed(prompt)
        uncond, negative_pooled = self.embed(negative)
        cond, uncond = self._same_length(cond, uncond)
        out = {"prompt_embeds": cond, "negative_prompt_embeds": uncond}
        if self.xl:
            out.update(pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=negative_pooled)
        return out

    def _same_length(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if a.shape[1] == b.shape[1]:
            return a, b
        empty, _ = self.embed("")
        longest = max(a.shape[1], b.shape[1])

        def pad(x: torch.Tensor) -> torch.Tensor:
            missing = (longest - x.shape[1]) // empty.shape[1]
            return torch.cat([x, empty.repeat(1, missing, 1)], dim=1) if missing else x

        return pad(a), pad(b)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
