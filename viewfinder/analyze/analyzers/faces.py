"""The ``faces`` analyzer: face count, main face box, head pose, expression, camera geometry.

Per image it stores ``face_count``, ``face_boxes`` (every face, largest first) and, for the
main (largest) face, ``face_box`` (JSON [x, y, w, h] in pixels), ``face_height`` (share of
the image height), ``yaw``/``pitch``/``roll`` (degrees, :mod:`viewfinder.faces.pose`),
``expr_<expression>`` probabilities, the top ``expression`` and the ``expression_method``,
and ``camera_angle``/``shot_size`` in the canonical vocabulary (:mod:`viewfinder.faces.camera`).
An image without a face gets ``face_count`` 0 and "no face" for the texts; a face the mesh cannot fit keeps its count,
box and shot size (and the classifier's expression, when one is set) but no pose.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from viewfinder.analyze.analyzers.expression_model import FACE_CROP_SCALE, ExpressionClassifier
from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.errors import BadInput
from viewfinder.faces.camera import camera_angle, shot_size
from viewfinder.faces.detect import FaceFinder, FaceScan, face_crop, require_mediapipe
from viewfinder.faces.expression import landmark_expression
from viewfinder.faces.pose import PITCH_ZERO_DEG, frontalize, head_pose
from viewfinder.store import (
    AdherenceRole,
    Better,
    CardRole,
    CardSection,
    Dimension,
    Measurement,
    MeasurementSpec,
    Reading,
)
from viewfinder.study.schema import Analysis
from viewfinder.study.vocabulary import EXPRESSIONS, NO_FACE

FOREHEAD, CHIN = 10, 152
DECODE_MIN_SIDE = 512
_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}
LANDMARK_METHOD = "landmarks"



def _answer(dimension: Dimension, order: int, measures: str) -> AdherenceRole:
    return AdherenceRole(dimension, "faces", "faces analyzer", Reading.LABEL, measures, order)


SPECS: list[MeasurementSpec] = [
    MeasurementSpec("face_count", "faces", Better.NONE,
                    "faces found by MediaPipe's full-range face detector (score >= 0.5) on the whole image, or "
                    "when it finds none on 3 x 3 tiles (faces down to about 3% of the image height)",
                    (CardRole(CardSection.CHARACTERISTIC, "Faces", 50),)),
    MeasurementSpec("face_box", "JSON [x, y, w, h], pixels", Better.NONE, "box of the main (largest) face"),
    MeasurementSpec("face_boxes", "JSON [[x, y, w, h, score], ...], pixels", Better.NONE,
                    "every detected face, largest first, with the detector's score (0-1)"),
    MeasurementSpec("face_height", "share of image height (0-1)", Better.NONE,
                    "forehead-to-chin height of the main face's mesh (detector box if no mesh) over the image height"),
    MeasurementSpec("yaw", "degrees", Better.NONE,
                    "head yaw from solvePnP on mesh landmarks; > 0 when the nose points to the image's right"),
    MeasurementSpec("pitch", "degrees", Better.NONE,
                    "head pitch relative to the camera ray, solvePnP on mesh landmarks minus a "
                    f"{PITCH_ZERO_DEG:g} degree zero point; > 0 when the face is seen from above (camera above "
                    "the eyes, high angle), < 0 when seen from below (low angle)"),
    MeasurementSpec("roll", "degrees", Better.NONE,
                    "head roll; > 0 when the face is turned counter-clockwise in the picture"),
    *[
        MeasurementSpec(f"expr_{name}", "probability (0-1)", Better.NONE,
                        f"probability that the main face shows {name} (see expression_method)")
        for name in EXPRESSIONS
    ],
    MeasurementSpec("expression", "word", Better.NONE, "the most probable expression of the main face, or 'no face'",
                    (CardRole(CardSection.CHARACTERISTIC, "Expression", 60, as_text=True),
                     _answer(Dimension.EMOTION, 51, "Share of images with a face whose top expression from the faces "
                             "analyzer is one the study counts as showing the prompt's emotion."))),
    MeasurementSpec("expression_method", "word", Better.NONE,
                    "'landmarks' (a heuristic on mesh geometry: smile, mouth, eye and brow measures) or "
                    "'model:<hub id>' (an image classifier of the face crop)"),
    MeasurementSpec("camera_angle", "canonical angle", Better.NONE,
                    "from head pitch: within +-15 degrees eye-level, beyond high-angle (camera above) or "
                    "low-angle (below), beyond 45 bird's-eye or worm's-eye; the face's place in the frame "
                    "breaks ties within 3 degrees of +-15; 'no face' without a face",
                    (_answer(Dimension.CAMERA_ANGLE, 11, "Share of images whose camera angle, estimated from the "
                             "main face's head pose, is the angle the prompt asks for."),)),
    MeasurementSpec("shot_size", "canonical shot size", Better.NONE,
                    "from face height / image height: > 0.5 extreme close-up, > 0.25 close-up, > 0.1 medium, "
                    "else wide; 'no face' without a face",
                    (_answer(Dimension.SHOT_SIZE, 21, "Share of images whose shot size, estimated from the main "
                             "face's size in the frame, is the size the prompt asks for."),)),
]


class FacesAnalyzer(Analyzer):
    """Faces, head pose and expression with MediaPipe, OpenCV and an optional classifier."""

    name = "faces"

    def __init__(self, classifier: ExpressionClassifier | None = None, workers: int | None = None) -> None:
        require_mediapipe()  # fail here, with the install hint, not once per image
        self.classifier = classifier
        self.version = "1" if classifier is None else f"1+{classifier.model_id}"
        # MediaPipe releases the GIL, so one thread per core (each with its own graphs) scales.
        self._local = threading.local()
        self._finders: list[FaceFinder] = []
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="faces")

    @classmethod
    def from_settings(cls, analysis: Analysis) -> FacesAnalyzer:
        """Landmarks only when ``expression_model`` is empty, else load that classifier."""
        model_id = analysis.expression_model.strip()
        return cls(ExpressionClassifier.from_pretrained(model_id) if model_id else None)

    @property
    def specs(self) -> list[MeasurementSpec]:
        return SPECS

    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        result = AnalysisResult()
        pending: list[tuple[int, np.ndarray]] = []  # (image id, face crop) for the classifier
        for item, outcome in zip(batch, self._pool.map(self._scan_one, batch), strict=True):
            if isinstance(outcome, str):
                result.failures[item.image_id] = outcome
                continue
            measurements, crop = outcome
            result.measurements.extend(measurements)
            if crop is not None:
                pending.append((item.image_id, crop))
        if self.classifier is not None and pending:
            probabilities = self.classifier.predict([crop for _, crop in pending])
            for (image_id, _), probs in zip(pending, probabilities, strict=True):
                result.measurements.extend(expression_measurements(image_id, probs, self.classifier.method))
        return result

    def _scan_one(self, item: ImageItem) -> tuple[list[Measurement], np.ndarray | None] | str:
        """Measurements of one image and its face crop for the classifier, or an error message."""
        try:
            rgb, factor = read_rgb(item.path)
        except BadInput as exc:
            return str(exc)
        try:
            scan = self._finder().scan(rgb)
        except Exception as exc:  # a MediaPipe failure on one image must not fail the batch
            return f"face detection failed on {item.path}: {type(exc).__name__}: {exc}"
        crop = None
        if self.classifier is not None and scan.main is not None:
            crop, _, _ = face_crop(rgb, scan.main, FACE_CROP_SCALE, self.classifier.input_side)
        return measure(item.image_id, scan, self.classifier is None, factor), crop

    def _finder(self) -> FaceFinder:
        """This thread's finder (MediaPipe graphs are not shared between threads)."""
        finder = getattr(self._local, "finder", None)
        if finder is None:
            finder = self._local.finder = FaceFinder()
            self._finders.append(finder)
        return finder

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for finder in self._finders:
            finder.close()
        self._finders.clear()


