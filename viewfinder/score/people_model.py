"""The stored results of measuring methods against people (aggregate ``people_report``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PEOPLE_AGGREGATE = "people_report"
TRUST_KAPPA = 0.4  # below it a method gets no verdict word and no headline rests on it


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class CorrectedRate(_Model):
    """One model's adherence by one method: the raw rate and the rate corrected with the labels
    (prediction-powered inference), with how many more labels would narrow it to the target."""

    model: str = Field(description="a model, or '*' for all models pooled")
    raw_rate: float | None = Field(None, description="share of judged images the method says follow")
    raw_n: int = Field(0, description="images the method judged")
    rate: float | None = Field(None, description="corrected rate (PPI++), clipped to [0, 1]")
    ci_low: float | None = None
    ci_high: float | None = None
    n_labelled: int = Field(0, description="judged images people labelled")
    lam: float | None = Field(None, description="weight of the method's answers (0 = labels only)")
    labels_needed: int | None = Field(
        None,
        description="labels in all for an interval under the target width; None when labels alone cannot reach it",
    )
    more_labels: int | None = Field(None, description="labels_needed minus the labels there are")


class MethodVsPeople(_Model):
    """A method that answers a dimension, against people's reference labels."""

    dimension: str
    method: str
    label: str
    n: int = Field(0, description="images both people and the method answered")
    accuracy: float | None = None
    accuracy_low: float | None = None
    accuracy_high: float | None = None
    kappa: float | None = None
    kappa_low: float | None = None
    kappa_high: float | None = None
    labels: list[str] = Field(default_factory=list, description="order of the confusion matrix's rows and columns")
    matrix: list[list[int]] = Field(default_factory=list, description="rows: people; columns: the method")
    trusted: bool | None = Field(None, description="False when kappa < 0.4; None when not measured")
    corrected: list[CorrectedRate] = Field(default_factory=list)


class LabellerAgreement(_Model):
    """Agreement between labellers on one dimension (Krippendorff's alpha, nominal)."""

    dimension: str
    alpha: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    images: int = Field(0, description="images labelled by two or more people")


class PeopleReport(_Model):
    """Every method against people, labellers against each other, and corrected rates."""

    labelled_images: int = 0
    labels: int = 0
    labellers: list[str] = Field(default_factory=list)
    target_width: float = 0.1
    methods: list[MethodVsPeople] = Field(default_factory=list)
    labellers_agreement: list[LabellerAgreement] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    labels_stamp: str = Field("", description="the stored labels it was computed from (count:latest time)")

    def distrusted(self) -> set[tuple[str, str]]:
        """(dimension, method) of the methods people disagree with (kappa < 0.4)."""
        return {(m.dimension, m.method) for m in self.methods if m.trusted is False}


def load_people_report(store: Any) -> PeopleReport | None:
    body = store.aggregate(PEOPLE_AGGREGATE)
    return None if body is None else PeopleReport.model_validate(body)
