"""P(yes) for a yes/no answer from the token log probabilities (VQAScore-style).

The probability is read at the token where the answer's value starts:
P(yes) = p("yes") / (p("yes") + p("no")) over the top alternatives the API returned.
Unlike VQAScore's bare question, the match questions come last in the judge's form, so
P(yes) is conditioned on the judge's own description of the image written before it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from viewfinder.providers.chat import TokenLogprob, TokenLogprobs


def p_yes(content: str, tokens: TokenLogprobs | Sequence[TokenLogprob] | None, field: str) -> float | None:
    """P(yes) for ``field`` in the JSON ``content``; None without usable logprobs."""
    if tokens is not None and not isinstance(tokens, TokenLogprobs):
        tokens = TokenLogprobs.of(tokens)
    if not tokens or tokens.text != content:
        return None
    match = re.search(r'"' + re.escape(field) + r'"\s*:\s*"', content)
    token = tokens.token_at(match.end()) if match else None
    if token is None:
        return None
    return _share_of_yes(token.top or ((token.token, token.logprob),))


def _share_of_yes(candidates: tuple[tuple[str, float], ...]) -> float | None:
    mass = {"yes": 0.0, "no": 0.0}
    for text, logprob in candidates:
        word = text.strip().strip('":, ').lower()
        if word in mass:
            mass[word] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    return mass["yes"] / total if total > 0 else None
