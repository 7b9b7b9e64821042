"""Pixel statistics: entropy, noise, sharpness, clipping and colourfulness, vectorised.

Every statistic works on the decoded 8-bit image; luminance is ITU-R BT.601
(``Y = 0.299 R + 0.587 G + 0.114 B``), the weights OpenCV and JPEG use.

- ``entropy``: Shannon entropy of the 256-bin histogram of 8-bit luminance, in bits (0-8).
- ``noise``: the robust wavelet estimator of Donoho and Johnstone (1994): the median
  absolute value of the finest diagonal Haar wavelet coefficients of 8-bit luminance,
  divided by 0.6745. For white Gaussian noise of standard deviation s those coefficients
  are N(0, s^2), so the estimate is s, in 8-bit levels (rounding to 8 bits adds 1/12 in
  variance); edges and texture affect the median little.
- ``sharpness``: variance of the 3x3 Laplacian of 8-bit luminance (Pech-Pacheco et al. 2000).
- ``clipped``: share of pixels whose 8-bit luminance is 0 or 255 (lost shadows or highlights).
- ``colourfulness``: Hasler and Suesstrunk (2003), M = sqrt(sd_rg^2 + sd_yb^2) +
  0.3 sqrt(mean_rg^2 + mean_yb^2) with rg = R - G and yb = (R + G) / 2 - B.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from viewfinder.analyze.base import AnalysisContext, AnalysisResult, Analyzer, ImageItem
from viewfinder.errors import BadInput
from viewfinder.store import Better, CardRole, CardSection, Measurement, MeasurementSpec

MAD_TO_SIGMA = 0.6745  # median(|N(0, 1)|)

SPECS = [
    MeasurementSpec(
        "entropy",
        "bits (0-8)",
        Better.HIGHER,
        "Shannon entropy of the 256-bin histogram of 8-bit BT.601 luminance; 0 for a flat image, "
        "8 when every level is equally common",
        (CardRole(CardSection.QUALITY, "Entropy", 10, summary=True, plot=True),),
    ),
    MeasurementSpec(
        "noise",
        "8-bit levels",
        Better.LOWER,
        "noise standard deviation estimated as median(|finest diagonal Haar wavelet coefficients "
        "of luminance|) / 0.6745 (Donoho-Johnstone)",
        (CardRole(CardSection.QUALITY, "Noise", 20, summary=True, plot=True),),
    ),
    MeasurementSpec(
        "sharpness",
        "variance of Laplacian (8-bit levels squared)",
        Better.HIGHER,
        "variance of the 3x3 Laplacian of 8-bit luminance; low values mean blur",
        (CardRole(CardSection.QUALITY, "Sharpness", 40, digits=0, summary=True),),
    ),
    MeasurementSpec(
        "clipped",
        "share of pixels (0-1)",
        Better.LOWER,
        "share of pixels whose 8-bit luminance is 0 or 255 (clipped shadows or highlights)",
    ),
    MeasurementSpec(
        "colourfulness",
        "Hasler-Suesstrunk M (8-bit)",
        Better.NONE,
        "Hasler-Suesstrunk colourfulness: 0 for grey images, about 100 for very colourful ones",
    ),
]


def read_bgr(path: Path) -> np.ndarray:
    """Decode an image file to 8-bit BGR (OpenCV first, Pillow for what OpenCV cannot read)."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as pil:
                image = cv2.cvtColor(np.asarray(pil.convert("RGB")), cv2.COLOR_RGB2BGR)
        except (UnidentifiedImageError, OSError) as exc:
            raise BadInput(f"{path}: not a readable image ({exc})") from None
    return image


def pixel_stats(bgr: np.ndarray) -> dict[str, float]:
    """All pixel statistics of one 8-bit BGR (or greyscale) image."""
    if bgr.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got {bgr.dtype}")
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    return {
        "entropy": entropy_from_histogram(hist),
        "noise": noise_sigma(grey),
        "sharpness": laplacian_variance(grey),
        "clipped": float((hist[0] + hist[255]) / hist.sum()),
        "colourfulness": colourfulness(bgr),
    }


