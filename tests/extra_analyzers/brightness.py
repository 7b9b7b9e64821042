"""A test-only analyzer: mean brightness as a score and a card line, and a style answer.

It is the "one new module" of adding an analyzer: nothing outside it names its measurements;
its specs' roles put them in the scores, the adherence tables, the cards and the report.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.store import Measurement
from viewfinder.store import specs as spec

SPECS = [
    spec.MeasurementSpec(
        "brightness",
        "mean luminance / 255 (0-1)",
        spec.Better.HIGHER,
        "mean 8-bit luminance over 255",
        (
            spec.ScoreRole("Brightness probe (0-1)", "probability", order=70),
            spec.CardRole(spec.CardSection.QUALITY, "Brightness probe", 50, summary=True, plot=True),
        ),
    ),
    spec.MeasurementSpec(
        "bright_style",
        "1 yes / 0 no",
        spec.Better.HIGHER,
        "1 when the image is brighter than mid-grey",
        (
            spec.AdherenceRole(
                spec.Dimension.STYLE,
                "brightness",
                "brightness probe",
                spec.Reading.MATCH,
                "Share of images brighter than mid-grey, taken as following the style.",
            ),
        ),
    ),
]


class BrightnessAnalyzer(Analyzer):
    name = "brightness"
    version = "1"

    @property
    def specs(self) -> list[spec.MeasurementSpec]:
        return SPECS

    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        result = AnalysisResult()
        for item in batch:
            with Image.open(item.path) as image:
                level = float(np.asarray(image.convert("L"), dtype=float).mean()) / 255
            result.measurements += [
                Measurement(item.image_id, "brightness", value=level),
                Measurement(item.image_id, "bright_style", value=float(level >= 0.5)),
            ]
        return result
