"""Face detection and the 478-point face mesh with MediaPipe's legacy ``mp.solutions`` API.

mediapipe 0.10.21 (the ``[faces]`` extra) ships both TFLite models in its wheel, so nothing
is downloaded. For speed the detector runs on a copy whose longer side is ``DETECT_SIDE``
pixels (its model reads 192 x 192 anyway); when that finds nothing, MediaPipe's short-range
detector (trained on faces within about 2 m, which fill much of the frame) looks at the whole
image: on the real head-pose photographs of ``../shared/data/headpose-dev`` the full-range
model alone missed 93 of 784 faces (most of them turned up or down by 30-60 degrees), the
short-range one none. When both find nothing it looks again in a 3 x 3
grid of overlapping tiles (``TILE_SHARE`` of each side), which finds faces down to about 3%
of the image height (the whole-image pass misses faces under about 10%), and merges the
tiles' boxes (IoU > ``MERGE_IOU``). So in a group shot with one large face, much smaller
faces elsewhere are not counted. The mesh runs on a square crop of the main face (twice
the detector's box) scaled to ``MESH_SIDE`` pixels; landmarks are mapped back to the full
image. The mesh also runs on the horizontally flipped crop (``mirrored``), whose pose is
averaged with the first one's (:mod:`viewfinder.faces.pose`; about 8 CPU-ms more per face).
The main face is the one with the largest box.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from viewfinder.errors import BadInput

DETECT_SIDE = 256
MESH_SIDE = 256
CROP_SCALE = 2.0
MIN_DETECTION_CONFIDENCE = 0.5
TILE_SHARE = 0.4
TILE_STARTS = (0.0, 0.3, 0.6)
MERGE_IOU = 0.3


@dataclass(frozen=True)
class FaceBox:
    """A detected face: box in image pixels (x, y, width, height) and the detector's score."""

    x: float
    y: float
    width: float
    height: float
    score: float

    @property
    def area(self) -> float:
        return self.width * self.height

    def iou(self, other: FaceBox) -> float:
        """Intersection over union of two boxes."""
        width = min(self.x + self.width, other.x + other.width) - max(self.x, other.x)
        height = min(self.y + self.height, other.y + other.height) - max(self.y, other.y)
        inter = max(0.0, width) * max(0.0, height)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_list(self) -> list[int]:
        return [round(self.x), round(self.y), round(self.width), round(self.height)]


@dataclass(frozen=True)
class FaceScan:
    """Every face found in one image, the main face and its mesh (None when not found)."""

    image_size: tuple[int, int]  # (width, height)
    faces: tuple[FaceBox, ...]
    landmarks: np.ndarray | None  # 478 x 3 (x, y in image pixels; z relative depth, same scale)
    mirrored: np.ndarray | None = None  # 478 x 3 mesh of the flipped crop, in the flipped crop's pixels

    @property
    def main(self) -> FaceBox | None:
        return max(self.faces, key=lambda box: box.area) if self.faces else None


def require_mediapipe() -> None:
    """Raise BadInput with the install hint when MediaPipe's solutions are missing."""
    _solutions()


def _solutions() -> Any:
    try:
        from mediapipe.python.solutions import face_detection, face_mesh
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise BadInput(
            "the faces analyzer needs mediapipe 0.10.21: pip install 'viewfinder[faces]' "
            f"(or drop 'faces' from the study's [analysis] analyzers) ({exc})"
        ) from None
    return face_detection, face_mesh


