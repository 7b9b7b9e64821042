"""The analyzer registry: one entry per analyzer, ``name -> factory(Analysis) -> Analyzer``.

A factory receives the study's ``[analysis]`` settings (CLI overrides already applied with
``model_copy``) and returns a ready analyzer; it may raise (weights missing, no network),
which the runner reports as that analyzer failing while the others go on. Factories import
their heavy modules (torch, transformers, mediapipe) lazily so that ``pixels`` alone stays
light. This is the one composition root of analysis: nothing else names an analyzer's module.

To add an analyzer: write its module under ``viewfinder/analyze/analyzers/`` (an
:class:`~viewfinder.analyze.base.Analyzer` whose ``specs`` declare each measurement's unit,
better direction and roles: score, adherence answer for a dimension, card line) and add one
entry here; scoring, the report and the export pick its numbers up from the roles.
"""

from __future__ import annotations

from collections.abc import Callable

from viewfinder.analyze.base import Analyzer
from viewfinder.errors import BadInput
from viewfinder.study.schema import Analysis


def _pixels(analysis: Analysis) -> Analyzer:
    from viewfinder.analyze.analyzers.pixels import PixelAnalyzer

    return PixelAnalyzer()


def _clip(analysis: Analysis) -> Analyzer:
    from viewfinder.analyze.analyzers.clip import ClipAnalyzer

    return ClipAnalyzer.from_settings(analysis)


def _judge(analysis: Analysis) -> Analyzer:
    from viewfinder.analyze.analyzers.judge import JudgeAnalyzer

    return JudgeAnalyzer(analysis)


def _faces(analysis: Analysis) -> Analyzer:
    from viewfinder.analyze.analyzers.faces import FacesAnalyzer

    return FacesAnalyzer.from_settings(analysis)


ANALYZERS: dict[str, Callable[[Analysis], Analyzer]] = {
    "pixels": _pixels,
    "clip": _clip,
    "judge": _judge,
    "faces": _faces,
}


def check_names(names: list[str]) -> list[str]:
    """Return ``names`` without repeats; raise :class:`BadInput` naming any unknown one."""
    unknown = [name for name in names if name not in ANALYZERS]
    if unknown:
        raise BadInput(
            f"unknown analyzer(s) {', '.join(repr(n) for n in unknown)} (in --analyzers or the study's "
            f"[analysis] analyzers); use any of: {', '.join(sorted(ANALYZERS))}"
        )
    return list(dict.fromkeys(names))
