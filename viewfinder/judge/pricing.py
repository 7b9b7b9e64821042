"""What a judge call costs: token usage times a price table (USD per million tokens).

Each API backend module declares its list prices (``TOKEN_PRICES``; they change); override
the judge's price with ``VIEWFINDER_JUDGE_PRICE="<input USD per 1M tokens>,<output USD per 1M
tokens>"``. Where an API reports the cost of the call itself (fal's OpenRouter router), that figure is used.
Local models cost nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from viewfinder.errors import BadInput
from viewfinder.providers.chat import Usage
from viewfinder.providers.fal_vlm import TOKEN_PRICES as FAL_TOKEN_PRICES
from viewfinder.providers.openai_chat import TOKEN_PRICES as OPENAI_TOKEN_PRICES

PRICE_ENV = "VIEWFINDER_JUDGE_PRICE"


@dataclass(frozen=True)
class TokenPrice:
    input_per_million: float
    output_per_million: float
    source: str

    def cost(self, usage: Usage) -> float:
        if usage.reported_usd is not None:
            return usage.reported_usd
        return (
            usage.prompt_tokens * self.input_per_million + usage.completion_tokens * self.output_per_million
        ) / 1_000_000


# Tokens assumed for a call before any call has been priced (an image plus the form).
ESTIMATE_USAGE = Usage(prompt_tokens=10_000, completion_tokens=700)

PRICES: dict[str, tuple[float, float]] = {**OPENAI_TOKEN_PRICES, **FAL_TOKEN_PRICES}
FREE = TokenPrice(0.0, 0.0, "local model")


def price_for(judge: str) -> TokenPrice | None:
    """The price of ``judge`` (env override first); None when it is not known."""
    override = os.environ.get(PRICE_ENV)
    if override:
        return _parse_override(override)
    if judge.startswith("hf:"):
        return FREE
    if judge in PRICES:
        return TokenPrice(*PRICES[judge], source="built-in price table")
    return None


def _parse_override(text: str) -> TokenPrice:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise BadInput(
            f"{PRICE_ENV}={text!r} is not '<input>,<output>' USD per million tokens; e.g. {PRICE_ENV}=0.15,0.60"
        ) from None
    if first < 0 or second < 0:
        raise BadInput(f"{PRICE_ENV}: prices must be >= 0 USD per million tokens")
    return TokenPrice(first, second, source=PRICE_ENV)


def per_image_estimate(judge: str) -> float | None:
    """USD one image's judge call is expected to cost (:data:`ESTIMATE_USAGE`, an image plus
    the form, a cautious figure); None when the judge's price is not known."""
    price = price_for(judge)
    return None if price is None else price.cost(ESTIMATE_USAGE)