def read_rgb(path: Path, min_side: int = DECODE_MIN_SIDE) -> tuple[np.ndarray, int]:
    """Decode an image file to 8-bit RGB, reduced by 2, 4 or 8 while its longer side stays
    at least ``min_side`` (JPEG decodes at reduced scale much faster; the detector and the
    mesh read 192 pixels anyway). Returns the pixels and the reduction factor; BadInput
    naming the file when it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as pil:
            longer = max(pil.size)
            factor = next((f for f in (8, 4, 2) if longer / f >= min_side), 1)
            bgr = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), _REDUCED[factor])
            if bgr is None:  # a format OpenCV cannot read: let Pillow decode it
                factor = 1
                return np.ascontiguousarray(pil.convert("RGB")), factor
    except (UnidentifiedImageError, OSError) as exc:
        raise BadInput(f"{path}: not a readable image ({exc})") from None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), factor


def measure(image_id: int, scan: FaceScan, with_landmark_expression: bool, factor: int = 1) -> list[Measurement]:
    """The measurements of one scanned image (expression only when ``with_landmark_expression``);
    ``factor`` scales the scan's pixels back to the file's (see :func:`read_rgb`)."""
    out = [Measurement(image_id, "face_count", value=float(len(scan.faces)))]
    main = scan.main
    if main is None:
        return out + [
            Measurement(image_id, name, text=NO_FACE) for name in ("expression", "camera_angle", "shot_size")
        ]
    width, height = scan.image_size
    face_height = main.height
    if scan.landmarks is not None:
        face_height = float(np.linalg.norm(scan.landmarks[CHIN, :2] - scan.landmarks[FOREHEAD, :2]))
    ratio = face_height / height
    out += [
        Measurement(image_id, "face_box", text=json.dumps([value * factor for value in main.as_list()])),
        Measurement(image_id, "face_boxes", text=json.dumps([
            [value * factor for value in box.as_list()] + [round(box.score, 3)]
            for box in sorted(scan.faces, key=lambda box: box.area, reverse=True)
        ])),
        Measurement(image_id, "face_height", value=ratio),
        Measurement(image_id, "shot_size", text=shot_size(ratio)),
    ]
    if scan.landmarks is None:
        return out
    pose = head_pose(scan.landmarks, scan.image_size)
    if pose is not None:
        centre_y = (main.y + main.height / 2) / height
        out += [
            Measurement(image_id, "yaw", value=pose.yaw),
            Measurement(image_id, "pitch", value=pose.pitch),
            Measurement(image_id, "roll", value=pose.roll),
            Measurement(image_id, "camera_angle", text=camera_angle(pose.pitch, centre_y)),
        ]
    if with_landmark_expression:
        # Measured on the mesh turned to face the camera, so the camera angle (a study
        # factor) does not leak into the expression: seen from below, a smile reads as surprise.
        mesh = scan.landmarks if pose is None else frontalize(scan.landmarks, pose)
        out += expression_measurements(image_id, landmark_expression(mesh), LANDMARK_METHOD)
    return out


def expression_measurements(image_id: int, probabilities: dict[str, float], method: str) -> list[Measurement]:
    """``expr_*`` values, the top ``expression`` and the ``expression_method``."""
    top = max(probabilities, key=probabilities.__getitem__)
    return [
        *(Measurement(image_id, f"expr_{name}", value=p) for name, p in probabilities.items()),
        Measurement(image_id, "expression", text=top),
        Measurement(image_id, "expression_method", text=method),
    ]
