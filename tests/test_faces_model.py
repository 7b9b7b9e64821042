"""Faces: the optional hub expression classifier, loaded from a tiny random model on disk."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("mediapipe")

from tests.tiny_models import build_tiny_expression_classifier  # noqa: E402
from viewfinder.analyze.analyzers.expression_model import ExpressionClassifier, expression_labels  # noqa: E402
from viewfinder.errors import BadInput  # noqa: E402
from viewfinder.study.schema import Analysis  # noqa: E402
from viewfinder.study.vocabulary import EXPRESSIONS  # noqa: E402

FER_LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def test_labels_map_onto_the_canonical_expressions() -> None:
    mapped = expression_labels({i: label for i, label in enumerate([*FER_LABELS, "not_a_face"])}, "m")
    assert mapped == {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "neutral", 5: "sadness", 6: "surprise"}


def test_a_classifier_without_expression_labels_is_bad_input() -> None:
    with pytest.raises(BadInput, match=r"expression_model = 'cats'.*fewer than two facial expressions"):
        expression_labels({0: "tabby", 1: "siamese", 2: "happy"}, "cats")


def test_a_missing_model_folder_is_bad_input_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"expression_model = .*missing'?: no such file or folder"):
        ExpressionClassifier.from_pretrained(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"expression_model = .*empty'?: the folder is not a usable image classifier"):
        ExpressionClassifier.from_pretrained(str(tmp_path / "empty"))


def test_a_hub_id_not_in_the_cache_offline_names_the_fetch_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from viewfinder.analyze.models import ModelUnavailable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match=r"viewfinder models fetch --model nobody/no-such-expression-model"):
        ExpressionClassifier.from_pretrained("nobody/no-such-expression-model", local_files_only=True)


def test_predictions_are_probabilities_over_the_models_expressions(tmp_path: Path) -> None:
    folder = build_tiny_expression_classifier(tmp_path / "clf", [*FER_LABELS, "background"], favour="happy")
    classifier = ExpressionClassifier.from_pretrained(str(folder))
    crops = [np.zeros((64, 64, 3), np.uint8), np.full((40, 40, 3), 200, np.uint8)]
    rows = classifier.predict(crops)
    assert len(rows) == 2
    for row in rows:
        assert set(row) == set(EXPRESSIONS) - {"contempt"}  # the model has no contempt class
        assert sum(row.values()) == pytest.approx(1.0)
        assert max(row, key=row.get) == "happiness" and row["happiness"] > 0.9
    assert classifier.method == f"model:{folder}"
    assert classifier.predict([]) == []


def test_the_analyzer_uses_the_classifier_named_in_the_study(tmp_path: Path, image_run) -> None:
    from rich.console import Console
    from skimage import data

    from viewfinder.analyze.analyzers.faces import FacesAnalyzer
    from viewfinder.analyze.runner import run_analysis
    from viewfinder.runfolder import open_run

    folder = build_tiny_expression_classifier(tmp_path / "clf", FER_LABELS, favour="sad")
    analyzer = FacesAnalyzer.from_settings(Analysis(expression_model=str(folder)))
    assert analyzer.version == f"3+{folder}"
    analyzer.close()
    run_dir = image_run(
        [data.astronaut(), data.coffee()], analysis={"analyzers": ["faces"], "expression_model": str(folder)}
    )
    store, study = open_run(run_dir)
    with store:
        summary = run_analysis(store, study, ["faces"], judge=None, max_cost=None, console=Console(file=io.StringIO()))
        assert summary.failed == 0
        face, cup = (store.measurement_table()[row.id] for row in store.images())
    # The tiny model says "sad" whatever it sees, so the smiling astronaut reads sadness here:
    # the hub classifier, not the default model, made these numbers.
    assert face["faces.expression"] == "sadness"
    assert face["faces.expression_method"] == f"model:{folder}"
    assert "faces.expr_contempt" not in face
    # Her head is bowed a little: seen from above (pitch about 25, near the 22.5-degree decision
    # limit, so the class itself is left to test_faces_pipeline's clearly turned pictures).
    assert 15 < face["faces.pitch"] < 35
    assert cup["faces.expression"] == "no face" and "faces.expression_method" not in cup


def test_models_fetch_includes_the_expression_model_when_one_is_set(tmp_path: Path) -> None:
    from viewfinder.analyze.models import required_models

    base = Analysis(clip_model="some/clip", aesthetic_model="none")
    assert required_models(base) == ["some/clip"]  # empty expression_model: the shipped default, nothing to fetch
    assert required_models(base.model_copy(update={"expression_model": "trpakov/vit-face-expression"})) == [
        "some/clip",
        "trpakov/vit-face-expression",
    ]
    assert required_models(base.model_copy(update={"expression_model": str(tmp_path)})) == ["some/clip"]
