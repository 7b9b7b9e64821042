"""The score report: the typed aggregates that ``run_scoring`` stores and the report renders.

Stored as JSON in the run's ``aggregates`` table under :data:`AGGREGATE_NAME`; read it back
with :func:`load_score_report`. Every number carries what it measures, its scale, the
direction that is better, its interval and a verdict word taken from
:mod:`viewfinder.score.verdicts` (the one table of thresholds). Undefined numbers (no
images judged) are ``None``, never NaN.

Vocabulary:
- *dimension*: a part of the prompt that an image can follow: ``camera_angle``,
  ``shot_size``, ``scene``, ``style``, ``emotion``.
- *method*: who judged it: ``judge`` (the VLM judge) or ``faces`` (the face analyzer).
- *judged*: the method gave an answer that can be compared with the request. Images with no
  face, an "unclear" answer or a missing measurement are *not judged*: counted apart in
  ``n_not_judged``, never as failures.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AGGREGATE_NAME = "score_report"
REPORT_VERSION = 1

Direction = Literal["higher", "lower", "none", "target"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return self.model_dump(mode="json")


class Rate(_Model):
    """Share of judged images that follow a dimension: ``k`` of ``n``, with a 95% Wilson interval."""

    k: int = Field(description="judged images that follow the request")
    n: int = Field(description="judged images (the denominator)")
    n_not_judged: int = Field(0, description="images that could not be judged (no face, unclear, missing)")
    not_judged_reasons: dict[str, int] = Field(
        default_factory=dict,
        description="n_not_judged by reason: 'no face', 'unclear', 'no answer', 'unreadable answer'",
    )
    rate: float | None = Field(None, description="k / n; None when n == 0")
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str | None = Field(None, description="word from the verdict table for scale 'adherence'")


class Mean(_Model):
    """Mean of a continuous score with a 95% bootstrap (BCa) interval."""

    n: int
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str | None = Field(None, description="word from the verdict table for this score's scale")


class BreakdownRow(_Model):
    """One cell of a breakdown: a model (``'*'`` = all models pooled) and one level of a grid
    factor (e.g. style = 'cinematic')."""

    model: str
    level: str
    rate: Rate | None = None
    mean: Mean | None = None


class Breakdown(_Model):
    """A result split by one grid factor: ``by`` is category, emotion, camera or style."""

    by: str
    rows: list[BreakdownRow] = Field(default_factory=list)


class DimensionResult(_Model):
    """Adherence to one prompt dimension as judged by one method."""

    dimension: str = Field(description="camera_angle, shot_size, scene, style or emotion")
    method: str = Field(description="judge or faces")
    label: str = Field(description="human name, e.g. 'Camera angle (VLM judge)'")
    measures: str = Field(description="what it measures, one sentence")
    scale: str = Field("adherence", description="verdict-table scale name")
    direction: Direction = "higher"
    overall: Rate
    per_model: dict[str, Rate] = Field(default_factory=dict)
    breakdowns: list[Breakdown] = Field(default_factory=list)


class ScoreResult(_Model):
    """A continuous score (CLIP score, aesthetic, P(yes)) summarised as means."""

    key: str = Field(description="measurement column, 'analyzer.name', e.g. 'clip.clip_score'")
    label: str
    measures: str = Field(description="what it measures, one sentence")
    unit: str
    scale: str = Field(description="verdict-table scale name")
    direction: Direction
    overall: Mean
    per_model: dict[str, Mean] = Field(default_factory=dict)
    breakdowns: list[Breakdown] = Field(default_factory=list)


class Agreement(_Model):
    """Agreement of two methods on one dimension, over images both judged."""

    dimension: str
    basis: Literal["labels", "adherence"] = Field(
        "labels",
        description="'labels': the answers themselves (angle, expression); "
        "'adherence': whether each says the image follows the request",
    )
    method_a: str = Field(description="rows of the confusion matrix")
    method_b: str = Field(description="columns of the confusion matrix")
    n: int = Field(description="images both methods judged")
    observed: float | None = Field(None, description="share of images where both gave the same answer")
    kappa: float | None = Field(None, description="Cohen's kappa; None when undefined")
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str = Field(
        "", description="'BCa bootstrap' (under 100 images) or 'large-sample' (Fleiss-Cohen-Everitt)"
    )
    verdict: str | None = Field(None, description="word from the verdict table for scale 'kappa'")
    labels: list[str] = Field(default_factory=list, description="category labels, rows and columns")
    matrix: list[list[int]] = Field(
        default_factory=list, description="counts, matrix[i][j]: a said labels[i], b said labels[j]"
    )


class Comparison(_Model):
    """Two models compared on the same prompts and seeds for one dimension or score."""

    target: str = Field(description="dimension/method for adherence ('emotion/judge') or score key")
    label: str = Field("", description="human name of the target, e.g. 'Emotion (VLM judge)' or 'CLIP score'")
    kind: Literal["binary", "continuous"]
    model_a: str
    model_b: str
    n_pairs: int = Field(description="prompt+seed pairs where both images were judged / scored")
    value_a: float | None = Field(None, description="rate or mean of model_a on the pairs")
    value_b: float | None = None
    test: str = Field(description="'McNemar exact', 'McNemar chi-square', 'paired permutation', 'Wilcoxon'")
    statistic: float | None = None
    p_value: float | None = None
    p_wilcoxon: float | None = Field(
        None, description="continuous only: Wilcoxon signed-rank p (a check on the permutation test)"
    )
    p_holm: float | None = Field(None, description="Holm-adjusted p across all targets of this model pair")
    effect_name: str = Field(description="'difference in rates' (paired, Newcombe CI) or 'mean difference'")
    effect: float | None = Field(None, description="value_a - value_b")
    effect_ci_low: float | None = None
    effect_ci_high: float | None = None
    standardized: float | None = Field(None, description="odds ratio b/c (binary) or Cohen's d_z (continuous)")
    discordant: list[int] | None = Field(None, description="binary only: [a only, b only] follow the request")
    significant: bool = Field(False, description="p_holm < 0.05")


class GridEffect(_Model):
    """How adherence to one dimension changes with another requested factor."""

    dimension: str
    method: str
    by: str = Field(description="grid factor the images were split by: camera, style, emotion, category")
    rows: list[BreakdownRow] = Field(default_factory=list, description="model '*' = all models")
    test: str = Field("", description="'Fisher exact' (2 levels) or 'chi-square' (more)")
    p_value: float | None = None
    spread: float | None = Field(None, description="highest minus lowest rate among levels with n >= 1")


class LogisticTerm(_Model):
    """One level of a grid factor against its reference level, holding the other factors fixed."""

    factor: str = Field(description="model, camera, style or emotion")
    level: str
    reference: str = Field(description="the factor's first level in grid order")
    odds_ratio: float = Field(description="odds of adherence at this level / at the reference level")
    ci_low: float
    ci_high: float
    p_value: float = Field(description="Wald test, not adjusted for multiple testing")


class LogisticModel(_Model):
    """Adherence to one dimension modelled on the grid factors (Firth-penalised logistic regression)."""

    dimension: str
    method: str
    label: str
    formula: str = Field(description="e.g. 'adherence ~ model + camera + style + emotion'")
    n: int = Field(description="judged images in the fit")
    converged: bool
    terms: list[LogisticTerm] = Field(default_factory=list)


class ScoreReport(_Model):
    """Everything the report needs about adherence and statistics of one run."""

    version: int = REPORT_VERSION
    study: str
    models: list[str]
    n_images: int
    dimensions: list[DimensionResult] = Field(default_factory=list)
    scores: list[ScoreResult] = Field(default_factory=list)
    agreements: list[Agreement] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(default_factory=list)
    grid_effects: list[GridEffect] = Field(default_factory=list)
    logistic: list[LogisticModel] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="method notes (intervals, tests, seeds)")

    def dimension(self, dimension: str, method: str) -> DimensionResult | None:
        for item in self.dimensions:
            if item.dimension == dimension and item.method == method:
                return item
        return None

    def score(self, key: str) -> ScoreResult | None:
        for item in self.scores:
            if item.key == key:
                return item
        return None


def load_score_report(store: Any) -> ScoreReport | None:
    """The stored score report of a run (``RunStore``), or None before scoring ran."""
    body = store.aggregate(AGGREGATE_NAME)
    return None if body is None else ScoreReport.model_validate(body)
