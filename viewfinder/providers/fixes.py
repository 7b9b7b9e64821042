"""What to do about a failure: a fix for each kind of reason, and the grouped lines every
stage ends with ("judge: 10 failed — 10 × 'HTTP 401 ...' (image 3): set OPENAI_API_KEY")."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.console import Console

from viewfinder.store import FailureGroup

REASON_CHARS = 240  # a reason is cut here in one-line summaries (the store keeps it whole)

# A reason that already says what to do ("...; check FAL_KEY", "...; raise --timeout"): that part is the fix.
_SAID = re.compile(
    r"(?:[;.(]|^)\s*((?:check|set|raise|add|export|run|give|pass|use|try) .+?)(?:\.?\s*(?:Finished|$))", re.I
)

#: (pattern in the reason, fix), first match wins; the last entry catches the rest.
FIXES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.I), fix)
    for pattern, fix in (
        (
            r"HTTP 40[13]|refused the (api )?key|invalid.{0,20}key",
            "check the API key variable (FAL_KEY, OPENAI_API_KEY, REPLICATE_API_TOKEN, BFL_API_KEY) and the base URL",
        ),
        (r"budget|--max-cost", "raise --max-cost, or run again to spend the rest"),
        (r"timed out|no result after", "raise --timeout, or run again to retry the failed ones"),
        (r"cannot reach|connection failed", "check the network and the service's base URL, then run again"),
        (r"refused:|declined", "try another judge model with --judge"),
        (r"invalid answer|did not fit the form", "try another judge model with --judge (its answers do not fit)"),
        (r"image file missing|cannot read the image file", "restore the run folder's image files, or start a new one"),
        (r"could not be loaded|hugging face", "run 'viewfinder models fetch' on a machine with internet"),
        (r"rejected the input|HTTP 4(00|22)", "change the prompt or the model's parameters in the study"),
        (r"", "run the stage again to retry the failed ones"),
    )
)


def fix_for(reason: str) -> str:
    """What the user can do about ``reason``: what the reason says itself, else the table's fix."""
    said = _SAID.search(reason)
    if said:
        fix = said.group(1).rstrip(" .;")
        return fix + ")" * (fix.count("(") - fix.count(")"))
    return next(fix for pattern, fix in FIXES if pattern.search(reason))


def short(reason: str) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 3] + "..."


def failure_lines(groups: Sequence[FailureGroup]) -> list[str]:
    """One line per group: count, reason, one example and the fix."""
    lines = []
    for group in groups:
        example = f"job {group.example[:12]}" if group.stage == "generate" else f"image {group.example}"
        lines.append(f"{group.count} × {short(group.reason)!r} ({example}): {fix_for(group.reason)}")
    return lines


def print_failures(console: Console, groups: Sequence[FailureGroup], label: str) -> None:
    """``label: N failed`` then the groups' lines (plain text: reasons are data, not markup)."""
    if not groups:
        return
    total = sum(group.count for group in groups)
    console.print(f"{label}: {total} failed, by reason:", markup=False, highlight=False)
    for line in failure_lines(groups):
        console.print(f"  {line}", markup=False, highlight=False)
