"""The budget guard: money held for requests in flight, so concurrent requests cannot
together pass a spending limit (``--max-cost``).

A request reserves its estimated price before it is sent; when it ends, the reservation is
released (the store's ledger then holds what it really cost, or nothing when it failed). The
guard asks ``spent()`` for the ledger's total at each reservation, so money recorded by an
earlier run counts too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from viewfinder.errors import BadInput

TOLERANCE_USD = 1e-9  # float sums of prices must not refuse a request that fits exactly


def check_max_cost(limit: float | None) -> None:
    """--max-cost must be a positive amount: 0 or less would stop every request (bad input)."""
    if limit is not None and not limit > 0:
        raise BadInput(
            f"--max-cost {limit:g}: give a positive amount of USD (e.g. --max-cost 0.50), or leave it out "
            "for no limit; use --dry-run to see the cost without spending"
        )


class BudgetGuard:
    """Reserve, then release, the estimated cost of each request against ``limit`` USD."""

    def __init__(self, limit: float | None, spent: Callable[[], float]) -> None:
        self.limit = limit
        self.spent = spent
        self.reserved = 0.0
        self.stopped = False  # once a request did not fit, no later one is tried

    def total_with(self, estimate: float) -> float:
        """What the run would have spent with ``estimate`` more on top of everything in flight."""
        return self.spent() + self.reserved + estimate

    def fits(self, estimate: float) -> bool:
        """Whether ``estimate`` USD more would stay within the limit (callers that can wait
        for requests in flight ask this, then :meth:`hold`)."""
        return self.limit is None or self.total_with(estimate) <= self.limit + TOLERANCE_USD

    def reserve(self, estimate: float) -> bool:
        """Hold ``estimate`` USD unless that would pass the limit (then stop for good)."""
        if self.stopped:
            return False
        if not self.fits(estimate):
            self.stopped = True
            return False
        self.reserved += estimate
        return True

    def hold(self, estimate: float) -> None:
        """Hold money for a request already sent (resumed after a crash): it is spent either way."""
        self.reserved += estimate

    def release(self, estimate: float) -> None:
        """The request ended: its real cost, if any, is in the ledger now."""
        self.reserved -= estimate


@dataclass(frozen=True)
class JudgePlan:
    """The judge pass planned after generation: the judge, its estimated USD per image (None:
    no price is known) and how to give it a price. Generation keeps its share of --max-cost."""

    judge: str
    per_image_usd: float | None
    price_fix: str = ""

    def cost_of(self, images: int) -> float | None:
        return None if self.per_image_usd is None else images * self.per_image_usd


def require_prices(unpriced: list[str], judge: JudgePlan | None) -> None:
    """--max-cost cannot limit what has no price: refuse to start (unless --allow-unpriced)."""
    if unpriced:
        raise BadInput(
            f"--max-cost: no price is known for {unpriced[0]!r}, so the limit cannot hold; add it to the study's "
            f'[prices] table ("{unpriced[0]}" = USD per megapixel), or pass --allow-unpriced to run it unlimited'
        )
    if judge is not None and judge.per_image_usd is None:
        raise BadInput(
            f"--max-cost: no price is known for the judge {judge.judge!r}, so the limit cannot hold; "
            f"{judge.price_fix}, or pass --allow-unpriced to run it unlimited"
        )
