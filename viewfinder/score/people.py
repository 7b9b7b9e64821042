"""Build the :class:`PeopleReport`: every method that answers a dimension against people's
reference labels, labellers against each other, and the adherence rates corrected with the
labels (prediction-powered inference).

People's labels are put in each method's words: an expression as the expression, a yes/no
match as "1"/"0". "unclear" and "no face" from a person are no reference (the image is not
in the comparison). An image labelled by several people takes the label most of them gave
(ties: the earliest label) for accuracy and kappa, and the share of them who say it follows
for the corrected rate. The corrected rate is over the images the method judged, like the raw
rate, so the two are comparable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from viewfinder.score.adherence import (
    DimensionMethod,
    ImageAdherence,
    image_adherence,
    read_answer,
    requested,
)
from viewfinder.score.krippendorff import krippendorff_alpha
from viewfinder.score.people_agreement import agreement_with_people
from viewfinder.score.people_model import (
    TRUST_KAPPA,
    CorrectedRate,
    LabellerAgreement,
    MethodVsPeople,
    PeopleReport,
)
from viewfinder.score.ppi import labels_for_width, ppi_mean
from viewfinder.store import ImageRecord, Label
from viewfinder.store.labels import LABEL_DIMENSIONS
from viewfinder.study import Study
from viewfinder.study.vocabulary import CAMERA_ANGLES, EXPRESSIONS, SHOT_SIZES

ALL_MODELS = "*"
LABEL_OF_DIMENSION = {
    "camera_angle": "camera_angle",
    "shot_size": "shot_size",
    "emotion": "expression",
    "scene": "scene_match",
    "style": "style_match",
}
_ORDER = {
    "camera_angle": CAMERA_ANGLES,
    "shot_size": SHOT_SIZES,
    "emotion": EXPRESSIONS,
    "scene": ("yes", "no"),
    "style": ("yes", "no"),
}
_MATCH = {"1": "yes", "0": "no"}
NOTES = (
    "Agreement with people: accuracy and Cohen's kappa of each method's answers against people's "
    "reference labels, over images both answered, with 95% percentile (accuracy) and BCa (kappa) "
    "bootstrap intervals over images; an image labelled by several people takes the label most gave.",
    "Corrected rates: prediction-powered inference with power tuning (PPI++; Angelopoulos et al., "
    "Science 2023): the method's answers on all images it judged plus people's labels on the labelled "
    "ones, with a 95% interval (t quantile and a 0.35-weight pseudo-label at 0 and 1 for small samples; "
    "93.8-97.1% coverage in simulation).",
    "The corrected rates assume the labelled images are a random sample of the images each method judged "
    "(or a proportionally stratified one, as the review page draws); labels chosen by hand can bias them.",
    f"A method whose kappa with people is below {TRUST_KAPPA} gets no verdict word, and no headline rests on it.",
    "Agreement between labellers: Krippendorff's alpha (nominal) over images two or more people "
    "labelled, with a 95% percentile bootstrap interval over images.",
)


def _in_method_words(dimension: str, answer: str) -> str | None:
    """A person's canonical answer in the words a method of ``dimension`` answers in."""
    if dimension in ("scene", "style"):
        return {"yes": "1", "no": "0"}.get(answer)
    if answer in ("unclear", "no face"):
        return None
    return answer


def _consensus(answers: Sequence[str]) -> str:
    """The answer most labellers gave (ties: the first of them, labels in time order)."""
    counts = Counter(answers)
    top = max(counts.values())
    return next(answer for answer in answers if counts[answer] == top)


def people_answers(labels: Sequence[Label]) -> dict[str, dict[int, list[str]]]:
    """``{method dimension: {image_id: [each labeller's answer in method words]}}`` in time order."""
    out: dict[str, dict[int, list[str]]] = {}
    dimension_of = {label: dimension for dimension, label in LABEL_OF_DIMENSION.items()}
    for label in sorted(labels, key=lambda lab: (lab.created_at, lab.labeller)):
        dimension = dimension_of[label.dimension]
        answer = _in_method_words(dimension, label.answer)
        if answer is not None:
            out.setdefault(dimension, {}).setdefault(label.image_id, []).append(answer)
    return out


def _shown(answer: str, dimension: str) -> str:
    return _MATCH.get(answer, answer) if dimension in ("scene", "style") else answer


