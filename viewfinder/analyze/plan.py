"""What the planned judge pass will cost, known before generation starts: the dry run shows it,
and a ``--max-cost`` run keeps it out of generation's share of the budget."""

from __future__ import annotations

from viewfinder.errors import BadInput
from viewfinder.judge.pricing import PRICE_ENV, per_image_estimate
from viewfinder.judge.select import resolve_name
from viewfinder.providers.budget import JudgePlan
from viewfinder.study import Study

JUDGE_BACKENDS = ("openai", "fal", "hf")


def plan_judge(study: Study, analyzers: list[str] | None, judge: str | None) -> JudgePlan | None:
    """The judge pass a run will make after generation; None when the judge is not among the
    analyzers or is not configured (the analysis stage reports that itself)."""
    names = list(study.analysis.analyzers if analyzers is None else analyzers)
    if "judge" not in names:
        return None
    name = resolve_name(judge or study.analysis.judge)
    if name is None:
        return None
    if name.partition(":")[0] not in JUDGE_BACKENDS:
        raise BadInput(f"--judge {name!r}: unknown judge backend {name.partition(':')[0]!r}; use openai, fal or hf")
    return JudgePlan(name, per_image_estimate(name), f"set {PRICE_ENV}=<input>,<output> USD per million tokens")
