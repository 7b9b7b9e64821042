"""What generation may spend of --max-cost: the planned judge pass's share is kept out."""

from __future__ import annotations

from rich.console import Console

from viewfinder.providers.budget import JudgePlan


def generation_limit(limit: float | None, judge: JudgePlan | None, to_judge: int, console: Console) -> float | None:
    """Generation's share of --max-cost: the planned judge pass is kept out of it, and the
    start says so (or says plainly that the images will not all be judged)."""
    if limit is None or judge is None:
        return limit
    needed = judge.cost_of(to_judge)
    if needed is None:
        console.print(
            f"budget: the judge {judge.judge} has no known price: nothing is kept for it and --max-cost "
            "does not limit its calls",
            markup=False,
        )
        return limit
    if needed >= limit:
        console.print(
            f"budget: judging {to_judge} images with {judge.judge} needs ~${needed:.4f}, more than --max-cost "
            f"${limit:.4f}: not every image will be judged",
            markup=False,
        )
        return limit
    console.print(
        f"budget: ${needed:.4f} of --max-cost ${limit:.4f} is kept for judging {to_judge} images with "
        f"{judge.judge} (~${judge.per_image_usd:.4f} each); generation may spend ${limit - needed:.4f}",
        markup=False,
    )
    return limit - needed
