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
    """(text, weight) runs of a prompt, A1111's way; a BREAK is ("BREAK", -1.0).

    Linear in the text: a bracket records the range of runs it covers, and the weights are
    summed over those ranges once at the end (in logarithms, rounded to 12 digits), where
    A1111 multiplies every run of a range each time one closes."""
    runs: list[str] = []
    ranges: list[tuple[int, int, float]] = []  # (first run, end, factor)
    round_open: list[int] = []
    square_open: list[int] = []

    def plain(chunk: str) -> None:
        for index, part in enumerate(_BREAK.split(chunk)):
            if index:
                runs.append(_BREAK_MARK)
            runs.append(part)

    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 < n and text[i + 1] in "()[]\\":
                runs.append(text[i + 1])
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
            factor = _number(weight.group()) if weight else None
            closes = weight is not None and weight.end() < n and text[weight.end()] == ")"
            if closes and round_open and factor is not None:
                ranges.append((round_open.pop(), len(runs), factor))
                i = weight.end() + 1
                continue
            runs.append(":")
            i += 1
        elif char == ")" and round_open:
            ranges.append((round_open.pop(), len(runs), ROUND))
            i += 1
        elif char == "]" and square_open:
            ranges.append((square_open.pop(), len(runs), SQUARE))
            i += 1
        else:
            end = i + 1
            if char not in ")]":
                while end < n and text[end] not in "\\()[]:":
                    end += 1
            plain(text[i:end])
            i = end
    ranges += [(start, len(runs), ROUND) for start in round_open]
    ranges += [(start, len(runs), SQUARE) for start in square_open]
    return _merged(runs, _weights(len(runs), ranges))


_BREAK_MARK = "\0BREAK"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _weights(count: int, ranges: list[tuple[int, int, float]]) -> list[float]:
    import math

    diff = [0.0] * (count + 1)
    zero = [0] * (count + 1)  # a factor of 0 (or below) cannot go through a logarithm
    for start, end, factor in ranges:
        if factor > 0:
            diff[start] += math.log(factor)
            diff[end] -= math.log(factor)
        else:
            zero[start] += 1
            zero[end] -= 1
    weights, total, zeros = [], 0.0, 0
    for index in range(count):
        total += diff[index]
        zeros += zero[index]
        weights.append(0.0 if zeros else float(f"{math.exp(min(total, 700.0)):.12g}"))
    return weights


def _merged(runs: list[str], weights: list[float]) -> list[tuple[str, float]]:
    merged: list[list] = []
    for text, weight in zip(runs, weights, strict=True):
        if text == _BREAK_MARK:
            merged.append([BREAK, -1.0])
        elif merged and merged[-1][1] == weight:
            merged[-1][0] += text
        else:
            merged.append([text, weight])
    return [(text, weight) for text, weight in merged] or [("", 1.0)]


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
