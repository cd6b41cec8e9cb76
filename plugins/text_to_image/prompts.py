"""Prompts as AUTOMATIC1111 users write them: attention weights, BREAK, `<lora:name:w>` tags
and textual-inversion embeddings by name. Parsing is plain Python (linear in the text);
`conditioning.py` turns the parsed prompt into embeddings with compel.

The attention grammar is A1111's (`modules/prompt_parser.py`, `parse_prompt_attention`):
`(text)` multiplies by 1.1, `[text]` divides by 1.1, `(text:1.3)` multiplies by 1.3, `\\(`
`\\)` `\\[` `\\]` `\\\\` are literal characters, unclosed brackets apply to the end, and
`BREAK` (a word on its own, in capitals) starts a new 75-token chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PROMPT = 20_000  # characters; TextParam caps the form at 10,000
ROUND, SQUARE = 1.1, 1 / 1.1
_EXTRA_NETWORK = re.compile(r"<(\w+):([^<>]{1,500})>")  # A1111's extra-network tag, bounded
_BREAK = re.compile(r"\s*\bBREAK\b\s*")
_WEIGHT = re.compile(r"[+-]?[.\d]+")
BREAK = "BREAK"


def parse_attention(text: str) -> list[tuple[str, float]]:
    """(text, weight) runs of a prompt, A1111's way; a BREAK is ("BREAK", -1.0)."""
    runs: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for run in runs[start:]:
            if run[1] != -1:
                run[1] *= factor

    def plain(chunk: str) -> None:
        for i, part in enumerate(_BREAK.split(chunk)):
            if i:
                runs.append([BREAK, -1.0])
            runs.append([part, 1.0])

    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 < n and text[i + 1] in "()[]\\":
                runs.append([text[i + 1], 1.0])
                i += 2
            else:
                i += 1  # a lone backslash escapes nothing and is dropped, as in A1111
        elif char == "(":
            round_open.append(len(runs))
            i += 1
        elif char == "[":
            square_open.append(len(runs))
            i += 1
        elif char == ":":
            weight = _WEIGHT.match(text, i + 1)
            if weight and weight.end() < n and text[weight.end()] == ")" and round_open:
                try:
                    factor = float(weight.group())
                except ValueError:
                    factor = None
                if factor is not None:
                    scale(round_open.pop(), factor)
                    i = weight.end() + 1
                    continue
            runs.append([":", 1.0])
            i += 1
        elif char == ")" and round_open:
            scale(round_open.pop(), ROUND)
            i += 1
        elif char == "]" and square_open:
            scale(square_open.pop(), SQUARE)
            i += 1
        else:
            end = i + 1
            if char not in ")]":
                while end < n and text[end] not in "\\()[]:":
                    end += 1
            plain(text[i:end])
            i = end
    for start in round_open:
        scale(start, ROUND)
    for start in square_open:
        scale(start, SQUARE)
    return _merged(runs)


def _merged(runs: list[list]) -> list[tuple[str, float]]:
    if not runs:
        return [("", 1.0)]
    merged = [runs[0][:]]
    for text, weight in runs[1:]:
        if weight == merged[-1][1]:
            merged[-1][0] += text
        else:
            merged.append([text, weight])
    return [(text, weight) for text, weight in merged]


def segments(runs: list[tuple[str, float]]) -> list[list[tuple[str, float]]]:
    """The runs between BREAKs (each segment is encoded on its own chunks)."""
    out: list[list[tuple[str, float]]] = [[]]
    for text, weight in runs:
        if weight == -1.0 and text == BREAK:
            out.append([])
        elif text:
            out[-1].append((text, weight))
    return out


@dataclass(frozen=True)
class NetworkTag:
    """One `<lora:name:weight>` tag found in a prompt."""

    kind: str
    name: str
    weight: float


def extract_networks(text: str) -> tuple[str, list[NetworkTag]]:
    """The prompt without its `<kind:name[:weight]>` tags, and the tags (A1111 removes them
    before the text is encoded; the weight defaults to 1)."""
    tags: list[NetworkTag] = []

    def take(match: re.Match) -> str:
        name, _, rest = match.group(2).partition(":")
        weight_text = rest.split(":")[0].strip()
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            return match.group(0)  # not a tag A1111 would read: left as text
        tags.append(NetworkTag(match.group(1).lower(), name.strip(), weight))
        return ""

    return _EXTRA_NETWORK.sub(take, text), tags


def embedding_pattern(names: list[str]) -> re.Pattern | None:
    """A pattern that finds any of these embedding names as whole words, ignoring case."""
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])", re.IGNORECASE)


def used_embeddings(texts: list[str], names: list[str]) -> list[str]:
    """The embedding names (as the files spell them) that the texts mention."""
    pattern = embedding_pattern(names)
    if pattern is None:
        return []
    lowered = {n.lower(): n for n in names}
    found: list[str] = []
    for text in texts:
        for match in pattern.finditer(text):
            name = lowered[match.group(1).lower()]
            if name not in found:
                found.append(name)
    return found