def method_vs_people(
    method: DimensionMethod,
    items: Sequence[ImageAdherence],
    rows: Mapping[int, ImageRecord],
    table: Mapping[int, Mapping[str, Any]],
    people: Mapping[int, list[str]],
    study: Study,
    models: Sequence[str],
    *,
    target_width: float,
    seed: int = 0,
) -> MethodVsPeople:
    """One method against people: agreement on the answers, and corrected rates per model."""
    pairs = []
    for image_id, answers in people.items():
        said = read_answer(method, table.get(image_id, {}).get(method.column))
        if said is not None:
            pairs.append((_shown(_consensus(answers), method.dimension), _shown(said, method.dimension)))
    agreement = agreement_with_people([a for a, _ in pairs], [b for _, b in pairs], _ORDER[method.dimension], seed=seed)
    trusted = None if agreement.kappa is None else agreement.kappa >= TRUST_KAPPA
    corrected = []
    for model in [*models, ALL_MODELS]:
        chosen = [item for item in items if model in (ALL_MODELS, item.model)]
        corrected.append(corrected_rate(method, chosen, rows, people, study, model, target_width))
    return MethodVsPeople(
        dimension=method.dimension,
        method=method.method,
        label=method.label,
        **asdict(agreement),  # n, accuracy and kappa with their intervals, labels, matrix
        trusted=trusted,
        corrected=corrected,
    )


def corrected_rate(
    method: DimensionMethod,
    items: Sequence[ImageAdherence],
    rows: Mapping[int, ImageRecord],
    people: Mapping[int, list[str]],
    study: Study,
    model: str,
    target_width: float,
) -> CorrectedRate:
    """The raw and the corrected rate of ``items`` (one model's, or all) on ``method``'s dimension."""
    judged = [item for item in items if item.flags.get(method.key) is not None]
    labelled_y, labelled_hat, unlabelled_hat = [], [], []
    for item in judged:
        flag = 1.0 if item.flags[method.key] else 0.0
        answers = people.get(item.image_id)
        wanted = requested(method.dimension, rows[item.image_id], study)
        if answers and wanted:
            labelled_y.append(sum(answer in wanted for answer in answers) / len(answers))
            labelled_hat.append(flag)
        else:
            unlabelled_hat.append(flag)
    raw = sum(labelled_hat + unlabelled_hat) / len(judged) if judged else None
    result = ppi_mean(labelled_y, labelled_hat, unlabelled_hat)
    needed = labels_for_width(result, target_width) if judged else None
    if needed is not None and needed > len(judged):
        needed = None  # more labels than the method judged images
    return CorrectedRate(
        model=model,
        raw_rate=raw,
        raw_n=len(judged),
        n_labelled=len(labelled_y),
        rate=None if result is None else min(1.0, max(0.0, result.estimate)),
        ci_low=None if result is None else max(0.0, result.ci_low),
        ci_high=None if result is None else min(1.0, result.ci_high),
        lam=None if result is None else result.lam,
        labels_needed=needed,
        more_labels=None if needed is None else max(0, needed - len(labelled_y)),
    )


def labeller_agreement(labels: Sequence[Label], *, seed: int = 0) -> list[LabellerAgreement]:
    """Krippendorff's alpha per label dimension where two or more people labelled one image."""
    out = []
    for dimension in LABEL_DIMENSIONS:
        ratings: dict[int, list[str]] = {}
        for label in labels:
            if label.dimension == dimension:
                ratings.setdefault(label.image_id, []).append(label.answer)
        result = krippendorff_alpha(ratings, seed=seed)
        if result.units:
            out.append(
                LabellerAgreement(
                    dimension=dimension,
                    alpha=result.alpha,
                    ci_low=result.ci_low,
                    ci_high=result.ci_high,
                    images=result.units,
                )
            )
    return out


def build_people_report(
    images: Sequence[ImageRecord],
    table: Mapping[int, Mapping[str, Any]],
    study: Study,
    labels: Sequence[Label],
    methods: Sequence[DimensionMethod],
    models: Sequence[str],
    *,
    items: Sequence[ImageAdherence] | None = None,
    target_width: float = 0.1,
    seed: int = 0,
) -> PeopleReport:
    """Every method in ``methods`` (each that answers a dimension, found by its ``AdherenceRole``)
    against the ``labels`` of ``images``; ``items`` is their adherence when the caller has it."""
    rows = {row.id: row for row in images}
    known = [label for label in labels if label.image_id in rows]
    if items is None:
        items = image_adherence(list(images), table, study, tuple(methods))
    answers = people_answers(known)
    return PeopleReport(
        labelled_images=len({label.image_id for label in known}),
        labels=len(known),
        labellers=sorted({label.labeller for label in known}),
        target_width=target_width,
        methods=[
            method_vs_people(
                m,
                items,
                rows,
                table,
                answers.get(m.dimension, {}),
                study,
                models,
                target_width=target_width,
                seed=seed,
            )
            for m in methods
        ],
        labellers_agreement=labeller_agreement(known, seed=seed),
        notes=list(NOTES),
    )
