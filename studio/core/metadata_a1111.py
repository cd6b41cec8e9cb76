r"""AUTOMATIC1111's `parameters` text read A1111's way, in time linear in its length.

A1111 reads the pairs line with one regex (`re_param_code`, `modules/infotext_utils.py`):
`\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`. `findall` retries it at every
position, and each retry inside a long run of key characters rescans the run to its end, so
50 KB without a colon takes half a minute. The scanner below returns exactly the pairs that
`findall` does (a test compares the two on random text) but never rescans: a run that cannot
be a key is skipped whole, as every retry inside it fails the same way.
"""

from __future__ import annotations

import json
import re

# One token at a time, covering every character: a pair (key; quoted or plain value), or a
# stretch of key-like runs that are not followed by a colon, or other characters. Possessive
# quantifiers keep each alternative from backtracking into what it has read.
_TOKEN = re.compile(
    r'\s*+(\w[\w \-/]++):\s*+(?:("[^\\"]*+(?:\\.[^\\"]*+)*+")(?:,|$)|([^,]*+),?)'
    r"|(?:(?:\w[\w \-/]*+(?!:)|\w(?=:))[^\w]*+)++"
    r"|[^\w]++"
)


def split_a1111(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A1111 text read A1111's way: ({prompt, negative_prompt}, unquoted `Key: value` pairs).

    The pairs are those of the last line when it has at least three, as in A1111; else [].
    """
    lines = text.strip().split("\n") if isinstance(text, str) else []
    found = pairs_of(lines[-1]) if lines else []
    pairs = [(key.strip(), _unquote(value.strip())) for key, value in found]
    if len(pairs) >= 3:
        lines = lines[:-1]
    else:
        pairs = []
    prompt, _, negative = "\n".join(["", *lines]).partition("\nNegative prompt:")
    texts = {"prompt": prompt.strip(), "negative_prompt": negative.strip()}
    return {key: value for key, value in texts.items() if value}, pairs


def pairs_of(line: str) -> list[tuple[str, str]]:
    """What `re.findall(re_param_code, line)` gives in A1111: (key, raw value) tuples."""
    pairs = []
    for match in _TOKEN.finditer(line):
        key, quoted, plain = match.groups()
        if key is not None:
            pairs.append((key, quoted if quoted is not None else plain))
    return pairs


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            text = json.loads(value)
        except ValueError:
            return value
        return text if isinstance(text, str) else value
    return value