_STDERR_LOCK = threading.Lock()


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for a moment: MediaPipe's C++ start-up chatter (TFLite
    delegate, feedback-tensor and projection warnings) would otherwise break up progress bars."""
    with _STDERR_LOCK:
        saved = os.dup(2)
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class FaceFinder:
    """Detect faces and fit the mesh to the main one; one instance per thread."""

    def __init__(self) -> None:
        face_detection, face_mesh = _solutions()
        with _quiet_native_stderr():
            self._detector = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=MIN_DETECTION_CONFIDENCE
            )
            self._near_detector = face_detection.FaceDetection(
                model_selection=0, min_detection_confidence=MIN_DETECTION_CONFIDENCE
            )
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
            )
            self._warm_up()

    def _warm_up(self) -> None:
        """Run both graphs once on a face, so their one-time start-up happens here."""
        from skimage import data

        portrait = np.ascontiguousarray(data.astronaut()[::2, ::2])
        self.scan(portrait)

    def scan(self, rgb: np.ndarray) -> FaceScan:
        """Find the faces in an RGB uint8 image (H x W x 3)."""
        height, width = rgb.shape[:2]
        faces = self._detect(rgb, 0, 0)
        if not faces:
            faces = self._detect(rgb, 0, 0, self._near_detector)
        if not faces:
            tile_w, tile_h = round(width * TILE_SHARE), round(height * TILE_SHARE)
            for top in TILE_STARTS:
                for left in TILE_STARTS:
                    x0, y0 = round(width * left), round(height * top)
                    faces += self._detect(rgb[y0 : y0 + tile_h, x0 : x0 + tile_w], x0, y0)
            faces = _merge(faces)
        if not faces:
            return FaceScan((width, height), (), None)
        main = max(faces, key=lambda box: box.area)
        crop, origin, side = face_crop(rgb, main, CROP_SCALE, MESH_SIDE)
        result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return FaceScan((width, height), tuple(faces), None)
        points = _points(result) * side
        points[:, 0] += origin[0]
        points[:, 1] += origin[1]
        flipped = self._mesh.process(np.ascontiguousarray(crop[:, ::-1]))
        mirrored = _points(flipped) * side if flipped.multi_face_landmarks else None
        return FaceScan((width, height), tuple(faces), points, mirrored)

    def _detect(self, region: np.ndarray, x0: int, y0: int, detector: Any = None) -> list[FaceBox]:
        """Faces in ``region`` (whose top-left corner is (x0, y0) in the image), image pixels,
        by ``detector`` (the full-range one by default)."""
        height, width = region.shape[:2]
        scale = DETECT_SIDE / max(width, height)
        if scale < 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        found = (detector or self._detector).process(np.ascontiguousarray(region)).detections or []
        boxes = [_box(detection, width, height) for detection in found]
        return [FaceBox(b.x + x0, b.y + y0, b.width, b.height, b.score) for b in boxes]

    def close(self) -> None:
        self._detector.close()
        self._near_detector.close()
        self._mesh.close()


def _points(result: Any) -> np.ndarray:
    """The first face's mesh of a FaceMesh result as an N x 3 array (crop-relative, 0-1)."""
    return np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float64)


def _merge(boxes: list[FaceBox]) -> list[FaceBox]:
    """Drop boxes that overlap a better-scored one (the same face seen in two tiles)."""
    kept: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(box.iou(other) <= MERGE_IOU for other in kept):
            kept.append(box)
    return kept


def _box(detection: Any, width: int, height: int) -> FaceBox:
    rel = detection.location_data.relative_bounding_box
    x0 = max(0.0, rel.xmin) * width
    y0 = max(0.0, rel.ymin) * height
    x1 = min(1.0, rel.xmin + rel.width) * width
    y1 = min(1.0, rel.ymin + rel.height) * height
    return FaceBox(x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0), float(detection.score[0]))


def face_crop(
    rgb: np.ndarray, box: FaceBox, scale: float, out_side: int
) -> tuple[np.ndarray, tuple[float, float], float]:
    """A square crop ``scale`` times the box (padded with black) resized to ``out_side`` pixels.

    Returns the crop, its top-left corner in the image and its side in image pixels.
    """
    side = max(box.width, box.height, 1.0) * scale
    x0 = box.x + box.width / 2 - side / 2
    y0 = box.y + box.height / 2 - side / 2
    factor = out_side / side
    affine = np.array([[factor, 0.0, -x0 * factor], [0.0, factor, -y0 * factor]])
    if factor < 0.5:  # warpAffine has no area filter: cut out the crop's region, shrink it, then warp
        height, width = rgb.shape[:2]
        left, top = max(int(x0), 0), max(int(y0), 0)
        right, bottom = min(int(np.ceil(x0 + side)), width), min(int(np.ceil(y0 + side)), height)
        if right - left >= 2 and bottom - top >= 2:
            rgb = rgb[top:bottom, left:right]
            affine[:, 2] += factor * np.array([left, top])
        step = 2.0 * factor
        rgb = cv2.resize(rgb, None, fx=step, fy=step, interpolation=cv2.INTER_AREA)
        affine[:, :2] /= step
    crop = cv2.warpAffine(
        rgb,
        affine,
        (out_side, out_side),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.ascontiguousarray(crop), (x0, y0), side