def entropy_from_histogram(hist: np.ndarray) -> float:
    """Shannon entropy in bits of a histogram of counts."""
    p = hist[hist > 0] / hist.sum()
    return float(max(0.0, -(p * np.log2(p)).sum()))


def noise_sigma(grey: np.ndarray) -> float:
    """Donoho-Johnstone MAD estimate of Gaussian noise sigma from the finest diagonal Haar band.

    On 8-bit input the coefficients ``(a - b - c + d) / 2`` of each 2x2 block are multiples
    of 0.5, so their median is read from their histogram with linear interpolation inside
    the median bin (a grouped median) rather than snapped to the grid.
    """
    rows, cols = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    if rows == 0 or cols == 0:
        return 0.0
    grey = grey[:rows, :cols]
    row_diff = cv2.subtract(grey[0::2], grey[1::2], dtype=cv2.CV_16S)  # a - c and b - d side by side
    left, right = cv2.split(row_diff.reshape(rows // 2, cols // 2, 2))
    twice = cv2.absdiff(left, right).view(np.uint16)  # |a - b - c + d| = 2 |coefficient|, 0..510
    counts = cv2.calcHist([twice], [0], None, [511], [0, 511]).ravel().astype(np.float64)
    half = twice.size / 2.0
    below = np.cumsum(counts) - counts
    k = int(np.searchsorted(below + counts, half))
    lower, width = (0.0, 0.0) if k == 0 else (k - 0.5, 1.0)  # exact zeros stay zero
    median_twice = lower + (half - below[k]) / counts[k] * width
    return float(median_twice / 2.0 / MAD_TO_SIGMA)


def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of an 8-bit grey image."""
    return _mean_variance(cv2.Laplacian(grey, cv2.CV_16S))[1]


def colourfulness(bgr: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness of an 8-bit BGR image.

    The second moments come from three fused sums of squared channel differences, since
    E[yb^2] = (2 E[(r-b)^2] + 2 E[(g-b)^2] - E[(r-g)^2]) / 4 for yb = (r + g) / 2 - b.
    """
    count = bgr.shape[0] * bgr.shape[1]
    b, g, r = cv2.split(bgr)
    mean_b, mean_g, mean_r = (total / count for total in cv2.sumElems(bgr)[:3])
    square_rg = cv2.norm(r, g, cv2.NORM_L2SQR) / count
    square_rb = cv2.norm(r, b, cv2.NORM_L2SQR) / count
    square_gb = cv2.norm(g, b, cv2.NORM_L2SQR) / count
    mean_rg, mean_yb = mean_r - mean_g, (mean_r + mean_g) / 2 - mean_b
    var_rg = max(0.0, square_rg - mean_rg**2)
    var_yb = max(0.0, (2 * square_rb + 2 * square_gb - square_rg) / 4 - mean_yb**2)
    return float(np.sqrt(var_rg + var_yb) + 0.3 * np.hypot(mean_rg, mean_yb))


def _mean_variance(values: np.ndarray) -> tuple[float, float]:
    """Mean and population variance of a one-channel integer array (exact sums in float64)."""
    count = values.size
    mean = cv2.sumElems(values)[0] / count
    return mean, max(0.0, cv2.norm(values, cv2.NORM_L2SQR) / count - mean * mean)


class PixelAnalyzer(Analyzer):
    """Pixel statistics of each image, decoded and measured on all cores."""

    name = "pixels"
    version = "1"
    batch_size = 64

    def __init__(self, workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)

    @property
    def specs(self) -> list[MeasurementSpec]:
        return list(SPECS)

    def analyze(self, batch: list[ImageItem], context: AnalysisContext) -> AnalysisResult:
        result = AnalysisResult()
        for item, outcome in zip(batch, self._pool.map(_measure_file, [item.path for item in batch]), strict=True):
            if isinstance(outcome, str):
                result.failures[item.image_id] = outcome
                continue
            result.measurements.extend(Measurement(item.image_id, name, value=value) for name, value in outcome.items())
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _measure_file(path: Path) -> dict[str, float] | str:
    """The statistics of one file, or the reason it could not be measured."""
    try:
        return pixel_stats(read_bgr(path))
    except (BadInput, ValueError, OSError, cv2.error) as exc:
        return str(exc)
