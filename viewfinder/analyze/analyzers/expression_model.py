"""Expression probabilities from a Hugging Face image classifier of face crops (optional).

Set with ``[analysis] expression_model = "<hub id>"`` in place of the default offline model
(:mod:`viewfinder.faces.expression`).

Any ``AutoModelForImageClassification`` whose labels name facial expressions works, e.g.
``trpakov/vit-face-expression`` (angry, disgust, fear, happy, neutral, sad, surprise). Labels
are mapped onto the canonical expressions with
:func:`viewfinder.study.vocabulary.canonical_expression`; labels that are not expressions
are dropped and the rest renormalised, and expressions the model lacks (often contempt) are
simply not reported. Weights come from the Hugging Face cache: fetch them once with
``viewfinder models fetch --model <id>`` (or let the first run download them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from viewfinder.errors import BadInput
from viewfinder.study.vocabulary import EXPRESSIONS, canonical_expression

FACE_CROP_SCALE = 1.25  # classifiers are trained on tight face crops


class ExpressionClassifier:
    """A loaded image classifier and the map from its labels to canonical expressions."""

    crop_scale = FACE_CROP_SCALE

    def __init__(self, model: Any, processor: Any, model_id: str, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.processor = processor
        self.model_id = model_id
        self.label_map = expression_labels(model.config.id2label, model_id)

    @property
    def method(self) -> str:
        return f"model:{self.model_id}"

    @property
    def input_side(self) -> int:
        size = getattr(self.processor, "size", None) or {}
        return int(size.get("height") or size.get("shortest_edge") or 224)

    @classmethod
    def from_pretrained(cls, model_id: str, *, local_files_only: bool = False) -> ExpressionClassifier:
        """Load ``model_id`` (a hub id or a local folder) with transformers, from the Hugging
        Face cache when it is there (the hub is asked only when not, and never with
        ``local_files_only``)."""
        from viewfinder.analyze.models import cache_first, load_model
        from viewfinder.providers.device import pick_device

        try:
            from transformers import AutoImageProcessor, AutoModelForImageClassification
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise BadInput(
                f"[analysis] expression_model = {model_id!r} needs transformers and torch: "
                f"pip install 'viewfinder[local]' ({exc})"
            ) from None

        def load(local_only: bool) -> tuple[Any, Any]:
            return (
                AutoImageProcessor.from_pretrained(model_id, local_files_only=local_only),
                AutoModelForImageClassification.from_pretrained(model_id, local_files_only=local_only),
            )

        processor, model = load_model(
            "image classifier",
            model_id,
            "expression_model",
            (lambda: load(True)) if local_files_only else (lambda: cache_first(load)),
            errors=(ValueError,),
            alternative='set [analysis] expression_model = "" for the default offline model',
        )
        return cls(model, processor, model_id, pick_device())

    def predict(self, crops: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """Probabilities over the canonical expressions the model knows, one dict per RGB crop."""
        if not crops:
            return []
        import torch

        inputs = self.processor(images=list(crops), return_tensors="pt").to(self.device)
        with torch.inference_mode():
            probabilities = self.model(**inputs).logits.float().softmax(dim=-1).cpu().numpy()
        return [self._canonical(row) for row in probabilities]

    def _canonical(self, row: np.ndarray) -> dict[str, float]:
        totals: dict[str, float] = {}
        for index, expression in self.label_map.items():
            totals[expression] = totals.get(expression, 0.0) + float(row[index])
        norm = sum(totals.values()) or 1.0
        return {name: totals[name] / norm for name in EXPRESSIONS if name in totals}


def expression_labels(id2label: dict[Any, str], model_id: str) -> dict[int, str]:
    """Map class indices to canonical expressions; BadInput when fewer than two map."""
    mapped = {}
    for index, label in id2label.items():
        expression = canonical_expression(str(label).replace("_", " "))
        if expression is not None:
            mapped[int(index)] = expression
    if len(set(mapped.values())) < 2:
        raise BadInput(
            f"[analysis] expression_model = {model_id!r}: its labels {sorted(map(str, id2label.values()))} "
            f"name fewer than two facial expressions ({', '.join(EXPRESSIONS)}); choose a facial-expression "
            'classifier or set expression_model = "" for the default offline model'
        )
    return mapped
